#!/bin/bash
# The echo servers side by side on loopback: plain async, tuned async, blocking.
# One-connection round trips with client and server pinned to CPU 0 (`taskset -c 0`),
# then one-connection bulk streaming (unpinned). Bounded: REPS x 3 modes x 2 runs of DUR s.
#   cargo build --release -p tcp && tcp/scripts/plain-vs-tuned.sh
set -u
B=${TCP:-target/release/tcp}
REPS=${REPS:-5}
DUR=${DUR:-2}
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
start() { # MODE [PIN...]: starts a server on 127.0.0.1:0, sets PID and ADDR
  local mode=$1; shift
  : > "$OUT"
  "$@" "$B" echo-server --mode "$mode" --bind 127.0.0.1:0 > "$OUT" &
  PID=$!
  for _ in $(seq 50); do grep -q listening "$OUT" && break; sleep 0.1; done
  ADDR=$(sed 's/listening on //' "$OUT")
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; }
for rep in $(seq "$REPS"); do
  for mode in plain async blocking; do
    start "$mode" taskset -c 0
    echo "rep=$rep mode=$mode $(taskset -c 0 "$B" bench echo --addr "$ADDR" --conns 1 --size 64 --duration-s "$DUR" | tail -1)"
    stop
    start "$mode" env
    echo "rep=$rep mode=$mode $("$B" bench stream --addr "$ADDR" --duration-s "$DUR" | tail -1)"
    stop
  done
done
