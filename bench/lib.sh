# lib.sh: what run-anchors.sh and sweep.sh share (sourced, not run).
#
# Servers are started under `timeout` (a hard lifetime), must bind 127.0.0.1 and print
# `listening on IP:PORT` as their first stdout line. Every PID started is remembered in
# PIDS and only those are stopped, by PID. Clients run under `timeout` too.
#
# The caller sets: OUT (results folder), T0 (start time), SERVER_MAX_S, RUN_MAX_S.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$BENCH_DIR/.." && pwd)
BIN=$BENCH_DIR/target/release  # peers, loadgen, plot
OURS=$PROJECT_DIR/target/release # tcp, udp, rpc-lite

PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
}

say() { printf '[%4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }

# Both workspaces' release binaries; builds only what is missing or stale.
build_all() {
    say "building release binaries (bench/ and the project's tcp, udp, rpc-lite)"
    (cd "$BENCH_DIR" && cargo build --release -q) || { echo "bench/: cargo build --release failed" >&2; exit 1; }
    (cd "$PROJECT_DIR" && cargo build --release -q -p tcp -p udp -p rpc-lite) ||
        { echo "project: cargo build --release failed" >&2; exit 1; }
}

machine_info() {
    echo "date_utc=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "nproc=$(nproc)"
    echo "kernel=$(uname -r)"
    echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
    echo "mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "load_avg=$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "open_files_limit=$(ulimit -n)"
    echo "rustc=$(rustc --version)"
    echo "commit=$(git -C "$PROJECT_DIR" rev-parse --short HEAD 2>/dev/null)"
}

# The server process itself (the child of its `timeout` wrapper), for /proc readings.
server_pid() {
    local wrapper=$1 child=""
    local i
    for i in $(seq 20); do
        child=$(cat "/proc/$wrapper/task/$wrapper/children" 2>/dev/null | awk '{print $1}')
        [[ -n $child ]] && break
        sleep 0.05
    done
    echo "${child:-$wrapper}"
}

# Peak resident memory (VmHWM, KiB) of a process, see proc(5).
peak_rss_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# start_server KEY CPU COMMAND   (CPU: 2cpu = unpinned | cpu0 = taskset -c 0)
# Sets SERVER_ADDR and SERVER_PID (the server itself); returns 1 if it did not come up.
start_server() {
    local key=$1 cpu=$2 cmd=$3
    local pin=()
    [[ $cpu == cpu0 ]] && pin=(taskset -c 0)
    local log="$OUT/logs/server-${key//[^A-Za-z0-9_.-]/_}-$cpu-$RANDOM.log"
    timeout -k 5 "$SERVER_MAX_S" "${pin[@]}" bash -c "exec $cmd" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    SERVER_WRAPPER=$pid
    SERVER_ADDR=""
    local i
    for i in $(seq 100); do
        SERVER_ADDR=$(sed -n '1s/^listening on \([0-9.:]*\).*/\1/p' "$log" 2>/dev/null)
        [[ -n $SERVER_ADDR ]] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [[ -z $SERVER_ADDR ]]; then
        say "!! $key ($cpu) did not print 'listening on IP:PORT' (see $log); skipped"
        return 1
    fi
    case $SERVER_ADDR in 127.*) ;; *)
        say "!! $key ($cpu) listens on $SERVER_ADDR, not loopback; skipped"
        stop_server "$pid"
        return 1
        ;;
    esac
    SERVER_PID=$(server_pid "$pid")
}

# Stops one server this script started (by its wrapper's PID) and forgets it.
stop_server() {
    local pid=$1 p keep=()
    kill "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    for p in "${PIDS[@]}"; do [[ $p != "$pid" ]] && keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# steal_since LINE: the share of all CPU time the hypervisor gave to other guests (the steal
# column of the "cpu" line of /proc/stat, proc(5)) since LINE, an earlier copy of that line,
# in percent. On a shared VM it is the first thing to look at when a figure moves.
steal_since() {
    local -a a b
    read -ra a <<<"$1"
    read -ra b <<<"$(head -1 /proc/stat)"
    local total=0 i
    for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
    awk -v s=$((b[8] - a[8])) -v t="$total" 'BEGIN { printf "%.1f", (t > 0 ? 100 * s / t : 0) }'
}

# run_client CPU COMMAND: runs a client once under `timeout`, prints its last stdout line with
# `steal_pct=` (steal time during the run) appended; the steal is also kept in OUT/steal.txt.
RUN_N=0
run_client() {
    local cpu=$1 cmd=$2
    local pin=()
    [[ $cpu == cpu0 ]] && pin=(taskset -c 0)
    RUN_N=$((RUN_N + 1))
    local log="$OUT/logs/run-$(printf %04d $RUN_N)"
    echo "$cmd" >"$log.cmd"
    local before steal line
    before=$(head -1 /proc/stat)
    timeout -k 5 "$RUN_MAX_S" "${pin[@]}" bash -c "exec $cmd" >"$log.out" 2>"$log.err"
    steal=$(steal_since "$before")
    echo "$steal" >>"$OUT/steal.txt"
    line=$(tail -n 1 "$log.out")
    echo "${line:-error=no_output} steal_pct=$steal"
}

# The steal time of every client run (OUT/steal.txt): mean and largest, for machine.txt.
steal_summary() {
    [[ -s $OUT/steal.txt ]] || return 0
    sort -g "$OUT/steal.txt" |
        awk '{ v[NR] = $1; s += $1 } END { printf "steal_pct_mean=%.1f steal_pct_max=%.1f client_runs=%d\n", s / NR, v[NR], NR }'
}

# kv LINE KEY: the value of KEY in a `key=value ...` line (empty if absent).
kv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }

# Verification counters that must be 0; prints the ones that are not.
bad_checks() {
    local line=$1 k v out=""
    for k in mismatches errors missing missing_bytes misattributed malformed reordered conns_failed error; do
        v=$(kv "$line" "$k")
        [[ -n $v && $v != 0 ]] && out+="$k=$v "
    done
    echo "$out"
}
