#!/usr/bin/env bash
# Runs a private Unleash 8.2 (from npm, on PostgreSQL) for tend's tests on a
# free port of its own.
#
#   scripts/unleash.sh start          install when missing, start, print NAME=value lines
#   scripts/unleash.sh env            print the NAME=value lines of the running instance
#   scripts/unleash.sh client-token [ENVIRONMENT]
#                                     create a client (SDK) token for ENVIRONMENT
#                                     (default production) and print it
#   scripts/unleash.sh stop           stop exactly the node process start started
#                                     and drop its database
#
# Use: eval "$(scripts/unleash.sh start)"; go test ./...; scripts/unleash.sh stop
#
# PostgreSQL: when TEND_TEST_POSTGRES_URL is set (make test starts
# scripts/postgres.sh first), Unleash gets a new database unleash_<random>
# on that server. Otherwise this script starts PostgreSQL through
# scripts/postgres.sh and stops it again on stop, unless it was already
# running.
#
# Install: npm installs unleash-server@$UNLEASH_VERSION once per machine into
# ${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools/unleash-$UNLEASH_VERSION, never
# into the clone. The directory holds a package.json with the exact version
# and, after the first install, its package-lock.json, which later installs
# follow with npm ci.
#
# Tokens: start generates an admin token (*:*.<random>) at run time and
# prints it as TEND_TEST_UNLEASH_ADMIN_TOKEN; nothing secret is committed.
# A client token for an SDK (the carts demo) is what client-token prints;
# by hand it is
#
#   curl -s -X POST "$TEND_TEST_UNLEASH_URL/api/admin/api-tokens" \
#     -H "Authorization: $TEND_TEST_UNLEASH_ADMIN_TOKEN" -H 'Content-Type: application/json' \
#     -d '{"tokenName":"carts","type":"client","environment":"production","projects":["*"]}'
#
# and the answer's "secret" is the token.
#
# The state (directory, port, pid, database, token) is kept in
# $TEND_UNLEASH_STATE (default: a file in /tmp named after the current
# directory, mode 0600, so each checkout has its own instance and nothing is
# written into the tree). Only NAME=value lines go to stdout; progress goes to
# stderr.
set -euo pipefail

. "$(dirname "$0")/lib.sh"

UNLEASH_VERSION=8.2.0
NODE=${NODE:-node}
NPM=${NPM:-npm}
CACHE=${TEND_UNLEASH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tend/tools/unleash-$UNLEASH_VERSION}
STATE=${TEND_UNLEASH_STATE:-$(state_file unleash)}
SCRIPTS=$(cd "$(dirname "$0")" && pwd)
# Migrations on an empty database take about 20 s on this kind of machine.
READY_TIMEOUT=${TEND_UNLEASH_READY_TIMEOUT:-180}

random_hex() {
	od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'
}

installed() {
	[ -f "$CACHE/.installed" ] && [ -f "$CACHE/node_modules/unleash-server/package.json" ]
}

install() {
	if ! command -v "$NODE" >/dev/null || ! command -v "$NPM" >/dev/null; then
		log "node and npm are needed to run Unleash $UNLEASH_VERSION (it declares Node.js 22; 20 works); install them first"
		exit 1
	fi
	if installed; then
		return
	fi
	# Install into a fresh directory next to the cache and rename it into
	# place at the end, so an interrupted install never looks finished.
	local parent tmp t0
	parent=$(dirname "$CACHE")
	mkdir -p "$parent"
	tmp=$(mktemp -d "$parent/.unleash-$UNLEASH_VERSION.XXXXXX")
	cat >"$tmp/package.json" <<EOF
{
  "name": "tend-test-unleash",
  "private": true,
  "description": "Unleash for tend's tests, installed by scripts/unleash.sh",
  "dependencies": {
    "unleash-server": "$UNLEASH_VERSION"
  }
}
EOF
	t0=$(date +%s)
	if [ -f "$CACHE/package-lock.json" ]; then
		cp "$CACHE/package-lock.json" "$tmp/"
		log "installing unleash-server@$UNLEASH_VERSION with npm ci into $CACHE (about a minute)"
		(cd "$tmp" && "$NPM" ci --no-audit --no-fund --loglevel=http >&2) || {
			rm -rf "$tmp"
			exit 1
		}
	else
		log "installing unleash-server@$UNLEASH_VERSION with npm into $CACHE (about a minute)"
		(cd "$tmp" && "$NPM" install --save-exact --no-audit --no-fund --loglevel=http >&2) || {
			rm -rf "$tmp"
			exit 1
		}
	fi
	touch "$tmp/.installed"
	if installed; then
		# Another checkout finished the same install meanwhile.
		rm -rf "$tmp"
		return
	fi
	rm -rf "$CACHE"
	mv "$tmp" "$CACHE"
	log "installed unleash-server@$UNLEASH_VERSION in $(($(date +%s) - t0))s"
}

# write_scripts DIR writes the node programs start and stop run: db.js
# creates and drops the database, run.js starts Unleash. Both read their
# settings from the environment, so no secret is written to disk.
write_scripts() {
	local dir=$1
	cat >"$dir/db.js" <<'EOF'
// Written by scripts/unleash.sh: node db.js create|drop NAME, with the
// server URL in UNLEASH_PG_URL.
const { Client } = require('pg');
const [op, name] = process.argv.slice(2);
if (!/^[a-z0-9_]+$/.test(name || '')) {
  console.error(`db.js: bad database name ${name}`);
  process.exit(2);
}
const sql = op === 'create' ? `CREATE DATABASE ${name}` : `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`;
const client = new Client({ connectionString: process.env.UNLEASH_PG_URL });
client.connect()
  .then(() => client.query(sql))
  .then(() => client.end())
  .catch((err) => {
    console.error(`db.js: ${sql}: ${err.message}`);
    process.exit(1);
  });
EOF
	cat >"$dir/run.js" <<'EOF'
// Written by scripts/unleash.sh: starts Unleash on 127.0.0.1 with the
// database, port and admin token from the environment.
const unleash = require('unleash-server');
const pg = new URL(process.env.UNLEASH_PG_URL);
unleash.start({
  db: {
    host: pg.hostname,
    port: Number(pg.port || 5432),
    user: decodeURIComponent(pg.username),
    password: decodeURIComponent(pg.password),
    database: process.env.UNLEASH_DB,
    ssl: false,
  },
  server: {
    host: '127.0.0.1',
    port: Number(process.env.UNLEASH_PORT),
  },
  authentication: {
    initApiTokens: [{
      environment: '*',
      project: '*',
      secret: process.env.UNLEASH_ADMIN_TOKEN,
      type: 'admin',
      tokenName: 'admin',
    }],
  },
  versionCheck: { enable: false },
}).catch((err) => {
  console.error('run.js: Unleash failed to start:', err);
  process.exit(1);
});
EOF
}

print_env() {
	# shellcheck disable=SC1090
	. "$STATE"
	echo "TEND_TEST_UNLEASH_URL=http://127.0.0.1:$UNLEASH_PORT"
	echo "TEND_TEST_UNLEASH_ADMIN_TOKEN=$UNLEASH_TOKEN"
	echo "export TEND_TEST_UNLEASH_URL TEND_TEST_UNLEASH_ADMIN_TOKEN"
}

# ours PID: is PID the node process this script started (run.js of our dir)?
ours() {
	kill -0 "$1" 2>/dev/null && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF "$UNLEASH_DIR/run.js"
}

running() {
	[ -f "$STATE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE"
	ours "$UNLEASH_PID"
}

db() {
	UNLEASH_PG_URL=$UNLEASH_PG_URL NODE_PATH="$CACHE/node_modules" "$NODE" "$UNLEASH_DIR/db.js" "$@"
}

start() {
	already_running && return
	install

	UNLEASH_OWN_PG=0
	if [ -z "${TEND_TEST_POSTGRES_URL:-}" ]; then
		local out
		if ! "$SCRIPTS/postgres.sh" env >/dev/null 2>&1; then
			UNLEASH_OWN_PG=1
		fi
		out=$("$SCRIPTS/postgres.sh" start)
		eval "$out"
	fi
	UNLEASH_PG_URL=$TEND_TEST_POSTGRES_URL

	UNLEASH_DIR=$(mktemp -d /tmp/tend-unleash.XXXXXX)
	chmod 700 "$UNLEASH_DIR"
	UNLEASH_PORT=$(free_port)
	UNLEASH_DB=unleash_$(random_hex 8)
	UNLEASH_TOKEN="*:*.$(random_hex 24)"
	write_scripts "$UNLEASH_DIR"

	log "creating database $UNLEASH_DB"
	db create "$UNLEASH_DB"

	log "starting Unleash $UNLEASH_VERSION on 127.0.0.1:$UNLEASH_PORT (log $UNLEASH_DIR/unleash.log)"
	(
		cd "$UNLEASH_DIR"
		# setsid: Ctrl-C on the caller's terminal must not reach Unleash
		# behind stop's back; stop ends it by its pid.
		exec setsid env NODE_PATH="$CACHE/node_modules" \
			UNLEASH_PG_URL="$UNLEASH_PG_URL" UNLEASH_DB="$UNLEASH_DB" \
			UNLEASH_PORT="$UNLEASH_PORT" UNLEASH_ADMIN_TOKEN="$UNLEASH_TOKEN" \
			LOG_LEVEL=warn CHECK_VERSION=false SEND_TELEMETRY=false \
			"$NODE" "$UNLEASH_DIR/run.js" >"$UNLEASH_DIR/unleash.log" 2>&1 </dev/null
	) &
	UNLEASH_PID=$!

	mkdir -p "$(dirname "$STATE")"
	(
		umask 077
		{
			echo "UNLEASH_DIR=$UNLEASH_DIR"
			echo "UNLEASH_PORT=$UNLEASH_PORT"
			echo "UNLEASH_PID=$UNLEASH_PID"
			echo "UNLEASH_DB=$UNLEASH_DB"
			printf 'UNLEASH_TOKEN=%q\n' "$UNLEASH_TOKEN"
			printf 'UNLEASH_PG_URL=%q\n' "$UNLEASH_PG_URL"
			echo "UNLEASH_OWN_PG=$UNLEASH_OWN_PG"
		} >"$STATE"
	)

	local t0 waited
	t0=$(date +%s)
	while :; do
		if ! kill -0 "$UNLEASH_PID" 2>/dev/null; then
			log "Unleash exited while starting; its log:"
			cat "$UNLEASH_DIR/unleash.log" >&2
			stop
			exit 1
		fi
		if curl -fsS -o /dev/null "http://127.0.0.1:$UNLEASH_PORT/health" 2>/dev/null; then
			break
		fi
		waited=$(($(date +%s) - t0))
		if [ "$waited" -ge "$READY_TIMEOUT" ]; then
			log "Unleash did not answer /health within ${READY_TIMEOUT}s; its log:"
			tail -50 "$UNLEASH_DIR/unleash.log" >&2
			stop
			exit 1
		fi
		if [ $((waited % 5)) -eq 0 ]; then
			log "waiting for Unleash to migrate its database and answer /health (${waited}s)"
		fi
		sleep 1
	done
	log "ready in $(($(date +%s) - t0))s"
	print_env
}

stop() {
	not_started && return
	# shellcheck disable=SC1090
	. "$STATE"
	if ours "$UNLEASH_PID"; then
		log "stopping pid $UNLEASH_PID"
		stop_pid "$UNLEASH_PID" 10 ours
	fi
	if [ -f "$UNLEASH_DIR/db.js" ]; then
		log "dropping database $UNLEASH_DB"
		db drop "$UNLEASH_DB" || log "could not drop database $UNLEASH_DB"
	fi
	rm -rf "$UNLEASH_DIR"
	rm -f "$STATE"
	if [ "$UNLEASH_OWN_PG" = 1 ]; then
		"$SCRIPTS/postgres.sh" stop
	fi
}

client_token() {
	local env=${1:-production} answer
	if ! running; then
		log "not running; start it first"
		exit 1
	fi
	answer=$(curl -fsS -X POST "http://127.0.0.1:$UNLEASH_PORT/api/admin/api-tokens" \
		-H "Authorization: $UNLEASH_TOKEN" -H 'Content-Type: application/json' \
		-d "{\"tokenName\":\"tend-test-client\",\"type\":\"client\",\"environment\":\"$env\",\"projects\":[\"*\"]}") || {
		log "creating a client token for environment $env failed"
		exit 1
	}
	printf '%s' "$answer" | "$NODE" -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).secret))'
}

dispatch "start|stop|env|client-token [ENVIRONMENT]" "$@"
