#!/usr/bin/env bash
# run-anchors.sh: the suite's servers beside the peer baselines, in one run, as ratios.
#
#   bench/run-anchors.sh              # builds what is missing, measures, prints the table
#   REPS=1 DUR=1 bench/run-anchors.sh # a quick look (figures are then rough)
#
# Starts every server on 127.0.0.1 (port 0; each prints `listening on IP:PORT` first),
# drives them with `loadgen`, the RPC bench clients and the codec benches, repeats every
# figure $REPS times (one repetition = one pass over all tests, so a slow drift hits
# every server alike), stops every process it started by PID, and prints a table with
# the median, min - max, spread and the ratio to the peer of the same test (the first
# server listed for it; throughput: >1 is faster, latency: >1 is slower).
#
# Everything talks to 127.0.0.1 only; every client and server runs under `timeout`.
#
# Knobs (environment variables):
#   REPS=3 DUR=5     repetitions per figure; seconds per timed run
#   ONLY="tcp-stream tcp-echo chat udp rpc codec"   run only these sections
#                    (and tcp-pinned: only tcp-echo's pinned one-connection row, for many
#                    repetitions of it alone, e.g. ONLY=tcp-pinned REPS=20 DUR=3)
#   TCP_PLAIN=1      also measure the plain async tcp echo (ours-plain) in the tcp rows
#   TCP_TASKS=1      also measure the tuned echo with every connection a task
#                    (ours-async-tasks, --own-threads 0) in the tcp rows
#   PIN=1            also run the latency-bound rows (tcp-echo c=1, udp s=1, rpc c=1)
#                    with server AND client pinned to CPU 0 (PIN=0: skip them)
#   RPC_CALLS_C1=10000 RPC_CALLS_C64=50000   calls per rpc bench run
#   OUT=bench/target/anchors/<UTC stamp>    raw lines, logs and summary.md go here
#
# machine.txt ends with the steal time during the client runs (the hypervisor's share of the
# CPUs, mean and largest); every raw line carries its own as steal_pct.

set -uo pipefail
source "$(dirname "$0")/lib.sh"

REPS=${REPS:-3}
DUR=${DUR:-5}
PIN=${PIN:-1}
TCP_PLAIN=${TCP_PLAIN:-0}
TCP_TASKS=${TCP_TASKS:-0}
ONLY=${ONLY:-"tcp-stream tcp-echo chat udp rpc codec"}
RPC_CALLS_C1=${RPC_CALLS_C1:-10000}
RPC_CALLS_C64=${RPC_CALLS_C64:-50000}
OUT=${OUT:-$BENCH_DIR/target/anchors/$(date -u +%Y%m%dT%H%M%SZ)}
SERVER_MAX_S=3600
RUN_MAX_S=$(awk -v d="$DUR" 'BEGIN { printf "%d", d + 60 }')
T0=$(date +%s)

mkdir -p "$OUT/logs"
RAW=$OUT/raw.tsv
: >"$RAW"
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM
want() { [[ " $ONLY " == *" $1 "* ]]; }

build_all
(cd "$PROJECT_DIR" && cargo build --release -q -p framing) || exit 1
machine_info >"$OUT/machine.txt"
echo "reps=$REPS dur_s=$DUR pin=$PIN" >>"$OUT/machine.txt"
sed 's/^/  /' "$OUT/machine.txt"

# name=command; the peer of each kind comes first (ratios are to it).
ECHO_SERVERS=("peer-echo-tokio=$BIN/peer-echo-tokio --bind 127.0.0.1:0"
    "peer-echo-std=$BIN/peer-echo-std --bind 127.0.0.1:0"
    "ours-async=$OURS/tcp echo-server --mode async --bind 127.0.0.1:0"
    "ours-blocking=$OURS/tcp echo-server --mode blocking --bind 127.0.0.1:0")
[[ $TCP_PLAIN == 1 ]] && ECHO_SERVERS+=("ours-plain=$OURS/tcp echo-server --mode plain --bind 127.0.0.1:0")
[[ $TCP_TASKS == 1 ]] && ECHO_SERVERS+=("ours-async-tasks=$OURS/tcp echo-server --mode async --own-threads 0 --bind 127.0.0.1:0")
CHAT_SERVERS=("peer-chat-tokio=$BIN/peer-chat-tokio --bind 127.0.0.1:0"
    "ours=$OURS/tcp chat-server --bind 127.0.0.1:0")
UDP_SERVERS=("peer-udp-echo-tokio=$BIN/peer-udp-echo-tokio --bind 127.0.0.1:0"
    "ours-async=$OURS/udp echo-server --mode async --bind 127.0.0.1:0"
    "ours-batch=$OURS/udp echo-server --mode batch --bind 127.0.0.1:0")
RPC_SERVERS=("peer-tarpc=$BIN/peer-tarpc serve --bind 127.0.0.1:0|$BIN/peer-tarpc bench --addr {ADDR} --concurrency {CONC} --calls {CALLS} --payload {PAYLOAD}"
    "ours=$OURS/rpc-lite serve --bind 127.0.0.1:0|$OURS/rpc-lite bench --addr {ADDR} --concurrency {CONC} --calls {CALLS} --payload {PAYLOAD}")

# Addresses by kind, name and cpu set ("ours" names a TCP echo, a chat and an RPC server).
declare -A ADDR
start_all() { # CPU KIND NAME=CMD...
    local cpu=$1 kind=$2 s
    shift 2
    for s in "$@"; do
        local cmd=${s#*=}
        start_server "${s%%=*}" "$cpu" "${cmd%%|*}" && ADDR[$kind/${s%%=*}@$cpu]=$SERVER_ADDR &&
            say "server $kind ${s%%=*} ($cpu) on $SERVER_ADDR"
    done
}
CPUS=(2cpu)
[[ $PIN == 1 ]] && CPUS+=(cpu0)
for cpu in "${CPUS[@]}"; do
    { want tcp-stream || want tcp-echo || want tcp-pinned; } && start_all "$cpu" echo "${ECHO_SERVERS[@]}"
    want udp && start_all "$cpu" udp "${UDP_SERVERS[@]}"
    want rpc && start_all "$cpu" rpc "${RPC_SERVERS[@]}"
    want chat && [[ $cpu == 2cpu ]] && start_all "$cpu" chat "${CHAT_SERVERS[@]}"
done

# measure TEST SERVER CPU KEYS COMMAND: one client run, its last line kept in raw.tsv.
measure() {
    local test=$1 srv=$2 cpu=$3 keys=$4 cmd=$5 line shown="" k
    line=$(run_client "$cpu" "$cmd")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$test" "$srv" "$cpu" "$REP" "$keys" "$line" >>"$RAW"
    for k in ${keys//,/ }; do shown+="$k=$(kv "$line" "$k") "; done
    say "rep $REP $(printf '%-24s %-20s %-4s' "$test" "$srv" "$cpu") $shown$(bad_checks "$line")"
}

# each_server CPU KIND NAME=CMD...: calls `point NAME ADDR SPEC` for each server that is up.
each_server() {
    local cpu=$1 kind=$2 s
    shift 2
    for s in "$@"; do
        local a=${ADDR[$kind/${s%%=*}@$cpu]:-}
        [[ -n $a ]] && point "${s%%=*}" "$a" "$s"
    done
}

# udp_rows TEST CPU LOADGEN-ARGS: one UDP row as the client reads the echoes, then the same
# with `--arrival` (the kernel's arrival stamps: the server's part alone) in a row of its own,
# since the stamps cost the client CPU, which would show in the first row's latencies.
udp_rows() {
    local test=$1 cpu=$2 args=$3
    point() { measure "$test" "$1" "$cpu" rt_per_s,p50_us,p99_us,loss_pct "$LG udp-echo --addr $2 $args --duration-s $DUR"; }
    each_server "$cpu" udp "${UDP_SERVERS[@]}"
    point() { measure "$test --arrival" "$1" "$cpu" rt_per_s,arrival_p50_us,arrival_p99_us "$LG udp-echo --addr $2 $args --duration-s $DUR --arrival"; }
    each_server "$cpu" udp "${UDP_SERVERS[@]}"
}

LG=$BIN/loadgen
for REP in $(seq "$REPS"); do
    if want tcp-stream; then
        point() { measure "tcp-stream c=1" "$1" 2cpu MB_per_s "$LG tcp-stream --addr $2 --conns 1 --duration-s $DUR"; }
        each_server 2cpu echo "${ECHO_SERVERS[@]}"
    fi
    if want tcp-echo; then
        for c in 1 64; do
            point() { measure "tcp-echo c=$c 64B" "$1" 2cpu rt_per_s,p50_us,p99_us "$LG tcp-echo --addr $2 --conns $c --size 64 --duration-s $DUR"; }
            each_server 2cpu echo "${ECHO_SERVERS[@]}"
        done
    fi
    if { want tcp-echo || want tcp-pinned; } && [[ $PIN == 1 ]]; then
        point() { measure "tcp-echo c=1 64B" "$1" cpu0 rt_per_s,p50_us,p99_us "$LG tcp-echo --addr $2 --conns 1 --size 64 --duration-s $DUR"; }
        each_server cpu0 echo "${ECHO_SERVERS[@]}"
    fi
    if want chat; then
        point() { measure "chat 100cl/10snd/200msg" "$1" 2cpu deliveries_per_s,p50_us,p99_us "$LG chat-fanout --addr $2 --clients 100 --senders 10 --messages 200"; }
        each_server 2cpu chat "${CHAT_SERVERS[@]}"
    fi
    if want udp; then
        point() { measure "udp-echo s=1 64B w16" "$1" 2cpu rt_per_s,p50_us,p99_us,loss_pct "$LG udp-echo --addr $2 --senders 1 --size 64 --duration-s $DUR"; }
        each_server 2cpu udp "${UDP_SERVERS[@]}"
        udp_rows "udp-echo s=4 64B w16" 2cpu "--senders 4 --size 64"
        # The same 4 senders paced at one offered load that every server sustains (an open
        # loop): the p99 of the closed loop above is the whole machine's saturation.
        udp_rows "udp-echo s=4 64B paced 50k/s" 2cpu "--senders 4 --window 256 --rate 50000 --size 64"
        [[ $PIN == 1 ]] && udp_rows "udp-echo s=1 64B w16" cpu0 "--senders 1 --size 64"
    fi
    if want rpc; then
        for cpu in "${CPUS[@]}"; do
            for conc in 1 64; do
                [[ $cpu == cpu0 && $conc != 1 ]] && continue
                calls=$RPC_CALLS_C1
                [[ $conc != 1 ]] && calls=$RPC_CALLS_C64
                for payload in 16 4096; do
                    point() {
                        local b=${3#*|}
                        b=${b//\{ADDR\}/$2}
                        b=${b//\{CONC\}/$conc}
                        b=${b//\{CALLS\}/$calls}
                        b=${b//\{PAYLOAD\}/$payload}
                        measure "rpc c=$conc p=$payload" "$1" "$cpu" calls_per_s,p50_us,p99_us "$b"
                    }
                    each_server "$cpu" rpc "${RPC_SERVERS[@]}"
                done
            done
        done
    fi
    if want codec; then
        measure "codec 16B/1KiB/64KiB" "peer-codec-bench" 2cpu codec_16B_MB_per_s,codec_1KiB_MB_per_s,codec_64KiB_MB_per_s "$BIN/codec-bench"
        # framing bench measures LengthDelimitedCodec and ours interleaved in one process.
        measure "framing bench" "ours" 2cpu ours_16B_MBps,ldc_16B_MBps,ours_vs_ldc_16B,ours_vs_ldc_1KiB,ours_vs_ldc_64KiB "$OURS/framing bench"
    fi
done

cleanup
steal_summary >>"$OUT/machine.txt"
say "all processes stopped; summarising"
awk -f "$BENCH_DIR/summarise-anchors.awk" "$RAW" >"$OUT/summary.md"
echo
sed 's/^/  /' "$OUT/machine.txt"
echo "  n=$REPS per figure; ratio = median / median of the peer (first server) of the same test and cpu"
echo "  (throughput: >1 is faster; latency: >1 is slower). cpu0 = server and client both pinned to CPU 0."
echo
cat "$OUT/summary.md"
echo
say "done: raw lines in $OUT/raw.tsv, logs in $OUT/logs, table in $OUT/summary.md"
