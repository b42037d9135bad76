#!/usr/bin/env bash
# echo-tail.sh: datagrams/s and p50/p99 of `udp echo-server` beside the peer baseline
# (bench's `peer-udp-echo-tokio`, a tokio UdpSocket loop), by sender count and datagram size,
# measured by bench's `loadgen udp-echo` (window 16 per sender), servers interleaved and
# repeated, medians per point, ratios to the peer (datagrams/s: >1 is faster; p99: <1 is better).
# Two p99s: when the client read the echo, and with ARRIVAL=1 (`loadgen udp-echo --arrival`)
# also when the echo reached the client's socket (the kernel's arrival stamp: the server's and
# loopback's part, without the client's own waits; the stamps cost the client some CPU).
#
# Run from the project root after
#   cargo build --release -p udp --bins
#   (cd bench && cargo build --release -p loadgen -p peer-udp-echo-tokio)
# Knobs: REPS=3 DUR=2 SENDERS="1 4 16 64" SIZES="64" SERVERS="peer ours-async ..." where a
# server name is peer, ours-MODE (the default threads), ours-MODE-1t or ours-MODE-2t, or
# before-MODE: the binary UDP_BEFORE (a build of another commit, to measure a change);
# EXTRA="--recv-buffer 2097152" is appended to every `udp echo-server`; PIN=1 runs every server
# and client on CPU 0 (`taskset -c 0`), the latency-bound setting of bench/run-anchors.sh;
# SPLIT=1 runs every server alone on CPU 1 and the client alone on CPU 0;
# WRAP="nice -n 19" runs each of our servers (ours-*, before-*) under that command;
# CLIENT="--window 4" or CLIENT="--window 256 --rate 50000" (an open loop, paced) is appended
# to every `loadgen udp-echo`; LOADGEN=udp measures with this crate's own `udp bench echo`
# instead (one blocking thread per sender, where loadgen runs one tokio task per sender).
# Every server binds 127.0.0.1:0 and is stopped by its PID; every client run is bounded.
set -uo pipefail

UDP=${UDP:-target/release/udp}
BIN=${BIN:-bench/target/release}
SERVERS=${SERVERS:-peer ours-async-1t ours-async ours-blocking ours-batch}
REPS=${REPS:-3} DUR=${DUR:-2} SENDERS=${SENDERS:-1 4 16 64} SIZES=${SIZES:-64} EXTRA=${EXTRA:-} CLIENT=${CLIENT:-} WRAP=${WRAP:-}
[[ ${ARRIVAL:-0} == 1 ]] && CLIENT+=" --arrival"
LOAD=("$BIN/loadgen" udp-echo)
if [[ ${LOADGEN:-loadgen} == udp ]]; then
    [[ ${ARRIVAL:-0} == 1 ]] && { echo "echo-tail.sh: ARRIVAL=1 needs loadgen, not LOADGEN=udp" >&2; exit 2; }
    LOAD=("$UDP" bench echo)
fi
PINNED=() CLIENT_CPU=()
[[ ${PIN:-0} == 1 ]] && PINNED=(taskset -c 0) CLIENT_CPU=(taskset -c 0)
[[ ${SPLIT:-0} == 1 ]] && PINNED=(taskset -c 1) CLIENT_CPU=(taskset -c 0)
RAW=$(mktemp)
OUT=$(mktemp)
trap 'rm -f "$OUT" "$RAW"; [[ -n ${SPID:-} ]] && kill "$SPID" 2>/dev/null' EXIT

server_cmd() {
    case $1 in
    peer) echo "$BIN/peer-udp-echo-tokio --bind 127.0.0.1:0" ;;
    before-*) echo "$WRAP ${UDP_BEFORE:?before-MODE needs UDP_BEFORE=path of another build} echo-server --mode ${1#before-} --bind 127.0.0.1:0 $EXTRA" ;;
    *-[0-9]t) local m=${1%-*t} t=${1##*-}; echo "$WRAP $UDP echo-server --mode ${m#ours-} --threads ${t%t} --bind 127.0.0.1:0 $EXTRA" ;;
    *) echo "$WRAP $UDP echo-server --mode ${1#ours-} --bind 127.0.0.1:0 $EXTRA" ;;
    esac
}

echo "start: $(uptime)"
for rep in $(seq "$REPS"); do
    for size in $SIZES; do
        for senders in $SENDERS; do
            for name in $SERVERS; do
                : >"$OUT"
                timeout $((DUR * 4 + 60)) "${PINNED[@]}" $(server_cmd "$name") >"$OUT" 2>/dev/null &
                SPID=$!
                for _ in $(seq 50); do [[ -s $OUT ]] && break; sleep 0.1; done
                addr=$(head -1 "$OUT" | awk '{print $3}')
                line=$(timeout $((DUR + 40)) "${CLIENT_CPU[@]}" "${LOAD[@]}" --addr "$addr" --senders "$senders" \
                    --size "$size" --duration-s "$DUR" $CLIENT 2>/dev/null | tail -1)
                kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=
                get() { grep -o " $1=[0-9.]*" <<<" $line" | cut -d= -f2; }
                rt=$(get rt_per_s)
                [[ -z $rt ]] && rt=$(get datagrams_per_s) # the key of `udp bench echo`
                echo "rep=$rep size=$size senders=$senders server=$name rt_per_s=$rt p50_us=$(get p50_us) p99_us=$(get p99_us) arrival_p99_us=$(get arrival_p99_us) loss_pct=$(get loss_pct)" | tee -a "$RAW"
            done
        done
    done
done
echo "end: $(uptime)"

median() { sort -g | awk '{v[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }
field() { grep "size=$1 senders=$2 server=$3 " "$RAW" | grep -o " $4=[0-9.]*" | cut -d= -f2 | median; }
echo
echo "| size | senders | server | datagrams/s | x peer | p50 us | p99 us | x peer | arrival p99 us | x peer | loss % |"
echo "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for size in $SIZES; do
    for senders in $SENDERS; do
        brt=$(field "$size" "$senders" peer rt_per_s) bp99=$(field "$size" "$senders" peer p99_us)
        ba99=$(field "$size" "$senders" peer arrival_p99_us)
        for name in $SERVERS; do
            rt=$(field "$size" "$senders" "$name" rt_per_s) p99=$(field "$size" "$senders" "$name" p99_us)
            a99=$(field "$size" "$senders" "$name" arrival_p99_us)
            awk -v sz="$size" -v s="$senders" -v n="$name" -v rt="$rt" -v p50="$(field "$size" "$senders" "$name" p50_us)" \
                -v p99="$p99" -v br="$brt" -v bp="$bp99" -v a99="$a99" -v ba="$ba99" -v loss="$(field "$size" "$senders" "$name" loss_pct)" \
                'BEGIN { arr = (a99 == "" || a99 == "nan") ? "- | -" : sprintf("%.0f | %.2f", a99, (ba > 0 ? a99 / ba : 0))
                         printf "| %s | %s | %s | %.0f | %.2f | %.0f | %.0f | %.2f | %s | %s |\n", sz, s, n, rt, (br > 0 ? rt / br : 0), p50, p99, (bp > 0 ? p99 / bp : 0), arr, loss }'
        done
    done
done
