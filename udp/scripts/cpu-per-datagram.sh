#!/usr/bin/env bash
# cpu-per-datagram.sh: datagrams/s, p99 and server CPU time per echoed datagram, for the textbook
# tokio echo loop (examples/tokio_echo_loop.rs) and the three modes of `udp echo-server` (with
# their default threads, 2 or for the batched loop 1, and with `--threads N`: the names ending
# in -Nt), side by side in one run, all measured by `udp bench echo`.
#
# Datagrams/s on a shared 2-vCPU machine moves by tens of percent between runs; the CPU the
# server itself spends per datagram (utime + stime from /proc/PID/stat, divided by datagrams
# sent by the load generator) is far steadier, and says what each loop costs.
#
# Run from the project root after `cargo build --release -p udp --bins --examples`.
# Knobs: REPS=3 DUR=2 SENDERS=4 WINDOW=16 SIZE=64 SERVERS="tokio-loop ours-async ...", UDP=target/release/udp,
# LOOP=target/release/examples/tokio_echo_loop.
# Every server binds 127.0.0.1:0 and is stopped by its PID; every client run is bounded.
set -uo pipefail

UDP=${UDP:-target/release/udp}
LOOP=${LOOP:-target/release/examples/tokio_echo_loop}
SERVERS=${SERVERS:-tokio-loop ours-async-1t ours-async ours-blocking-1t ours-blocking ours-batch ours-batch-2t}
REPS=${REPS:-3} DUR=${DUR:-2} SENDERS=${SENDERS:-4} WINDOW=${WINDOW:-16} SIZE=${SIZE:-64}
TCK=$(getconf CLK_TCK)
OUT=$(mktemp)
RAW=$(mktemp)
trap 'rm -f "$OUT" "$RAW"; [[ -n ${SPID:-} ]] && kill "$SPID" 2>/dev/null' EXIT

server_cmd() {
    case $1 in
    tokio-loop) echo "$LOOP --bind 127.0.0.1:0" ;;
    *-[0-9]t) local m=${1%-*t} t=${1##*-}; echo "$UDP echo-server --mode ${m#ours-} --threads ${t%t} --bind 127.0.0.1:0" ;;
    *) echo "$UDP echo-server --mode ${1#ours-} --bind 127.0.0.1:0" ;;
    esac
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

for rep in $(seq "$REPS"); do
    for name in $SERVERS; do
        : >"$OUT"
        $(server_cmd "$name") >"$OUT" 2>/dev/null &
        SPID=$!
        for _ in $(seq 50); do [[ -s $OUT ]] && break; sleep 0.1; done
        addr=$(head -1 "$OUT" | awk '{print $3}')
        c0=$(cpu_ticks "$SPID")
        line=$(timeout $((DUR + 30)) "$UDP" bench echo --addr "$addr" --senders "$SENDERS" \
            --window "$WINDOW" --size "$SIZE" --duration-s "$DUR" 2>/dev/null | tail -1)
        c1=$(cpu_ticks "$SPID")
        kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=
        sent=$(grep -o ' sent=[0-9]*' <<<"$line" | cut -d= -f2)
        rt=$(grep -o 'datagrams_per_s=[0-9]*' <<<"$line" | cut -d= -f2)
        p50=$(grep -o 'p50_us=[0-9]*' <<<"$line" | cut -d= -f2)
        p99=$(grep -o 'p99_us=[0-9]*' <<<"$line" | cut -d= -f2)
        us=$(awk -v d="$((c1 - c0))" -v t="$TCK" -v n="${sent:-0}" 'BEGIN { if (n > 0) printf "%.2f", d * 1e6 / t / n; else print "nan" }')
        echo "rep=$rep server=$name datagrams_per_s=$rt p50_us=$p50 p99_us=$p99 server_cpu_us_per_datagram=$us" | tee -a "$RAW"
    done
done

# Medians per server, and the ratio of datagrams/s to the textbook loop's median.
echo
echo "| server | datagrams/s | ratio | p50 us | p99 us | server CPU us per datagram |"
echo "|---|---:|---:|---:|---:|---:|"
median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
field() { grep "server=$1 " "$RAW" | grep -o "$2=[0-9.na]*" | cut -d= -f2 | median; }
base=$(field tokio-loop datagrams_per_s)
for name in $SERVERS; do
    rt=$(field "$name" datagrams_per_s)
    ratio=$(awk -v a="$rt" -v b="$base" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "nan" }')
    echo "| $name | $rt | $ratio | $(field "$name" p50_us) | $(field "$name" p99_us) | $(field "$name" server_cpu_us_per_datagram) |"
done
