#!/usr/bin/env bash
# Provides Debian's Chromium for the web UI's browser tests
# (internal/ui, through chromedp).
#
#   scripts/chromium.sh start   install when missing, print NAME=value lines
#   scripts/chromium.sh env     print the NAME=value lines
#   scripts/chromium.sh stop    nothing to stop
#
# Use: eval "$(scripts/chromium.sh start)"; go test ./internal/ui/...
#
# Nothing runs between tests: each browser test starts its own headless
# Chromium with a fresh profile directory and ends it, so start only makes
# sure the browser is installed and says where it is. Only the NAME=value
# lines go to stdout; progress goes to stderr.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

install() {
	apt_install "$CHROMIUM" chromium Chromium "set CHROMIUM to the binary"
}

print_env() {
	echo "TEND_TEST_CHROMIUM=$CHROMIUM"
	echo "export TEND_TEST_CHROMIUM"
}

case "${1:-}" in
start)
	install
	log "$("$CHROMIUM" --version 2>/dev/null || echo "chromium at $CHROMIUM")"
	print_env
	;;
env)
	[ -x "$CHROMIUM" ] || { log "Chromium is not installed: run scripts/chromium.sh start"; exit 1; }
	print_env
	;;
stop) ;;
*)
	echo "usage: $0 start|env|stop" >&2
	exit 2
	;;
esac
