# shellcheck shell=bash
# What the component scripts (postgres.sh, prometheus.sh, alertmanager.sh,
# unleash.sh, kube-cluster.sh, chromium.sh, keptn-cli.sh) and the runners
# (test.sh, demo.sh) share. Each sources it:
#
#   . "$(dirname "$0")/lib.sh"
#
# Every component script keeps the same interface: start, env and stop;
# only NAME=value and export lines on stdout; progress on stderr, each line
# prefixed with the script's name.

# log MESSAGE...: progress, on stderr, prefixed with the script's name.
log() { echo "$(basename "$0"): $*" >&2; }

# state_file NAME: the default state file of component NAME, in /tmp and
# named after the current directory, so each checkout has its own instance
# and nothing is written into the tree.
state_file() {
	echo "${TMPDIR:-/tmp}/tend-test-$1-$(printf %s "$PWD" | md5sum | cut -c1-12).env"
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# apt_install FILE PACKAGE TITLE HINT: installs Debian's PACKAGE when FILE is
# not executable (root only), and fails when it still is not; HINT says how
# to point the script at FILE instead.
apt_install() {
	local file=$1 pkg=$2 title=$3 hint=$4
	if [ -x "$file" ]; then
		return
	fi
	if [ "$(id -u)" -ne 0 ]; then
		log "$title is missing ($file) and installing it needs root: run apt-get install -y $pkg"
		exit 1
	fi
	log "installing $title (apt-get update, then apt-get install $pkg)"
	apt-get update >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$pkg" >&2
	if [ ! -x "$file" ]; then
		log "apt-get installed $pkg but $file is still missing; $hint"
		exit 1
	fi
}

# alive PID: is PID set and a running process?
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# process_named PID NAME: is PID a running process whose name is NAME?
# (/proc/PID/comm holds at most 15 characters of the name.)
process_named() {
	alive "$1" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$(printf %s "$2" | cut -c1-15)" ]
}

# stop_pid PID SECONDS [CHECK]: sends TERM to PID, waits up to SECONDS for
# it to end, then KILLs it. CHECK PID says whether it still runs (default
# alive), so a reused pid is never signalled twice.
stop_pid() {
	local pid=$1 seconds=$2 check=${3:-alive} i
	"$check" "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < seconds * 10; i++)); do
		"$check" "$pid" || return 0
		sleep 0.1
	done
	log "pid $pid did not stop in ${seconds}s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

# serve NAME PREFIX DIR PORT READY_URL CMD...: starts CMD in a session of its
# own (the server outlives this script and ignores the caller's Ctrl-C) with
# its output in DIR/NAME.log, records PREFIX_DIR, PREFIX_PORT and PREFIX_PID
# in $STATE and waits up to 30 s for READY_URL to answer 2xx. When the server
# exits first, serve shows its log, forgets the state and exits 1; when time
# runs out, it shows the log, stops the server (the script's stop) and
# exits 1.
serve() {
	local name=$1 prefix=$2 dir=$3 port=$4 url=$5 pid i
	shift 5
	setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
	pid=$!
	mkdir -p "$(dirname "$STATE")"
	{
		echo "${prefix}_DIR=$dir"
		echo "${prefix}_PORT=$port"
		echo "${prefix}_PID=$pid"
	} >"$STATE"
	for i in $(seq 1 300); do
		if curl -fsS "$url" >/dev/null 2>&1; then
			log "ready after $((i / 10)).$((i % 10))s (pid $pid)"
			return
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited during startup:"
			cat "$dir/$name.log" >&2
			rm -f "$STATE"
			exit 1
		fi
		sleep 0.1
	done
	log "not ready after 30s; log:"
	cat "$dir/$name.log" >&2
	stop
	exit 1
}

# stop_served PREFIX: stops the server serve started (when running says it
# still runs), then removes PREFIX_DIR and the state file.
stop_served() {
	not_started && return
	# shellcheck disable=SC1090
	. "$STATE"
	local dir_var=${1}_DIR pid_var=${1}_PID
	if running; then
		log "stopping pid ${!pid_var} (${!dir_var})"
		stop_pid "${!pid_var}" 10
	fi
	rm -rf "${!dir_var}"
	rm -f "$STATE"
}

# already_running: true, after saying so and printing its NAME=value lines,
# when the instance of $STATE runs (start is then done).
already_running() {
	running || return 1
	log "already running (state $STATE)"
	print_env
}

# not_started: true, after saying so, when there is no state file to stop.
not_started() {
	if [ -f "$STATE" ]; then
		return 1
	fi
	log "not started (no state file $STATE)"
}

# dispatch USAGE VERB [ARGS...]: runs start, stop or env, each defined by
# the script (env through its running and print_env), or the script's own
# function for any other verb of USAGE ("start|stop|env|build").
dispatch() {
	local usage=$1 verb=${2:-}
	shift 2 || shift $#
	case "$verb" in
	start) start ;;
	stop) stop ;;
	env)
		if running; then print_env; else
			log "not running"
			exit 1
		fi
		;;
	*)
		local known
		IFS='|' read -ra known <<<"${usage%% *}"
		for v in "${known[@]}"; do
			if [ -n "$verb" ] && [ "$v" = "$verb" ]; then
				"${verb//-/_}" "$@"
				return
			fi
		done
		echo "usage: $0 $usage" >&2
		exit 2
		;;
	esac
}

# phase NAME CMD...: runs CMD, then says how long it took and how it ended.
phase() {
	local name=$1 t0 rc=0 ms
	shift
	echo "==> $name"
	t0=$(date +%s%N)
	"$@" || rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	if [ $rc -eq 0 ]; then
		printf '==> %s: ok in %d.%03ds\n' "$name" $((ms / 1000)) $((ms % 1000))
	else
		printf '==> %s: FAILED (exit %d) in %d.%03ds\n' "$name" $rc $((ms / 1000)) $((ms % 1000))
	fi
	return $rc
}
