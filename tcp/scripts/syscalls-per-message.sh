#!/bin/bash
# System calls and server CPU per echoed message, counted by `perf stat` on the server
# while `loadgen tcp-echo` drives it: 64-byte messages, CONNS connections (1: client and
# server pinned to CPU 0 with `taskset -c 0`; more: unpinned). Counts per message do not
# depend on how busy the machine is, unlike round trips/s; CPU per message does a little.
#   cargo build --release -p tcp && (cd bench && cargo build --release)
#   CONNS=1 REPS=3 tcp/scripts/syscalls-per-message.sh
#   CONNS=1000 tcp/scripts/syscalls-per-message.sh
# SERVERS lists NAME=COMMAND (commands without spaces in their arguments; `,` for spaces).
# Needs `perf` (linux-perf / linux-tools) and the right to trace (root, or
# kernel.perf_event_paranoid <= 1); says so and exits 0 without it. Loopback only;
# every server is started here, on port 0, and stopped by its PID. Bounded: REPS x
# servers runs of DUR s (+1 s warm-up).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${TCP:-$ROOT/target/release/tcp}
PEERS=${PEERS:-$ROOT/bench/target/release}
LOADGEN=${LOADGEN:-$PEERS/loadgen}
CONNS=${CONNS:-1}
REPS=${REPS:-3}
DUR=${DUR:-2}
SERVERS=${SERVERS:-"peer-echo-tokio=$PEERS/peer-echo-tokio peer-echo-std=$PEERS/peer-echo-std plain=$B,echo-server,--mode,plain tuned=$B,echo-server,--mode,async blocking=$B,echo-server,--mode,blocking"}
EVENTS=syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,task-clock
if ! command -v perf >/dev/null || ! perf stat -e syscalls:sys_enter_sendto -- true >/dev/null 2>&1; then
  echo "skipped: needs perf with syscall tracepoints (apt-get install linux-perf; run as root)"
  exit 0
fi
[[ -x $LOADGEN ]] || { echo "needs $LOADGEN: (cd bench && cargo build --release)" >&2; exit 1; }
PIN=()
[[ $CONNS == 1 ]] && PIN=(taskset -c 0)
ulimit -n "$(ulimit -Hn)"
OUT=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$OUT"' EXIT
for rep in $(seq "$REPS"); do
  for server in $SERVERS; do
    name=${server%%=*}
    IFS=, read -r -a cmd <<<"${server#*=}"
    [[ ${cmd[0]} == "$B" ]] && cmd+=(--max-conns 20000)
    "${PIN[@]}" "${cmd[@]}" --bind 127.0.0.1:0 >"$OUT/server" 2>/dev/null &
    pid=$!
    for _ in $(seq 50); do grep -q listening "$OUT/server" && break; sleep 0.1; done
    addr=$(sed -n '1s/^listening on //p' "$OUT/server")
    timeout $((DUR + 60)) "${PIN[@]}" "$LOADGEN" tcp-echo --addr "$addr" --conns "$CONNS" --size 64 \
      --duration-s "$DUR" --warmup-s 1 >"$OUT/load" 2>&1 &
    load=$!
    # Count inside the measured window: after the connections and the warm-up.
    sleep "$(awk -v c="$CONNS" 'BEGIN { print 1.2 + c / 5000 }')"
    perf stat -x, -e "$EVENTS" -p "$pid" -o "$OUT/perf" -- sleep "$(awk -v d="$DUR" 'BEGIN { print d / 2 }')"
    wait "$load"
    kill "$pid"; wait "$pid" 2>/dev/null; pid=""
    awk -F, -v rep="$rep" -v name="$name" -v line="$(tail -1 "$OUT/load")" '
      { v[$3] = $1 }
      END {
        n = v["syscalls:sys_enter_sendto"]
        split(line, kv, " "); rt = ""
        for (i in kv) if (kv[i] ~ /^rt_per_s=/) rt = kv[i]
        printf "rep=%s server=%s messages=%d recv=%.2f send=1 epoll_wait=%.2f futex=%.3f cpu_us=%.2f %s\n",
          rep, name, n, v["syscalls:sys_enter_recvfrom"] / n, v["syscalls:sys_enter_epoll_wait"] / n,
          v["syscalls:sys_enter_futex"] / n, v["task-clock"] * 1000 / n, rt
      }' "$OUT/perf"
  done
done
