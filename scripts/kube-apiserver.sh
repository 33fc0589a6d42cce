#!/usr/bin/env bash
# Runs a private kube-apiserver 1.37 with etcd for tend's tests, on free
# ports of its own. There is no kubelet: Deployments never get pods, but
# their spec.replicas, the scale subresource, HPAs and RBAC behave as on a
# real cluster, which is what the scaling executor needs.
#
#   scripts/kube-apiserver.sh start   build when missing, start, print NAME=value lines
#   scripts/kube-apiserver.sh env     print the NAME=value lines of the running instance
#   scripts/kube-apiserver.sh stop    stop exactly the two processes start started
#   scripts/kube-apiserver.sh build   only build (or find) the cached binaries
#
# Use: eval "$(scripts/kube-apiserver.sh start)"; go test ./...; scripts/kube-apiserver.sh stop
#
# The binaries are built from Go modules in a tool module of their own,
# outside the clone (nothing of it is committed), and cached by version in
# $TEND_KUBE_TOOLS (default ${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools/kube-v1.37.2).
# The first build takes about 6 minutes on 2 cores; later starts reuse it.
# The state (temp directory, ports, pids) is kept in $TEND_KUBE_STATE
# (default: a file in /tmp named after the current directory). Only the
# NAME=value lines go to stdout; progress goes to stderr.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
# Staging modules (k8s.io/api, k8s.io/client-go, ...) are published as
# v0.<minor>.<patch> for Kubernetes v1.<minor>.<patch>.
STAGING_VERSION=v0.${KUBE_VERSION#v1.}
GO=${GO:-go}
TOOLS=${TEND_KUBE_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools/kube-$KUBE_VERSION}
BIN=$TOOLS/bin
STATE=${TEND_KUBE_STATE:-$(state_file kube)}
READY_TIMEOUT=${TEND_KUBE_READY_TIMEOUT:-180}

# build_one PKG OUT [LDFLAGS]: go build PKG into OUT inside the tool module,
# showing how many packages have been compiled so far every 20 seconds.
build_one() {
	local pkg=$1 out=$2 ldflags=${3:-} buildlog pid rc=0
	if [ -x "$out" ]; then
		return
	fi
	log "compiling $(basename "$out")"
	buildlog=$TOOLS/build-$(basename "$out").log
	(cd "$TOOLS/src" && exec "$GO" build -v -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg") >"$buildlog" 2>&1 </dev/null &
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
		log "building $pkg failed (full log: $buildlog)"
		exit 1
	fi
	mv "$out.tmp" "$out"
}

build() {
	if [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/etcd" ]; then
		return
	fi
	command -v "$GO" >/dev/null || {
		log "go is missing: install Go 1.26 to build kube-apiserver"
		exit 1
	}
	local t0 src gomod
	t0=$(date +%s)
	src=$TOOLS/src
	mkdir -p "$src" "$BIN"
	log "building kube-apiserver $KUBE_VERSION and etcd in $TOOLS (first time only; about 6 minutes on 2 cores)"
	log "downloading k8s.io/kubernetes@$KUBE_VERSION"
	gomod=$(cd "$src" && "$GO" mod download -json "k8s.io/kubernetes@$KUBE_VERSION" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')
	# k8s.io/kubernetes requires its staging modules as v0.0.0 and replaces
	# them with ./staging/src/...; a module that depends on it must replace
	# each of them with the published version instead.
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
	mv "$src/go.mod.new" "$src/go.mod"
	rm -f "$src/go.sum"
	cat >"$src/tools.go" <<'EOF'
//go:build tools

// Package tools pins the programs scripts/kube-apiserver.sh builds.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
)
EOF
	log "resolving modules (go mod tidy in $src; $(grep -c ' => ' "$src/go.mod") staging modules replaced)"
	(cd "$src" && "$GO" mod tidy) >&2
	log "etcd module: $(cd "$src" && "$GO" list -m go.etcd.io/etcd/server/v3)"
	build_one go.etcd.io/etcd/server/v3 "$BIN/etcd"
	# Stamp the version as Kubernetes' release build does, so /version
	# answers v1.37.2 rather than v0.0.0-master.
	local v=k8s.io/component-base/version minor=${KUBE_VERSION#v1.}
	minor=${minor%%.*}
	build_one k8s.io/kubernetes/cmd/kube-apiserver "$BIN/kube-apiserver" \
		"-X $v.gitVersion=$KUBE_VERSION -X $v.gitMajor=1 -X $v.gitMinor=$minor -X $v.gitTreeState=clean"
	log "built $BIN/kube-apiserver and $BIN/etcd in $(($(date +%s) - t0))s"
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_KUBECONFIG=$KUBE_DIR/kubeconfig"
	echo "export TEND_TEST_KUBECONFIG"
}

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	alive "$ETCD_PID" && alive "$APISERVER_PID"
}

# stop_component PID NAME: TERM, wait up to 20 s, then KILL.
stop_component() {
	alive "$1" || return 0
	log "stopping $2 (pid $1)"
	stop_pid "$1" 20
}

start() {
	already_running && return
	if [ -f "$STATE" ]; then
		log "removing the state of a dead instance ($STATE)"
		stop
	fi
	build
	local dir etcd_port peer_port port token i
	dir=$(mktemp -d /tmp/tend-kube.XXXXXX)
	chmod 700 "$dir"
	etcd_port=$(free_port)
	peer_port=$(free_port)
	port=$(free_port)
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
		echo "ETCD_PID="
		echo "APISERVER_PID="
	} >"$STATE"

	log "starting etcd on 127.0.0.1:$etcd_port (data in $dir/etcd)"
	"$BIN/etcd" --name default --data-dir "$dir/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" \
		--advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "default=http://127.0.0.1:$peer_port" \
		--listen-metrics-urls "" \
		>"$dir/etcd.log" 2>&1 </dev/null &
	sed -i "s/^ETCD_PID=.*/ETCD_PID=$!/" "$STATE"

	log "starting kube-apiserver on https://127.0.0.1:$port"
	"$BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$etcd_port" \
		--secure-port="$port" --bind-address=127.0.0.1 \
		--cert-dir="$dir/certs" \
		--token-auth-file="$dir/tokens.csv" \
		--service-account-issuer=https://kubernetes.default.svc \
		--service-account-key-file="$dir/sa.pub" \
		--service-account-signing-key-file="$dir/sa.key" \
		--authorization-mode=RBAC \
		--service-cluster-ip-range=10.0.0.0/24 \
		>"$dir/kube-apiserver.log" 2>&1 </dev/null &
	sed -i "s/^APISERVER_PID=.*/APISERVER_PID=$!/" "$STATE"
	# shellcheck disable=SC1090
	. "$STATE"

	log "waiting for /readyz (up to ${READY_TIMEOUT}s; usually about 20 s)"
	for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
		if ! alive "$ETCD_PID"; then
			tail -20 "$dir/etcd.log" >&2
			log "etcd exited (log $dir/etcd.log)"
			exit 1
		fi
		if ! alive "$APISERVER_PID"; then
			tail -20 "$dir/kube-apiserver.log" >&2
			log "kube-apiserver exited (log $dir/kube-apiserver.log)"
			exit 1
		fi
		if [ "$(curl -sk -m 2 -H "Authorization: Bearer $token" "https://127.0.0.1:$port/readyz" 2>/dev/null)" = ok ]; then
			break
		fi
		sleep 0.5
	done
	if [ "$(curl -sk -m 2 -H "Authorization: Bearer $token" "https://127.0.0.1:$port/readyz" 2>/dev/null)" != ok ]; then
		tail -20 "$dir/kube-apiserver.log" >&2
		log "kube-apiserver not ready after ${READY_TIMEOUT}s (log $dir/kube-apiserver.log)"
		exit 1
	fi
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
	log "ready: $(curl -s --cacert "$dir/certs/apiserver.crt" -H "Authorization: Bearer $token" "https://127.0.0.1:$port/version" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')"
	print_env
}

stop() {
	not_started && return
	# shellcheck disable=SC1090
	. "$STATE"
	stop_component "${APISERVER_PID:-}" kube-apiserver
	stop_component "${ETCD_PID:-}" etcd
	case "${KUBE_DIR:-}" in
	/tmp/tend-kube.*) rm -rf "$KUBE_DIR" ;;
	esac
	rm -f "$STATE"
}

dispatch "start|stop|env|build" "$@"
