# shellcheck shell=bash
# Test data for a cluster made with bin/lib/cluster.sh (source that first).
#
# data_load builds, on one node, a data set that covers what an SST must
# carry: several databases, one whose name needs encoding on disk
# ("sst test ü" -> sst@0020test@0020@00fc), InnoDB tables of several MB with
# a secondary index, a compressed InnoDB table, a partitioned InnoDB table
# (#P# files), MyISAM and Aria tables, a view, a trigger, a stored procedure,
# and binlog activity. DATA_MB (default 50) scales the big tables.

# The database whose name needs @XXXX encoding in file names.
DATA_ODD_DB='sst test ü'
# The table in it whose name needs encoding too.
DATA_ODD_TABLE='tàble 1'

# How the SQL makes random bytes: RANDOM_BYTES (MariaDB 10.10+), or SHA2 of
# RAND() on older servers; set for a node by _data_use_node.
_DATA_OLD_RANDOM=0

# Make the SQL written next suit node $1's server version.
_data_use_node() {
    _DATA_OLD_RANDOM=0
    CL_SQL_TIMEOUT=10 cl_sql "$1" "SELECT RANDOM_BYTES(1)" >/dev/null 2>&1 || _DATA_OLD_RANDOM=1
}

# Print an SQL expression for $1 random bytes.
_data_rnd() {
    local n=$1 parts=() k
    if [[ $_DATA_OLD_RANDOM -eq 0 ]]; then
        printf 'RANDOM_BYTES(%d)' "$n"
        return 0
    fi
    for ((k = 0; k < n; k += 64)); do parts+=("UNHEX(SHA2(RAND(), 512))"); done
    local IFS=,
    printf 'LEFT(CONCAT(%s), %d)' "${parts[*]}" "$n"
}

# Print "INSERT … SELECT" statements that put $3 rows (ids from $2 on) into
# table $1, 2000 rows (about 2 MB) per statement. Columns: (id, k, pad).
_data_fill_sql() {
    local table=$1 first=$2 count=$3 from to rnd
    rnd=$(_data_rnd 512)
    for ((from = first; from < first + count; from += 2000)); do
        to=$((from + 1999))
        ((to >= first + count)) && to=$((first + count - 1))
        # Half random (incompressible), half repetitive: realistic pages.
        printf 'INSERT INTO %s (id, k, pad) SELECT seq, seq %% 1000, CONCAT(%s, REPEAT(CHAR(65 + seq %% 26), 480)) FROM mysql.seq_%d_to_%d;\n' \
            "$table" "$rnd" "$from" "$to"
    done
}

# Create the schema and load about DATA_MB MiB of rows on node $1.
data_load() {
    local i=$1 mb=${DATA_MB:-50} rows_per_mb=600
    local big=$((mb * rows_per_mb / 2)) arch=$((mb * rows_per_mb / 5))
    local part=$((mb * rows_per_mb * 3 / 20)) small=$((mb * rows_per_mb / 15 + 100))
    _data_use_node "$i"
    {
        cat <<EOF
CREATE DATABASE shop;
CREATE DATABASE legacy;
CREATE DATABASE \`$DATA_ODD_DB\`;
CREATE TABLE shop.orders (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024),
  KEY k_idx (k)) ENGINE=InnoDB;
CREATE TABLE shop.orders_archive (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024))
  ENGINE=InnoDB ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8;
CREATE TABLE shop.events (id INT NOT NULL, k INT NOT NULL, pad VARBINARY(1024),
  PRIMARY KEY (id)) ENGINE=InnoDB PARTITION BY HASH (id) PARTITIONS 4;
CREATE TABLE shop.customers (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NOT NULL,
  created DATETIME NOT NULL DEFAULT '2000-01-01 00:00:00') ENGINE=InnoDB;
CREATE TABLE shop.audit (id INT AUTO_INCREMENT PRIMARY KEY, what VARCHAR(128) NOT NULL) ENGINE=InnoDB;
CREATE TABLE shop.churn (id INT AUTO_INCREMENT PRIMARY KEY, tag VARCHAR(32) NOT NULL,
  n INT NOT NULL, KEY tag_idx (tag)) ENGINE=InnoDB;
CREATE TRIGGER shop.customers_ai AFTER INSERT ON shop.customers FOR EACH ROW
  INSERT INTO shop.audit (what) VALUES (CONCAT('new customer ', NEW.name));
CREATE VIEW shop.big_orders AS SELECT id, k FROM shop.orders WHERE k > 900;
CREATE PROCEDURE shop.add_churn(t VARCHAR(32), cnt INT)
  INSERT INTO shop.churn (tag, n) SELECT t, seq FROM mysql.seq_1_to_1000 WHERE seq <= cnt;
CREATE TABLE legacy.kv_myisam (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024)) ENGINE=MyISAM;
CREATE TABLE legacy.kv_aria (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024)) ENGINE=Aria;
CREATE TABLE \`$DATA_ODD_DB\`.\`$DATA_ODD_TABLE\` (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024)) ENGINE=InnoDB;
CREATE TABLE \`$DATA_ODD_DB\`.\`mÿisam\` (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024)) ENGINE=MyISAM;
INSERT INTO shop.customers (name) SELECT CONCAT('customer ', seq) FROM mysql.seq_1_to_200;
EOF
        _data_fill_sql shop.orders 1 "$big"
        _data_fill_sql shop.orders_archive 1 "$arch"
        _data_fill_sql shop.events 1 "$part"
        _data_fill_sql legacy.kv_myisam 1 "$small"
        _data_fill_sql legacy.kv_aria 1 "$small"
        _data_fill_sql "\`$DATA_ODD_DB\`.\`$DATA_ODD_TABLE\`" 1 500
        _data_fill_sql "\`$DATA_ODD_DB\`.\`mÿisam\`" 1 300
    } >"$CL_BASE/logs/load.sql"
    cl_sql "$i" <"$CL_BASE/logs/load.sql" >"$CL_BASE/logs/load.log" 2>&1 ||
        { tail -n 5 "$CL_BASE/logs/load.log" >&2; die "loading data on node $i failed; SQL in $CL_BASE/logs/load.sql"; }
    data_binlog_activity "$i"
}

# Rotate node $1's binlog twice with updates and deletes in between.
data_binlog_activity() {
    cl_sql "$1" "FLUSH BINARY LOGS;
        UPDATE shop.orders SET k = k + 1 WHERE id % 50 = 0;
        DELETE FROM shop.events WHERE id % 40 = 0;
        FLUSH BINARY LOGS;
        CALL shop.add_churn('load', 500);
        INSERT INTO shop.customers (name) VALUES ('after rotation');"
}

# Write on node $1 under the tag $2 (letters, digits, _): a new table, rows
# in churn, updates, deletes, a trigger firing, a dropped table when $3 names
# one. Only InnoDB (MyISAM/Aria changes do not replicate by default).
data_write_more() {
    local i=$1 tag=$2 drop=${3:-}
    _data_use_node "$i"
    cl_sql "$i" "CREATE TABLE shop.phase_$tag (id INT PRIMARY KEY, k INT NOT NULL, pad VARBINARY(1024),
            KEY k_idx (k)) ENGINE=InnoDB;
        $(_data_fill_sql "shop.phase_$tag" 1 3000)
        CALL shop.add_churn('$tag', 1000);
        UPDATE shop.orders SET pad = $(_data_rnd 1000) WHERE id % 97 = ${#tag};
        DELETE FROM shop.orders_archive WHERE id % 33 = 1;
        INSERT INTO shop.customers (name) VALUES ('customer $tag');
        INSERT INTO \`$DATA_ODD_DB\`.\`$DATA_ODD_TABLE\` (id, k, pad)
            SELECT 100000 + seq, seq, $(_data_rnd 100) FROM mysql.seq_1_to_50
            ON DUPLICATE KEY UPDATE k = k + 1;
        ${drop:+DROP TABLE shop.$drop;}" >/dev/null
}

# Create many small tables on node $1: $2 databases (app_1…) of $3 tables
# each, mostly InnoDB with some MyISAM and Aria, 50 to 250 rows each.
data_small_tables() {
    local i=$1 dbs=$2 per=$3 d t engine
    {
        for ((d = 1; d <= dbs; d++)); do
            printf 'CREATE DATABASE app_%d;\n' "$d"
            for ((t = 1; t <= per; t++)); do
                engine=InnoDB
                ((t % 10 == 0)) && engine=MyISAM
                ((t % 10 == 5)) && engine=Aria
                printf 'CREATE TABLE app_%d.t%d (id INT PRIMARY KEY, v VARCHAR(200) NOT NULL, n INT NOT NULL, KEY n_idx (n)) ENGINE=%s;\n' "$d" "$t" "$engine"
                printf 'INSERT INTO app_%d.t%d SELECT seq, REPEAT(CHAR(97 + seq %% 26), 150), seq %% 7 FROM mysql.seq_1_to_%d;\n' \
                    "$d" "$t" $((50 + (t * 37) % 200))
            done
        done
    } >"$CL_BASE/logs/small-tables.sql"
    cl_sql "$i" <"$CL_BASE/logs/small-tables.sql" >"$CL_BASE/logs/small-tables.log" 2>&1 ||
        { tail -n 5 "$CL_BASE/logs/small-tables.log" >&2; die "creating small tables on node $i failed"; }
}

# Print the bytes of node $1's datadir that a file copy of it moves: all
# but galera.cache (apparent sizes, as the files are sent).
data_datadir_bytes() {
    du -sb --apparent-size --exclude=galera.cache "$(cl_datadir "$1")" | cut -f1
}

# Load node $1 until its datadir holds about $2 MiB, as an SST finds it:
# data_load's tables (a few of several hundred MB at 2 GB), 200 small
# tables in 4 more databases, two undo tablespaces, and binlogs. The
# load's own binlogs (as big as the rows) are purged afterwards, then
# data_binlog_activity rotates twice, so binlogs stay a small part of the
# datadir (no binlogs with CL_LOG_BIN=0). Prints the datadir bytes.
data_load_sized() {
    local i=$1 target=$2
    # Measured on 10.11: about 170 MiB of files whatever the size (redo
    # log, undo, ibdata1, ibtmp1, Aria log, system and small tables), and
    # 0.66 MiB of table files per DATA_MB.
    local mb=$(((target - 170) * 100 / 66))
    ((mb >= 10)) || mb=10
    DATA_MB=$mb data_load "$i"
    data_small_tables "$i" 4 50
    if [[ $CL_LOG_BIN != 0 ]]; then
        _data_purge_binlogs "$i"
        data_binlog_activity "$i"
    fi
    data_settle "$i"
    data_datadir_bytes "$i"
}

# Grow node $1's datadir to about $2 MiB (after data_load_sized) with rows
# in shop.grow, then settle; prints the datadir bytes.
data_grow() {
    local i=$1 target=$2 have rows first
    have=$(($(data_datadir_bytes "$i") >> 20))
    # data_load's rows: about 900 per MiB of table file.
    rows=$(((target - have) * 900))
    if ((rows > 0)); then
        _data_use_node "$i"
        cl_sql "$i" "CREATE TABLE IF NOT EXISTS shop.grow (id INT PRIMARY KEY, k INT NOT NULL,
            pad VARBINARY(1024)) ENGINE=InnoDB"
        first=$(($(cl_sql "$i" "SELECT COALESCE(MAX(id), 0) FROM shop.grow") + 1))
        _data_fill_sql shop.grow "$first" "$rows" >"$CL_BASE/logs/grow.sql"
        cl_sql "$i" <"$CL_BASE/logs/grow.sql" >"$CL_BASE/logs/grow.log" 2>&1 ||
            { tail -n 5 "$CL_BASE/logs/grow.log" >&2; die "growing node $i's data failed"; }
    fi
    [[ $CL_LOG_BIN == 0 ]] || _data_purge_binlogs "$i"
    data_settle "$i"
    data_datadir_bytes "$i"
}

# Purge node $1's binlogs but the current one (a load's own binlogs are as
# big as its rows).
_data_purge_binlogs() {
    local current
    current=$(cl_sql "$1" "SHOW MASTER STATUS" | cut -f1)
    [[ -n $current ]] || die "node $1 has no binlog (log_bin is off?)"
    cl_sql "$1" "PURGE BINARY LOGS TO '$current'"
}

# Let node $1's InnoDB write all its dirty pages (bounded: 600 s), so an
# SST that follows a load does not find the load's pages still being
# flushed.
data_settle() {
    local i=$1 pct t0=$SECONDS dirty
    pct=$(cl_sql "$i" "SELECT @@GLOBAL.innodb_max_dirty_pages_pct")
    cl_sql "$i" "SET GLOBAL innodb_max_dirty_pages_pct = 0"
    while dirty=$(cl_status "$i" Innodb_buffer_pool_pages_dirty) && [[ $dirty != 0 ]]; do
        ((SECONDS - t0 < 600)) || { warn "node $i still has $dirty dirty pages after 600 s"; break; }
        sleep 1
    done
    cl_sql "$i" "SET GLOBAL innodb_max_dirty_pages_pct = $pct"
}

# Change a contiguous $2 % of the rows of each big InnoDB table on node $1
# (shop.orders, shop.orders_archive, shop.events), starting at $3 % of its
# ids: new random bytes in pad, k + 1. A clustered change, as a batch job
# or a busy range of keys makes.
data_change_range() {
    local i=$1 pct=$2 at=$3 t n from to sql=
    _data_use_node "$i"
    for t in shop.orders shop.orders_archive shop.events; do
        n=$(cl_sql "$i" "SELECT MAX(id) FROM $t")
        [[ $n =~ ^[0-9]+$ ]] || die "cannot count the rows of $t on node $i"
        from=$((n * at / 100 + 1))
        to=$((from + n * pct / 100 - 1))
        sql+="UPDATE $t SET k = k + 1, pad = CONCAT($(_data_rnd 512), REPEAT('z', 480)) WHERE id BETWEEN $from AND $to;"$'\n'
    done
    cl_sql "$i" "$sql"
}
