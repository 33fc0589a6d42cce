#!/usr/bin/env bash
# Runs a private PostgreSQL 15 for tend's tests on a free port of its own.
#
#   scripts/postgres.sh start   install when missing, start, print NAME=value lines
#   scripts/postgres.sh env     print the NAME=value lines of the running instance
#   scripts/postgres.sh stop    stop exactly the instance start started
#
# Use: eval "$(scripts/postgres.sh start)"; go test ./...; scripts/postgres.sh stop
# The state (data directory, port, pid) is kept in $TEND_PG_STATE (default: a
# file in /tmp named after the current directory, so each checkout has its
# own instance and nothing is written into the tree). Only the NAME=value
# lines go to stdout; progress goes to stderr.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
STATE=${TEND_PG_STATE:-$(state_file postgres)}

install() {
	apt_install "$PG_BIN/initdb" postgresql "PostgreSQL 15" "set PG_BIN to the right bin directory"
}

# as_pg runs a PostgreSQL tool as the postgres user when we are root
# (initdb refuses root), or as ourselves otherwise.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
	echo "export TEND_TEST_POSTGRES_URL"
}

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1
}

start() {
	already_running && return
	install
	local dir port
	dir=$(mktemp -d /tmp/tend-pg.XXXXXX)
	port=$(free_port)
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$dir"
	fi
	chmod 700 "$dir"
	log "initdb in $dir"
	as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	log "starting on 127.0.0.1:$port"
	as_pg "$PG_BIN/pg_ctl" start -w -t 60 -D "$dir/data" -l "$dir/postgres.log" \
		-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=on" >&2 || {
		cat "$dir/postgres.log" >&2
		exit 1
	}
	mkdir -p "$(dirname "$STATE")"
	{
		echo "PG_DIR=$dir"
		echo "PG_DATA=$dir/data"
		echo "PG_PORT=$port"
		echo "PG_PID=$(head -1 "$dir/data/postmaster.pid")"
	} >"$STATE"
	print_env
}

stop() {
	not_started && return
	# shellcheck disable=SC1090
	. "$STATE"
	if as_pg "$PG_BIN/pg_ctl" status -D "$PG_DATA" >/dev/null 2>&1; then
		log "stopping pid $PG_PID ($PG_DATA)"
		as_pg "$PG_BIN/pg_ctl" stop -w -m fast -D "$PG_DATA" >&2
	fi
	rm -rf "$PG_DIR"
	rm -f "$STATE"
}

dispatch "start|stop|env" "$@"
