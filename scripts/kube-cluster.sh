#!/usr/bin/env bash
# Runs a private Kubernetes 1.37 cluster without kubelets for tend's tests
# and demo, on free loopback ports of its own: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and kwok, which plays one fake
# node (kwok-node-0). Deployments get ReplicaSets and Pods, Pods are
# scheduled onto the fake node and become Running and Ready, so Deployments
# report ready replicas as on a real cluster; the Pods run nothing.
#
#   scripts/kube-cluster.sh start   build when missing, start, print NAME=value lines
#   scripts/kube-cluster.sh env     print the NAME=value lines of the running instance
#   scripts/kube-cluster.sh stop    stop exactly the processes start started
#   scripts/kube-cluster.sh build   only build (or find) the cached binaries
#
# Use: eval "$(scripts/kube-cluster.sh start)"; go test ./...; scripts/kube-cluster.sh stop
#
# It prints TEND_TEST_KUBECONFIG (an admin kubeconfig) and TEND_TEST_KUBECTL
# (the kubectl built with the cluster).
#
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kubectl
# are built from Go modules in a tool module of their own, outside the clone
# (nothing of it is committed), cached by version in $TEND_KUBE_TOOLS
# (default ${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools/kube-v1.37.2); kwok is
# installed from the Go module proxy into $TEND_KWOK_TOOLS (default
# .../tend/tools/kwok-v0.8.0), with the Stage documents of its module that
# make its node and Pods Ready. The first build takes about 15 minutes on 2
# cores; later starts reuse it (see docs/testing.md for measured times).
# The state (temp directory, ports, pids) is kept in $TEND_KUBE_STATE
# (default: a file in /tmp named after the current directory). Only the
# NAME=value lines go to stdout; progress goes to stderr.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
# Staging modules (k8s.io/api, k8s.io/client-go, ...) are published as
# v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>.
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
GO=${GO:-go}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools
TOOLS=${TEND_KUBE_TOOLS:-$CACHE/kube-$KUBE_VERSION}
BIN=$TOOLS/bin
KWOK_TOOLS=${TEND_KWOK_TOOLS:-$CACHE/kwok-$KWOK_VERSION}
KWOK=$KWOK_TOOLS/bin/kwok
STAGES=$KWOK_TOOLS/stages.yaml
STATE=${TEND_KUBE_STATE:-$(state_file kube)}
READY_TIMEOUT=${TEND_KUBE_READY_TIMEOUT:-180}
# The programs of the tool module, by the package that builds each.
PROGRAMS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
declare -A PACKAGE=(
	[etcd]=go.etcd.io/etcd/server/v3
	[kube-apiserver]=k8s.io/kubernetes/cmd/kube-apiserver
	[kube-controller-manager]=k8s.io/kubernetes/cmd/kube-controller-manager
	[kube-scheduler]=k8s.io/kubernetes/cmd/kube-scheduler
	[kubectl]=k8s.io/kubernetes/cmd/kubectl
)
# The Stage documents of kwok's module that the cluster needs: nodes become
# Ready and keep their heartbeat; Pods become Ready, complete and go away.
KWOK_STAGES=(
	kustomize/stage/node/fast/node-initialize.yaml
	kustomize/stage/node/heartbeat/node-heartbeat.yaml
	kustomize/stage/pod/fast/pod-ready.yaml
	kustomize/stage/pod/fast/pod-complete.yaml
	kustomize/stage/pod/fast/pod-delete.yaml
)
NODE=kwok-node-0

# compile OUT LOG CMD...: runs CMD (a go build or install that writes OUT)
# with its output in LOG, saying every 20 seconds how many packages have
# been compiled so far.
compile() {
	local out=$1 buildlog=$2 pid rc=0
	shift 2
	"$@" >"$buildlog" 2>&1 </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		sleep 20
		if kill -0 "$pid" 2>/dev/null; then
			log "  ... $(basename "$out"): $(wc -l <"$buildlog") packages compiled so far"
		fi
	done
	wait "$pid" || rc=$?
	if [ $rc -ne 0 ]; then
		tail -40 "$buildlog" >&2
		log "building $(basename "$out") failed (full log: $buildlog)"
		exit 1
	fi
}

# build_one NAME: go build NAME's package into $BIN/NAME inside the tool
# module, unless it is there.
build_one() {
	local name=$1 out=$BIN/$1 t0 ldflags=
	if [ -x "$out" ]; then
		return
	fi
	if [ "$name" != etcd ]; then
		# Stamp the version as Kubernetes' release build does, so
		# /version and kubectl version answer v1.37.2 rather than
		# v0.0.0-master.
		local v=k8s.io/component-base/version minor=${KUBE_VERSION#v1.}
		minor=${minor%%.*}
		ldflags="-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
	fi
	log "compiling $name"
	t0=$(date +%s)
	compile "$out" "$TOOLS/build-$name.log" \
		bash -c 'cd "$1" && exec "$2" build -v -trimpath -ldflags "$3" -o "$4" "$5"' _ \
		"$TOOLS/src" "$GO" "$ldflags" "$out.tmp" "${PACKAGE[$name]}"
	mv "$out.tmp" "$out"
	log "compiled $name in $(($(date +%s) - t0))s"
}

# tool_module writes the tool module's go.mod (once) and a tools file that
# imports every program of PROGRAMS, and resolves its modules again when
# that file changed (as when a program was added).
tool_module() {
	local src=$TOOLS/src gomod
	mkdir -p "$src" "$BIN"
	if [ ! -f "$src/go.mod" ]; then
		log "downloading k8s.io/kubernetes@$KUBE_VERSION"
		gomod=$(cd "$src" && "$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
		# k8s.io/kubernetes requires its staging modules as v0.0.0 and
		# replaces them with ./staging/src/...; a module that depends on
		# it must replace each of them with the published version instead.
		{
			echo "module tend.local/kube-tools"
			echo
			echo "go 1.26"
			echo
			echo "require k8s.io/kubernetes $KUBE_VERSION"
			echo
			echo "replace ("
			sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*$#\1#p' "$gomod" | sort -u |
				while read -r m; do echo "	$m => $m $STAGING_VERSION"; done
			echo ")"
		} >"$src/go.mod.new"
		if ! grep -q '=> k8s.io/api ' "$src/go.mod.new"; then
			log "found no staging replace lines in $gomod; the layout of k8s.io/kubernetes' go.mod changed"
			exit 1
		fi
		rm -f "$src/go.sum" "$src/tools.go"
		mv "$src/go.mod.new" "$src/go.mod"
	fi
	{
		echo "//go:build tools"
		echo
		echo "// Package tools pins the programs scripts/kube-cluster.sh builds."
		echo "package tools"
		echo
		echo "import ("
		for p in "${PROGRAMS[@]}"; do echo "	_ \"${PACKAGE[$p]}\""; done
		echo ")"
	} >"$src/tools.go.new"
	if cmp -s "$src/tools.go.new" "$src/tools.go"; then
		rm "$src/tools.go.new"
		return
	fi
	mv "$src/tools.go.new" "$src/tools.go"
	log "resolving modules (go mod tidy in $src; $(grep -c ' => ' "$src/go.mod") staging modules replaced)"
	(cd "$src" && "$GO" mod tidy) >&2
	log "etcd module: $(cd "$src" && "$GO" list -m go.etcd.io/etcd/server/v3)"
}

# build_kwok installs kwok from the Go module proxy into $KWOK_TOOLS and
# writes $STAGES from the Stage documents its module ships.
build_kwok() {
	local t0 dir f
	mkdir -p "$KWOK_TOOLS"
	if [ ! -x "$KWOK" ]; then
		log "installing sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION into $KWOK_TOOLS"
		t0=$(date +%s)
		rm -rf "$KWOK_TOOLS/bin.tmp"
		compile "$KWOK" "$KWOK_TOOLS/build-kwok.log" \
			env GOBIN="$KWOK_TOOLS/bin.tmp" "$GO" install -v -trimpath "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
		mkdir -p "$KWOK_TOOLS/bin"
		mv "$KWOK_TOOLS/bin.tmp/kwok" "$KWOK"
		rm -rf "$KWOK_TOOLS/bin.tmp"
		log "installed kwok in $(($(date +%s) - t0))s"
	fi
	if [ ! -s "$STAGES" ]; then
		dir=$(cd "$KWOK_TOOLS" && "$GO" mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
		for f in "${KWOK_STAGES[@]}"; do
			if [ ! -f "$dir/$f" ]; then
				log "kwok's module has no $f (in $dir); its layout changed"
				exit 1
			fi
			echo "---"
			cat "$dir/$f"
		done >"$STAGES.tmp"
		mv "$STAGES.tmp" "$STAGES"
		log "wrote kwok's stages to $STAGES"
	fi
}

built() {
	local p
	for p in "${PROGRAMS[@]}"; do
		[ -x "$BIN/$p" ] || return 1
	done
	[ -x "$KWOK" ] && [ -s "$STAGES" ]
}

build() {
	built && return
	command -v "$GO" >/dev/null || {
		log "go is missing: install Go 1.26 to build the cluster's programs"
		exit 1
	}
	local t0 p
	t0=$(date +%s)
	log "building Kubernetes $KUBE_VERSION (${PROGRAMS[*]}) in $TOOLS and kwok $KWOK_VERSION in $KWOK_TOOLS"
	log "(first time only; about 15 minutes on 2 cores)"
	tool_module
	for p in "${PROGRAMS[@]}"; do
		build_one "$p"
	done
	build_kwok
	log "built in $(($(date +%s) - t0))s"
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_KUBECONFIG=$KUBE_DIR/kubeconfig"
	echo "TEND_TEST_KUBECTL=$BIN/kubectl"
	echo "export TEND_TEST_KUBECONFIG TEND_TEST_KUBECTL"
}

# The processes start starts, in order; each has NAME_PID in $STATE.
PROCESSES=(ETCD APISERVER CONTROLLER_MANAGER SCHEDULER KWOK)

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	local p v
	for p in "${PROCESSES[@]}"; do
		v=${p}_PID
		alive "${!v:-}" || return 1
	done
}

# record NAME VALUE: sets NAME=VALUE in $STATE.
record() {
	sed -i "s|^$1=.*|$1=$2|" "$STATE"
}

# launch NAME VAR CMD...: starts CMD with its output in $dir/NAME.log and
# records its pid as VAR_PID in $STATE.
launch() {
	local name=$1 var=$2
	shift 2
	"$@" >"$dir/$name.log" 2>&1 </dev/null &
	record "${var}_PID" $!
}

# check_alive: exits with the log of the first process start started that
# is no longer running.
check_alive() {
	local p v name
	# shellcheck disable=SC1090
	. "$STATE"
	for p in "${PROCESSES[@]}"; do
		v=${p}_PID
		[ -n "${!v:-}" ] || continue
		if ! alive "${!v}"; then
			name=$(log_name "$p")
			tail -20 "$dir/$name.log" >&2
			log "$name exited (log $dir/$name.log)"
			exit 1
		fi
	done
}

log_name() {
	case $1 in
	ETCD) echo etcd ;;
	APISERVER) echo kube-apiserver ;;
	CONTROLLER_MANAGER) echo kube-controller-manager ;;
	SCHEDULER) echo kube-scheduler ;;
	KWOK) echo kwok ;;
	esac
}

# wait_until WHAT SECONDS CMD...: polls CMD every half second while every
# process runs, and fails after SECONDS.
wait_until() {
	local what=$1 seconds=$2 i
	shift 2
	for ((i = 0; i < seconds * 2; i++)); do
		check_alive
		if "$@" >/dev/null 2>&1; then
			return
		fi
		sleep 0.5
	done
	log "$what: not after ${seconds}s (logs in $dir)"
	exit 1
}

start() {
	already_running && return
	if [ -f "$STATE" ]; then
		log "removing the state of a dead instance ($STATE)"
		stop
	fi
	build
	local t0 etcd_port peer_port port cm_port sched_port kwok_port token p
	t0=$(date +%s%N)
	dir=$(mktemp -d /tmp/tend-kube.XXXXXX)
	chmod 700 "$dir"
	etcd_port=$(free_port)
	peer_port=$(free_port)
	port=$(free_port)
	cm_port=$(free_port)
	sched_port=$(free_port)
	kwok_port=$(free_port)
	token=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)
	mkdir -p "$dir/certs" "$dir/etcd"
	echo "$token,tend-admin,tend-admin,\"system:masters\"" >"$dir/tokens.csv"
	openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
	openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	# Write the state first, so stop can clean up even when start fails
	# half way.
	mkdir -p "$(dirname "$STATE")"
	{
		echo "KUBE_DIR=$dir"
		echo "KUBE_PORT=$port"
		echo "ETCD_PORT=$etcd_port"
		for p in "${PROCESSES[@]}"; do echo "${p}_PID="; done
	} >"$STATE"

	log "starting etcd on 127.0.0.1:$etcd_port (data in $dir/etcd)"
	launch etcd ETCD "$BIN/etcd" --name default --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" \
		--advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "default=http://127.0.0.1:$peer_port" \
		--listen-metrics-urls ""

	log "starting kube-apiserver on https://127.0.0.1:$port"
	launch kube-apiserver APISERVER "$BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--secure-port="$port" --bind-address=127.0.0.1 \
		--cert-dir="$dir/certs" \
		--token-auth-file="$dir/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc \
		--service-account-key-file="$dir/sa.pub" \
		--service-account-signing-key-file="$dir/sa.key" \
		--authorization-mode=RBAC \
		--service-cluster-ip-range=10.0.0.0/24

	log "waiting for /readyz (up to ${READY_TIMEOUT}s; usually a few seconds)"
	wait_until "kube-apiserver /readyz" "$READY_TIMEOUT" \
		bash -c '[ "$(curl -sk -m 2 -H "Authorization: Bearer $1" "$2/readyz")" = ok ]' _ "$token" "https://127.0.0.1:$port"
	# The serving certificate kube-apiserver generated in --cert-dir is
	# self-signed for 127.0.0.1, so it doubles as the kubeconfig's CA.
	cat >"$dir/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: tend-test
  cluster:
    server: https://127.0.0.1:$port
    certificate-authority: $dir/certs/apiserver.crt
users:
- name: tend-admin
  user:
    token: $token
contexts:
- name: tend-test
  context:
    cluster: tend-test
    user: tend-admin
current-context: tend-test
EOF
	chmod 600 "$dir/kubeconfig"
	local kc=$dir/kubeconfig
	log "kube-apiserver ready: $("$BIN/kubectl" --kubeconfig "$kc" version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])')"

	# Every controller but the HPA's: the cluster has no metrics API, so
	# that controller would only push Deployments up to an HPA's
	# minReplicas, behind the back of the tests of tend's scaling, which
	# check that tend changes the HPA and leaves its Deployment alone.
	log "starting kube-controller-manager (https://127.0.0.1:$cm_port)"
	launch kube-controller-manager CONTROLLER_MANAGER "$BIN/kube-controller-manager" \
		--controllers='*,-horizontal-pod-autoscaler-controller' \
		--kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
		--service-account-private-key-file="$dir/sa.key" \
		--root-ca-file="$dir/certs/apiserver.crt" \
		--leader-elect=false --use-service-account-credentials=false \
		--bind-address=127.0.0.1 --secure-port="$cm_port"
	log "starting kube-scheduler (https://127.0.0.1:$sched_port)"
	launch kube-scheduler SCHEDULER "$BIN/kube-scheduler" \
		--kubeconfig="$kc" --authentication-kubeconfig="$kc" --authorization-kubeconfig="$kc" \
		--leader-elect=false \
		--bind-address=127.0.0.1 --secure-port="$sched_port"
	log "starting kwok (127.0.0.1:$kwok_port, stages $STAGES)"
	launch kwok KWOK "$KWOK" \
		--kubeconfig="$kc" --manage-all-nodes \
		--server-address="127.0.0.1:$kwok_port" --config="$STAGES"

	# kwok plays every node it manages; this one is the cluster's only
	# node, where the scheduler puts every Pod.
	"$BIN/kubectl" --kubeconfig "$kc" apply -f - >&2 <<EOF
apiVersion: v1
kind: Node
metadata:
  name: $NODE
  labels:
    type: kwok
    kubernetes.io/hostname: $NODE
  annotations:
    kwok.x-k8s.io/node: fake
EOF
	log "waiting for node $NODE to be Ready and namespace default to have its service account"
	wait_until "node $NODE Ready" 60 \
		bash -c '[ "$("$1" --kubeconfig "$2" get node "$3" -o jsonpath="{.status.conditions[?(@.type==\"Ready\")].status}")" = True ]' _ "$BIN/kubectl" "$kc" "$NODE"
	# Pods are only admitted once their namespace's service account
	# exists, which the controller manager creates.
	wait_until "service account default/default" 60 \
		"$BIN/kubectl" --kubeconfig "$kc" get serviceaccount default -n default
	local ms=$((($(date +%s%N) - t0) / 1000000))
	log "ready in $((ms / 1000)).$((ms % 1000 / 100))s (logs in $dir)"
	print_env
}

stop() {
	not_started && return
	# shellcheck disable=SC1090
	. "$STATE"
	local i p v
	# The reverse order of start: clients first, etcd last.
	for ((i = ${#PROCESSES[@]} - 1; i >= 0; i--)); do
		p=${PROCESSES[i]}
		v=${p}_PID
		if alive "${!v:-}"; then
			log "stopping $(log_name "$p") (pid ${!v})"
			stop_pid "${!v}" 20
		fi
	done
	case "${KUBE_DIR:-}" in
	/tmp/tend-kube.*) rm -rf "$KUBE_DIR" ;;
	esac
	rm -f "$STATE"
}

dispatch "start|stop|env|build" "$@"
