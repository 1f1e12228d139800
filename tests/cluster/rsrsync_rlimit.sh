#!/usr/bin/env bash
# [sst] rlimit on a real 2-node MariaDB Galera cluster (issue 19 point 1):
#   1. bootstrap node 1, load DATA_MB (default 200) MiB
#   2. with [sst] rlimit=RLIMIT_MIB m (default 10), node 2 joins from an
#      empty datadir by SST: the donor logs the limit and the line it came
#      from; the SST takes at least what its live rounds sent / the rate;
#      the donor's measured wire rate of the limited rounds, and its rate
#      over every 5 s between two progress lines, are within 10% of the
#      limit; the lock's duration is logged; the locked round (which sends
#      the newest binlog) goes at full speed by default and the lock lasts
#      less than its bytes would take at the limit; every table equal
#   3. with rlimit=fast for node 1 only ([sst.1]), the donor's SST stops
#      with exit 22 naming the value and its line, node 2 gives up, node 1
#      stays up
# rsrsync only (the stock rsync method has no rlimit). Needs root. Bounded
# by TEST_TIME_LIMIT seconds (default 1200).
set -Eeuo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/lib/common.sh
. "$ROOT/bin/lib/common.sh"
# shellcheck source=bin/lib/cluster.sh
. "$ROOT/bin/lib/cluster.sh"
# shellcheck source=bin/lib/data.sh
. "$ROOT/bin/lib/data.sh"
# shellcheck source=bin/lib/phases.sh
. "$ROOT/bin/lib/phases.sh"

run_with_time_limit "${TEST_TIME_LIMIT:-1200}" "$0" "$@"
require_root
[[ $SST_METHOD == rsrsync ]] || die "this test needs rsrsync (the stock rsync method has no rlimit); run it with SST_METHOD=rsrsync"
: "${DATA_MB:=200}" "${RLIMIT_MIB:=10}"

on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    cl_cleanup "$rc"
    phase_summary "tests/cluster/rsrsync_rlimit.sh, DATA_MB=$DATA_MB, rlimit=${RLIMIT_MIB}m" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Fail unless $1 is within 10% of RLIMIT_MIB; $2 says what it is.
within_10_percent() {
    awk -v r="$1" -v l="$RLIMIT_MIB" 'BEGIN { exit !(r >= 0.9 * l && r <= 1.1 * l) }' ||
        die "$2: $1 MiB/s, not within 10% of the limit, $RLIMIT_MIB MiB/s"
}

# Print the first number matching the ERE $3 (one group) in node $1's
# WSREP_SST lines after byte $2.
sst_number() {
    local line
    line=$(cl_sst_lines "$1" "$2" | grep -E -- "$3" | head -n 1)
    [[ $line =~ $3 ]] || die "node $1's log lacks /$3/"
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# Print "<MiB/s> <seconds>" for every pair of consecutive progress lines of
# node $1's donor in one live round after byte $2 (about 5 s apart), from
# their timestamps and byte counts.
progress_windows() {
    cl_sst_lines "$1" "$2" | awk '
        /live round: sending / { live = 1; have = 0 }
        /locked round: sending / { live = 0 }
        live && /donor progress: / {
            match($0, /progress: [0-9.]+ of/); mib = substr($0, RSTART + 10, RLENGTH - 13)
            match($0, /\([0-9]+ [0-9:.]+\)$/); stamp = substr($0, RSTART + 10, RLENGTH - 11)
            split(stamp, hms, ":"); t = hms[1] * 3600 + hms[2] * 60 + hms[3]
            if (have && t > t0) printf "%.2f %.2f\n", (mib - mib0) / (t - t0), t - t0
            have = 1; mib0 = mib; t0 = t
        }'
}

phase_begin "bootstrap node 1 and load $DATA_MB MiB"
cl_init 2
cl_install 1
cl_bootstrap 1
data_load 1
say "   node 1 datadir: $(du -sh "$(cl_datadir 1)" | cut -f1)"
phase_end

phase_begin "node 2 joins by SST under [sst] rlimit=${RLIMIT_MIB}m"
cl_set_sst_options "rlimit=${RLIMIT_MIB}m"
line=$(grep -n "^rlimit=${RLIMIT_MIB}m\$" "$CL_BASE/my.cnf" | cut -d: -f1)
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_synced 2
cl_wait_size 1 2 60
cl_expect_log 2 "$m2" "rsrsync SST completed on joiner"
cl_expect_log 1 "$m1" "rsrsync SST completed on donor"
cl_expect_log 1 "$m1" "rate limit $RLIMIT_MIB MiB/s \(rlimit=${RLIMIT_MIB}m from $CL_BASE/my.cnf:$line \[sst\]\), not under the lock"
cl_expect_log 1 "$m1" "Tables flushed: mariadbd took [0-9.]+ s to take the lock"
rate=$((RLIMIT_MIB << 20))
live=$(cl_sst_lines 1 "$m1" | awk 'match($0, /live round: [0-9]+ bytes sent/) {
    s += substr($0, RSTART + 12, RLENGTH - 23) } END { printf "%d\n", s }')
locked=$(sst_number 1 "$m1" 'locked round: ([0-9]+) bytes sent')
secs=$(cl_sst_seconds 1 "$m1" donor)
measured=$(sst_number 1 "$m1" 'limited rounds wrote [0-9]+ bytes to the wire in [0-9.]+ s: ([0-9.]+) MiB/s')
lock=$(sst_number 1 "$m1" 'donor lock held ([0-9.]+) s')
say "   live rounds sent $live bytes, the locked round $locked; SST $secs s on the donor"
say "   measured wire rate of the limited rounds: $measured MiB/s (limit $RLIMIT_MIB MiB/s)"
awk -v s="$secs" -v b="$live" -v r="$rate" 'BEGIN { exit !(b >= 50 * 2^20 && s >= b / r - 1) }' ||
    die "the SST took $secs s for $live bytes of live rounds: faster than ${RLIMIT_MIB} MiB/s (or too little data to tell)"
within_10_percent "$measured" "the donor's measured rate"
windows=$(progress_windows 1 "$m1")
[[ $(wc -l <<<"$windows") -ge 3 ]] || die "fewer than 3 progress windows: $windows"
while read -r mibs span; do
    within_10_percent "$mibs" "the donor's rate over $span s between two progress lines"
done <<<"$windows"
say "   rates over $(wc -l <<<"$windows") windows of about 5 s: $(cut -d' ' -f1 <<<"$windows" | sort -n | sed -n '1p;$p' | paste -sd- -) MiB/s"
# The locked round goes at full speed, and the lock, which limited would
# last at least locked/rate, lasts less.
locked_mibs=$(sst_number 1 "$m1" 'locked round: [0-9]+ bytes sent, .* \(([0-9.]+) MiB/s\)')
awk -v b="$locked" -v m="$locked_mibs" -v l="$RLIMIT_MIB" 'BEGIN { exit !(b >= 10 * 2^20 && m >= 2 * l) }' ||
    die "the locked round sent $locked bytes at $locked_mibs MiB/s: limited (or too little under the lock to tell)"
awk -v l="$lock" -v b="$locked" -v r="$rate" 'BEGIN { exit !(l < b / r) }' ||
    die "the lock lasted $lock s for $locked bytes under it: stretched by the limit"
say "   the locked round sent $locked bytes at $locked_mibs MiB/s; the lock lasted $lock s (limited, at least $(awk -v b="$locked" -v r="$rate" 'BEGIN { printf "%.1f", b / r }') s)"
say "   checksums equal: $(cl_compare_checksums 2 1)"
phase_end

phase_begin "rlimit=fast on the donor: its SST stops with exit 22 naming the line"
cl_stop 2
cl_wipe 2
cl_set_sst_options "[sst.1]" "rlimit=fast"
line=$(grep -n '^rlimit=fast$' "$CL_BASE/my.cnf" | cut -d: -f1)
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_down 2 "$m2"
cl_expect_log 1 "$m1" "\[sst\] rlimit=fast \($CL_BASE/my.cnf:$line \[sst\.1\]\) is not a rate"
cl_expect_log 1 "$m1" "Cleanup after exit with status: 22"
cl_running 1 || die "node 1 went down with its failed SST"
say "   $(cl_log_grep 1 "$m1" 'rlimit=fast' | head -n 1 | cut -c1-200)…"
cl_stop 1
phase_end
