#!/usr/bin/env bash
# cpu-per-datagram.sh: server CPU time per echoed datagram, for the peer tokio echo loop and the
# three modes of `udp echo-server`, side by side in one run.
#
# Datagrams/s on a shared 2-vCPU machine moves by tens of percent between runs; the CPU the
# server itself spends per datagram (utime + stime from /proc/PID/stat, divided by datagrams
# sent by the load generator) is far steadier, and says what each loop costs.
#
# Run from the project root after `cargo build --release -p udp` and a release build of the
# peers (`../shared/peers`, `cargo build --release` there). Knobs: REPS=3 DUR=2 SENDERS=4
# WINDOW=16 SIZE=64, UDP=target/release/udp, PEERS=../shared/peers/target/release.
# Every server binds 127.0.0.1:0 and is stopped by its PID; every client run is bounded.
set -uo pipefail

UDP=${UDP:-target/release/udp}
PEERS=${PEERS:-../shared/peers/target/release}
REPS=${REPS:-3} DUR=${DUR:-2} SENDERS=${SENDERS:-4} WINDOW=${WINDOW:-16} SIZE=${SIZE:-64}
TCK=$(getconf CLK_TCK)
OUT=$(mktemp)
trap 'rm -f "$OUT"; [[ -n ${SPID:-} ]] && kill "$SPID" 2>/dev/null' EXIT

server_cmd() {
    case $1 in
    peer-udp-echo-tokio) echo "$PEERS/peer-udp-echo-tokio --bind 127.0.0.1:0" ;;
    *) echo "$UDP echo-server --mode ${1#ours-} --bind 127.0.0.1:0" ;;
    esac
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for rep in $(seq "$REPS"); do
    for name in peer-udp-echo-tokio ours-async ours-blocking ours-batch; do
        : >"$OUT"
        $(server_cmd "$name") >"$OUT" 2>/dev/null &
        SPID=$!
        for _ in $(seq 50); do [[ -s $OUT ]] && break; sleep 0.1; done
        addr=$(head -1 "$OUT" | awk '{print $3}')
        c0=$(cpu_ticks "$SPID")
        line=$(timeout $((DUR + 30)) "$PEERS/loadgen" udp-echo --addr "$addr" --senders "$SENDERS" \
            --window "$WINDOW" --size "$SIZE" --duration-s "$DUR" --warmup-s 0 2>/dev/null | tail -1)
        c1=$(cpu_ticks "$SPID")
        kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=
        sent=$(grep -o ' sent=[0-9]*' <<<"$line" | cut -d= -f2)
        rt=$(grep -o 'rt_per_s=[0-9]*' <<<"$line" | cut -d= -f2)
        us=$(awk -v d="$((c1 - c0))" -v t="$TCK" -v n="${sent:-0}" 'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / t / n; else print "nan" }')
        echo "rep=$rep server=$name rt_per_s=$rt server_cpu_us_per_datagram=$us"
    done
done
