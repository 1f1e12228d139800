#!/usr/bin/env bash
# wsrep_sst.pid left by someone else, on a real 2-node MariaDB Galera
# cluster (issue 15 point 4):
#   1. bootstrap node 1, load DATA_MB (default 20) MiB
#   2. node 2's empty datadir holds a wsrep_sst.pid naming a live unrelated
#      process (a sleep, as after a reboot recycled the PID): the joiner
#      logs it as stale, removes it, and node 2 joins by SST at once
#   3. node 2 stopped and wiped, its wsrep_sst.pid names a live earlier SST
#      of that datadir (a process whose argv is a stock joiner's, started
#      before the file): the joiner waits 30 s and exits 114, node 2 aborts;
#      once that process is gone, node 2 joins by SST
# rsrsync only (it reads rsrsync's log lines). Needs root. Bounded by
# TEST_TIME_LIMIT seconds (default 900).
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

run_with_time_limit "${TEST_TIME_LIMIT:-900}" "$0" "$@"
require_root
[[ $SST_METHOD == rsrsync ]] || die "this test reads rsrsync's log lines; run it with SST_METHOD=rsrsync"
: "${DATA_MB:=20}"
# Processes this test started to be named by a pid file.
declare -a OURS=()

# EXIT trap: close an open phase as failed, end our processes, stop the
# cluster, print the summary.
on_exit() {
    local rc=$? p
    trap - ERR
    phase_fail_open
    for p in "${OURS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    cl_cleanup "$rc"
    phase_summary "tests/cluster/rsrsync_pidfile.sh, DATA_MB=$DATA_MB" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Write node 2's wsrep_sst.pid naming PID $1, owned by mysql.
name_in_pid_file() {
    local f
    f="$(cl_datadir 2)/wsrep_sst.pid"
    printf '%s\n' "$1" >"$f"
    chown mysql:mysql "$f"
}

# Node 2 joins by a full rsrsync SST (log mark $1) and equals node 1.
joins_by_sst() {
    cl_wait_synced 2 300
    cl_expect_log 2 "$1" "rsrsync SST completed on joiner"
    say "   checksums equal: $(cl_compare_checksums 2 1)"
}

phase_begin "bootstrap node 1 and load $DATA_MB MiB"
cl_init 2
cl_install 1
cl_bootstrap 1
data_load 1
phase_end

phase_begin "wsrep_sst.pid names a live unrelated process: stale, SST goes on"
sleep 600 &
sleeper=$!
OURS+=("$sleeper")
name_in_pid_file "$sleeper"
m2=$(cl_log_mark 2)
t0=$SECONDS
cl_start 2
joins_by_sst "$m2"
cl_expect_log 2 "$m2" "stale .*wsrep_sst\.pid: PID $sleeper is \`sleep\` \(not an SST program\); removing it"
[[ -z $(cl_log_grep 2 "$m2" 'Previous SST is not completed') ]] ||
    die "the joiner waited for an unrelated process"
say "   node 2 joined in $((SECONDS - t0)) s; $(cl_log_grep 2 "$m2" 'stale .*wsrep_sst\.pid' | sed 's/.*WSREP_SST: //')"
_cl_alive "$sleeper" || die "the unrelated process $sleeper is gone"
kill -TERM "$sleeper"
phase_end

phase_begin "wsrep_sst.pid names a live earlier SST of this datadir: exit 114"
cl_stop 2
cl_wait_size 1 1 60
cl_wipe 2
d2=$(cl_datadir 2)
# What the stock joiner looks like in /proc: bash running wsrep_sst_rsync
# with mariadbd's options (datadir with its trailing slash).
# shellcheck disable=SC2016 # $! is the inner shell's
(exec -a wsrep_sst_rsync bash -c 'trap "kill \$! 2>/dev/null; exit" TERM; sleep 600 & wait' \
    wsrep_sst_rsync --role joiner --address 127.0.0.1:1 --datadir "$d2/" --parent 1) &
earlier=$!
OURS+=("$earlier")
sleep 1
tr '\0' ' ' <"/proc/$earlier/cmdline" | grep -q -- "^wsrep_sst_rsync -c .* --datadir $d2/ " ||
    die "the stand-in SST's command line is $(tr '\0' ' ' <"/proc/$earlier/cmdline")"
name_in_pid_file "$earlier"
m2=$(cl_log_mark 2)
t0=$SECONDS
cl_start 2
cl_wait_down 2 "$m2"
say "   node 2 gave up after $((SECONDS - t0)) s"
cl_expect_log 2 "$m2" "previous SST script still running \(PID $earlier in $d2/wsrep_sst\.pid\)"
cl_expect_log 2 "$m2" "Cleanup after exit with status: 114"
cl_expect_log 2 "$m2" "Previous SST is not completed, waiting for it to exit"
[[ -z $(cl_log_grep 2 "$m2" "rsrsync SST completed on joiner") ]] || die "node 2 joined anyway"
[[ $(cat "$d2/wsrep_sst.pid") == "$earlier" ]] || die "the joiner touched the earlier SST's pid file"
cl_wait_synced 1 120
phase_end

phase_begin "the earlier SST ends: node 2 joins by SST"
kill -TERM "$earlier"
cl_wait_gone "$earlier" 10 >/dev/null
m2=$(cl_log_mark 2)
cl_start 2
joins_by_sst "$m2"
cl_expect_log 2 "$m2" "stale .*wsrep_sst\.pid: PID $earlier is not running; removing it"
cl_stop 2
cl_stop 1
phase_end
