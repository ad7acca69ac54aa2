# shellcheck shell=bash
# scripts/bench/lib.sh: what the benchmark scripts share; sourced by
# scripts/bench/proxy and scripts/bench/shadow, not run. It holds the temp
# dir and the exit trap that stops every process a script started, free
# loopback ports, foreground nginx instances, the bench backend, and wrk
# runs reduced to per-column medians.
#
# A script sets BENCH (its name, for messages) and ROUNDS, DURATION, WARMUP,
# CONNECTIONS, THREADS, then calls `bench_init TOOL...`. It starts each
# background process with `... & track $!` so that the trap stops it.
#
# Paced mode: with RATE set (requests per second), `warmup` and `run_wrk`
# send an open-loop load at that constant rate with scripts/bench/pace
# (CONNECTIONS keep-alive connections, latency counted from each request's
# due time) instead of wrk's closed loop, and print the same RESULT line.
# With `cpu_seconds` and `record_cpu` a script adds the CPU per request of
# the process under test, which `table_row` shows in paced mode.
# (scripts/bench/rollback has a RATE of its own; it calls none of these.)

# die prints its arguments as an error of the script and exits 1.
die() {
	echo "scripts/bench/$BENCH: $*" >&2
	exit 1
}

# bench_init TOOL...: go to the repo root, check the tools and the common
# settings, make $TMP and the wrk report script, and set the traps.
bench_init() {
	cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1
	PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || die "$tool is not installed (scripts/test installs the Debian packages)"
	done
	[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, not $ROUNDS"
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/migrate-bench-$BENCH.XXXXXX")
	PIDS=()
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	write_report_lua
	source_tree
}

# source_tree: set SRC, the tree migrate and the backend are built from,
# and SRC_NOTE, what it is: the work tree, or with REV=<commit> that commit
# exported with git archive (so a run can be tied to a commit while the work
# tree holds changes).
source_tree() {
	SRC=$PWD
	if [[ -n ${REV:-} ]]; then
		local commit
		commit=$(short_commit REV)
		SRC=$TMP/src
		export_tree "$commit" "$SRC"
		SRC_NOTE="migrate at $commit (REV=$REV)"
		return
	fi
	SRC_NOTE="migrate from the work tree at $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
	if [[ -n $(git status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		SRC_NOTE+=", with uncommitted changes"
	fi
}

# short_commit VAR: the short hash of the commit that the variable VAR
# (REV, BASE) names; dies if it names none.
short_commit() {
	local ref=${!1}
	git rev-parse --short --verify --quiet "$ref^{commit}" || die "$1=$ref is not a commit"
}

# export_tree COMMIT DIR: the files of COMMIT in DIR (git archive), to build
# migrate from.
export_tree() {
	mkdir -p "$2"
	git archive "$1" | tar -x -C "$2"
}

# track PID: stop PID on exit.
track() {
	PIDS+=("$1")
}

# untrack PID: PID has ended (waited for); do not stop it on exit.
untrack() {
	local p rest=()
	for p in "${PIDS[@]}"; do
		[[ $p == "$1" ]] || rest+=("$p")
	done
	PIDS=("${rest[@]}")
}

# stop PID: TERM, up to 10s to go, then KILL; PID is no longer tracked.
stop() {
	local pid=$1 i
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	untrack "$pid"
}

cleanup() {
	local rc=$? pid
	trap - EXIT
	for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do stop "$pid"; done
	if [[ ${KEEP:-} == 1 ]]; then
		echo "kept $TMP" >&2
	else
		rm -rf "$TMP"
	fi
	exit "$rc"
}

# seconds converts a wrk duration (10, 10s, 2m, 1h) to whole seconds.
seconds() {
	case $1 in
	*s) echo "${1%s}" ;;
	*m) echo $((${1%m} * 60)) ;;
	*h) echo $((${1%h} * 3600)) ;;
	*) echo "$1" ;;
	esac
}

# free_port prints a loopback TCP port nothing listens on, below the
# kernel's ephemeral range (32768 and up by default) so that no outgoing
# connection of another program takes it meanwhile.
free_port() {
	local port i
	for ((i = 0; i < 1000; i++)); do
		port=$((10000 + RANDOM % 22000))
		if ! listening "$port"; then
			echo "$port"
			return
		fi
	done
	die "no free port found"
}

# listening PORT: whether something accepts connections on 127.0.0.1:PORT.
listening() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# wait_http URL: wait up to 15s for URL to answer 200.
wait_http() {
	local i
	for ((i = 0; i < 150; i++)); do
		if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$1") == 200 ]]; then
			return
		fi
		sleep 0.1
	done
	die "$1 did not answer 200 within 15s (logs in $TMP; KEEP=1 keeps them)"
}

# nginx_conf DIR PROCS SERVER_BLOCK: write DIR/nginx.conf for a foreground
# nginx whose every path is under DIR.
nginx_conf() {
	local dir=$1 procs=$2 server=$3
	mkdir -p "$dir"
	cat >"$dir/nginx.conf" <<EOF
worker_processes $procs;
daemon off;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    keepalive_requests 1000000;
$server
}
EOF
}

# start_nginx DIR: run the nginx of DIR/nginx.conf; its pid is in LAST_PID.
start_nginx() {
	local dir=$1
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
	LAST_PID=$!
	track "$LAST_PID"
}

# The body every backend answers, as scripts/bench/backend does.
BODY='{"ok":true,"service":"bench-backend","items":[1,2,3,4,5,6,7,8,9,10],"note":"fixed response body.."}'

# start_backend KIND NAME PORT [DELAY]: a backend on 127.0.0.1:PORT that
# answers BODY: nginx (return 200, one worker) or go (scripts/bench/backend,
# GOMAXPROCS=1, waiting DELAY before each answer when given); its pid is in
# LAST_PID. It waits until the backend answers.
start_backend() {
	local kind=$1 name=$2 port=$3 delay=${4:-0s}
	case $kind in
	nginx)
		[[ $delay == 0s ]] || die "the nginx backend has no delay (use the go one)"
		nginx_conf "$TMP/$name" 1 "    server {
        listen 127.0.0.1:$port;
        default_type application/json;
        location / { return 200 '$BODY\n'; }
    }"
		start_nginx "$TMP/$name"
		;;
	go)
		[[ -x $TMP/backend-go ]] || (cd "$SRC" && go build -o "$TMP/backend-go" ./scripts/bench/backend)
		GOMAXPROCS=1 "$TMP/backend-go" -listen "127.0.0.1:$port" -delay "$delay" >"$TMP/$name.log" 2>&1 &
		LAST_PID=$!
		track "$LAST_PID"
		;;
	*) die "a backend is nginx or go, not $kind" ;;
	esac
	wait_http "http://127.0.0.1:$port/"
}

# build_migrate: build the migrate binary of SRC once, as $TMP/migrate.
build_migrate() {
	[[ -x $TMP/migrate ]] || (cd "$SRC" && go build -o "$TMP/migrate" ./cmd/migrate)
}

# paced: whether RATE asks for the paced (open-loop) load of scripts/bench/pace.
paced() {
	[[ -n ${RATE:-} ]]
}

# build_pace: check RATE and build scripts/bench/pace once, as $TMP/pace,
# from the work tree (it is the measuring tool, not the code under test: REV
# does not apply to it).
build_pace() {
	[[ -x $TMP/pace ]] && return
	[[ $RATE =~ ^[0-9]+([.][0-9]+)?$ && ! $RATE =~ ^0+([.]0+)?$ ]] ||
		die "RATE must be a number of requests per second above 0, not $RATE"
	go build -o "$TMP/pace" ./scripts/bench/pace
}

# pace_run PORT DURATION: one paced run of DURATION at RATE on PORT (after
# build_pace); the RESULT line on stdout, pace's summary on stderr.
# PACE_FLAGS adds flags (e.g. -timeout 5s).
pace_run() {
	# shellcheck disable=SC2086 # PACE_FLAGS is a list of flags
	timeout "$(($(seconds "$2") + 30))" \
		"$TMP/pace" -url "http://127.0.0.1:$1/" -rate "$RATE" -duration "$2" \
		-connections "$CONNECTIONS" ${PACE_FLAGS:-}
}

# wrk's done() hook prints one machine-readable line. With CLIENTS set
# (a number), each request says it comes from one of that many clients, at
# random, in X-Forwarded-For: wrk's connections then carry many clients
# each, as a load balancer's do (the proxy must trust 127.0.0.1 for it).
write_report_lua() {
	if [[ -n ${CLIENTS:-} ]]; then
		[[ $CLIENTS =~ ^[1-9][0-9]*$ ]] || die "CLIENTS must be a number of clients, not $CLIENTS"
		cat >"$TMP/report.lua" <<EOF
local clients = $CLIENTS
request = function()
  local n = math.random(clients)
  return wrk.format(nil, nil, {["X-Forwarded-For"] = "10.1." .. math.floor(n / 256) .. "." .. (n % 256)})
end
EOF
	else
		: >"$TMP/report.lua"
	fi
	cat >>"$TMP/report.lua" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %.2f %.3f %.3f %d %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.timeout + e.status, summary.requests))
end
EOF
}

# WRK_SCRIPT, when a script sets it, is the wrk Lua script of the runs
# (scripts/bench/proxy's request kinds: each prints the RESULT line of
# report.lua); unset, the measured runs use $TMP/report.lua and warmups
# plain GETs.

# warmup PORT: one unmeasured wrk run of WARMUP (paced: a pace run).
warmup() {
	if paced; then
		build_pace
		pace_run "$1" "$WARMUP" >/dev/null 2>"$TMP/pace-warmup.txt" ||
			die "pace failed on port $1: $(cat "$TMP/pace-warmup.txt")"
		return
	fi
	timeout "$(($(seconds "$WARMUP") + 30))" \
		wrk -t "$THREADS" -c "$CONNECTIONS" -d "$WARMUP" ${WRK_SCRIPT:+-s "$WRK_SCRIPT"} \
		"http://127.0.0.1:$1/" >/dev/null
}

# run_wrk NAME PORT: one measured wrk run of DURATION; appends the result
# line (req/s p50 p99 errors requests) to $TMP/results-NAME and wrk's own
# report to $TMP/wrk-NAME.txt. Paced, pace runs instead: req/s is the rate
# achieved, p50 and p99 count from the due times, and its summary goes to
# $TMP/wrk-NAME.txt.
run_wrk() {
	local name=$1 out
	if paced; then
		build_pace
		out=$(pace_run "$2" "$DURATION" 2>&1)
		echo "$out" >>"$TMP/wrk-$name.txt"
		out=$(grep '^RESULT ' <<<"$out") || die "no result from pace for $name (see $TMP/wrk-$name.txt; KEEP=1 keeps it)"
		echo "${out#RESULT }" >>"$TMP/results-$name"
		return
	fi
	out=$(timeout "$(($(seconds "$DURATION") + 30))" \
		wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency \
		-s "${WRK_SCRIPT:-$TMP/report.lua}" "http://127.0.0.1:$2/")
	echo "$out" >>"$TMP/wrk-$name.txt"
	sed -n "s/^UNEXPECTED /  $name: /p" <<<"$out" >&2
	out=$(grep '^RESULT ' <<<"$out") || die "no result from wrk for $name"
	echo "${out#RESULT }" >>"$TMP/results-$name"
}

# cpu_seconds PID...: the CPU time (user + system, from /proc/PID/stat) of
# the PIDs, summed, in seconds; a PID that has ended counts nothing.
cpu_seconds() {
	local pid hz
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do
		cat "/proc/$pid/stat" 2>/dev/null || true
	done | awk -v hz="$hz" '
		{ sub(/^.*\) /, ""); t += $12 + $13 }  # after "pid (comm) ": utime, stime
		END { printf "%.3f\n", t / hz }'
}

# cpu_split PID...: the user and the system CPU time of the PIDs, summed,
# in seconds: "USER SYS".
cpu_split() {
	local pid hz
	hz=$(getconf CLK_TCK)
	for pid in "$@"; do
		cat "/proc/$pid/stat" 2>/dev/null || true
	done | awk -v hz="$hz" '
		{ sub(/^.*\) /, ""); u += $12; s += $13 }
		END { printf "%.3f %.3f\n", u / hz, s / hz }'
}

# child_pids PID: the pids of PID's children, one a line (nginx's workers).
child_pids() {
	command -v pgrep >/dev/null || die "pgrep is not installed (Debian package procps)"
	pgrep -P "$1" || true
}

# record_cpu NAME SECONDS: append the CPU per request of the last measured
# run of NAME, SECONDS over its requests, in µs, to $TMP/cpu-NAME.
record_cpu() {
	tail -n 1 "$TMP/results-$1" |
		awk -v t="$2" '{ printf "%.2f\n", ($5 > 0) ? t * 1e6 / $5 : 0 }' >>"$TMP/cpu-$1"
}

# run_with_cpu NAME PORT PID...: run_wrk NAME PORT, and record_cpu the CPU
# time the PIDs spent over it.
run_with_cpu() {
	local name=$1 port=$2 before after
	shift 2
	before=$(cpu_split "$@")
	run_wrk "$name" "$port"
	after=$(cpu_split "$@")
	record_cpu "$name" "$(awk -v a="$after" -v b="$before" 'BEGIN { split(a, x, " "); split(b, y, " "); print x[1] + x[2] - y[1] - y[2] }')"
	# and apart, user and system time per request (µs): "USER SYS"
	tail -n 1 "$TMP/results-$name" | awk -v a="$after" -v b="$before" '{
		split(a, x, " "); split(b, y, " ")
		if ($5 > 0) printf "%.2f %.2f\n", (x[1] - y[1]) * 1e6 / $5, (x[2] - y[2]) * 1e6 / $5
	}' >>"$TMP/cpusplit-$name"
}

# cpu_split_line LABEL NAME: the median user and system CPU per request
# of NAME's rounds, when it was measured paced.
cpu_split_line() {
	[[ -s $TMP/cpusplit-$2 ]] || return 0
	printf "%-${TABLE_WIDTH}s user %s µs, system %s µs\n" "$1" \
		"$(cut -d' ' -f1 "$TMP/cpusplit-$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')" \
		"$(cut -d' ' -f2 "$TMP/cpusplit-$2" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
}

# load1 prints the 1-minute load average.
load1() {
	cut -d' ' -f1 /proc/loadavg
}

# measure NAME PORT: warm up, then one measured run (see run_wrk).
measure() {
	echo "  $1: warmup $WARMUP, then $DURATION (load $(load1))"
	warmup "$2"
	run_wrk "$1" "$2"
}

# summarise NAME: sets RESULT_<NAME> to the per-column median of its rounds
# (errors and requests: the sum).
summarise() {
	local name=$1 col med sum=() meds=()
	for col in 1 2 3; do
		med=$(cut -d' ' -f"$col" "$TMP/results-$name" | sort -g |
			awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
		meds+=("$med")
	done
	read -r -a sum < <(awk '{ e += $4; r += $5 } END { print e, r }' "$TMP/results-$name")
	printf -v "RESULT_$name" '%s' "${meds[*]} ${sum[*]}"
	if [[ -s $TMP/cpu-$name ]]; then
		printf -v "CPU_$name" '%s' "$(sort -g "$TMP/cpu-$name" |
			awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')"
	fi
}

# TABLE_WIDTH is the width of the first column of tables and ratios.
TABLE_WIDTH=22

# table_header: the header of a result table (paced: with the CPU column).
table_header() {
	if [[ $ROUNDS -gt 1 ]]; then echo "median of $ROUNDS rounds (errors, requests: total)"; fi
	if paced; then
		echo "offered $RATE req/s over $CONNECTIONS connections (pace); req/s achieved, latency from each request's due time"
		# the last cell is padded by hand: printf may count µ as two
		printf "%-${TABLE_WIDTH}s %12s %9s %9s %9s %10s %s\n" target 'req/s' 'p50 ms' 'p99 ms' errors requests ' µs CPU/req'
		return
	fi
	printf "%-${TABLE_WIDTH}s %12s %9s %9s %9s %10s\n" target 'req/s' 'p50 ms' 'p99 ms' errors requests
}

# table_row LABEL NAME: the summarised results of NAME, when it ran (paced:
# and the median CPU per request of the process under test, "-" if none).
table_row() {
	local v="RESULT_$2" c="CPU_$2"
	[[ -n ${!v:-} ]] || return 0
	if paced; then
		# shellcheck disable=SC2086 # the five fields are meant to split
		printf "%-${TABLE_WIDTH}s %12.0f %9.3f %9.3f %9d %10d %11s\n" "$1" ${!v} "${!c:--}"
		return
	fi
	# shellcheck disable=SC2086 # the five fields are meant to split
	printf "%-${TABLE_WIDTH}s %12.0f %9.3f %9.3f %9d %10d\n" "$1" ${!v}
}

# ratio LABEL A B EXPR [FMT]: print awk EXPR over the results of A
# ($1-$5: req/s p50 p99 errors requests) and B ($6-$10), when both ran.
ratio() {
	local label=$1 a="RESULT_$2" b="RESULT_$3" expr=$4 fmt=${5:-%.2f}
	[[ -n ${!a:-} && -n ${!b:-} ]] || return 0
	awk -v label="$label" -v fmt="$fmt" -v w="$TABLE_WIDTH" \
		"{ v = $expr; printf \"%-\" w \"s \" fmt \"\\n\", label, v }" <<<"${!a} ${!b}"
}

# cpu_ratio LABEL A B [EXPR [FMT]]: print awk EXPR (default $1/$2) over the
# median CPU per request of A ($1) and of B ($2), when both were measured.
cpu_ratio() {
	# shellcheck disable=SC2016 # $1, $2 are awk fields
	local label=$1 a="CPU_$2" b="CPU_$3" expr=${4:-'$1/$2'} fmt=${5:-%.2f}
	[[ -n ${!a:-} && -n ${!b:-} ]] || return 0
	awk -v label="$label" -v fmt="$fmt" -v w="$TABLE_WIDTH" \
		"{ v = $expr; printf \"%-\" w \"s \" fmt \"\\n\", label, v }" <<<"${!a} ${!b}"
}

# goal LABEL A B EXPR FMT COND TEXT: ratio with format FMT, and whether awk
# COND holds for its value v (TEXT says the goal to the reader).
goal() {
	local label=$1 a="RESULT_$2" b="RESULT_$3" expr=$4 fmt=$5 cond=$6 text=$7
	[[ -n ${!a:-} && -n ${!b:-} ]] || return 0
	awk -v label="$label" -v fmt="$fmt" -v w="$TABLE_WIDTH" -v text="$text" \
		"{ v = $expr; printf \"%-\" w \"s \" fmt \"   goal %s: %s\\n\", label, v, text, ($cond) ? \"met\" : \"NOT met\" }" \
		<<<"${!a} ${!b}"
}

# header_lines: versions, settings and the load average, for the record.
header_lines() {
	echo "$SRC_NOTE"
	echo "$(nginx -v 2>&1), $(go version), $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
	echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
}
