#!/usr/bin/env bash
# Faults during a real rsrsync SST on a 2-node MariaDB Galera cluster:
#   1. bootstrap node 1, load DATA_MB (default 300) MiB
#   2. for 10%, 50% and 90% of the transfer: SIGKILL the donor's
#      wsrep_sst_rsrsync; the joiner must exit within DETECT_LIMIT seconds,
#      node 2's mariadbd must abort (as for any failed SST), node 1 must be
#      Synced again; then node 2 restarts over the leftovers and a full SST
#      makes every table equal
#   3. SIGKILL node 2's mariadbd in the middle of the transfer: our joiner
#      must exit 32 and free the SST port, the donor must fail cleanly and
#      node 1 leave the DONOR state; node 2 then rejoins by SST
# Prints a table: fault, time to detect, data state after, retry result.
# rsrsync only (the faults target its processes). Needs root. Bounded by
# TEST_TIME_LIMIT seconds (default 1800).
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
[[ $SST_METHOD == rsrsync ]] || die "this test kills rsrsync's processes; run it with SST_METHOD=rsrsync"
: "${DATA_MB:=300}"
# Seconds within which the joiner must notice a dead donor or mariadbd.
DETECT_LIMIT=${DETECT_LIMIT:-10}
declare -a REPORT=()

# EXIT trap: close an open phase as failed, stop the cluster, print the
# fault table and the summary.
on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    cl_cleanup "$rc"
    if [[ ${#REPORT[@]} -gt 0 ]]; then
        say ""
        printf '%-34s %-10s %-34s %s\n' "fault" "detected" "data state after" "retry"
        printf '%s\n' "${REPORT[@]}"
    fi
    phase_summary "tests/cluster/rsrsync_faults.sh, DATA_MB=$DATA_MB" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Node 2 rejoins from what is left and must end equal to node 1; sets
# TABLES to the count compared and RETRY to what the donor's summary says
# it sent. (Runs in the main shell: cl_start keeps the PID in a shell
# variable.)
rejoin_and_compare() {
    local m1 m2 line
    m1=$(cl_log_mark 1)
    m2=$(cl_log_mark 2)
    cl_start 2
    cl_wait_synced 2
    [[ -n $(cl_log_grep 2 "$m2" "rsrsync SST completed on joiner") ]] ||
        die "node 2 rejoined without a full rsrsync SST"
    TABLES=$(cl_compare_checksums 2 1)
    line=$(cl_log_grep 1 "$m1" 'Transfer summary: ' | tail -n 1)
    [[ $line =~ summary:\ ([0-9]+)\ bytes.*\ ([0-9]+)\ bytes\ already ]] || die "no donor summary"
    RETRY="$((BASH_REMATCH[1] >> 20)) MiB sent, $((BASH_REMATCH[2] >> 20)) MiB in place"
}

phase_begin "bootstrap node 1 and load $DATA_MB MiB"
cl_init 2
cl_install 1
cl_bootstrap 1
data_load 1
say "   node 1 datadir: $(du -sh "$(cl_datadir 1)" | cut -f1)"
phase_end

for pct in 10 50 90; do
    phase_begin "SIGKILL the donor at ${pct}% of the transfer"
    cl_wipe 2
    m2=$(cl_log_mark 2)
    cl_start_sst_until 2 1 "$pct"
    kill -KILL "$CL_SST_DONOR"
    detect=$(cl_wait_gone "$CL_SST_JOINER" "$DETECT_LIMIT")
    say "   joiner exited ${detect}s after the donor died"
    cl_wait_down 2 "$m2"
    [[ -z $(cl_log_grep 2 "$m2" "rsrsync SST completed on joiner") ]] ||
        die "node 2 declared the SST complete after its donor died"
    cl_wait_synced 1 120
    state="incomplete; node 2 aborted"
    ((CL_ABORT_HUNG == 0)) || state="incomplete; node 2 hung (Galera)"
    rejoin_and_compare
    REPORT+=("$(printf '%-34s %-10s %-34s %s' "donor SIGKILL at ${pct}%" "${detect}s" "$state" "SST ($RETRY), $TABLES equal")")
    cl_stop 2
    phase_end
done

phase_begin "SIGKILL node 2's mariadbd in the middle of the transfer"
cl_wipe 2
m2=$(cl_log_mark 2)
cl_start_sst_until 2 1 50
cl_kill 2
detect=$(cl_wait_gone "$CL_SST_JOINER" "$DETECT_LIMIT")
say "   joiner exited ${detect}s after its mariadbd died"
[[ -n $(cl_log_grep 2 "$m2" "Parent mysqld process .* terminated unexpectedly") ]] ||
    die "the joiner did not log its parent's death"
port=$(cl_port 2 3)
[[ -z $(ss -Hltn "sport = :$port") ]] || die "the SST port $port is still taken after the joiner exited"
donor_secs=$(cl_wait_gone "$CL_SST_DONOR" 60)
say "   the donor failed ${donor_secs}s later"
cl_wait_synced 1 120
say "   node 1: $(cl_status 1 wsrep_local_state_comment)"
rejoin_and_compare
REPORT+=("$(printf '%-34s %-10s %-34s %s' "joiner's mariadbd SIGKILL at 50%" "${detect}s" "incomplete; port $port freed" "SST ($RETRY), $TABLES equal")")
cl_stop 2
cl_stop 1
phase_end
