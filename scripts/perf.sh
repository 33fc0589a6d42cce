#!/usr/bin/env bash
# perf.sh: measures the performance targets of docs/PERFORMANCE.md for one
# or more builds of tend, alternating between them, so that builds compared
# in one run share the machine's load.
#
#   scripts/perf.sh [-r ROUNDS] [-o DIR] [--only LIST] REV [REV...]
#
# REV is any git revision of this repository (main, HEAD, a commit) or
# "work" for the working tree. Each is built once into DIR/REV-SHORTSHA/
# (the tend binary and the test binaries of the packages that hold the
# benchmarks), from a temporary worktree. Then ROUNDS times (default 2),
# for each build in turn, it runs:
#
#   intake   tend bench intake, repeats, 1 and 10 alerts per message
#            (trivial handler and tend serve side by side)
#   new      tend bench intake --load new, 1 and 10 alerts per message
#   start    tend bench start: start to ready and idle RSS
#   slo      BenchmarkDecodeAndEvaluateSLO10Objectives10Previous (-cpu 1)
#   eval     BenchmarkEvaluationsOverhead (SQLite, and PostgreSQL when
#            TEND_TEST_POSTGRES_URL is set)
#   problems BenchmarkAlertmanagerIntake/new (40,000 new problems that join
#            remediations; SQLite, and PostgreSQL as above)
#   action   BenchmarkRemediationFirstAction (webhook to first action)
#
# PERF_PROFILE=1 writes a CPU profile of every Go benchmark run beside its
# output. The tend binaries are built without cgo, as make build does (TEND_CGO=1
# builds them with it). --only takes a comma-separated subset of those
# names. Every measurement
# is printed with the 1-minute load average before and after it, to
# DIR/log, and the raw output of each to DIR/<rev>/<name>.<round>.
#
# The tend bench commands of the newest build drive every build (its
# --tend-binary flag starts the other build's tend serve), so builds older
# than a bench subcommand are still measured by it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

rounds=2
out=${TMPDIR:-/tmp}/tend-perf
only=intake,new,start,slo,eval,problems,action
revs=()
while [ $# -gt 0 ]; do
	case $1 in
	-r) rounds=$2; shift 2 ;;
	-o) out=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	-h|--help) sed -n '2,33p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	-*) log "unknown flag $1"; exit 2 ;;
	*) revs+=("$1"); shift ;;
	esac
done
if [ ${#revs[@]} -eq 0 ]; then
	log "give at least one revision, e.g. scripts/perf.sh main work"
	exit 2
fi
root=$(git rev-parse --show-toplevel)
mkdir -p "$out"
logf=$out/log

load() { cut -d' ' -f1 /proc/loadavg; }
wants() { case ",$only," in *",$1,"*) return 0 ;; esac; return 1; }

# build REV: builds REV's binaries into $out/<dir> and prints <dir>.
build() {
	local rev=$1 sha dir src
	if [ "$rev" = work ]; then
		sha=work-$(date +%s)
		src=$root
	else
		sha=$(git -C "$root" rev-parse --short "$rev")
		src=$out/src-$sha
	fi
	dir=$out/$sha
	if [ -x "$dir/tend" ] && [ -d "$src" ] && [ "$rev" != work ]; then
		echo "$sha"
		return
	fi
	mkdir -p "$dir"
	if [ "$rev" != work ]; then
		rm -rf "$src"
		git -C "$root" worktree add -q --detach "$src" "$rev" >&2
	fi
	log "building $rev ($sha)"
	(cd "$src" && CGO_ENABLED=${TEND_CGO:-0} go build -o "$dir/tend" ./cmd/tend &&
		go test -c -o "$dir/spec.test" ./internal/spec/ &&
		go test -c -o "$dir/app.test" ./internal/app/ &&
		go test -c -o "$dir/api.test" ./internal/api/) >&2
	# the test binaries read testdata relative to their package
	ln -sfn "$src/internal/app" "$dir/app.dir"
	ln -sfn "$src/internal/api" "$dir/api.dir"
	ln -sfn "$src/internal/spec" "$dir/spec.dir"
	echo "$sha"
}

dirs=()
for r in "${revs[@]}"; do
	dirs+=("$(build "$r")")
done
driver=$out/${dirs[${#dirs[@]}-1]}/tend

# measure NAME DIR ROUND CMD...: runs CMD, logging the load around it.
measure() {
	local name=$1 dir=$2 round=$3
	shift 3
	local before f=$out/$dir/$name.$round
	before=$(load)
	log "$dir $name round $round (load $before)"
	if ! "$@" >"$f" 2>&1; then
		log "$dir $name round $round FAILED, see $f"
	fi
	echo "$(date -u +%H:%M:%S) $dir $name round $round load $before-$(load)" >>"$logf"
	grep -E '^ *(alerts/s|messages/s|latency p99|ratio)|evaluations/s|alerts/s.*allocs|ns/op|median|binary pages|^cpu ' "$f" | grep -v 'last second' | sed "s|^|    |" >>"$logf" || true
}

gobench() { # DIR PKG BENCH BENCHTIME [extra test flags]
	local dir=$1 pkg=$2 bench=$3 bt=$4
	shift 4
	if [ -n "${PERF_PROFILE:-}" ]; then
		profiles=$((profiles + 1))
		set -- "$@" -test.cpuprofile "$out/$dir/$pkg.$profiles.pprof"
		log "CPU profile in $out/$dir/$pkg.$profiles.pprof (go tool pprof -top -cum $out/$dir/$pkg.test FILE)"
	fi
	(cd "$out/$dir/$pkg.dir" && /usr/bin/time -f 'cpu %U user %S sys, max RSS %M KB' \
		"$out/$dir/$pkg.test" -test.run '^$' -test.bench "$bench" -test.benchtime "$bt" -test.benchmem "$@")
}

profiles=0
for round in $(seq 1 "$rounds"); do
	for dir in "${dirs[@]}"; do
		bin=$out/$dir/tend
		wants intake && measure intake "$dir" "$round" \
			"$driver" bench intake --tend-binary "$bin" --duration 5s -c 32 --alerts 1,10
		wants new && measure new "$dir" "$round" \
			"$driver" bench intake --tend-binary "$bin" --duration 4s -c 32 --load new --alerts 1,10
		wants start && measure start "$dir" "$round" \
			"$driver" bench start --tend-binary "$bin" --runs 5 --idle 3s
		wants slo && measure slo "$dir" "$round" \
			gobench "$dir" spec 'DecodeAndEvaluateSLO10Objectives10Previous' 1s -test.count 3 -test.cpu 1
		wants eval && measure eval "$dir" "$round" \
			gobench "$dir" app 'EvaluationsOverhead' 10x
		# go test splits -bench at '/', one pattern per level
		wants problems && measure problems "$dir" "$round" \
			gobench "$dir" api 'AlertmanagerIntake/new$' 4000x
		wants problems && [ -n "${TEND_TEST_POSTGRES_URL:-}" ] && measure problems-pg "$dir" "$round" \
			gobench "$dir" api 'AlertmanagerIntake/postgres/new$' 4000x
		wants action && measure action "$dir" "$round" \
			gobench "$dir" app 'RemediationFirstAction' 300x -test.count 2
	done
done
log "done; summary in $logf (the builds' worktrees stay in $out; git worktree prune after removing it)"
