#!/usr/bin/env bash
# Runs tend's whole test suite against real components: `make test` calls
# this, and CI runs it through .ci/run with CI=true.
#
# Each component script in COMPONENTS installs its component when missing,
# starts one instance on a port chosen at run time and prints NAME=value
# lines that tell the tests where it is (see internal/testenv). Everything
# started here is stopped on exit, also on failure or Ctrl-C. Each phase
# prints how long it took.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

COMPONENTS=(postgres prometheus alertmanager unleash kube-cluster chromium keptn-cli)
GO=${GO:-go}
GOTEST_FLAGS=${GOTEST_FLAGS:--race -count=1}

started=()
stop_all() {
	local rc=$?
	for ((i = ${#started[@]} - 1; i >= 0; i--)); do
		phase "stop ${started[i]}" "scripts/${started[i]}.sh" stop || true
	done
	exit $rc
}
trap stop_all EXIT
trap 'exit 130' INT TERM

start_component() {
	local c=$1 out
	out=$("scripts/$c.sh" start) || return
	started+=("$c")
	# The script prints only NAME=value and export lines on stdout.
	eval "$out"
}

for c in "${COMPONENTS[@]}"; do
	# Not inside phase's subshell-free call: eval must reach this shell.
	echo "==> start $c"
	t0=$(date +%s%N)
	start_component "$c"
	ms=$((($(date +%s%N) - t0) / 1000000))
	printf '==> start %s: ok in %d.%03ds\n' "$c" $((ms / 1000)) $((ms % 1000))
done

phase "go vet" "$GO" vet ./...
# shellcheck disable=SC2086
phase "go test" "$GO" test $GOTEST_FLAGS ./...
