#!/usr/bin/env bash
# The multi-host lab: three hosts in network namespaces on one switch, and the suite's programs
# run across them the way a user runs them on three machines of a LAN.
#
#   sudo tests/lab/run.sh                 # after `cargo build --workspace`
#   LAB_BIN_DIR=target/release tests/lab/run.sh
#
# Network (everything exists only inside namespaces this script creates and deletes):
#
#      lab<PID>-h1            lab<PID>-h2            lab<PID>-h3
#      eth0 10.77.0.1/24      eth0 10.77.0.2/24      eth0 10.77.0.3/24
#           fd77::1/64             fd77::2/64             fd77::3/64
#        |                      |                      |
#        p1 ------------------- p2 ------------------- p3    bridge br0 in lab<PID>-sw
#
# Checks (each prints PASS or FAIL and why):
#   echo (blocking and async; IPv4 and IPv6) and chat with members on the three hosts, servers bound to the
#   host's own address; multicast IPv4 and IPv6 from one host to the two others, and not to a
#   host that left the group; rpc-lite over TCP and UDP host to host (big- and little-endian
#   callers); a partition (h3's switch port down mid-session: the chat server evicts it within
#   its bounds, the others go on, an rpc over UDP from h3 fails within its timeout, and h3
#   rejoins when the port is back up); a lossy link (`proxy udp` on h2 dropping 30% each way;
#   `tc netem` is not available in this kernel) under rpc-lite over UDP.
#
# Every wait is bounded. On every exit (success, failure, Ctrl-C) the trap stops the processes
# this script started (by PID) and deletes its namespaces. The last line is `N passed, M failed`;
# the exit status is non-zero if any check failed.
#
# Environment:
#   LAB_BIN_DIR              where the binaries are (default: <repo>/target/debug)
#   LAB_SKIP_IF_UNSUPPORTED  1: if namespaces cannot be created (not root, no CAP_NET_ADMIN,
#                            no `ip`), say so and exit 0 instead of failing
#   LAB_KEEP_LOGS            1: keep the log directory (its path is printed) instead of deleting it
#   LAB_BUDGET_S             seconds after which the remaining checks fail unrun (default 100)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
BIN_DIR=${LAB_BIN_DIR:-$REPO/target/debug}
case $BIN_DIR in /*) ;; *) BIN_DIR=$REPO/$BIN_DIR ;; esac

# Names carry this script's PID, so two runs at once never collide.
TAG="lab$$"
SW="$TAG-sw"
HOSTS=("$TAG-h1" "$TAG-h2" "$TAG-h3")
IP4=(10.77.0.1 10.77.0.2 10.77.0.3)
IP6=(fd77::1 fd77::2 fd77::3)
GROUP4=239.255.42.99
OTHER4=239.255.42.100
GROUP6=ff02::4242
OTHER6=ff02::4243

PASSED=0
FAILED=0
PIDS=()            # every process this script started
OPEN_FDS=()        # write ends of the children's stdin FIFOs
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/suite-lab.XXXXXX")
CREATED_NS=()

# ---------------------------------------------------------------- cleanup (every exit path)

cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        still_ours "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${PIDS[@]}"; do
        wait_gone "$pid" 3 || kill -KILL "$pid" 2>/dev/null
    done
    local ns
    for ns in "${CREATED_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null
    done
    if [[ ${LAB_KEEP_LOGS:-0} == 1 ]]; then
        echo "logs kept in $LOGS"
    else
        rm -rf "$LOGS"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- helpers

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }

# Shows the last lines of a log under a FAIL line.
show_log() { [[ -s $1 ]] && sed 's/^/    | /' <(tail -n 5 "$1"); return 0; }

# Is the binary there? Prints the reason if not.
need_bin() {
    local bin
    for bin in "$@"; do
        if [[ ! -x $BIN_DIR/$bin ]]; then
            echo "binary \`$bin\` not found in $BIN_DIR (run \`cargo build --workspace\` or set LAB_BIN_DIR)"
            return 1
        fi
    done
}

# still_ours PID: true while PID is a running background job of this script. Bash reaps its
# children as they exit, so once one is gone its PID may be reused by anyone: never signal a
# PID unless this says it is still ours.
still_ours() { jobs -pr | grep -qx "$1"; }

# wait_gone PID SECONDS: true once our child PID has exited.
wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while still_ours "$pid"; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.05
    done
}

# start NAME HOST_INDEX CMD...: runs CMD in that host's namespace in the background, stdout to
# $LOGS/NAME.out, stderr to NAME.err, stdin from the FIFO NAME.in (kept open by fd NAME_FD).
# Sets LAST_PID. `ip netns exec` execs CMD, so the PID is the program's own.
start() {
    local name=$1 host=$2
    shift 2
    mkfifo "$LOGS/$name.in"
    (
        # Children must not inherit the other children's stdin pipes: a copy of a write end
        # would keep that child from ever seeing end of input.
        for f in "${OPEN_FDS[@]}"; do exec {f}>&-; done
        exec ip netns exec "${HOSTS[$host]}" "$@" <"$LOGS/$name.in" >"$LOGS/$name.out" 2>"$LOGS/$name.err"
    ) &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    # Open the FIFO's write end (this also lets the child's open of the read end complete).
    local fd
    exec {fd}>"$LOGS/$name.in"
    OPEN_FDS+=("$fd")
    printf -v "FD_${name}" '%s' "$fd"
    printf -v "PID_${name}" '%s' "$LAST_PID"
}

# say NAME LINE: writes LINE to NAME's stdin.
say() { local var="FD_$1"; printf '%s\n' "$2" >&"${!var}"; }

# hangup NAME: closes NAME's stdin (end of input).
hangup() {
    local var="FD_$1"
    local fd=${!var:-}
    [[ -n $fd ]] || return 0
    exec {fd}>&-
    printf -v "FD_$1" '%s' ""
}

# stop NAME: SIGTERM, then true only if it exits 0 within 10 s.
stop() {
    local var="PID_$1"
    local pid=${!var}
    still_ours "$pid" && kill -TERM "$pid" 2>/dev/null
    wait_gone "$pid" 10 || return 1
    wait "$pid"
}

# exited_ok NAME SECONDS: true if NAME exits 0 by itself within SECONDS.
exited_ok() {
    local var="PID_$1"
    wait_gone "${!var}" "$2" || return 1
    wait "${!var}"
}

# wait_line NAME LINE SECONDS: true once NAME's stdout holds exactly LINE.
wait_line() {
    local file="$LOGS/$1.out" deadline=$((SECONDS + $3))
    until grep -qxF -- "$2" "$file" 2>/dev/null; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.05
    done
}

# wait_suffix NAME TEXT SECONDS: true once a line of NAME's stdout ends with TEXT.
wait_suffix() {
    local file="$LOGS/$1.out" deadline=$((SECONDS + $3))
    until awk -v s="$2" 'substr($0, length($0) - length(s) + 1) == s { found = 1 } END { exit !found }' "$file" 2>/dev/null; do
        ((SECONDS >= deadline)) && return 1
        sleep 0.05
    done
}

# listening NAME: waits (10 s) for `listening on IP:PORT` and prints IP:PORT.
listening() {
    local file="$LOGS/$1.out" deadline=$((SECONDS + 10)) line
    while :; do
        line=$(head -n 1 "$file" 2>/dev/null)
        if [[ $line == "listening on "* ]]; then
            echo "${line#listening on }"
            return 0
        fi
        ((SECONDS >= deadline)) && return 1
        sleep 0.05
    done
}

# run_on HOST_INDEX SECONDS CMD...: runs a client to completion (bounded), stdin empty.
run_on() {
    local host=$1 limit=$2
    shift 2
    timeout "$limit" ip netns exec "${HOSTS[$host]}" "$@" </dev/null
}

# ---------------------------------------------------------------- the network

setup_network() {
    # Status 2: this machine cannot make namespaces at all (the skippable case).
    command -v ip >/dev/null || { echo "no \`ip\` command (iproute2)"; return 2; }
    ip netns add "$SW" 2>"$LOGS/netns.err" || { cat "$LOGS/netns.err"; return 2; }
    CREATED_NS+=("$SW")
    ip -n "$SW" link add br0 type bridge || return 1
    # No IGMP/MLD snooping: the switch floods multicast; membership is the hosts' business.
    ip -n "$SW" link set br0 type bridge mcast_snooping 0 || return 1
    ip -n "$SW" link set br0 up || return 1
    local i ns
    for i in 0 1 2; do
        ns=${HOSTS[$i]}
        ip netns add "$ns" || return 1
        CREATED_NS+=("$ns")
        # No duplicate address detection: addresses are usable at once (a lab, not a LAN).
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
        ip -n "$SW" link add "p$((i + 1))" type veth peer name eth0 netns "$ns" || return 1
        ip -n "$SW" link set "p$((i + 1))" master br0 up || return 1
        ip -n "$ns" link set lo up || return 1
        ip -n "$ns" addr add "${IP4[$i]}/24" dev eth0 || return 1
        ip -n "$ns" addr add "${IP6[$i]}/64" dev eth0 nodad || return 1
        ip -n "$ns" link set eth0 up || return 1
    done
    # Until the link-local addresses exist, IPv6 multicast cannot leave eth0.
    local deadline=$((SECONDS + 5))
    for ns in "${HOSTS[@]}"; do
        until ip -n "$ns" -6 addr show dev eth0 scope link | grep -q "inet6 fe80"; do
            ((SECONDS >= deadline)) && { echo "no link-local address on $ns"; return 1; }
            sleep 0.05
        done
    done
    # Every host's link is up (carrier through the switch).
    for ns in "${HOSTS[@]}"; do
        ip -n "$ns" link show eth0 | grep -q LOWER_UP || { echo "eth0 of $ns has no carrier"; return 1; }
    done
}

# ---------------------------------------------------------------- checks

# tcp echo server on h1 bound to 10.77.0.1, clients on h2 and h3 (stdin through, half-close).
check_tcp_echo() {
    local mode=$1 name="tcp echo ($1)" why addr out
    why=$(need_bin tcp) || { fail "$name" "$why"; return; }
    start "echo_$mode" 0 "$BIN_DIR/tcp" echo-server --bind "${IP4[0]}:0" --mode "$mode" --grace-ms 500
    addr=$(listening "echo_$mode") || { fail "$name" "no listening line"; show_log "$LOGS/echo_$mode.err"; return; }
    [[ $addr == "${IP4[0]}":* ]] || { fail "$name" "bound to $addr, not ${IP4[0]}"; return; }
    local host
    for host in 1 2; do
        out=$(printf 'hello from h%s\nsecond line\n' $((host + 1)) |
            timeout 10 ip netns exec "${HOSTS[$host]}" "$BIN_DIR/tcp" echo-client "$addr" 2>"$LOGS/echo_client.err")
        if [[ $out != "$(printf 'hello from h%s\nsecond line' $((host + 1)))" ]]; then
            fail "$name" "h$((host + 1)) got \"$out\""
            show_log "$LOGS/echo_client.err"
            return
        fi
    done
    stop "echo_$mode" || { fail "$name" "server did not exit 0 on SIGTERM"; return; }
    pass "$name: h2 and h3 to the server on h1 (${IP4[0]}), SIGTERM exit 0"
}

# tcp echo over IPv6: the server bound to h1's fd77::1, a client on h3.
check_tcp_echo6() {
    local name="tcp echo over IPv6" why addr out
    why=$(need_bin tcp) || { fail "$name" "$why"; return; }
    start echo6 0 "$BIN_DIR/tcp" echo-server --bind "[${IP6[0]}]:0" --grace-ms 500
    addr=$(listening echo6) || { fail "$name" "no listening line"; show_log "$LOGS/echo6.err"; return; }
    [[ $addr == "[${IP6[0]}]":* ]] || { fail "$name" "bound to $addr, not [${IP6[0]}]"; return; }
    out=$(printf 'over v6\n' | timeout 10 ip netns exec "${HOSTS[2]}" "$BIN_DIR/tcp" echo-client "$addr" 2>"$LOGS/echo6_client.err")
    [[ $out == "over v6" ]] || { fail "$name" "h3 got \"$out\""; show_log "$LOGS/echo6_client.err"; return; }
    stop echo6 || { fail "$name" "server did not exit 0 on SIGTERM"; return; }
    pass "$name: h3 to the server on [${IP6[0]}]"
}

# Chat server on h1, alice on h1, bob on h2, carol on h3.
check_chat() {
    local name="tcp chat (three hosts)" why addr
    why=$(need_bin tcp) || { fail "$name" "$why"; return; }
    # A small kernel send buffer and write deadline, so the partition check below reaches them
    # quickly; the queue keeps its default, so members that do read are never evicted.
    start chat 0 "$BIN_DIR/tcp" chat-server --bind "${IP4[0]}:0" --grace-ms 500 \
        --send-buffer 4096 --write-timeout-ms 2000
    addr=$(listening chat) || { fail "$name" "no listening line"; show_log "$LOGS/chat.err"; return; }
    start alice 0 "$BIN_DIR/tcp" chat-client "$addr" --name alice
    wait_line alice "* alice joined" 10 || { fail "$name" "alice (h1) did not join"; show_log "$LOGS/alice.err"; return; }
    start bob 1 "$BIN_DIR/tcp" chat-client "$addr" --name bob
    wait_line bob "* bob joined" 10 || { fail "$name" "bob (h2) did not join"; show_log "$LOGS/bob.err"; return; }
    start carol 2 "$BIN_DIR/tcp" chat-client "$addr" --name carol
    wait_line carol "* carol joined" 10 || { fail "$name" "carol (h3) did not join"; show_log "$LOGS/carol.err"; return; }
    say alice "hi from h1"
    wait_line bob "alice: hi from h1" 10 && wait_line carol "alice: hi from h1" 10 ||
        { fail "$name" "alice's line did not reach h2 and h3"; return; }
    say carol "hi from h3"
    wait_line alice "carol: hi from h3" 10 && wait_line bob "carol: hi from h3" 10 ||
        { fail "$name" "carol's line did not reach h1 and h2"; return; }
    say bob "/who"
    wait_line bob "* online: alice bob carol" 10 || { fail "$name" "/who from h2 unanswered"; return; }
    pass "$name: alice@h1, bob@h2, carol@h3 hear each other"
}

# The partition, on the chat above: h3's switch port goes down mid-session.
check_partition() {
    local name="partition (h3's link down, then up)" why
    why=$(need_bin tcp rpc-lite) || { fail "$name" "$why"; return; }
    [[ -n ${PID_carol:-} ]] && still_ours "$PID_carol" || { fail "$name" "needs the chat check's session"; return; }
    local rpc_addr
    start part_rpc 0 "$BIN_DIR/rpc-lite" serve --bind "${IP4[0]}:0" --transport udp --grace-ms 500
    rpc_addr=$(listening part_rpc) || { fail "$name" "rpc server: no listening line"; return; }

    ip -n "$SW" link set p3 down || { fail "$name" "cannot take p3 down"; return; }
    # The room keeps talking; carol's copies fill her kernel send buffer on the server
    # (--send-buffer), the write stalls, and after --write-timeout-ms she is evicted.
    local i line
    line=$(printf 'x%.0s' {1..200})
    for i in $(seq 1 150); do say bob "$i $line"; done
    if ! wait_line alice "* carol left" 20; then
        fail "$name" "the chat server did not notice h3 was gone"
        show_log "$LOGS/chat.err"
        ip -n "$SW" link set p3 up
        return
    fi
    say alice "still here"
    wait_line bob "alice: still here" 10 || { fail "$name" "h1 and h2 did not go on"; ip -n "$SW" link set p3 up; return; }
    # An rpc from the cut-off host fails within its timeout; from h2 it works.
    local started=$SECONDS
    if run_on 2 10 "$BIN_DIR/rpc-lite" call "$rpc_addr" --transport udp --timeout-ms 1000 add 1 2 >/dev/null 2>&1; then
        fail "$name" "an rpc from h3 succeeded while h3 was cut off"
        ip -n "$SW" link set p3 up
        return
    fi
    ((SECONDS - started <= 5)) || { fail "$name" "the rpc from h3 took $((SECONDS - started)) s to give up"; ip -n "$SW" link set p3 up; return; }
    [[ $(run_on 1 10 "$BIN_DIR/rpc-lite" call "$rpc_addr" --transport udp add 1 2 2>&1) == 3 ]] ||
        { fail "$name" "rpc from h2 failed during the partition"; ip -n "$SW" link set p3 up; return; }

    ip -n "$SW" link set p3 up || { fail "$name" "cannot bring p3 up"; return; }
    hangup carol
    wait_gone "$PID_carol" 3 || kill -TERM "$PID_carol" 2>/dev/null # still ours: wait_gone said so
    start carol2 2 "$BIN_DIR/tcp" chat-client "$(listening chat)" --name carol
    wait_line carol2 "* carol joined" 15 && wait_line alice "* carol joined" 5 ||
        { fail "$name" "h3 could not rejoin the chat"; show_log "$LOGS/carol2.err"; return; }
    say carol2 "back again"
    wait_line bob "carol: back again" 10 || { fail "$name" "h3's line after rejoining did not arrive"; return; }
    [[ $(run_on 2 10 "$BIN_DIR/rpc-lite" call "$rpc_addr" --transport udp add 1 2 2>&1) == 3 ]] ||
        { fail "$name" "rpc from h3 failed after the link came back"; return; }
    stop part_rpc || { fail "$name" "rpc server did not exit 0 on SIGTERM"; return; }
    pass "$name: carol evicted, h1/h2 went on, h3's rpc failed in time, h3 rejoined"
}

# Ends the chat: SIGTERM to the server, exit 0, members told.
check_chat_shutdown() {
    local name="tcp chat shutdown"
    [[ -n ${PID_chat:-} ]] || return 0
    stop chat || { fail "$name" "chat server did not exit 0 on SIGTERM"; return; }
    wait_line alice "* server shutting down" 5 || { fail "$name" "alice was not told"; return; }
    pass "$name: SIGTERM exit 0, members told"
}

check_udp_echo() {
    local name="udp echo" why addr out
    why=$(need_bin udp) || { fail "$name" "$why"; return; }
    start uecho 0 "$BIN_DIR/udp" echo-server --bind "${IP4[0]}:0"
    addr=$(listening uecho) || { fail "$name" "no listening line"; show_log "$LOGS/uecho.err"; return; }
    out=$(printf 'one\ntwo\n' | timeout 10 ip netns exec "${HOSTS[2]}" "$BIN_DIR/udp" echo-client "$addr" 2>"$LOGS/uclient.err")
    [[ $out == "$(printf 'one\ntwo')" ]] || { fail "$name" "h3 got \"$out\""; show_log "$LOGS/uclient.err"; return; }
    stop uecho || { fail "$name" "server did not exit 0 on SIGTERM"; return; }
    pass "$name: h3 to the server on h1"
}

# Multicast from h1 to listeners on h2 and h3; then h3 leaves and hears nothing more.
# $1: 4 or 6.
check_multicast() {
    local v=$1 name="multicast IPv$1" why group other port addr
    why=$(need_bin multicast) || { fail "$name" "$why"; return; }
    local if1 if2 if3
    if [[ $v == 4 ]]; then
        group=$GROUP4 other=$OTHER4 if1=${IP4[0]} if2=${IP4[1]} if3=${IP4[2]}
    else
        group="[$GROUP6]" other="[$OTHER6]" if1=eth0 if2=eth0 if3=eth0
    fi
    start "mc${v}_h2" 1 "$BIN_DIR/multicast" listen --group "$group:0" --interface "$if2"
    addr=$(listening "mc${v}_h2") || { fail "$name" "listener on h2: no listening line"; show_log "$LOGS/mc${v}_h2.err"; return; }
    port=${addr##*:}
    start "mc${v}_h3" 2 "$BIN_DIR/multicast" listen --group "$group:$port" --interface "$if3" --count 1
    listening "mc${v}_h3" >/dev/null || { fail "$name" "listener on h3: no listening line"; show_log "$LOGS/mc${v}_h3.err"; return; }
    run_on 0 10 "$BIN_DIR/multicast" send --group "$group:$port" --interface "$if1" "first for everyone" \
        >/dev/null 2>"$LOGS/mc_send.err" || { fail "$name" "send from h1 failed"; show_log "$LOGS/mc_send.err"; return; }
    wait_suffix "mc${v}_h2" ": first for everyone" 5 && wait_suffix "mc${v}_h3" ": first for everyone" 5 ||
        { fail "$name" "the first datagram did not reach h2 and h3"; return; }
    # h3's listener took its one datagram and left the group (IP_DROP_MEMBERSHIP on exit).
    exited_ok "mc${v}_h3" 5 || { fail "$name" "h3's listener did not exit 0 after --count 1"; return; }
    if [[ $v == 4 ]]; then
        ! ip netns exec "${HOSTS[2]}" grep -qi "$(printf '%02X' 99 255 42 239)" /proc/net/igmp ||
            { fail "$name" "h3 still a member of $GROUP4 (/proc/net/igmp)"; return; }
    else
        ! ip netns exec "${HOSTS[2]}" grep -q "ff020000000000000000000000004242" /proc/net/igmp6 ||
            { fail "$name" "h3 still a member of $GROUP6 (/proc/net/igmp6)"; return; }
    fi
    # A socket on h3 on the same port but another group must not get the group's datagrams.
    start "mc${v}_h3b" 2 "$BIN_DIR/multicast" listen --group "$other:$port" --interface "$if3"
    listening "mc${v}_h3b" >/dev/null || { fail "$name" "second listener on h3: no listening line"; return; }
    run_on 0 10 "$BIN_DIR/multicast" send --group "$group:$port" --interface "$if1" "after h3 left" \
        >/dev/null 2>"$LOGS/mc_send.err" || { fail "$name" "second send failed"; return; }
    wait_suffix "mc${v}_h2" ": after h3 left" 5 || { fail "$name" "h2 missed the second datagram"; return; }
    sleep 0.5
    if [[ $(sed -n '2,$p' "$LOGS/mc${v}_h3b.out") != "" ]]; then
        fail "$name" "h3 received a datagram after leaving: $(sed -n 2p "$LOGS/mc${v}_h3b.out")"
        return
    fi
    # IPv4: the sender is h1's address (IPv6 uses h1's link-local address).
    if [[ $v == 4 ]] && ! grep -q "^${IP4[0]}:" "$LOGS/mc${v}_h2.out"; then
        fail "$name" "unexpected sender: $(sed -n 2p "$LOGS/mc${v}_h2.out")"
        return
    fi
    stop "mc${v}_h2" && stop "mc${v}_h3b" || { fail "$name" "a listener did not exit 0 on SIGTERM"; return; }
    pass "$name: h1 -> h2 and h3 on $group:$port; nothing to h3 after it left"
}

# rpc-lite server on h1; a be32 caller on h2 and an le64 caller on h3.
check_rpc() {
    local transport=$1 name="rpc-lite over ${1^^}" why addr out
    why=$(need_bin rpc-lite) || { fail "$name" "$why"; return; }
    start "rpc_$transport" 0 "$BIN_DIR/rpc-lite" serve --bind "${IP4[0]}:0" --transport "$transport" --grace-ms 500
    addr=$(listening "rpc_$transport") || { fail "$name" "no listening line"; show_log "$LOGS/rpc_$transport.err"; return; }
    out=$(run_on 1 10 "$BIN_DIR/rpc-lite" call "$addr" --transport "$transport" --profile be32 add 2 40 2>&1)
    [[ $out == 42 ]] || { fail "$name" "add from h2 (be32): $out"; return; }
    run_on 2 10 "$BIN_DIR/rpc-lite" call "$addr" --transport "$transport" --profile le64 put lab ok >/dev/null 2>&1 ||
        { fail "$name" "put from h3 (le64) failed"; return; }
    out=$(run_on 1 10 "$BIN_DIR/rpc-lite" call "$addr" --transport "$transport" --profile be32 get lab 2>&1)
    [[ $out == *ok* ]] || { fail "$name" "h2 could not read what h3 put: $out"; return; }
    stop "rpc_$transport" || { fail "$name" "server did not exit 0 on SIGTERM"; return; }
    pass "$name: be32 caller on h2, le64 caller on h3, server on h1"
}

# rpc-lite over UDP through a lossy UDP proxy (proxy udp) on h2: every call completes exactly once.
check_lossy() {
    # Each call retransmits with backoff (20 ms doubling to 1 s) for up to 15 s: with half the
    # round trips lost, a call that never gets through is a one-in-millions event.
    local name="lossy link (proxy udp, 30% loss each way) under rpc-lite UDP" why server proxy out i calls=20
    why=$(need_bin proxy rpc-lite) || { fail "$name" "$why"; return; }
    start lossy_rpc 0 "$BIN_DIR/rpc-lite" serve --bind "${IP4[0]}:0" --transport udp --grace-ms 500
    server=$(listening lossy_rpc) || { fail "$name" "rpc server: no listening line"; return; }
    start lossy_proxy 1 "$BIN_DIR/proxy" udp --listen "${IP4[1]}:0" --to "$server" --loss 0.3 --seed 7
    proxy=$(listening lossy_proxy) || { fail "$name" "proxy: no listening line"; show_log "$LOGS/lossy_proxy.err"; return; }
    local deadline=$((SECONDS + 45))
    for i in $(seq 1 $calls); do
        ((SECONDS < deadline)) || { fail "$name" "only $((i - 1)) of $calls calls done in 45 s"; return; }
        out=$(run_on 2 20 "$BIN_DIR/rpc-lite" call "$proxy" --transport udp --timeout-ms 15000 incr 1 2>&1) ||
            { fail "$name" "call $i from h3 failed: $out"; return; }
    done
    # At-most-once: the counter moved by exactly one per call despite retransmissions.
    out=$(run_on 2 10 "$BIN_DIR/rpc-lite" call "$server" --transport udp incr 0 2>&1)
    [[ $out == "$calls" ]] || { fail "$name" "counter is $out after $calls calls"; return; }
    stop lossy_proxy && stop lossy_rpc || { fail "$name" "proxy or server did not exit 0 on SIGTERM"; return; }
    pass "$name: $calls/$calls incr calls from h3 completed, counter $out"
}

# ---------------------------------------------------------------- main

setup_network >"$LOGS/setup.log" 2>&1
case $? in
    0) ;;
    2)
        echo "lab: cannot create network namespaces here (needs root, CAP_NET_ADMIN and iproute2):"
        sed 's/^/    /' "$LOGS/setup.log"
        if [[ ${LAB_SKIP_IF_UNSUPPORTED:-0} == 1 ]]; then
            echo "lab: skipped (LAB_SKIP_IF_UNSUPPORTED=1)"
            exit 0
        fi
        echo "0 passed, 1 failed"
        exit 1
        ;;
    *)
        echo "FAIL network setup:"
        sed 's/^/    /' "$LOGS/setup.log"
        echo "0 passed, 1 failed"
        exit 1
        ;;
esac
echo "lab: hosts ${HOSTS[*]} on a bridge in $SW; binaries from $BIN_DIR"

# Each check is bounded by its own waits; the budget stops a run whose checks all time out
# from going far past two minutes (the remaining checks are reported as failed, not skipped).
BUDGET_S=${LAB_BUDGET_S:-100}
run_check() {
    if ((SECONDS > BUDGET_S)); then
        fail "$*" "not run: the lab's ${BUDGET_S} s budget is used up"
        return
    fi
    "$@"
}

run_check check_tcp_echo blocking
run_check check_tcp_echo async
run_check check_tcp_echo6
run_check check_udp_echo
run_check check_chat
run_check check_partition
run_check check_chat_shutdown
run_check check_multicast 4
run_check check_multicast 6
run_check check_rpc tcp
run_check check_rpc udp
run_check check_lossy

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))
