#!/usr/bin/env bash
# One cluster of the cross-version matrix (tests/versions/matrix.sh runs every
# case once per SST method and prints the table). A node KIND is "host" (the
# host's MariaDB) or a Debian suite whose chroot bin/lib/chroot.sh built
# (trixie, forky, …). Each cluster starts on the node with the oldest Galera:
# an older Galera cannot join a group that speaks a newer gcs protocol, and
# a group of newer Galeras only speaks the protocol of the oldest member, so
# when a transfer goes from a newer Galera to an older one, an older-Galera
# node (node 1) stays in the cluster throughout, as in a rolling upgrade.
#
#   case.sh sst DONOR JOINER
#       DONOR has DATA_MB of data, JOINER joins from an empty datadir (SST);
#       every table equal; then writes on each node reach the other.
#   case.sh refused DONOR JOINER
#       the same SST where the joiner's server cannot use the donor's files:
#       it must stop after the SST, saying why. Donor < 10.8, joiner >= 10.8:
#       "Upgrade after a crash is not supported" (the redo log format changed
#       in 10.8). Donor >= 11.0, joiner < 11.0, joiner with
#       innodb_change_buffering=all: the change buffer is gone since 11.0.
#       An 11.x donor of a 10.x joiner gets wsrep_sst_auth set first (see
#       case_sst).
#   case.sh ist A B
#       A and B in one cluster (B joined by SST: setup); then IST A→B (B
#       restarts after writes on A) and IST B→A; every table equal; writes
#       on each node reach the others.
#   case.sh rolling FROM TO
#       3 nodes of FROM; replaced by TO one at a time: node 3 in place (IST
#       from node 1), node 2 from an empty datadir (SST from node 1, FROM),
#       node 1 over its old datadir without grastate.dat (SST from node 3,
#       TO); then all nodes equal and writes on every node reach the others.
#
# Environment: SST_METHOD (default rsrsync), DATA_MB (default 20),
# MATRIX_RESULTS (append one tab-separated line per row: row, method,
# result, seconds, transfer seconds, note; default: stdout), KEEP=1,
# CH_CACHE, SST_BIN_DIR (see bin/lib/cluster.sh). Root only. Bounded by
# CASE_TIME_LIMIT seconds (default 1500).
set -Eeuo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/lib/common.sh
. "$ROOT/bin/lib/common.sh"
# shellcheck source=bin/lib/chroot.sh
. "$ROOT/bin/lib/chroot.sh"
# shellcheck source=bin/lib/cluster.sh
. "$ROOT/bin/lib/cluster.sh"
# shellcheck source=bin/lib/data.sh
. "$ROOT/bin/lib/data.sh"

run_with_time_limit "${CASE_TIME_LIMIT:-1500}" "$0" "$@"
require_root
: "${DATA_MB:=20}"
export DATA_MB
M=$SST_METHOD
RESULTS=${MATRIX_RESULTS:-/dev/stdout}

# The message of the last die in the main shell, for the row's note.
LAST_ERR=
die() {
    LAST_ERR=$*
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# --- node kinds -------------------------------------------------------------

# Print the chroot of kind $1 ("" for host); fail if it is not built.
kind_root() {
    [[ $1 == host ]] && return 0
    ch_complete "$1" || die "no complete $1 chroot in $CH_CACHE: run tests/versions/matrix.sh (it builds them)"
    ch_root "$1"
}

# Print "<mariadb version> galera <galera version>" of kind $1.
kind_versions() {
    local root
    root=$(kind_root "$1")
    ch_versions "$root"
}

# Print the label of kind $1 in row names: "<MariaDB version> (<suite>)".
kind_label() {
    local v suite=$1
    v=$(kind_versions "$1")
    [[ $suite == host ]] && suite=$(_ch_host_codename)
    printf '%s (%s)\n' "${v%% *}" "$suite"
}

# Print the MariaDB major.minor of kind $1.
kind_major() {
    local v
    v=$(kind_versions "$1")
    sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$v"
}

# True when version $1 (major.minor) is older than $2.
version_lt() {
    [[ $1 != "$2" && $(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1) == "$1" ]]
}

# True when kind $1's Galera is newer than kind $2's.
galera_newer() {
    local a b
    a=$(kind_versions "$1") b=$(kind_versions "$2")
    a=${a##* } b=${b##* }
    [[ $a != "$b" && $(printf '%s\n%s\n' "$a" "$b" | sort -V | tail -n 1) == "$a" ]]
}

# --- rows --------------------------------------------------------------------

declare -a PLANNED=() DONE=() MARK=()
ROW=
ROW_T0=

# Declare the rows this case will report, in order (so rows a failure
# prevents are reported as not run).
plan() { PLANNED=("$@"); }

# Append a result line for row $1: result $2, seconds $3, transfer seconds
# $4, note $5.
record() {
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$M" "$2" "$3" "${4:--}" "${5:-}" >>"$RESULTS"
    DONE+=("$1")
}

# Start row $1: remember where each node's error log ends.
row_begin() {
    local i
    ROW=$1
    ROW_T0=$(now)
    for ((i = 1; i <= CL_NODES; i++)); do MARK[i]=$(cl_log_mark "$i"); done
    say "== $ROW (SST method $M)"
}

# End the current row with result $1 (PASS, REFUSED), transfer seconds $2,
# note $3.
row_end() {
    local secs
    secs=$(elapsed_since "$ROW_T0")
    record "$ROW" "$1" "$secs" "${2:-}" "${3:-}"
    say "   $1 (${secs}s${2:+, transfer ${2}s})${3:+: $3}"
    ROW=
}

# Print, for each node, the first SST-script error after the row began, else
# its first server error: what a failed row's note shows.
diagnose() {
    local i line out=()
    for ((i = 1; i <= CL_NODES; i++)); do
        # awk, not head: an early exit would fail the pipe (SIGPIPE).
        line=$(cl_log_grep "$i" "${MARK[$i]:-0}" 'WSREP_SST: \[ERROR\]' | awk 'NR == 1')
        [[ -n $line ]] || line=$(cl_log_grep "$i" "${MARK[$i]:-0}" '\[ERROR\]' |
            awk '!/Aborted connection/ && !n++')
        [[ -n $line ]] || continue
        line=$(sed -E 's/^[0-9-]+ +[0-9:]+ [0-9]+ //; s/ \([0-9]{8} [0-9:.]+\)$//' <<<"$line")
        out+=("node$i ($(cl_server_version "$i" 2>/dev/null || echo '?')): ${line:0:300}")
    done
    local IFS='|'
    printf '%s\n' "${out[*]}"
}

# EXIT trap: a row still open failed (with the error and each node's first
# error); planned rows not reached are "not run"; stop the cluster.
on_exit() {
    local rc=$? r d seen
    trap - ERR
    set +e
    if [[ -n $ROW ]]; then
        local why=${LAST_ERR:-exit $rc}
        [[ -n $CL_BASE ]] && why="$why | $(diagnose)"
        record "$ROW" FAIL "$(elapsed_since "$ROW_T0")" - "$why"
        rc=1
    fi
    for r in "${PLANNED[@]}"; do
        seen=0
        for d in "${DONE[@]}"; do [[ $d == "$r" ]] && seen=1; done
        [[ $seen -eq 1 ]] || record "$r" "NOT RUN" - - "${LAST_ERR:-an earlier step failed}"
    done
    cl_cleanup "$rc"
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# --- steps -------------------------------------------------------------------

# Start node $1 (extra mariadbd args follow), wait until Synced, fail unless
# its log says its $2 (SST or IST) completed since the row began; set XFER to
# the seconds of that transfer on the joiner ("-" when not logged).
join_node() {
    local i=$1 kind=$2
    shift 2
    cl_start "$i" "$@"
    cl_wait_synced "$i"
    [[ -n $(cl_log_grep "$i" "${MARK[$i]}" "$M $kind completed on joiner") ]] ||
        die "node $i joined, but its log lacks '$M $kind completed on joiner'"
    XFER=$(cl_sst_seconds "$i" "${MARK[$i]}" joiner "$kind") || XFER=-
}

# Stop node $1 and wait until another running node sees the cluster shrink.
leave() {
    local i=$1 k obs='' n=0
    for ((k = 1; k <= CL_NODES; k++)); do
        if ((k != i)) && cl_running "$k"; then
            n=$((n + 1))
            obs=${obs:-$k}
        fi
    done
    cl_stop "$i"
    if [[ -n $obs ]]; then cl_wait_size "$obs" "$n" 60; fi
}

# Fail unless every node in $2… has the same tables as node $1.
all_equal() {
    local ref=$1 i out
    shift
    for i in "$@"; do
        out=$(cl_compare_checksums "$i" "$ref") || die "node $i's tables differ from node $ref's"
        say "   node $i = node $ref: $out"
    done
}

# Write on every node in $2… (tag $1), then check that all nodes are equal.
writes_everywhere() {
    local tag=$1 i
    shift
    for i in "$@"; do data_write_more "$i" "${tag}_n$i"; done
    all_equal "$@"
}

# Start a cluster of $1 nodes, node i of the kind $((i+1)) (the last kind
# for the nodes beyond), install node 1, bootstrap it and load the data.
start_cluster() {
    local n=$1 i kinds
    shift
    kinds=("$@")
    for ((i = 1; i <= n; i++)); do
        cl_set_root "$i" "$(kind_root "${kinds[i - 1]:-${kinds[-1]}}")"
    done
    cl_init "$n"
    cl_install 1
    cl_bootstrap 1
    data_load 1
    say "   node 1 ($(cl_server_version 1)) bootstrapped, ${DATA_MB} MiB loaded"
}

# --- cases -------------------------------------------------------------------

# SST from kind $1 to kind $2; with $3=refused, expect the joiner to refuse
# the datadir (see the header).
case_sst() {
    local donor=$1 joiner=$2 expect=${3:-join} row j d extra=() nodes dv jv
    row="SST $(kind_label "$donor") → $(kind_label "$joiner")"
    if [[ $expect == refused ]]; then
        dv=$(kind_major "$donor") jv=$(kind_major "$joiner")
        if version_lt "$dv" 10.8 && ! version_lt "$jv" 10.8; then
            REFUSAL='InnoDB: Upgrade after a crash is not supported'
            row="$row (must be refused)"
        elif ! version_lt "$dv" 11.0 && version_lt "$jv" 11.0; then
            REFUSAL='InnoDB: The change buffer is corrupted or has been removed on upgrade to MariaDB 11.0 or later'
            row="$row, joiner innodb_change_buffering=all (must be refused)"
            extra=(--innodb-change-buffering=all)
        else
            die "no known refusal of a $dv datadir by a $jv server"
        fi
    fi
    plan "$row"
    if galera_newer "$donor" "$joiner"; then
        # Node 1 (the joiner's older Galera) holds the data and stays; the
        # donor joins it first, then node 3 joins from the donor.
        start_cluster 3 "$joiner" "$donor" "$joiner"
        say "== setup: node 2 ($donor) joins node 1 ($joiner) by SST"
        cl_start 2
        cl_wait_synced 2
        j=3 d=2 nodes=(1 2 3)
        extra+=(--wsrep-sst-donor=node2)
    else
        start_cluster 2 "$donor" "$joiner"
        j=2 d=1 nodes=(1 2)
    fi
    row_begin "$row"
    if [[ $expect == refused ]]; then
        expect_refusal "$j" "${extra[@]}"
        return 0
    fi
    dv=$(kind_major "$donor") jv=$(kind_major "$joiner")
    if ! version_lt "$dv" 11.0 && version_lt "$jv" 11.0; then
        # Without wsrep_sst_auth an 11.x donor creates a temporary superuser
        # for every method but rsync and the file copy carries it to the 10.x
        # joiner, which keeps it (README, "Compatibility" (c)): set it as the
        # README tells operators to. rsync ignores it.
        cl_sql "$d" "SET GLOBAL wsrep_sst_auth='rsrsync:unused'"
        say "   donor wsrep_sst_auth set (11.x donor, 10.x joiner)"
    fi
    join_node "$j" SST "${extra[@]}"
    [[ -n $(cl_log_grep "$d" "${MARK[$d]}" "$M SST completed on donor") ]] ||
        die "node $d's log lacks '$M SST completed on donor'"
    all_equal "$d" "$j"
    writes_everywhere sst "${nodes[@]}"
    row_end PASS "$XFER"
}

# Start node $1 (args follow) and expect it to receive the SST, then refuse
# the datadir: its mariadbd exits, logging REFUSAL.
expect_refusal() {
    local i=$1 t0=$SECONDS limit=300 why=$REFUSAL
    shift
    cl_start "$i" "$@"
    while cl_running "$i"; do
        if _cl_is_synced "$i"; then
            die "node $i joined and is Synced: it did not refuse the datadir"
        fi
        ((SECONDS - t0 < limit)) || die "node $i neither refused nor joined within ${limit}s"
        sleep 1
    done
    [[ -n $(cl_log_grep "$i" "${MARK[$i]}" "$M SST completed on joiner") ]] ||
        die "node $i exited before its SST completed"
    [[ -n $(cl_log_grep "$i" "${MARK[$i]}" "$why") ]] ||
        die "node $i exited after the SST without logging '$why'"
    CL_PID[i]=
    row_end REFUSED "" "$(cl_log_grep "$i" "${MARK[$i]}" "$why|InnoDB: Plugin initialization aborted" |
        sed -E 's/^[0-9-]+ +[0-9:]+ [0-9]+ //' | paste -sd '|')"
}

# IST both ways between kinds $1 and $2: node na of kind A, node nb of
# kind B; with different Galeras, A is the older and node 1 (A) stays.
case_ist() {
    local a=$1 b=$2 la lb na nb nodes k
    if galera_newer "$a" "$b"; then
        a=$2 b=$1
    fi
    la=$(kind_label "$a") lb=$(kind_label "$b")
    plan "IST $la → $lb" "IST $lb → $la"
    if galera_newer "$b" "$a"; then
        start_cluster 3 "$a" "$b" "$a"
        na=3 nb=2 nodes=(1 2 3)
    else
        start_cluster 2 "$a" "$b"
        na=1 nb=2 nodes=(1 2)
    fi
    say "== setup: the other nodes join node 1 by SST"
    for ((k = 2; k <= CL_NODES; k++)); do
        cl_start "$k"
        cl_wait_synced "$k"
    done

    row_begin "IST $la → $lb"
    leave "$nb"
    data_write_more "$na" ist_a
    join_node "$nb" IST "--wsrep-sst-donor=node$na"
    all_equal "$na" "$nb"
    row_end PASS "$XFER"

    row_begin "IST $lb → $la"
    leave "$na"
    data_write_more "$nb" ist_b
    join_node "$na" IST "--wsrep-sst-donor=node$nb"
    all_equal "$nb" "$na"
    writes_everywhere ist "${nodes[@]}"
    row_end PASS "$XFER"
}

# Rolling upgrade of 3 nodes from kind $1 to kind $2.
case_rolling() {
    local from=$1 to=$2 lf lt d1
    lf=$(kind_label "$from") lt=$(kind_label "$to")
    local r1="rolling $lf → $lt, 1/3: node 3 in place (IST from node 1, $lf)"
    local r2="rolling $lf → $lt, 2/3: node 2 from an empty datadir (SST from node 1, $lf)"
    local r3="rolling $lf → $lt, 3/3: node 1 over its old datadir (SST from node 3, $lt)"
    local r4="rolling $lf → $lt: 3 nodes $lt, all equal, writes on every node replicate"
    plan "$r1" "$r2" "$r3" "$r4"
    start_cluster 3 "$from"
    say "== setup: nodes 2 and 3 ($from) join by SST"
    cl_start 2
    cl_wait_synced 2
    cl_start 3
    cl_wait_synced 3

    row_begin "$r1"
    leave 3
    data_write_more 1 roll1
    cl_set_root 3 "$(kind_root "$to")"
    join_node 3 IST --wsrep-sst-donor=node1
    all_equal 1 3
    row_end PASS "$XFER"

    row_begin "$r2"
    leave 2
    cl_wipe 2
    data_write_more 1 roll2
    cl_set_root 2 "$(kind_root "$to")"
    join_node 2 SST --wsrep-sst-donor=node1
    all_equal 1 2
    row_end PASS "$XFER"

    row_begin "$r3"
    leave 1
    data_write_more 2 roll3
    d1=$(cl_datadir 1)
    rm -f "$d1/grastate.dat"
    cl_set_root 1 "$(kind_root "$to")"
    join_node 1 SST --wsrep-sst-donor=node3
    all_equal 3 1
    row_end PASS "$XFER"

    row_begin "$r4"
    writes_everywhere roll 1 2 3
    all_equal 2 3
    cl_stop 3
    cl_stop 2
    cl_stop 1
    row_end PASS
}

[[ $# -eq 3 ]] || die "usage: $0 sst|refused|ist|rolling KIND KIND (KIND: host or a chroot suite)"
case $1 in
    sst) case_sst "$2" "$3" ;;
    refused) case_sst "$2" "$3" refused ;;
    ist) case_ist "$2" "$3" ;;
    rolling) case_rolling "$2" "$3" ;;
    *) die "unknown case '$1'" ;;
esac
