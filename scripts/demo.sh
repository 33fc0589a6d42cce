#!/usr/bin/env bash
# Plays Keptn's tutorial with tend, from delivery to self-healing: `make
# demo` builds tend and calls this script.
#
# It installs what is missing (Prometheus, Alertmanager, PostgreSQL and
# Unleash through the component scripts, Node.js for Unleash, and the
# Kubernetes cluster's programs, built once from source with progress),
# starts one private instance of each on free loopback ports, and runs
# `tend demo tutorial`, which starts tend, the carts demo processes and
# their load in its own process and tells the story (docs/demo.md).
# Everything started here is stopped on exit, also on failure or Ctrl-C.
#
# The instances are the demo's own: their state files live in a directory
# of their own ($DEMO_DIR), so test instances of `make test` are never
# touched. Without a terminal the script ends with the story: exit 0 when
# the remediation ended resolved as the tutorial tells it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

TEND=${TEND:-bin/tend}
DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tend-demo.XXXXXX")
export TEND_PG_STATE=$DEMO_DIR/postgres.env
export TEND_PROMETHEUS_STATE=$DEMO_DIR/prometheus.env
export TEND_ALERTMANAGER_STATE=$DEMO_DIR/alertmanager.env
export TEND_UNLEASH_STATE=$DEMO_DIR/unleash.env
export TEND_KUBE_STATE=$DEMO_DIR/kube.env

COMPONENTS=(kube-cluster postgres prometheus alertmanager unleash)

stop_all() {
	local rc=$? i
	trap - INT TERM
	echo "==> stopping the demo's components"
	for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do
		"scripts/${COMPONENTS[i]}.sh" stop 2>&1 | sed 's/^/    /' || true
	done
	if [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]; then
		rm -rf "$DEMO_DIR"
	else
		echo "==> the demo failed (exit $rc); its files and log stay in $DEMO_DIR (story/tutorial.log)"
	fi
	exit "$rc"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# need_node installs Node.js and npm when missing (Unleash runs on them)
# and checks the version Unleash 8 needs.
need_node() {
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		if [ "$(id -u)" -ne 0 ]; then
			echo "Node.js 20 or newer with npm is needed for Unleash and installing it needs root: apt-get install -y nodejs npm" >&2
			return 1
		fi
		echo "installing Node.js and npm (apt-get update, then apt-get install nodejs npm)"
		apt-get update
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
	fi
	local major
	major=$(node -p 'process.versions.node.split(".")[0]')
	if [ "$major" -lt 20 ]; then
		echo "Node.js $(node --version) is too old for Unleash 8 (it needs 20 or newer); install a newer one, e.g. from https://github.com/nodesource/distributions, and run make demo again" >&2
		return 1
	fi
	echo "Node.js $(node --version), npm $(npm --version)"
}

# start NAME: start a component and export the NAME=value lines it prints.
start() {
	local out
	out=$("scripts/$1.sh" start) || return
	eval "$out"
}

if [ ! -x "$TEND" ]; then
	echo "$TEND is missing: run make demo (which builds it first)" >&2
	exit 2
fi
phase "Node.js for Unleash" need_node
# The cluster's programs are built from source the first time (about 15
# minutes on 2 cores, progress every 20 seconds); later runs find them.
phase "Kubernetes cluster programs (built once, cached in ~/.cache/tend/tools)" scripts/kube-cluster.sh build
for c in "${COMPONENTS[@]}"; do
	# Not through phase: eval must reach this shell.
	echo "==> start $c"
	t0=$(date +%s%N)
	start "$c"
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf '==> start %s: ok in %d.%03ds\n' "$c" $((ms / 1000)) $((ms % 1000))
done
TEND_DEMO_UNLEASH_CLIENT_TOKEN=$(scripts/unleash.sh client-token production)
export TEND_DEMO_UNLEASH_CLIENT_TOKEN

echo "==> tend demo tutorial"
"$TEND" demo tutorial --work-dir "$DEMO_DIR/story"
