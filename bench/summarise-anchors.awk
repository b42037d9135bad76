#!/usr/bin/awk -f
# summarise-anchors.awk RAW.tsv: the Markdown table of run-anchors.sh (median, min - max,
# spread, ratio to the first server of the same test and cpu, verification counters).
# Raw columns: test, server, cpu, repetition, keys to show (comma-separated), key=value line.
BEGIN { FS = "\t" }
function isort(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; j = i - 1; while (j >= 1 && a[j] > t) { a[j+1] = a[j]; j-- } a[j+1] = t } }
function median(s,   a, n, i) { n = split(s, a, " "); for (i = 1; i <= n; i++) a[i] += 0; isort(a, n); NMIN = a[1]; NMAX = a[n]; NCOUNT = n
    return (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2 }
function fmt(v) { if (v == "") return "-"; v += 0; if (v >= 1000) return sprintf("%.0f", v); if (v >= 100) return sprintf("%.1f", v); if (v >= 1) return sprintf("%.2f", v); return sprintf("%.3f", v) }
{
    test = $1; srv = $2; cpu = $3; keys = $5; line = $6
    row = test SUBSEP srv SUBSEP cpu
    if (!(row in seen)) { seen[row] = 1; order[++nrows] = row; rowkeys[row] = keys }
    tc = test SUBSEP cpu
    if (!(tc in ref)) ref[tc] = srv
    delete kv
    m = split(line, parts, " ")
    for (i = 1; i <= m; i++) { p = index(parts[i], "="); if (p > 0) kv[substr(parts[i], 1, p-1)] = substr(parts[i], p+1) }
    nk = split(keys, ks, ",")
    for (j = 1; j <= nk; j++) if ((ks[j] in kv) && kv[ks[j]] != "nan") vals[row, ks[j]] = vals[row, ks[j]] (vals[row, ks[j]] == "" ? "" : " ") kv[ks[j]]
    bad = 0
    split("mismatches errors missing missing_bytes misattributed malformed reordered conns_failed", ck, " ")
    for (c in ck) if (ck[c] in kv) bad += kv[ck[c]]
    if ("error" in kv) { bad += 1; errs[row] = errs[row] " " kv["error"] }
    checks[row] += bad
}
END {
    print "| test | server | cpu | figure | median | min - max | spread | ratio | checks |"
    print "|---|---|---|---|---:|---:|---:|---:|---|"
    for (r = 1; r <= nrows; r++) {
        row = order[r]; split(row, f, SUBSEP)
        nk = split(rowkeys[row], ks, ",")
        for (j = 1; j <= nk; j++) {
            k = ks[j]
            if (vals[row, k] == "") { printf "| %s | %s | %s | %s | - | - | - | - | %s |\n", f[1], f[2], f[3], k, "no data" errs[row]; continue }
            med = median(vals[row, k]); lo = NMIN; hi = NMAX
            spread = (med != 0) ? sprintf("%.0f%%", 100 * (hi - lo) / med) : "-"
            refrow = f[1] SUBSEP ref[f[1] SUBSEP f[3]] SUBSEP f[3]
            ratio = "-"
            if (refrow != row && vals[refrow, k] != "") { rm = median(vals[refrow, k]); if (rm != 0) ratio = sprintf("%.2f", med / rm) }
            else if (refrow == row) ratio = "1 (ref)"
            chk = (checks[row] == 0) ? "ok" : ("CHECK " checks[row] errs[row])
            printf "| %s | %s | %s | %s | %s | %s - %s | %s | %s | %s |\n", f[1], f[2], f[3], k, fmt(med), fmt(lo), fmt(hi), spread, ratio, chk
        }
    }
}
