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

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

log() { echo "chromium.sh: $*" >&2; }

install() {
	if [ -x "$CHROMIUM" ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "Chromium is missing ($CHROMIUM) and installing it needs root: run apt-get install -y chromium"
		exit 1
	fi
	log "installing Chromium (apt-get update, then apt-get install chromium)"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2
	if [ ! -x "$CHROMIUM" ]; then
		log "apt-get installed chromium but $CHROMIUM is still missing; set CHROMIUM to the binary"
		exit 1
	fi
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
