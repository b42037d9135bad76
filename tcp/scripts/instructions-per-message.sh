#!/bin/bash
# User-space instructions per echoed message, counted by valgrind's callgrind on the server
# while `loadgen tcp-echo` drives one connection with 64-byte messages. Unlike round trips/s
# (which move by 25% or more between runs on a shared VM), a count of instructions is
# the same from run to run, so a change of a few percent in the work per message shows.
# The kernel's share (the system calls, the same for every epoll server) is not counted.
#
# Each server runs twice, for SHORT and LONG seconds; the difference of the two totals over
# the difference of their round trips is the cost of one more message (start-up and
# shutdown cancel out).
#   cargo build --release -p tcp && (cd bench && cargo build --release)
#   tcp/scripts/instructions-per-message.sh           # PIN=1 (default): taskset -c 0
# SERVERS lists NAME=COMMAND (`,` for spaces), as in syscalls-per-message.sh. Needs
# valgrind (apt-get install valgrind); says so and exits 0 without it. Loopback only;
# every server is started here on port 0 and stopped by its PID.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${TCP:-$ROOT/target/release/tcp}
PEERS=${PEERS:-$ROOT/bench/target/release}
SHORT=${SHORT:-1} LONG=${LONG:-3}
SERVERS=${SERVERS:-"peer-echo-tokio=$PEERS/peer-echo-tokio peer-echo-std=$PEERS/peer-echo-std plain=$B,echo-server,--mode,plain tuned=$B,echo-server,--mode,async blocking=$B,echo-server,--mode,blocking"}
if ! command -v valgrind >/dev/null; then
  echo "skipped: needs valgrind (apt-get install valgrind)"
  exit 0
fi
[[ -x $PEERS/loadgen ]] || { echo "needs $PEERS/loadgen: (cd bench && cargo build --release)" >&2; exit 1; }
PINNED=${PIN:-1}
PIN=()
[[ $PINNED == 1 ]] && PIN=(taskset -c 0)
OUT=$(mktemp -d)
pid=""
trap '[[ -n $pid ]] && kill "$pid" 2>/dev/null; rm -rf "$OUT"' EXIT

# count NAME DUR CMD...: prints "ROUND_TRIPS INSTRUCTIONS" of one run.
count() {
  local dur=$1; shift
  : >"$OUT/server"
  "${PIN[@]}" valgrind --tool=callgrind --callgrind-out-file="$OUT/cg" "$@" --bind 127.0.0.1:0 >"$OUT/server" 2>/dev/null &
  pid=$!
  for _ in $(seq 200); do grep -q listening "$OUT/server" && break; sleep 0.1; done
  local addr rt
  addr=$(sed -n '1s/^listening on //p' "$OUT/server")
  rt=$(timeout $((dur + 60)) "${PIN[@]}" "$PEERS/loadgen" tcp-echo --addr "$addr" --conns 1 --size 64 \
    --duration-s "$dur" --warmup-s 0 | tail -1 | grep -o 'round_trips=[0-9]*' | cut -d= -f2)
  kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
  echo "${rt:-0} $(awk '/^(summary|totals):/ { print $2; exit }' "$OUT/cg")"
}

printf '%-18s %12s\n' server instructions/message
for server in $SERVERS; do
  name=${server%%=*}
  IFS=, read -r -a cmd <<<"${server#*=}"
  read -r rt1 ir1 < <(count "$SHORT" "${cmd[@]}")
  read -r rt2 ir2 < <(count "$LONG" "${cmd[@]}")
  awk -v n="$name" -v r1="$rt1" -v i1="$ir1" -v r2="$rt2" -v i2="$ir2" \
    'BEGIN { if (r2 > r1) printf "%-18s %12.0f\n", n, (i2 - i1) / (r2 - r1); else printf "%-18s %12s\n", n, "no data" }'
done
