#!/usr/bin/env bash
# The real-cluster test of an SST method (SST_METHOD, default rsrsync) on a
# 2-node MariaDB Galera cluster on loopback, run as the mysql user:
#   1. bootstrap node 1, load DATA_MB (default 50) MiB of varied data
#   2. node 2 joins from an EMPTY datadir: full SST, every table equal
#   3. node 2 stops cleanly, node 1 writes, node 2 restarts: IST (bypass),
#      node 2's own binlogs survive (MDEV-28583), every table equal
#   4. node 2 stops, its datadir is damaged (table files deleted, grastate.dat
#      dropped, a stale database and a stale table added), node 1 writes and
#      drops a table: SST again; the stale files are gone, every table equal
#   5. writes on node 2 reach node 1; both nodes stop cleanly
# Needs root (it runs the servers as mysql). Exits non-zero on any failure,
# with the base dir kept; prints a summary of the phases. The whole run is
# bounded by TEST_TIME_LIMIT seconds (default 1800).
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

run_with_time_limit "${TEST_TIME_LIMIT:-1800}" "$0" "$@"
require_root

M=$SST_METHOD

# EXIT trap: close an open phase as failed, stop the cluster, print the summary.
on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    cl_cleanup "$rc"
    phase_summary "tests/cluster/sst_ist.sh, SST method $M, DATA_MB=${DATA_MB:-50}" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Compare nodes 2 and 1 table by table; fail with the differing tables.
expect_equal_tables() {
    local out
    out=$(cl_compare_checksums 2 1)
    say "   checksums equal: $out"
}

# Print the binlog file names listed in node $1's binlog index.
binlogs_of() { sed 's|.*/||' "$(cl_datadir "$1")/mysqld-bin.index"; }

phase_begin "bootstrap node 1 and load ${DATA_MB:-50} MiB"
cl_init 2
cl_install 1
cl_bootstrap 1
data_load 1
say "   node 1 datadir: $(du -sh "$(cl_datadir 1)" | cut -f1)"
phase_end

phase_begin "node 2 joins from an empty datadir ($M SST)"
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_synced 2
cl_wait_size 1 2 60
cl_expect_log 2 "$m2" "$M SST completed on joiner"
cl_expect_log 1 "$m1" "$M SST completed on donor"
expect_equal_tables
phase_end

phase_begin "node 2 restarts after a clean stop ($M IST)"
mapfile -t old_binlogs < <(binlogs_of 2)
[[ ${#old_binlogs[@]} -gt 0 ]] || die "node 2 has no binlog before the IST"
cl_stop 2
cl_wait_size 1 1 60
data_write_more 1 ist
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_synced 2
cl_expect_log 2 "$m2" "$M IST completed on joiner"
cl_refuse_log 2 "$m2" "$M SST completed on joiner"
cl_expect_log 1 "$m1" "Bypassing state dump|$M IST completed on donor"
for f in "${old_binlogs[@]}"; do
    [[ -f $(cl_datadir 2)/$f ]] || die "node 2's binlog $f vanished during the IST (MDEV-28583)"
    binlogs_of 2 | grep -qxF "$f" || die "node 2's binlog $f is no longer in its index after the IST"
done
say "   node 2 kept its ${#old_binlogs[@]} binlog file(s): ${old_binlogs[*]}"
expect_equal_tables
phase_end

phase_begin "node 2 rejoins over a damaged, stale datadir ($M SST)"
cl_stop 2
cl_wait_size 1 1 60
d2=$(cl_datadir 2)
rm -f "$d2/grastate.dat" "$d2/shop/orders_archive.ibd" "$d2/shop/events#P#p1.ibd" \
    "$d2/legacy/kv_myisam.MYD"
mkdir -p "$d2/stale_db"
head -c 65536 /dev/urandom >"$d2/stale_db/ghost.ibd"
printf 'not a table\n' >"$d2/stale_db/ghost.frm"
head -c 65536 /dev/urandom >"$d2/shop/stale_tbl.ibd"
printf 'not a table\n' >"$d2/shop/stale_tbl.frm"
chown -R mysql:mysql "$d2"
[[ -f $d2/shop/phase_ist.ibd ]] || die "node 2 lacks shop/phase_ist.ibd before the test drops it"
data_write_more 1 sst2 phase_ist
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_synced 2
cl_expect_log 2 "$m2" "$M SST completed on joiner"
cl_expect_log 1 "$m1" "$M SST completed on donor"
for f in stale_db shop/stale_tbl.ibd shop/stale_tbl.frm shop/phase_ist.ibd shop/phase_ist.frm; do
    [[ ! -e $d2/$f ]] || die "stale $f is still in node 2's datadir after the SST"
done
for f in shop/orders_archive.ibd "shop/events#P#p1.ibd" legacy/kv_myisam.MYD grastate.dat; do
    [[ -e $d2/$f ]] || die "deleted $f did not come back to node 2 with the SST"
done
expect_equal_tables
phase_end

phase_begin "writes on node 2 reach node 1; clean shutdown"
data_write_more 2 back
cl_wait_caught_up 1 2
n=$(cl_sql 1 "SELECT COUNT(*) FROM shop.churn WHERE tag = 'back'")
[[ $n == 1000 ]] || die "node 1 has $n rows written on node 2, expected 1000"
expect_equal_tables
cl_stop 2
cl_stop 1
phase_end
