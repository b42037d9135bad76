#!/usr/bin/env bash
# sweep.sh: how cost grows with load, ours beside the peers, drawn as plots.
#
#   bench/sweep.sh            # every sweep at full size (about 20-30 minutes on 2 vCPUs)
#   bench/sweep.sh --quick    # every sweep at two small points (under 2 minutes): a smoke run
#
# Sweeps (each point runs our servers and the peers in the same run, one after another):
#   chat         chat fan-out, 10 senders; members 10, 100, 1,000, 5,000
#                -> deliveries/s, p50/p99 delivery latency, server peak RSS
#   tcp-echo     64-byte echo; connections 1, 64, 1,000, 10,000
#                -> round trips/s, p99, server peak RSS
#   tcp-idle     idle connections 1,000, 10,000 and IDLE_MAX (19,000: the open-file
#                limit here is 20,000 per process) -> server RSS, bytes per connection,
#                and a fitted line extrapolated to 100,000 connections (summary.md)
#   rpc-conc     rpc echo of 16 B on one connection; concurrency 1, 64, 1,024
#   rpc-conns    rpc echo of 16 B, one call outstanding per connection; connections
#                1, 100, 1,000 (both bench clients take `--conns`; one that did not
#                would be skipped for that server, with a line saying so)
#   udp-senders  UDP echo of 64 B, window 16 per sender; senders 1, 4, 16, 64
#                -> datagrams/s, MB/s, loss %, p99
#   udp-sizes    UDP echo, 1 sender, window 16; sizes 64 B, 1 KiB, 8 KiB, 64 KiB - 29 B
#   udp-paced    UDP echo of 64 B, 4 senders paced together at 10k, 20k, 40k, 80k datagrams/s
#                (an open loop: every server gets the same offered load; window 256)
#
# Every server is started fresh for each point (so its peak RSS belongs to that point)
# on 127.0.0.1, and stopped by PID afterwards; every client runs under `timeout`; every
# loop is bounded. Output, in OUT (default bench/target/sweep/<UTC stamp>):
#   sweep.tsv        sweep, x_name, x, server, metric, value (one figure per row)
#   <sweep>.svg      one plot per sweep (plot crate): one panel per metric, log axes
#   summary.md       every figure with the ratio ours/peer at each point
#   machine.txt      the machine, and the steal time during the client runs (mean, largest)
#   logs/
#
# Knobs: DUR (seconds per timed point; 5, quick 0.5), REPS (repetitions of every timed point,
# default 1: the servers take turns at each repetition, and the plots and summary.md show the
# median; the idle sweep measures memory, which does not move between runs, once),
# ONLY="chat tcp-echo ..." (sweeps),
# TCP_PLAIN=1 (also the plain async tcp echo, ours-plain, in tcp-echo and tcp-idle),
# IDLE_MAX (19000), IDLE_SOURCES (4: source addresses 127.0.0.1..4, for ephemeral ports).
# Our servers run with their defaults except the bounds a sweep must cross on purpose:
# `--max-conns 20000` (tcp echo, rpc-lite, chat), `--max-members 10000` (chat), and for the
# idle sweep `--read-timeout-ms 600000` (an idle peer is what is measured there).

set -uo pipefail
source "$(dirname "$0")/lib.sh"

QUICK=0
[[ ${1:-} == --quick ]] && QUICK=1
if [[ $# -gt 0 && $1 != --quick ]]; then
    echo "sweep.sh: error: unknown argument $1 (expected --quick or nothing)" >&2
    exit 2
fi
ONLY=${ONLY:-"chat tcp-echo tcp-idle rpc-conc rpc-conns udp-senders udp-sizes udp-paced"}
IDLE_MAX=${IDLE_MAX:-19000}
IDLE_SOURCES=${IDLE_SOURCES:-4}
if [[ $QUICK == 1 ]]; then
    DUR=${DUR:-0.5}
    CHAT_POINTS="10:20 100:20" # members:messages per sender
    ECHO_POINTS="1 64"
    IDLE_POINTS="100 1000"
    RPC_CONC_POINTS="1:2000 64:5000" # concurrency:calls
    RPC_CONN_POINTS="1:2000 10:2000"
    UDP_SENDER_POINTS="1 4"
    UDP_SIZE_POINTS="64 8192"
    UDP_RATE_POINTS="10000 40000"
else
    DUR=${DUR:-5}
    CHAT_POINTS="10:200 100:200 1000:40 5000:10"
    ECHO_POINTS="1 64 1000 10000"
    IDLE_POINTS="1000 10000 $IDLE_MAX"
    RPC_CONC_POINTS="1:10000 64:50000 1024:100000"
    RPC_CONN_POINTS="1:10000 100:50000 1000:100000"
    UDP_SENDER_POINTS="1 4 16 64"
    UDP_SIZE_POINTS="64 1024 8192 65507"
    UDP_RATE_POINTS="10000 20000 40000 80000"
fi
REPS=${REPS:-1}
WARMUP=$(awk -v d="$DUR" 'BEGIN { print (d < 1 ? d : 0.5) }')
OUT=${OUT:-$BENCH_DIR/target/sweep/$(date -u +%Y%m%dT%H%M%SZ)}
SERVER_MAX_S=900
RUN_MAX_S=${RUN_MAX_S:-300}
T0=$(date +%s)
mkdir -p "$OUT/logs"
TSV=$OUT/sweep.tsv
printf 'sweep\tx_name\tx\tserver\tmetric\tvalue\n' >"$TSV"
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT TERM
want() { [[ " $ONLY " == *" $1 "* ]]; }

build_all
ulimit -n "$(ulimit -Hn)"
machine_info >"$OUT/machine.txt"
echo "quick=$QUICK dur_s=$DUR reps=$REPS" >>"$OUT/machine.txt"
sed 's/^/  /' "$OUT/machine.txt"
LG=$BIN/loadgen

# record SWEEP X_NAME X SERVER LINE METRIC...: one TSV row per metric found in LINE.
record() {
    local sweep=$1 x_name=$2 x=$3 server=$4 line=$5 m v
    shift 5
    for m in "$@"; do
        v=$(kv "$line" "$m")
        [[ -n $v && $v != nan ]] && printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$sweep" "$x_name" "$x" "$server" "$m" "$v" >>"$TSV"
    done
}

# at_point SWEEP X_NAME X NAME SERVER_CMD CLIENT_CMD METRIC...: a fresh server, one client
# run ({ADDR} and {PID} in CLIENT_CMD are filled in), its figures and peak RSS recorded.
at_point() {
    local sweep=$1 x_name=$2 x=$3 name=$4 server_cmd=$5 client_cmd=$6
    shift 6
    start_server "$name" 2cpu "$server_cmd" || return 0
    local cmd=${client_cmd//\{ADDR\}/$SERVER_ADDR}
    cmd=${cmd//\{PID\}/$SERVER_PID}
    local line
    line=$(run_client 2cpu "$cmd")
    line+=" server_peak_rss_kib=$(peak_rss_kib "$SERVER_PID")"
    stop_server "$SERVER_WRAPPER"
    local shown="" m bad
    for m in "$@"; do shown+="$m=$(kv "$line" "$m") "; done
    shown+="(steal $(kv "$line" steal_pct)%) "
    bad=$(bad_checks "$line")
    # A point the client did not complete (a connection refused, a byte wrong) is not
    # that load: it is shown here but left out of the table and the plots.
    [[ -z $bad ]] && record "$sweep" "$x_name" "$x" "$name" "$line" "$@"
    say "$(printf '%-12s %-12s %6s %-20s' "$sweep" "$x_name" "$x" "$name") $shown${bad:+$bad(not recorded)}"
}

ECHO=("peer-echo-tokio=$BIN/peer-echo-tokio --bind 127.0.0.1:0"
    "peer-echo-std=$BIN/peer-echo-std --bind 127.0.0.1:0"
    "ours-async=$OURS/tcp echo-server --mode async --max-conns 20000 --bind 127.0.0.1:0"
    "ours-blocking=$OURS/tcp echo-server --mode blocking --max-conns 20000 --bind 127.0.0.1:0")
[[ ${TCP_PLAIN:-0} == 1 ]] && ECHO+=("ours-plain=$OURS/tcp echo-server --mode plain --max-conns 20000 --bind 127.0.0.1:0")
CHAT=("peer-chat-tokio=$BIN/peer-chat-tokio --bind 127.0.0.1:0"
    "ours=$OURS/tcp chat-server --max-members 10000 --max-conns 20000 --bind 127.0.0.1:0")
UDP=("peer-udp-echo-tokio=$BIN/peer-udp-echo-tokio --bind 127.0.0.1:0"
    "ours-async=$OURS/udp echo-server --mode async --bind 127.0.0.1:0"
    "ours-batch=$OURS/udp echo-server --mode batch --bind 127.0.0.1:0")
RPC=("peer-tarpc=$BIN/peer-tarpc serve --bind 127.0.0.1:0|$BIN/peer-tarpc bench"
    "ours=$OURS/rpc-lite serve --max-conns 20000 --bind 127.0.0.1:0|$OURS/rpc-lite bench")

if want chat; then
    for p in $CHAT_POINTS; do
        for _ in $(seq "$REPS"); do
            for s in "${CHAT[@]}"; do
                at_point chat members "${p%%:*}" "${s%%=*}" "${s#*=}" \
                    "$LG chat-fanout --addr {ADDR} --clients ${p%%:*} --senders 10 --messages ${p#*:}" \
                    deliveries_per_s p50_us p99_us server_peak_rss_kib
            done
        done
    done
fi
if want tcp-echo; then
    for c in $ECHO_POINTS; do
        for _ in $(seq "$REPS"); do
            for s in "${ECHO[@]}"; do
                at_point tcp-echo connections "$c" "${s%%=*}" "${s#*=}" \
                    "$LG tcp-echo --addr {ADDR} --conns $c --size 64 --duration-s $DUR --warmup-s $WARMUP" \
                    rt_per_s p99_us server_peak_rss_kib
            done
        done
    done
fi
if want tcp-idle; then
    for c in $IDLE_POINTS; do
        for s in "${ECHO[@]}"; do
            cmd=${s#*=}
            [[ $cmd == "$OURS"* ]] && cmd+=" --read-timeout-ms 600000"
            at_point tcp-idle connections "$c" "${s%%=*}" "$cmd" \
                "$LG tcp-idle --addr {ADDR} --conns $c --sources $IDLE_SOURCES --rss-pid {PID} --hold-s 1" \
                rss_kib rss_per_conn_bytes
        done
    done
fi
# rpc_point SWEEP X_NAME X CONC CONNS CALLS: both RPC servers at one point.
rpc_point() {
    local sweep=$1 x_name=$2 x=$3 conc=$4 conns=$5 calls=$6 s rep
    for rep in $(seq "$REPS"); do for s in "${RPC[@]}"; do
        local spec=${s#*=}
        local client=${spec#*|} extra=""
        if [[ $conns != 1 ]]; then
            if ! ${client%% *} bench --help 2>/dev/null | grep -q -- '--conns'; then
                say "$(printf '%-12s %-12s %6s %-20s' "$sweep" "$x_name" "$x" "${s%%=*}") skipped: its bench client has no --conns"
                continue
            fi
            extra="--conns $conns"
        fi
        at_point "$sweep" "$x_name" "$x" "${s%%=*}" "${spec%%|*}" \
            "$client --addr {ADDR} --concurrency $conc $extra --calls $calls --payload 16" \
            calls_per_s p99_us server_peak_rss_kib
    done; done
}
if want rpc-conc; then
    for p in $RPC_CONC_POINTS; do rpc_point rpc-conc concurrency "${p%%:*}" "${p%%:*}" 1 "${p#*:}"; done
fi
if want rpc-conns; then
    for p in $RPC_CONN_POINTS; do rpc_point rpc-conns connections "${p%%:*}" 1 "${p%%:*}" "${p#*:}"; done
fi
# udp_sweep SWEEP X_NAME "POINTS" "LOADGEN ARGS with {X}" METRIC...: every UDP server at each point,
# twice: a plain client run for the throughput, loss and read latencies, then a run with
# --arrival for the arrival_* metrics (the kernel's stamp on the client's socket). Two runs,
# because the stamps cost the client 5% to 7% more CPU per datagram, and on two shared CPUs
# that raises every server's read p99: the read figures come from a client without them.
udp_sweep() {
    local sweep=$1 x_name=$2 points=$3 args=$4 x s m
    shift 4
    want "$sweep" || return 0
    local read_metrics=() arrival_metrics=()
    for m in "$@"; do
        if [[ $m == arrival_* ]]; then arrival_metrics+=("$m"); else read_metrics+=("$m"); fi
    done
    for x in $points; do
        for _ in $(seq "$REPS"); do
            for s in "${UDP[@]}"; do
                local client="$LG udp-echo --addr {ADDR} ${args//\{X\}/$x} --duration-s $DUR --warmup-s $WARMUP"
                at_point "$sweep" "$x_name" "$x" "${s%%=*}" "${s#*=}" "$client" "${read_metrics[@]}"
                [[ ${#arrival_metrics[@]} -gt 0 ]] &&
                    at_point "$sweep" "$x_name" "$x" "${s%%=*}" "${s#*=}" "$client --arrival" "${arrival_metrics[@]}"
            done
        done
    done
}
udp_sweep udp-senders senders "$UDP_SENDER_POINTS" "--senders {X} --size 64" rt_per_s MB_per_s loss_pct p99_us arrival_p99_us
udp_sweep udp-paced offered_per_s "$UDP_RATE_POINTS" "--senders 4 --window 256 --rate {X} --size 64" \
    rt_per_s p50_us p99_us arrival_p99_us loss_pct
udp_sweep udp-sizes bytes "$UDP_SIZE_POINTS" "--senders 1 --size {X}" rt_per_s MB_per_s loss_pct p99_us arrival_p99_us

cleanup
steal_summary >>"$OUT/machine.txt"
say "all servers stopped ($(steal_summary)); drawing"
"$BIN/plot" "$TSV" "$OUT" || exit 1
say "done in $(($(date +%s) - T0)) s: $TSV, plots and summary.md in $OUT"
