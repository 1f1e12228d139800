#!/usr/bin/env bash
# Tables outside the datadir on a real 2-node Galera cluster (rsrsync):
#   1. one absolute path, EXT, stands for each node's own directory (each
#      mariadbd runs in its own mount namespace with a bind mount there, as
#      two hosts would have two disks: no test can pass by reading or
#      overwriting the donor's files); node 1 creates, in a database and
#      tables with spaces and non-ASCII names, InnoDB tables and a
#      partition with DATA DIRECTORY under EXT, a compressed one, and MyISAM
#      tables with DATA DIRECTORY and INDEX DIRECTORY
#   2. node 2 joins from an empty datadir: every table equal (CHECKSUM
#      TABLE EXTENDED and SHOW CREATE TABLE), the files in node 2's own EXT,
#      its .isl files and symlinks naming them
#   3. node 2 rejoins over its stale copy after rows changed (SST)
#   4. node 2's EXT is not prepared (root's directory): the SST fails with
#      exit 32 and a message naming the table; once prepared, a retry joins
#   5. `check` on node 1 lists the paths per table and that it could write them
# rsrsync only (the stock rsync method loses these tables' data). Needs
# root. Bounded by TEST_TIME_LIMIT seconds (default 900).
set -Eeuo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/lib/common.sh
. "$ROOT/bin/lib/common.sh"
# shellcheck source=bin/lib/cluster.sh
. "$ROOT/bin/lib/cluster.sh"
# shellcheck source=bin/lib/phases.sh
. "$ROOT/bin/lib/phases.sh"

run_with_time_limit "${TEST_TIME_LIMIT:-900}" "$0" "$@"
require_root
[[ $SST_METHOD == rsrsync ]] || die "this test needs rsrsync (the stock method loses DATA DIRECTORY data); run it with SST_METHOD=rsrsync"

EXT=$(mktemp -d /var/tmp/rsrsync-ext.XXXXXX)
chmod 755 "$EXT"
DB='ext db ü'
# Its directory name (MariaDB's file name encoding: ü is @1o).
DB_DIR='ext@0020db@0020@1o'

on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    cl_cleanup "$rc"
    rmdir "$EXT" 2>/dev/null || true
    phase_summary "tests/cluster/rsrsync_external.sh" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Node $1's own directory behind EXT (owned by $2, default mysql).
ext_dir() { printf '%s\n' "$CL_BASE/node$1/ext${2:+-$2}"; }

# Give node $1 a fresh own directory behind EXT, owned by $2 (default mysql).
prepare_ext() {
    local dir owner=${2:-mysql}
    dir=$(ext_dir "$1" "${2:-}")
    rm -rf "$dir"
    mkdir -p "$dir"
    chown "$owner:$owner" "$dir"
    chmod 750 "$dir"
    cl_bind_node "$1" "$dir" "$EXT"
}

# SHOW CREATE TABLE of every table of $DB on node $1.
show_creates() {
    local t
    while IFS= read -r t; do
        cl_sql "$1" "SHOW CREATE TABLE \`$DB\`.\`$t\`"
    done < <(cl_sql "$1" "SELECT TABLE_NAME FROM information_schema.TABLES
                          WHERE TABLE_SCHEMA = '$DB' ORDER BY TABLE_NAME")
}

# Nodes 2 and 1 hold the same tables, defined alike.
expect_equal() {
    say "   checksums equal: $(cl_compare_checksums 2 1)"
    cmp -s <(show_creates 1) <(show_creates 2) || {
        diff <(show_creates 1) <(show_creates 2) >&2 || true
        die "SHOW CREATE TABLE differs between node 1 and node 2"
    }
}

# Node 2's files behind EXT are regular files (its own, not the donor's),
# as large as node 1's, and its .isl files and symlinks name them.
expect_placed() {
    local f rel n=0
    while IFS= read -r -d '' f; do
        rel=${f#"$(ext_dir 1)"/}
        [[ -f $(ext_dir 2)/$rel && ! -L $(ext_dir 2)/$rel ]] || die "node 2 lacks $EXT/$rel"
        [[ $(stat -c %s "$f") == $(stat -c %s "$(ext_dir 2)/$rel") ]] || die "$EXT/$rel differs in size"
        n=$((n + 1))
    done < <(find "$(ext_dir 1)" -type f -print0)
    for f in "$(cl_datadir 2)/$DB_DIR"/*.isl; do
        grep -q "^$EXT/" "$f" || die "$f names $(cat "$f"), not a file under $EXT"
    done
    for f in "$(cl_datadir 2)/$DB_DIR"/*.MY[DI]; do
        [[ -L $f && $(readlink "$f") == "$EXT/"* ]] || die "$f is not a symlink into $EXT"
    done
    say "   node 2 holds its own $n files under $EXT, named by its .isl files and symlinks"
}

# Node 2 joins by SST; every table equal, its files in place.
join_and_verify() {
    local m2
    m2=$(cl_log_mark 2)
    cl_start 2
    cl_wait_synced 2
    cl_expect_log 2 "$m2" "rsrsync SST completed on joiner"
    expect_equal
    expect_placed
}

phase_begin "node 1 creates tables outside its datadir"
cl_init 2
prepare_ext 1
prepare_ext 2
cl_install 1
cl_bootstrap 1
for d in idata iindex; do
    install -d -o mysql -g mysql -m 750 "$(ext_dir 1)/$d"
done
cl_sql 1 "CREATE DATABASE \`$DB\`;
    USE \`$DB\`;
    CREATE TABLE \`t ä x\` (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB
        DATA DIRECTORY='$EXT/idata';
    CREATE TABLE zipped (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB
        ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 DATA DIRECTORY='$EXT/idata';
    CREATE TABLE parted (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB
        PARTITION BY RANGE (id) (PARTITION p0 VALUES LESS THAN (5000),
            PARTITION p1 VALUES LESS THAN MAXVALUE DATA DIRECTORY='$EXT/idata');
    CREATE TABLE \`my ø\` (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=MyISAM
        DATA DIRECTORY='$EXT/idata' INDEX DIRECTORY='$EXT/iindex';
    CREATE TABLE local_t (id INT PRIMARY KEY, v VARCHAR(200)) ENGINE=InnoDB;"
for t in 't ä x' zipped parted 'my ø' local_t; do
    cl_sql 1 "INSERT INTO \`$DB\`.\`$t\` SELECT seq, REPEAT(MD5(seq), 6) FROM \`$DB\`.seq_1_to_20000"
done
say "   files under node 1's $EXT: $(find "$(ext_dir 1)" -type f | wc -l), $(du -sh "$(ext_dir 1)" | cut -f1)"
[[ -d $(cl_datadir 1)/$DB_DIR ]] || die "no $DB_DIR in node 1's datadir: the name encoding differs"
phase_end

phase_begin "node 2 joins from an empty datadir (SST)"
join_and_verify
phase_end

phase_begin "node 2 rejoins over its stale copy after rows changed (SST)"
cl_stop 2
for t in 't ä x' parted 'my ø'; do
    cl_sql 1 "UPDATE \`$DB\`.\`$t\` SET v = CONCAT('changed ', v) WHERE id % 7 = 0"
done
rm -f "$(cl_datadir 2)/grastate.dat"
join_and_verify
phase_end

phase_begin "node 2's directory is not prepared: the SST fails, a retry joins"
cl_stop 2
rm -f "$(cl_datadir 2)/grastate.dat"
prepare_ext 2 root
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_down 2 "$m2"
cl_expect_log 2 "$m2" "cannot write the file of table $DB_DIR"
cl_expect_log 2 "$m2" "Cleanup after exit with status: 32"
[[ -z $(ls -A "$(ext_dir 2 root)") ]] || die "the failed SST wrote under node 2's unprepared $EXT"
say "   exit 32: $(cl_log_grep 2 "$m2" 'cannot write the file of table' | head -n 1 | cut -c1-160)…"
prepare_ext 2
join_and_verify
phase_end

phase_begin "check on node 1 lists the tables outside the datadir"
report=$(_cl_node_as_mysql 1 wsrep_sst_rsrsync check --defaults-file="$CL_BASE/my.cnf" \
    --defaults-group-suffix=.1 2>&1 || true)
for t in "$DB_DIR/t@0020@0k@0020x.isl" "$DB_DIR/parted#P#p1.isl" "$DB_DIR/my@0020@1k.MYD" \
    "$DB_DIR/my@0020@1k.MYI"; do
    grep -F "$t" <<<"$report" | grep -qF "$EXT/" ||
        { printf '%s\n' "$report" >&2; die "check does not list $t with its path under $EXT"; }
done
grep -F "$DB_DIR/my@0020@1k.MYD" <<<"$report" | grep -q 'could write' ||
    { printf '%s\n' "$report" >&2; die "check does not say whether an SST could write them"; }
say "   $(grep -c "$EXT/" <<<"$report") lines name paths under $EXT"
cl_stop 2
cl_stop 1
phase_end
