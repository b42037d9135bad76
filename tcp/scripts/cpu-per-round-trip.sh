#!/bin/bash
# Server CPU time per round trip: one connection, 64-byte messages, client and server
# pinned to CPU 0 (`taskset -c 0`). CPU time is the server's utime+stime from
# /proc/PID/stat, so it is steadier than round trips/s on a busy machine. Bounded:
# REPS x servers runs of DUR s. SERVERS lists NAME=BINARY:MODE; compare two builds with
#   SERVERS="old=/tmp/tcp-old:async new=target/release/tcp:async" tcp/scripts/cpu-per-round-trip.sh
set -u
B=${TCP:-target/release/tcp}
REPS=${REPS:-5}
DUR=${DUR:-3}
SERVERS=${SERVERS:-"plain=$B:plain tuned=$B:async blocking=$B:blocking"}
HZ=$(getconf CLK_TCK)
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for rep in $(seq "$REPS"); do
  for server in $SERVERS; do
    name=${server%%=*}; spec=${server#*=}; bin=${spec%:*}; mode=${spec##*:}
    : > "$OUT"
    taskset -c 0 "$bin" echo-server --mode "$mode" --bind 127.0.0.1:0 > "$OUT" &
    pid=$!
    for _ in $(seq 50); do grep -q listening "$OUT" && break; sleep 0.1; done
    addr=$(sed 's/listening on //' "$OUT")
    before=$(ticks "$pid")
    line=$(taskset -c 0 "$B" bench echo --addr "$addr" --conns 1 --size 64 --duration-s "$DUR" | tail -1)
    after=$(ticks "$pid")
    kill "$pid"; wait "$pid" 2>/dev/null
    rt=$(sed 's/.* rt=\([0-9]*\) .*/\1/' <<<"$line")
    awk -v r="$rep" -v n="$name" -v t=$((after - before)) -v hz="$HZ" -v rt="$rt" -v l="$line" \
      'BEGIN { printf "rep=%s server=%s us_cpu_per_rt=%.2f %s\n", r, n, t / hz * 1e6 / rt, l }'
  done
done
