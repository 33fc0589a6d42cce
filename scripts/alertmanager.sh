#!/usr/bin/env bash
# Runs a private Alertmanager for tend's tests on a free port of its own.
#
#   scripts/alertmanager.sh start   install when missing, start, print NAME=value lines
#   scripts/alertmanager.sh env     print the NAME=value lines of the running instance
#   scripts/alertmanager.sh stop    stop exactly the instance start started
#
# Use: eval "$(scripts/alertmanager.sh start)"; go test ./...; scripts/alertmanager.sh stop
#
# The configuration file ($TEND_TEST_ALERTMANAGER_CONFIG) starts with one
# receiver that drops everything and fast grouping (group_wait and
# group_interval 1s), which routes that tests add inherit. A test rewrites
# the file, POSTs $TEND_TEST_ALERTMANAGER_URL/-/reload and restores the file
# when it ends (internal/testenv.AlertmanagerConfigPath, AlertmanagerReload).
# Clustering is off (--cluster.listen-address= empty), so no second port is
# needed and no gossip leaves the machine. The test Prometheus is pointed at
# this instance by writing a file-SD entry into its alertmanagers directory
# (internal/testenv.PrometheusAlertmanager does that per test).
#
# The state (directory, port, pid) is kept in $TEND_ALERTMANAGER_STATE
# (default: a file in /tmp named after the current directory, so each
# checkout has its own instance and nothing is written into the tree). Only
# the NAME=value lines go to stdout; progress goes to stderr.
set -euo pipefail

ALERTMANAGER=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
STATE=${TEND_ALERTMANAGER_STATE:-${TMPDIR:-/tmp}/tend-test-alertmanager-$(printf %s "$PWD" | md5sum | cut -c1-12).env}

log() { echo "alertmanager.sh: $*" >&2; }

install() {
	if [ -x "$ALERTMANAGER" ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "Alertmanager is missing ($ALERTMANAGER) and installing it needs root: run apt-get install -y prometheus-alertmanager"
		exit 1
	fi
	log "installing Alertmanager (apt-get update, then apt-get install prometheus-alertmanager)"
	apt-get update >&2
	# The package's postinst starts a system service on :9093; tests never use it.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus-alertmanager >&2
	if [ ! -x "$ALERTMANAGER" ]; then
		log "apt-get installed prometheus-alertmanager but $ALERTMANAGER is still missing; set ALERTMANAGER to the binary"
		exit 1
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_ALERTMANAGER_URL=http://127.0.0.1:$AM_PORT"
	echo "TEND_TEST_ALERTMANAGER_CONFIG=$AM_DIR/alertmanager.yml"
	echo "export TEND_TEST_ALERTMANAGER_URL TEND_TEST_ALERTMANAGER_CONFIG"
}

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	# /proc/PID/comm holds at most 15 characters of the name.
	kill -0 "$AM_PID" 2>/dev/null && [ "$(cat "/proc/$AM_PID/comm" 2>/dev/null)" = "$(basename "$ALERTMANAGER" | cut -c1-15)" ]
}

write_config() {
	local dir=$1
	cat >"$dir/alertmanager.yml" <<'YAML'
# Written by scripts/alertmanager.sh for tend's tests. Tests may rewrite this
# file and POST /-/reload; they restore it when they end.
route:
  receiver: "null"
  group_by: [alertname, project, stage, service]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
YAML
}

start() {
	if running; then
		log "already running (state $STATE)"
		print_env
		return
	fi
	install
	local dir port pid
	dir=$(mktemp -d /tmp/tend-alertmanager.XXXXXX)
	mkdir -p "$dir/data"
	write_config "$dir"
	port=$(free_port)
	log "starting on 127.0.0.1:$port ($dir)"
	# setsid: the server outlives this script and ignores the caller's Ctrl-C.
	setsid "$ALERTMANAGER" \
		--config.file="$dir/alertmanager.yml" \
		--storage.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" \
		--cluster.listen-address= \
		--log.level=warn \
		>"$dir/alertmanager.log" 2>&1 </dev/null &
	pid=$!
	mkdir -p "$(dirname "$STATE")"
	{
		echo "AM_DIR=$dir"
		echo "AM_PORT=$port"
		echo "AM_PID=$pid"
	} >"$STATE"
	local i
	for i in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
			log "ready after $((i / 10)).$((i % 10))s (pid $pid)"
			print_env
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "alertmanager exited during startup:"
			cat "$dir/alertmanager.log" >&2
			rm -f "$STATE"
			exit 1
		fi
		sleep 0.1
	done
	log "not ready after 30s; log:"
	cat "$dir/alertmanager.log" >&2
	stop
	exit 1
}

stop() {
	if [ ! -f "$STATE" ]; then
		log "not started (no state file $STATE)"
		return
	fi
	# shellcheck disable=SC1090
	. "$STATE"
	if running; then
		log "stopping pid $AM_PID ($AM_DIR)"
		kill "$AM_PID"
		local i
		for i in $(seq 1 100); do
			kill -0 "$AM_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$AM_PID" 2>/dev/null; then
			log "pid $AM_PID did not stop in 10s; killing it"
			kill -9 "$AM_PID" || true
		fi
	fi
	rm -rf "$AM_DIR"
	rm -f "$STATE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
	if running; then print_env; else
		log "not running"
		exit 1
	fi
	;;
*)
	echo "usage: $0 start|stop|env" >&2
	exit 2
	;;
esac
