#!/usr/bin/env bash
# client-waits.sh: whose wait is a closed loop's tail? Runs one UDP echo server and bench's
# `loadgen udp-echo` against it (unpinned, both free to use every CPU), records the scheduler
# for a second in the middle (`perf sched record`), and prints, beside the client's figures,
# how long the client's and the server's threads were runnable but not running, and what ran
# on that CPU meanwhile (`client-waits.awk` reads `perf sched timehist --state`; see
# perf-sched(1)).
#
# Run from the project root, as root (perf needs the scheduler's tracepoints), after
#   cargo build --release -p udp --bins
#   (cd bench && cargo build --release -p loadgen -p peer-udp-echo-tokio)
# then, for example,
#   udp/scripts/client-waits.sh target/release/udp echo-server --mode batch
#   udp/scripts/client-waits.sh bench/target/release/peer-udp-echo-tokio
# The server command gets `--bind 127.0.0.1:0` appended and must print its address as the
# third word of its first line. Knobs: SENDERS=4 SIZE=64 DUR=3 (seconds the client measures)
# RECORD_S=1 (seconds traced; the trace starts 1 s into the client's run) REPS=1
# THREADS=N (the client's tokio worker threads, `loadgen --threads N`; default: one per CPU).
# The server is stopped by its PID; every client run is bounded.
set -uo pipefail

[[ $# -ge 1 ]] || { echo "usage: client-waits.sh SERVER-COMMAND [ARGS...]" >&2; exit 2; }
command -v perf >/dev/null || { echo "client-waits.sh: needs perf (Debian: apt-get install linux-perf)" >&2; exit 2; }
LOADGEN=${LOADGEN:-bench/target/release/loadgen}
[[ -x $LOADGEN ]] || { echo "client-waits.sh: no $LOADGEN (cd bench && cargo build --release -p loadgen)" >&2; exit 2; }
SENDERS=${SENDERS:-4} SIZE=${SIZE:-64} DUR=${DUR:-3} RECORD_S=${RECORD_S:-1} REPS=${REPS:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d)
SPID=
trap '[[ -n $SPID ]] && kill "$SPID" 2>/dev/null; rm -rf "$WORK"' EXIT

timeout $((REPS * (DUR + 10) + 30)) "$@" --bind 127.0.0.1:0 >"$WORK/server.out" 2>&1 &
SPID=$!
for _ in $(seq 50); do [[ -s $WORK/server.out ]] && break; sleep 0.1; done
addr=$(head -1 "$WORK/server.out" | awk '{print $3}')
[[ -n $addr ]] || { echo "client-waits.sh: the server printed no address" >&2; exit 1; }
server_pid=$(pgrep -P "$SPID" | head -1) # the server itself, not `timeout`
echo "server: $* (pid $server_pid) on $addr; client: $SENDERS senders, $SIZE B, window 16, $DUR s${THREADS:+, $THREADS client threads}"

for rep in $(seq "$REPS"); do
    timeout $((DUR + 40)) "$LOADGEN" ${THREADS:+--threads "$THREADS"} udp-echo --addr "$addr" --senders "$SENDERS" --size "$SIZE" \
        --duration-s "$DUR" >"$WORK/client.out" 2>&1 &
    cpid=$!
    sleep 1
    client_pid=$(pgrep -P "$cpid" | head -1)
    perf sched record -q -o "$WORK/sched.data" -- sleep "$RECORD_S" >"$WORK/perf.err" 2>&1 || {
        echo "client-waits.sh: perf sched record failed (it needs root or kernel.perf_event_paranoid=-1):" >&2
        cat "$WORK/perf.err" >&2; exit 1; }
    wait "$cpid"
    figures=$(tail -1 "$WORK/client.out" | grep -oE '(rt_per_s|p50_us|p99_us)=[0-9.]+' | tr '\n' ' ')
    echo "rep $rep: $figures"
    perf sched timehist -i "$WORK/sched.data" --state 2>/dev/null |
        awk -f "$HERE/client-waits.awk" -v client="$client_pid" -v server="$server_pid" | sed 's/^/  /'
done
