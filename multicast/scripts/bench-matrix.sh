#!/usr/bin/env bash
# Runs the bench cases of multicast/README.md ("Measured figures") REPS times, interleaved (each
# repetition runs every case once, so a slow drift of the machine hits every case alike), and
# prints the raw key=value lines, then a table of medians (min - max).
#
#   cargo build --release -p multicast
#   REPS=3 DUR=3 multicast/scripts/bench-matrix.sh [path/to/multicast]
#
# Everything runs on 127.0.0.1 with TTL 1; every run stops by itself after DUR seconds.
set -euo pipefail
BIN=${1:-target/release/multicast}
REPS=${REPS:-3}
DUR=${DUR:-3}
RAW=$(mktemp)
NS=mcbench-$$
cleanup() { rm -f "$RAW"; ip netns del "$NS" 2>/dev/null || true; }
trap cleanup EXIT

# IPv6 needs a real link: a veth pair in a private namespace (root only; skipped otherwise).
V6=""
if ip netns add "$NS" 2>/dev/null; then
    ip netns exec "$NS" sysctl -qw net.ipv6.conf.default.accept_dad=0
    ip netns exec "$NS" ip link add v0 type veth peer name v1
    for dev in lo v0 v1; do ip netns exec "$NS" ip link set "$dev" up; done
    V6=yes
else
    echo "no network namespace (not root?): the IPv6 case is skipped" >&2
fi

run() { # case-name, then the command
    local name=$1; shift
    echo "rep=$rep case=$name $("$@" | tail -1)" | tee -a "$RAW"
}

echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg) nproc $(nproc)"
for rep in $(seq "$REPS"); do
    for n in 1 3 8; do run "unpaced_n$n" "$BIN" bench --listeners "$n" --duration-s "$DUR"; done
    run unpaced_n3_cpu0 taskset -c 0 "$BIN" bench --listeners 3 --duration-s "$DUR"
    run unpaced_n3_rcvbuf4M "$BIN" bench --listeners 3 --duration-s "$DUR" --recv-buffer 4194304
    run paced20k_n3 "$BIN" bench --listeners 3 --duration-s "$DUR" --rate 20000
    if [ -n "$V6" ]; then
        run ipv6_veth_n3 ip netns exec "$NS" "$BIN" bench --group '[ff02::4242]:0' --interface v0 \
            --listeners 3 --duration-s "$DUR"
    fi
done
echo "end $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$RAW" <<'PY'
import collections, re, statistics, sys
rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"rep=\d+ case=(\S+) (.*)", line)
    if m:
        rows[m.group(1)].append(dict(kv.split("=") for kv in m.group(2).split()))
def fig(case, key, fmt):
    vals = sorted(float(r[key]) for r in rows[case])
    mid = statistics.median(vals)
    return f"{mid:{fmt}} ({vals[0]:{fmt}} - {vals[-1]:{fmt}})" if len(vals) > 1 else f"{mid:{fmt}}"
print("| case | sent/s | delivered/s per listener | deliveries/s, all listeners | loss % (mean over listeners) |")
print("|---|---:|---:|---:|---:|")
for case in rows:
    print(f"| {case} | {fig(case, 'send_per_s', ',.0f')} | {fig(case, 'delivered_per_s_per_listener_median', ',.0f')}"
          f" | {fig(case, 'delivered_per_s_total', ',.0f')} | {fig(case, 'loss_pct_mean', '.1f')} |")
PY
