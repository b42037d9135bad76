# client-waits.awk: from `perf sched timehist --state`, how long the threads of two processes
# (a load generator and the server it drives) were runnable but not running, and what ran on
# that CPU meanwhile: the same process's other threads, the other process, nothing (idle),
# or other tasks. Used by client-waits.sh; run by hand as
#   perf sched timehist -i perf.data --state | awk -f client-waits.awk -v client=PID -v server=PID
#
# A timehist line is one stretch on a CPU, printed when it ends:
#   TIME [CPU] NAME[TID/PID] WAIT_MS SCH_DELAY_MS RUN_MS STATE
# STATE is the thread's state when it left the CPU: R (preempted, still runnable) or S/D
# (asleep). So the next line of a thread that left in R has been runnable for all of its
# WAIT_MS; one that slept has been runnable only for its SCH_DELAY_MS (woken, not yet run).

function owner(pid, tid) {
    if (pid == client) return "client"
    if (pid == server) return "server"
    if (tid == 0) return "idle"
    return "other"
}

# a wait is counted when it ended on this CPU, where the thread then ran
function add_wait(who, cpu, from, to) {
    if (to <= from) return
    nw++
    w_who[nw] = who; w_cpu[nw] = cpu; w_from[nw] = from; w_to[nw] = to
    waited[who] += to - from
    if (to - from > longest[who]) longest[who] = to - from
}

/^ *[0-9]+\.[0-9]+ +\[[0-9]+\]/ {
    state = $NF; run = $(NF - 1) / 1000; delay = $(NF - 2) / 1000; wait = $(NF - 3) / 1000
    cpu = $2; gsub(/[][]/, "", cpu); cpu += 0
    end = $1 + 0; start = end - run
    tid = 0; pid = 0
    if (match($0, /\[[0-9]+(\/[0-9]+)?\] +[0-9.]+ +[0-9.]+ +[0-9.]+ +[A-Z]? *$/)) {
        ids = substr($0, RSTART + 1)
        sub(/\].*/, "", ids)
        n = split(ids, part, "/")
        tid = part[1] + 0; pid = (n == 2 ? part[2] : part[1]) + 0
    }
    if ($0 ~ /<idle>/) { tid = 0; pid = 0 }
    who = owner(pid, tid)
    seen[who] = 1
    if (first == "" || start < first) first = start
    if (end > last) last = end
    # per CPU, stretches come in the order they ended, one after another
    nr++
    k = ++runs_on[cpu]
    r_from[cpu, k] = start; r_to[cpu, k] = end; r_who[cpu, k] = who
    if (who == "client" || who == "server") {
        if (left_in[tid] == "R") add_wait(who, cpu, start - wait, start)
        else add_wait(who, cpu, start - delay, start)
        left_in[tid] = state
    }
}

# the first stretch on `cpu` that ended after `t` (binary search: they are in order)
function first_ending_after(cpu, t,    lo, hi, mid) {
    lo = 1; hi = runs_on[cpu] + 1
    while (lo < hi) {
        mid = int((lo + hi) / 2)
        if (r_to[cpu, mid] <= t) lo = mid + 1
        else hi = mid
    }
    return lo
}

function besides(who, other) {
    if (other == who) return "its own other threads"
    if (other == "idle") return "idle"
    if (other == "other") return "other tasks"
    return "the " other
}

END {
    if (nr == 0) { print "client-waits.awk: no timehist lines in the input"; exit 1 }
    if (!seen["client"] || !seen["server"]) {
        printf "client-waits.awk: no thread of pid %s (client) or %s (server) in the trace\n", client, server
        exit 1
    }
    for (i = 1; i <= nw; i++) {
        c = w_cpu[i]
        for (j = first_ending_after(c, w_from[i]); j <= runs_on[c] && r_from[c, j] < w_to[i]; j++) {
            lo = (r_from[c, j] > w_from[i] ? r_from[c, j] : w_from[i])
            hi = (r_to[c, j] < w_to[i] ? r_to[c, j] : w_to[i])
            if (hi > lo) meanwhile[w_who[i], besides(w_who[i], r_who[c, j])] += hi - lo
        }
    }
    printf "traced %.3f s on every CPU\n", last - first
    split("client server", whom, " ")
    split("its own other threads|the server|the client|idle|other tasks", kinds, "|")
    for (k = 1; k <= 2; k++) {
        who = whom[k]
        line = sprintf("%s: runnable but not running %.1f ms (longest %.1f ms); meanwhile on that CPU:", \
            who, waited[who] * 1000, longest[who] * 1000)
        sep = " "
        for (m = 1; m <= 5; m++) {
            if (kinds[m] == "the " who) continue
            line = line sprintf("%s%s %.1f ms", sep, kinds[m], meanwhile[who, kinds[m]] * 1000)
            sep = ", "
        }
        print line
    }
}
