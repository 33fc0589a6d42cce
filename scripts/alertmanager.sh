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

. "$(dirname "$0")/lib.sh"

ALERTMANAGER=${ALERTMANAGER:-/usr/bin/prometheus-alertmanager}
STATE=${TEND_ALERTMANAGER_STATE:-$(state_file alertmanager)}

install() {
	# The package's postinst starts a system service on :9093; tests never use it.
	apt_install "$ALERTMANAGER" prometheus-alertmanager Alertmanager "set ALERTMANAGER to the binary"
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
	process_named "$AM_PID" "$(basename "$ALERTMANAGER")"
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
	already_running && return
	install
	local dir port
	dir=$(mktemp -d /tmp/tend-alertmanager.XXXXXX)
	mkdir -p "$dir/data"
	write_config "$dir"
	port=$(free_port)
	log "starting on 127.0.0.1:$port ($dir)"
	serve alertmanager AM "$dir" "$port" "http://127.0.0.1:$port/-/ready" \
		"$ALERTMANAGER" \
		--config.file="$dir/alertmanager.yml" \
		--storage.path="$dir/data" \
		--web.listen-address="127.0.0.1:$port" \
		--cluster.listen-address= \
		--log.level=warn
	print_env
}

stop() { stop_served AM; }

dispatch "start|stop|env" "$@"
