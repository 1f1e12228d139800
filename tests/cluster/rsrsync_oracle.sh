#!/usr/bin/env bash
# The byte-equal oracle (issue 16 point 2), on a real 2-node MariaDB Galera
# cluster whose datadirs sit on a fresh XFS image with reflink (so the
# donor can clone under the lock), with writes running on node 1:
#   node 1 (the donor) and node 2 run with RSRSYNC_TEST_HOLD, so at the
#   end of its locked work the donor, still holding the read lock, lists
#   its transfer set and waits: this test copies those files (the state
#   the lock stands for) and lets it go on. Once the joiner has every file
#   in place and synced, before its mariadbd opens InnoDB, it waits too:
#   this test compares every file it received with the copy, byte for
#   byte, and finds no table file on the joiner outside the set. Then
#   node 2 joins and its tables equal node 1's.
# Runs ORACLE_RUNS SSTs (default 6) rotating over ORACLE_VARIANTS (default
# "snapshot classic redo": rsrsync-snapshot=auto, where every file is cloned
# and the one round runs after `continue`, and rsrsync-snapshot=off, live
# rounds then the full compare under the lock, both with
# rsrsync-lock-index=full; "redo" is rsrsync-snapshot=off with the default
# rsrsync-lock-index=redo, the rounds after the first sending unread the
# blocks InnoDB's redo log shows unchanged), each
# first into an empty joiner, then (from the second pass over the
# variants) into the joiner's previous datadir (a re-join: delta).
# ORACLE_LOAD: "writes" (default: sysbench oltp_write_only at 100 tx/s) or
# "torture" (oltp_write_only unlimited, plus DDL in a loop on node 1:
# ALTER TABLE … FORCE, ADD/DROP INDEX, TRUNCATE and a bulk load into the
# empty table, DROP/CREATE, RENAME, undo truncation, updates of a
# PAGE_COMPRESSED table, and FLUSH TABLES … FOR EXPORT, DISCARD and IMPORT
# TABLESPACE of a table). DATA_MB (20)
# sizes the data; ORACLE_FS=host puts the cluster on /tmp instead of XFS
# (no clones: the snapshot variant falls back). ORACLE_ENCRYPT: "tables"
# encrypts every table (file_key_management) and the torture loop turns
# innodb_encrypt_tables off and on, so the encryption threads rewrite
# pages in the background; "log" encrypts the redo log too (the redo index
# must then fall back, and say so). CL_MYSQLD_EXTRA adds server options
# (innodb_page_size=4k, …). ORACLE_STRADDLE (default 1): in each redo
# run, an IMPORT TABLESPACE between the donor's first live round and its
# lock, of a table whose file was copied in before the SST (see
# straddle_prepare): the donor must tell and compare that file in full.
# ORACLE_SUITE (e.g. trixie: MariaDB 11.8; bullseye: 10.5) runs both nodes
# in that Debian chroot (bin/lib/chroot.sh, built when missing) with the
# binary of SST_BIN_DIR; on a server older than 10.8 the redo runs must
# show the index's fallback. rsrsync only. Needs root.
# Bounded by TEST_TIME_LIMIT seconds (default 1800). bin/torture runs the
# long version.
set -Eeuo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/lib/common.sh
. "$ROOT/bin/lib/common.sh"
# shellcheck source=bin/lib/cluster.sh
. "$ROOT/bin/lib/cluster.sh"
# shellcheck source=bin/lib/data.sh
. "$ROOT/bin/lib/data.sh"
# shellcheck source=bin/lib/bench.sh
. "$ROOT/bin/lib/bench.sh"
# shellcheck source=bin/lib/scratch.sh
. "$ROOT/bin/lib/scratch.sh"
# shellcheck source=bin/lib/chroot.sh
. "$ROOT/bin/lib/chroot.sh"
# shellcheck source=bin/lib/phases.sh
. "$ROOT/bin/lib/phases.sh"

run_with_time_limit "${TEST_TIME_LIMIT:-1800}" "$0" "$@"
require_root
[[ $SST_METHOD == rsrsync ]] || die "the oracle holds rsrsync's donor and joiner; run it with SST_METHOD=rsrsync"
: "${DATA_MB:=20}" "${ORACLE_RUNS:=6}" "${ORACLE_LOAD:=writes}" "${ORACLE_FS:=xfs}"
: "${ORACLE_VARIANTS:=snapshot classic redo}" "${ORACLE_ENCRYPT:=}" "${ORACLE_STRADDLE:=1}" "${ORACLE_SUITE:=}"
read -r -a VARIANTS <<<"$ORACLE_VARIANTS"
BN_LOAD_PID='' DDL_PID='' HOLD='' COPY='' KEPT='' DDL_DONE='' DDL_STOP=''
# Blocks the redo log index sent unread under the lock, over all runs;
# 1 when the server's redo log is older than the index reads (before 10.8).
VOUCHED=0 OLD_REDO=0

on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    [[ -z $DDL_PID ]] || kill -TERM "$DDL_PID" 2>/dev/null || true
    [[ -z $BN_LOAD_PID ]] || kill -TERM "$BN_LOAD_PID" 2>/dev/null || true
    # Release any side still held, so the nodes can stop.
    [[ -z $HOLD ]] || touch "$HOLD/donor.go" "$HOLD/joiner.go" 2>/dev/null || true
    if [[ $rc -ne 0 && -n $CL_BASE && -d $CL_BASE ]]; then
        # The cluster goes (with the image on XFS): keep its logs.
        KEPT=$(mktemp -d /tmp/rsrsync-oracle-logs.XXXXXX)
        cp -a "$CL_BASE/logs" "$CL_BASE"/node*/error.log "$KEPT/" 2>/dev/null || true
    fi
    KEEP=0 cl_cleanup 0
    [[ -z $COPY ]] || rm -rf "$COPY" "$COPY.keys"
    sc_down_all
    [[ -z $KEPT ]] || say "logs kept in $KEPT"
    phase_summary "tests/cluster/rsrsync_oracle.sh, $ORACLE_RUNS runs, load $ORACLE_LOAD, DATA_MB=$DATA_MB" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Wait (up to 600 s) for file $1, failing if node $2 dies meanwhile.
await_file() {
    local t0=$SECONDS
    until [[ -e $1 ]]; do
        cl_running "$2" || die "node $2 stopped while the test waited for $1"
        ((SECONDS - t0 < 600)) || die "$1 did not appear within 600 s"
        sleep 0.05
    done
}

# Start node 2 and wait until its SST holds the donor ($HOLD/donor.set);
# node 1's log mark is $1. Under the unlimited torture load Galera's state
# exchange sometimes never ends: node 1 logs "Temporary failure in sending
# state UUID, will try again in next primary component", no next component
# comes, and node 2 waits for a state transfer nobody requested (no SST
# starts: this is before any SST). Killing node 2 gives node 1 that next
# component; the join is tried 3 times, and each retry is said.
start_joiner() {
    local m1=$1 try t0
    for try in 1 2 3; do
        cl_start 2
        t0=$SECONDS
        until [[ -e $HOLD/donor.set ]]; do
            cl_running 2 || die "node 2 stopped while the test waited for $HOLD/donor.set"
            if [[ -e $HOLD/donor.live && ! -e $HOLD/donor.live.go ]]; then
                straddle_import
                touch "$HOLD/donor.live.go"
            fi
            ((SECONDS - t0 < 600)) || die "$HOLD/donor.set did not appear within 600 s"
            if ((SECONDS - t0 >= 30)) &&
                [[ -z $(cl_log_grep 1 "$m1" 'SST started on donor') &&
                    -n $(cl_log_grep 1 "$m1" 'Temporary failure in sending state UUID') ]]; then
                break
            fi
            sleep 0.05
        done
        [[ -e $HOLD/donor.set ]] && return 0
        say "   Galera's state exchange hung (node 1: \"Temporary failure in sending state UUID\"), no SST started in 30 s: node 2 killed and started again (try $try of 3)"
        cl_kill 2
        m1=$(cl_log_mark 1)
    done
    die "Galera's state exchange hung 3 times in a row: no SST to test"
}

# Copy the donor's transfer set (donor.set) into $COPY/<class>/<path>.
copy_donor_set() {
    local class rel source n=0
    rm -rf "$COPY" && mkdir -p "$COPY"
    while IFS=$'\t' read -r class rel source; do
        mkdir -p "$(dirname "$COPY/$class/$rel")"
        cp -- "$source" "$COPY/$class/$rel"
        n=$((n + 1))
    done <"$HOLD/donor.set"
    printf '%s\n' "$n"
}

# Where the joiner (node 2) keeps the file of class $1 and wire path $2:
# this cluster's classes all live in the datadir (binlogs included).
joiner_path() {
    case $1 in
        External) printf '/%s\n' "$2" ;;
        *) printf '%s/%s\n' "$(cl_datadir 2)" "$2" ;;
    esac
}

# Compare every file of donor.set on the joiner with the copy; fail on the
# first difference, and on a table file of the joiner outside the set.
compare_joiner() {
    local class rel n=0 bytes=0 d2 extra
    d2=$(cl_datadir 2)
    while IFS=$'\t' read -r class rel _; do
        local mine
        mine=$(joiner_path "$class" "$rel")
        cmp -- "$COPY/$class/$rel" "$mine" >&2 ||
            die "BYTES DIFFER: $class $rel (joiner $mine, copy $COPY/$class/$rel)"
        n=$((n + 1))
        bytes=$((bytes + $(stat -c %s "$mine")))
    done <"$HOLD/donor.set"
    extra=$(cd "$d2" && find . -type f \( -name '*.ibd' -o -name '*.frm' -o -name '*.MY[DI]' \
        -o -name '*.MA[DI]' -o -name 'ibdata*' -o -name 'undo*' -o -name '*.isl' -o -name '*.par' \) |
        sed 's|^\./||' | sort | comm -23 - <(cut -f2 "$HOLD/donor.set" | sort)) || true
    [[ -z $extra ]] || die "the joiner holds table files the donor did not send: $extra"
    printf '%s files, %s bytes\n' "$n" "$bytes"
}

# DDL on node 1 in a loop until $DDL_STOP exists (torture load); each loop
# that ran every statement adds a line to $DDL_DONE. A stop file, not a
# signal: a killed loop would leave its client running DDL on node 1 while
# the tables are compared. The bulk load into the empty
# table is one autocommit statement: wrapped in BEGIN … COMMIT, its commit
# once hung for good under the donor's FLUSH TABLES WITH READ LOCK, which
# on a Galera node pauses the provider first ("Provider paused at …") and
# then waits for that commit, which waits for the provider: a server
# deadlock that the stock method's SST meets the same way (rsrsync ends
# it after rsrsync-flush-timeout).
ddl_loop() {
    local n=0
    cl_sql 1 "CREATE DATABASE IF NOT EXISTS tort;
        CREATE TABLE IF NOT EXISTS tort.t1 (id INT PRIMARY KEY, k INT, pad VARCHAR(200));
        CREATE TABLE IF NOT EXISTS tort.bulk (id INT PRIMARY KEY, pad VARCHAR(200));
        CREATE TABLE IF NOT EXISTS tort.r (id INT PRIMARY KEY);
        INSERT IGNORE INTO tort.t1 SELECT seq, seq % 97, REPEAT('t', 150) FROM mysql.seq_1_to_20000;
        CREATE TABLE IF NOT EXISTS tort.pc (id INT PRIMARY KEY, pad VARCHAR(200)) PAGE_COMPRESSED=1;
        INSERT IGNORE INTO tort.pc SELECT seq, REPEAT('p', 150) FROM mysql.seq_1_to_20000;
        CREATE TABLE IF NOT EXISTS tort.imp (id INT PRIMARY KEY, pad VARCHAR(200));
        INSERT IGNORE INTO tort.imp SELECT seq, REPEAT('i', 150) FROM mysql.seq_1_to_20000;
        SET GLOBAL innodb_undo_log_truncate = ON;
        SET GLOBAL innodb_max_undo_log_size = 10485760" >/dev/null ||
        warn "the torture load's setup failed on node 1"
    until [[ -e $DDL_STOP ]]; do
        n=$((n + 1))
        # The encryption threads rewrite every page, redo-logged.
        if [[ -n $ORACLE_ENCRYPT ]]; then
            cl_sql 1 "SET GLOBAL innodb_encrypt_tables = $((n % 2 == 0 ? 1 : 0))" >/dev/null 2>>"$CL_BASE/logs/ddl.err" || true
        fi
        cl_sql 1 "ALTER TABLE tort.t1 FORCE;
            ALTER TABLE tort.t1 ADD INDEX ik (k);
            ALTER TABLE tort.t1 DROP INDEX ik;
            TRUNCATE TABLE tort.bulk;
            SET unique_checks = 0, foreign_key_checks = 0;
            INSERT INTO tort.bulk SELECT seq, REPEAT('b', 180) FROM mysql.seq_1_to_30000;
            SET unique_checks = 1, foreign_key_checks = 1;
            DROP TABLE IF EXISTS tort.d$((n % 3));
            CREATE TABLE tort.d$(((n + 1) % 3)) (id INT PRIMARY KEY, v BLOB);
            INSERT INTO tort.d$(((n + 1) % 3)) VALUES (1, REPEAT('d', 5000));
            RENAME TABLE tort.r TO tort.r2;
            RENAME TABLE tort.r2 TO tort.r;
            UPDATE tort.pc SET pad = REPEAT(CHAR(65 + $((n % 26))), 150) WHERE id % 7 = $((n % 7))" >/dev/null 2>>"$CL_BASE/logs/ddl.err" &&
            import_cycle >/dev/null 2>>"$CL_BASE/logs/ddl.err" &&
            echo "$n" >>"$DDL_DONE"
        sleep 0.2
    done
}

# Print the SQL (for the mariadb client, on node 1) that exports table
# tort.$1, discards its tablespace and copies the exported files back
# into the datadir, ready for IMPORT TABLESPACE (the copy kept under
# logs/export-$1).
discard_sql() {
    local t=$1 db save
    db="$(cl_datadir 1)/tort"
    save="$CL_BASE/logs/export-$t"
    mkdir -p "$save"
    printf '%s\n' "FLUSH TABLES tort.$t FOR EXPORT;" \
        "system cp $db/$t.ibd $db/$t.cfg $save/" \
        "UNLOCK TABLES;" \
        "ALTER TABLE tort.$t DISCARD TABLESPACE;" \
        "system cp $save/$t.ibd $save/$t.cfg $db/ && chown mysql:mysql $db/$t.ibd $db/$t.cfg"
}

# Export tort.imp on node 1, discard its tablespace and import the copy
# (IMPORT rewrites every page of the file without redo log). On node 1
# alone (wsrep_on=OFF): node 2 has no copy to import, and the test drops
# the table everywhere before it compares the nodes' tables.
import_cycle() {
    cl_sql 1 "SET SESSION wsrep_on = OFF;
        $(discard_sql imp)
        ALTER TABLE tort.imp IMPORT TABLESPACE;
        UPDATE tort.imp SET pad = REPEAT('j', 150) WHERE id % 50 = 0"
}

# The IMPORT that straddles a redo run's rounds, on node 1 alone
# (wsrep_on=OFF). Before node 2 starts: tort.imp2 (8 MB, made anew: the
# pages of an imported table keep LSN 0, and a file with no page that
# has an LSN is never vouched for) is exported, its tablespace discarded
# and the exported file copied back,
# so the donor's first round reads that copy (its inode stays the same
# from then on); then a checkpoint past it all, so the donor's index
# (which starts from the checkpoint) has no record of the table's pages
# but those written after the IMPORT. The donor is asked to hold after
# its first round (donor.live.ask).
straddle_prepare() {
    cl_sql 1 "SET SESSION wsrep_on = OFF;
        CREATE DATABASE IF NOT EXISTS tort;
        DROP TABLE IF EXISTS tort.imp2;
        CREATE TABLE tort.imp2 (id INT PRIMARY KEY, pad VARCHAR(200));
        INSERT INTO tort.imp2 SELECT seq, REPEAT('s', 150) FROM mysql.seq_1_to_50000;
        $(discard_sql imp2)" >/dev/null ||
        die "preparing the straddling IMPORT (tort.imp2) on node 1 failed"
    checkpoint_now
    touch "$HOLD/donor.live.ask"
}

# Wait (120 s at most) until node 1's InnoDB has made a checkpoint past
# where its log is now, its pages flushed at full speed meanwhile.
checkpoint_now() {
    local target pct t0=$SECONDS
    target=$(cl_status 1 Innodb_lsn_current)
    pct=$(cl_sql 1 "SELECT @@GLOBAL.innodb_max_dirty_pages_pct")
    cl_sql 1 "SET GLOBAL innodb_max_dirty_pages_pct = 0"
    until (($(cl_status 1 Innodb_lsn_last_checkpoint) >= target)); do
        if ((SECONDS - t0 >= 120)); then
            cl_sql 1 "SET GLOBAL innodb_max_dirty_pages_pct = $pct"
            die "node 1 made no checkpoint past LSN $target within 120 s"
        fi
        sleep 0.2
    done
    cl_sql 1 "SET GLOBAL innodb_max_dirty_pages_pct = $pct"
}

# While the donor holds after its first round: IMPORT (every page of the
# file converted, with no redo log), then rows that allocate a new extent,
# and a checkpoint, so page 0 is on disk changed again with a record and
# cannot tell (without that checkpoint its LSN 0 from the IMPORT would):
# only the witnesses the donor noted before its first round can.
straddle_import() {
    cl_sql 1 "SET SESSION wsrep_on = OFF;
        ALTER TABLE tort.imp2 IMPORT TABLESPACE;
        INSERT INTO tort.imp2 SELECT seq, REPEAT('t', 150) FROM mysql.seq_50001_to_60000" >/dev/null ||
        die "the straddling IMPORT of tort.imp2 on node 1 failed"
    checkpoint_now
}

# Start the load of ORACLE_LOAD on node 1 (output to $1).
load_start() {
    case $ORACLE_LOAD in
        writes) bn_load_start 1 100 3600 "$1" ;;
        torture)
            DDL_DONE="$CL_BASE/logs/ddl-done-$RANDOM.txt"
            DDL_STOP="$DDL_DONE.stop"
            : >"$DDL_DONE"
            bn_load_start 1 0 3600 "$1"
            ddl_loop &
            DDL_PID=$!
            ;;
        *) die "ORACLE_LOAD must be writes or torture, not '$ORACLE_LOAD'" ;;
    esac
}

load_stop() {
    if [[ -n $DDL_PID ]]; then
        local t0=$SECONDS
        touch "$DDL_STOP"
        while _cl_alive "$DDL_PID"; do
            ((SECONDS - t0 < 300)) || die "the DDL loop did not end within 300 s of being told to"
            sleep 0.1
        done
        wait "$DDL_PID" 2>/dev/null || true
        DDL_PID=
        [[ -s $DDL_DONE ]] || die "no loop of the DDL load ran to its end (errors in $CL_BASE/logs/ddl.err)"
        say "   DDL loops run during the SST: $(wc -l <"$DDL_DONE")"
        # Node 2 may hold tort.imp discarded (the lock came between DISCARD
        # and IMPORT, which node 1 ran alone): gone on both nodes.
        cl_sql 1 "DROP TABLE IF EXISTS tort.imp" || die "dropping tort.imp failed"
    fi
    bn_load_stop 1 "$1" >"$1.result"
}

# One SST of variant $1 in run $2, into an empty joiner or (when $3 is
# "rejoin") over node 2's previous datadir.
oracle_run() {
    local variant=$1 r=$2 how=$3 m1 m2 files compared out tables
    phase_begin "run $r: $variant, $how joiner, load $ORACLE_LOAD: node 2's files equal the locked copy"
    # The holds may outlast the default inactivity timeout of 120 s.
    case $variant in
        snapshot) cl_set_sst_options "rsrsync-timeout=900" "rsrsync-lock-index=full" ;;
        classic) cl_set_sst_options "rsrsync-timeout=900" "rsrsync-snapshot=off" "rsrsync-lock-index=full" ;;
        # The default index: what an operator who sets nothing gets.
        redo) cl_set_sst_options "rsrsync-timeout=900" "rsrsync-snapshot=off" ;;
        *) die "ORACLE_VARIANTS: unknown variant '$variant' (snapshot, classic, redo)" ;;
    esac
    if [[ $how == rejoin ]]; then
        rm -f "$(cl_datadir 2)/grastate.dat"
    else
        cl_wipe 2
    fi
    rm -f "$HOLD"/donor.* "$HOLD"/joiner.*
    local straddle=0
    if [[ $variant == redo && $ORACLE_STRADDLE == 1 && $ORACLE_ENCRYPT != log && $OLD_REDO == 0 ]]; then
        straddle=1
        straddle_prepare
    fi
    out="$CL_BASE/logs/load-$r.txt"
    load_start "$out"
    sleep 2
    m1=$(cl_log_mark 1)
    m2=$(cl_log_mark 2)
    start_joiner "$m1"
    files=$(copy_donor_set)
    touch "$HOLD/donor.go"
    await_file "$HOLD/joiner.ready" 2
    compared=$(compare_joiner)
    touch "$HOLD/joiner.go"
    cl_wait_synced 2 600
    load_stop "$out"
    cl_expect_log 2 "$m2" "rsrsync SST completed on joiner"
    if [[ $variant == snapshot && $ORACLE_FS == xfs ]]; then
        cl_expect_log 1 "$m1" "snapshot: every file can be cloned under the lock"
        cl_expect_log 1 "$m1" "snapshot: ([0-9]+) of \1 files cloned"
    else
        cl_refuse_log 1 "$m1" "files cloned"
    fi
    if [[ $variant == redo && $OLD_REDO == 1 ]]; then
        cl_expect_log 1 "$m1" "rsrsync-lock-index=redo: .*: every file is compared in full under the lock"
        say "   $(cl_log_grep 1 "$m1" 'rsrsync-lock-index=redo' | sed 's/.*WSREP_SST: //' | tail -n 1)"
    elif [[ $variant == redo && $ORACLE_ENCRYPT == log ]]; then
        cl_expect_log 1 "$m1" "rsrsync-lock-index=redo: the redo log is encrypted"
        say "   $(cl_log_grep 1 "$m1" 'rsrsync-lock-index=redo' | sed 's/.*WSREP_SST: //' | tail -n 1)"
    elif [[ $variant == redo ]]; then
        local line
        cl_expect_log 1 "$m1" "rsrsync-lock-index=redo: following"
        line=$(cl_log_grep 1 "$m1" 'rsrsync-lock-index=redo: (locked round|every file)' | sed 's/.*WSREP_SST: //' | tail -n 1)
        say "   $line"
        [[ $line =~ locked\ round:\ ([0-9]+)\ of ]] && VOUCHED=$((VOUCHED + BASH_REMATCH[1]))
        if ((straddle)); then
            [[ -e $HOLD/donor.live.go ]] || die "the donor never held after its first round (donor.live.ask)"
            cl_expect_log 1 "$m1" "imp2\.ibd: a page changed without a redo record"
            say "   IMPORT between the rounds: $(cl_log_grep 1 "$m1" 'imp2\.ibd: a page changed' | sed 's/.*WSREP_SST: //' | tail -n 1)"
        fi
    else
        cl_refuse_log 1 "$m1" "rsrsync-lock-index=redo"
    fi
    say "   copied $files files under the lock; joiner: $compared equal"
    say "   $(cl_log_grep 1 "$m1" 'Lock released after' | sed 's/.*WSREP_SST: //' | tail -n 1)"
    tables=$(cl_compare_checksums 2 1) || die "node 2's tables differ from node 1's (listed above)"
    say "   tables equal: $tables; load: $(cat "$out.result") (stall ms, tx/s, errors)"
    cl_stop 2
    cl_wait_size 1 1 60
    phase_end
}

phase_begin "cluster on ${ORACLE_FS}, $DATA_MB MiB on node 1, both nodes with RSRSYNC_TEST_HOLD${ORACLE_ENCRYPT:+, encrypted $ORACLE_ENCRYPT}${ORACLE_SUITE:+, in the $ORACLE_SUITE chroot}"
if [[ $ORACLE_FS == xfs ]]; then
    sc_image_up "$((DATA_MB * 8 + 3072))M" xfs
    CL_TMP=$SC_MNT
fi
COPY=$(mktemp -d /var/tmp/rsrsync-oracle-copy.XXXXXX)
case $ORACLE_ENCRYPT in
    '') ;;
    tables | log)
        # Two keys the mysql user can read, beside the copy (removed with it).
        printf '1;%s\n2;%s\n' "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" \
            "$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')" >"$COPY.keys"
        chown mysql "$COPY.keys" && chmod 600 "$COPY.keys"
        CL_MYSQLD_EXTRA+=$'\n'"plugin_load_add=file_key_management
file_key_management_filename=$COPY.keys
innodb_encrypt_tables=ON
innodb_encryption_threads=2
innodb_encrypt_log=$([[ $ORACLE_ENCRYPT == log ]] && echo ON || echo OFF)"
        ;;
    *) die "ORACLE_ENCRYPT must be tables or log, not '$ORACLE_ENCRYPT'" ;;
esac
cl_init 2
if [[ -n $ORACLE_SUITE ]]; then
    [[ -x ${SST_BIN_DIR:-}/wsrep_sst_rsrsync ]] || die "ORACLE_SUITE: SST_BIN_DIR must hold the wsrep_sst_rsrsync to copy into the chroot"
    root=$(ch_ensure "$ORACLE_SUITE" "$CL_BASE/logs/chroot-$ORACLE_SUITE.log")
    install -m 0755 "$SST_BIN_DIR/wsrep_sst_rsrsync" "$root/usr/bin/wsrep_sst_rsrsync"
    cl_set_root 1 "$root"
    cl_set_root 2 "$root"
    say "   both nodes in the $ORACLE_SUITE chroot: $(ch_versions "$root")"
fi
HOLD="$CL_BASE/hold"
mkdir -p "$HOLD" && chown mysql:mysql "$HOLD"
export RSRSYNC_TEST_HOLD=$HOLD
cl_install 1
cl_bootstrap 1
version=$(cl_server_version 1) || die "cannot read node 1's server version"
[[ $version =~ ^([0-9]+)\.([0-9]+)\. ]] || die "node 1's server version '$version' is not major.minor.patch"
((BASH_REMATCH[1] * 100 + BASH_REMATCH[2] >= 1008)) || OLD_REDO=1
say "   node 1 runs MariaDB $version"
# Aria's checkpoint may write its log and control file under the lock (the
# donor sends the control file as read before the walk, for that reason):
# a copy taken later would then differ from what was sent without anything
# being wrong. Without it the Aria files must be byte-equal too.
cl_sql 1 "SET GLOBAL aria_checkpoint_interval = 0"
data_load 1
bn_load_prepare 1
cl_start 2
# The first join (no hold answered yet): release both sides as they come.
await_file "$HOLD/donor.set" 2 && touch "$HOLD/donor.go"
await_file "$HOLD/joiner.ready" 2 && touch "$HOLD/joiner.go"
cl_wait_synced 2 600
cl_stop 2
cl_wait_size 1 1 60
phase_end

for ((r = 1; r <= ORACLE_RUNS; r++)); do
    n=${#VARIANTS[@]}
    how=fresh
    (((r - 1) / n % 2 == 1)) && how=rejoin
    oracle_run "${VARIANTS[$(((r - 1) % n))]}" "$r" "$how"
done
if [[ " ${VARIANTS[*]} " == *" redo "* && $ORACLE_ENCRYPT != log && $OLD_REDO == 0 ]]; then
    phase_begin "the redo log index vouched for blocks under the lock (else the redo runs proved nothing)"
    ((VOUCHED > 0)) || die "no redo run sent a block unread under the lock"
    say "   $VOUCHED blocks sent unread under the lock, every one byte-equal"
    phase_end
fi
