#!/usr/bin/env bash
# Provides the real keptn CLI 1.4.5 for the compatibility test
# (test/keptncli), built from ../shared/keptn-cli into a cache outside the
# clone (about 2 minutes the first time, instant afterwards).
#
#   scripts/keptn-cli.sh start   build when missing, print NAME=value lines
#   scripts/keptn-cli.sh env     print the NAME=value lines
#   scripts/keptn-cli.sh stop    nothing to stop
#
# Use: eval "$(scripts/keptn-cli.sh start)"; go test ./test/keptncli/
#
# Only the NAME=value lines go to stdout; build progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

BUILD=${KEPTN_CLI_BUILD:-../shared/keptn-cli/build.sh}

print_env() {
	echo "TEND_TEST_KEPTN_CLI=$1"
	echo "export TEND_TEST_KEPTN_CLI"
}

case "${1:-}" in
start | env)
	if [ ! -x "$BUILD" ]; then
		log "$BUILD is missing: the keptn CLI's source is expected in ../shared/keptn-cli beside the clone"
		exit 1
	fi
	log "building the keptn CLI when it is not cached yet (about 2 minutes the first time)"
	bin=$("$BUILD")
	log "keptn CLI at $bin"
	print_env "$bin"
	;;
stop) ;;
*)
	echo "usage: $0 start|env|stop" >&2
	exit 2
	;;
esac
