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

. "$(dirname "$0")/lib.sh"

PROMETHEUS=${PROMETHEUS:-/usr/bin/prometheus}
STATE=${TEND_PROMETHEUS_STATE:-$(state_file prometheus)}

install() {
	apt_install "$PROMETHEUS" prometheus Prometheus "set PROMETHEUS to the binary"
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
	process_named "$PROM_PID" prometheus
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
	already_running && return
	install
	local dir port
	dir=$(mktemp -d /tmp/tend-prometheus.XXXXXX)
	mkdir -p "$dir/targets" "$dir/rules" "$dir/alertmanagers" "$dir/data"
	write_config "$dir"
	port=$(free_port)
	log "starting on 127.0.0.1:$port ($dir)"
	serve prometheus PROM "$dir" "$port" "http://127.0.0.1:$port/-/ready" \
		"$PROMETHEUS" \
		--config.file="$dir/prometheus.yml" \
		--storage.tsdb.path="$dir/data" \
		--storage.tsdb.retention.time=1d \
		--web.listen-address="127.0.0.1:$port" \
		--web.enable-lifecycle \
		--log.level=warn
	print_env
}

stop() { stop_served PROM; }

dispatch "start|stop|env" "$@"
