#!/usr/bin/env bash
# Runs a private Prometheus for tend's tests on a free port of its own.
#
#   scripts/prometheus.sh start   install when missing, start, print NAME=value lines
#   scripts/prometheus.sh env     print the NAME=value lines of the running instance
#   scripts/prometheus.sh stop    stop exactly the instance start started
#
# Use: eval "$(scripts/prometheus.sh start)"; go test ./...; scripts/prometheus.sh stop
#
# One instance serves every test, and each test starts the service it wants
# scraped at run time, so scrape targets come from file-based service
# discovery: a test writes <random>.json into $TEND_TEST_PROMETHEUS_SD_DIR
# ([{"targets": ["127.0.0.1:PORT"], "labels": {"job": "..."}}]) and removes
# it when it ends (internal/testenv.PrometheusTarget does both). Alerting
# rules go into $TEND_TEST_PROMETHEUS_RULES_DIR/*.yml, followed by
# POST $TEND_TEST_PROMETHEUS_URL/-/reload; Alertmanagers to notify go into
# $TEND_TEST_PROMETHEUS_ALERTMANAGER_SD_DIR/*.json the same way as targets.
# Scrapes and rule evaluations run every second.
#
# The state (directory, port, pid) is kept in $TEND_PROMETHEUS_STATE
# (default: a file in /tmp named after the current directory, so each
# checkout has its own instance and nothing is written into the tree). Only
# the NAME=value lines go to stdout; progress goes to stderr.
set -euo pipefail

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
STATE=${TEND_PROMETHEUS_STATE:-${TMPDIR:-/tmp}/tend-test-prometheus-$(printf %s "$PWD" | md5sum | cut -c1-12).env}

log() { echo "prometheus.sh: $*" >&2; }

install() {
	if [ -x "$PROMETHEUS" ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "Prometheus is missing ($PROMETHEUS) and installing it needs root: run apt-get install -y prometheus"
		exit 1
	fi
	log "installing Prometheus (apt-get update, then apt-get install prometheus)"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >&2
	if [ ! -x "$PROMETHEUS" ]; then
		log "apt-get installed prometheus but $PROMETHEUS is still missing; set PROMETHEUS to the binary"
		exit 1
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT"
	echo "TEND_TEST_PROMETHEUS_CONFIG=$PROM_DIR/prometheus.yml"
	echo "TEND_TEST_PROMETHEUS_SD_DIR=$PROM_DIR/targets"
	echo "TEND_TEST_PROMETHEUS_RULES_DIR=$PROM_DIR/rules"
	echo "TEND_TEST_PROMETHEUS_ALERTMANAGER_SD_DIR=$PROM_DIR/alertmanagers"
	echo "export TEND_TEST_PROMETHEUS_URL TEND_TEST_PROMETHEUS_CONFIG TEND_TEST_PROMETHEUS_SD_DIR TEND_TEST_PROMETHEUS_RULES_DIR TEND_TEST_PROMETHEUS_ALERTMANAGER_SD_DIR"
}

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	kill -0 "$PROM_PID" 2>/dev/null && [ "$(cat "/proc/$PROM_PID/comm" 2>/dev/null)" = "prometheus" ]
}

write_config() {
	local dir=$1
	cat >"$dir/prometheus.yml" <<EOF
# Written by scripts/prometheus.sh for tend's tests.
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $dir/rules/*.yml
alerting:
  alertmanagers:
    - file_sd_configs:
        - files: ['$dir/alertmanagers/*.json']
          refresh_interval: 1s
scrape_configs:
  # Targets and their job labels come from the files tests write.
  - job_name: tend-test
    file_sd_configs:
      - files: ['$dir/targets/*.json']
        refresh_interval: 1s
EOF
}

start() {
	if running; then
		log "already running (state $STATE)"
		print_env
		return
	fi
	install
	local dir port pid
	dir=$(mktemp -d /tmp/tend-prometheus.XXXXXX)
	mkdir -p "$dir/targets" "$dir/rules" "$dir/alertmanagers" "$dir/data"
	write_config "$dir"
	port=$(free_port)
	log "starting on 127.0.0.1:$port ($dir)"
	# setsid: the server outlives this script and ignores the caller's Ctrl-C.
	setsid "$PROMETHEUS" \
		--config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" \
		--storage.tsdb.retention.time=1d \
		--web.listen-address="127.0.0.1:$port" \
		--web.enable-lifecycle \
		--log.level=warn \
		>"$dir/prometheus.log" 2>&1 </dev/null &
	pid=$!
	mkdir -p "$(dirname "$STATE")"
	{
		echo "PROM_DIR=$dir"
		echo "PROM_PORT=$port"
		echo "PROM_PID=$pid"
	} >"$STATE"
	local i
	for i in $(seq 1 300); do
		if curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
			log "ready after $((i / 10)).$((i % 10))s (pid $pid)"
			print_env
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "prometheus exited during startup:"
			cat "$dir/prometheus.log" >&2
			rm -f "$STATE"
			exit 1
		fi
		sleep 0.1
	done
	log "not ready after 30s; log:"
	cat "$dir/prometheus.log" >&2
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
		log "stopping pid $PROM_PID ($PROM_DIR)"
		kill "$PROM_PID"
		local i
		for i in $(seq 1 100); do
			kill -0 "$PROM_PID" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$PROM_PID" 2>/dev/null; then
			log "pid $PROM_PID did not stop in 10s; killing it"
			kill -9 "$PROM_PID" || true
		fi
	fi
	rm -rf "$PROM_DIR"
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
