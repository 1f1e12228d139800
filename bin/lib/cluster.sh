# shellcheck shell=bash
# A real MariaDB Galera cluster on loopback, for tests and the demo.
#
# Source bin/lib/common.sh first, then this file. Call cl_init, cl_start,
# cl_stop, cl_kill and cl_cleanup from the main shell (not inside $(...)):
# they keep the servers' PIDs in shell variables.
#
# Layout under a fresh base dir $CL_BASE (owned by mysql):
#   my.cnf          one file for every node: [mysqld] plus [mysqld.<i>],
#                   read with --defaults-group-suffix=.<i> (as mtr does)
#   node<i>/data    datadir            node<i>/error.log  error log
#   node<i>/mysqld.sock, mysqld.pid    node<i>/mariadbd.out  early stderr
#   logs/           output of noisy commands (install, loads)
# Ports: SQL, galera base_port, IST, SST receive = CL_PORT_BASE+10*i+{0,1,2,3}.
#
# A node runs the host's mariadbd, or, after cl_set_root <i> <dir>, the
# mariadbd of the Debian chroot <dir> (another server version; see
# bin/lib/chroot.sh): in a private mount namespace (so nothing stays
# mounted) with /proc and /dev mounted and the base dir's parent bind-mounted
# at the same path, so every path (my.cnf, datadir, socket, error log) is the
# same inside the chroot and out, and a node can switch versions in place.
# A chroot node runs the SST script from the chroot's /usr/bin.
#
# Environment:
#   SST_METHOD   the wsrep_sst_method (default rsrsync; rsync = stock script)
#   SST_BIN_DIR  a dir put first on mariadbd's PATH, for a development binary
#                (host nodes only; see _cl_set_as_mysql)
#   KEEP=1       keep the base dir after success (it is always kept on failure)
#   CL_TMP       where to create the base dir (default /tmp)
#   CL_BUFFER_POOL, CL_GCACHE   sizes (defaults 128M, 64M)
#   CL_LOG_BIN=0 nodes without binary logs (default: log_bin=mysqld-bin)
#   CL_TRX_FLUSH innodb_flush_log_at_trx_commit (default 2, as Galera nodes
#                often run; MariaDB's own default is 1)
#   CL_MYSQLD_EXTRA  more lines for every node's [mysqld] (page size,
#                encryption, …)
#   CL_START_TIMEOUT  seconds to wait for a start or a join (default 600)
#   CL_STOP_TIMEOUT   seconds to wait for a clean shutdown (default 180)
#   CL_POLL      seconds between two polls of a wait (default 1; the
#                benchmark polls faster to time joins)
#
# A node listens on 127.0.0.1 unless cl_place_node gave it another address
# (and a network namespace to run in) before cl_init.

: "${SST_METHOD:=rsrsync}"
: "${CL_LOG_BIN:=1}"
: "${CL_TRX_FLUSH:=2}"
: "${CL_START_TIMEOUT:=600}"
: "${CL_STOP_TIMEOUT:=180}"
CL_PROVIDER=/usr/lib/galera/libgalera_smm.so
CL_BASE=
CL_NODES=0
CL_PORT_BASE=0
declare -a CL_PID=()
# Per node: the chroot it runs in ("" = the host).
declare -a CL_ROOT=()
# Per node: its address ("" = 127.0.0.1) and network namespace ("" = the host's).
declare -a CL_ADDR=() CL_NETNS=()
# Per node: "<source>:<target>", a bind mount in its own mount namespace.
declare -a CL_BIND=()

# The datadir of node $1.
cl_datadir() { printf '%s\n' "$CL_BASE/node$1/data"; }
# The error log of node $1 (outside the datadir, so wiping keeps it).
cl_errlog() { printf '%s\n' "$CL_BASE/node$1/error.log"; }
# The socket of node $1.
cl_socket() { printf '%s\n' "$CL_BASE/node$1/mysqld.sock"; }
# Port number $2 (0 SQL, 1 galera, 2 IST, 3 SST) of node $1.
cl_port() { printf '%s\n' $((CL_PORT_BASE + 10 * $1 + $2)); }
# The address node $1 listens on, bare (127.0.0.1, ::1).
cl_addr() { printf '%s\n' "${CL_ADDR[$1]:-127.0.0.1}"; }
# The host part of node $1's "host:port" forms: its address, an IPv6 one in
# brackets ([::1]), as Galera and mariadbd want it.
cl_host() {
    local a
    a=$(cl_addr "$1")
    [[ $a == *:* ]] && a="[$a]"
    printf '%s\n' "$a"
}

# Make node $1 listen on address $2 (IPv4, or IPv6 without brackets: ::1)
# and run in the network namespace $3 (which must exist; "" = the host's).
# Call it before cl_init, which writes the addresses into my.cnf. Host
# nodes only.
cl_place_node() {
    [[ -z $CL_BASE ]] || die "cl_place_node must come before cl_init"
    CL_ADDR[$1]=$2
    CL_NETNS[$1]=${3:-}
}

# Make node $1 see directory $2 at the path $3 (an existing directory of
# the host) from its next start on: its mariadbd (and so its SST scripts, and
# every _cl_node_as_mysql command) then runs in a private mount namespace
# with that bind mount, so two nodes of one host each have their own
# directory behind one absolute path, as two hosts would. Host nodes only;
# "" as $2 removes it.
cl_bind_node() {
    [[ -z ${CL_ROOT[$1]:-} ]] || die "cl_bind_node: node $1 runs in a chroot"
    CL_BIND[$1]=${2:+$2:$3}
}

# Set CL_AS_MYSQL to the command prefix that runs a program as the mysql
# user, as a service would: plain PATH (SST_BIN_DIR first), HOME = base dir.
_cl_set_as_mysql() {
    local path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    # Absolute: mariadbd runs in the base dir, where a relative dir is wrong.
    # Before an SST mariadbd puts "<basedir>/bin" first on PATH unless PATH
    # already contains that string (wsrep_prepend_PATH: a strstr), and with
    # basedir /usr/ the string is "/usr//bin": "/usr/bin" does not match,
    # so /usr/bin/wsrep_sst_* would win over SST_BIN_DIR. Spell it so.
    [[ -n ${SST_BIN_DIR:-} ]] && path="$(realpath "$SST_BIN_DIR"):${path/:\/usr\/bin:/:/usr//bin:}"
    CL_AS_MYSQL=(setpriv --reuid=mysql --regid=mysql --init-groups --
        env PATH="$path" HOME="$CL_BASE" USER=mysql LOGNAME=mysql)
}

# Set CL_CMD to the command prefix that runs a program of node $1 as mysql:
# CL_AS_MYSQL on the host; for a chroot node, the same inside its chroot
# (through a private mount namespace: /proc, /dev and the base dir's parent
# mounted; see the header). exec all the way down: the PID is the program's.
_cl_node_cmd() {
    local root=${CL_ROOT[$1]:-} ns=${CL_NETNS[$1]:-}
    if [[ -z $root ]]; then
        CL_CMD=("${CL_AS_MYSQL[@]}")
        local bind=${CL_BIND[$1]:-}
        # shellcheck disable=SC2016 # expanded by that inner sh
        [[ -z $bind ]] || CL_CMD=(unshare --mount --propagation private -- sh -c '
            mount --bind "$1" "$2" || exit 125
            shift 2 && exec "$@"' sh "${bind%%:*}" "${bind#*:}" "${CL_CMD[@]}")
        [[ -z $ns ]] || CL_CMD=(ip netns exec "$ns" "${CL_CMD[@]}")
        return 0
    fi
    [[ -z $ns ]] || die "node $1: a chroot node cannot run in a network namespace"
    # shellcheck disable=SC2016 # expanded by that inner sh
    CL_CMD=(unshare --mount --propagation private -- sh -c '
        root=$1 base=$2; shift 2
        shared=${base%/*}
        mkdir -p "$root$shared" &&
            mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" &&
            mount --bind "$shared" "$root$shared" || exit 125
        cd "$root$base" && exec chroot "$root" "$@"' sh "$root" "$CL_BASE"
        setpriv --reuid=mysql --regid=mysql --init-groups --
        env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        HOME="$CL_BASE" USER=mysql LOGNAME=mysql)
}

# Run the command $2… as the mysql user of node $1 (host or its chroot).
_cl_node_as_mysql() {
    _cl_node_cmd "$1"
    shift
    "${CL_CMD[@]}" "$@"
}

# Make node $1 run the servers of the chroot $2 ("" or absent: the host's)
# from its next start on; its datadir and ports stay. The node must be stopped.
cl_set_root() {
    local i=$1 root=${2:-}
    cl_running "$i" && die "cannot move node $i to ${root:-the host}: it is running"
    CL_ROOT[i]=$root
    [[ -n $CL_BASE ]] && _cl_check_node "$i"
    return 0
}

# Fail unless node $1's root has the Galera provider and the SST script of
# SST_METHOD on mariadbd's PATH (as mysql).
_cl_check_node() {
    local i=$1 root=${CL_ROOT[$1]:-}
    [[ -r $root$CL_PROVIDER ]] || die "$root$CL_PROVIDER missing: install galera-4${root:+ in $root}"
    # shellcheck disable=SC2016 # $1 is expanded by that inner sh
    _cl_node_as_mysql "$i" sh -c 'command -v "wsrep_sst_$1"' sh "$SST_METHOD" >/dev/null ||
        die "wsrep_sst_$SST_METHOD is not on node $i's mariadbd PATH as the mysql user${root:+ in the chroot $root (copy the binary to $root/usr/bin)} (install the .deb, or set SST_BIN_DIR to a dir mysql can read)"
}

# Print the version of node $1's mariadbd (e.g. 10.11.19-MariaDB-0+deb12u1).
cl_server_version() {
    local v
    v=$(_cl_node_as_mysql "$1" mariadbd --version 2>/dev/null) || return 1
    v=${v#*Ver }
    printf '%s\n' "${v%% *}"
}

# Print the first port base (step 100 from 16000) with 10*(N+1) free ports.
_cl_pick_ports() {
    local n=$1 base p used free
    used=$(ss -Htan 2>/dev/null | awk '{ sub(/.*:/, "", $4); print $4 }' | sort -u)
    for ((base = 16000; base < 30000; base += 100)); do
        free=1
        for ((p = base; p < base + 10 * (n + 1); p++)); do
            if grep -qx "$p" <<<"$used"; then free=0 && break; fi
        done
        [[ $free -eq 1 ]] && printf '%s\n' "$base" && return 0
    done
    die "no free port range found between 16000 and 30000"
}

# Create the base dir, my.cnf and per-node dirs for a cluster of $1 nodes.
cl_init() {
    CL_NODES=$1
    id mysql >/dev/null 2>&1 || die "no mysql user: install mariadb-server"
    CL_BASE=$(mktemp -d "${CL_TMP:-/tmp}/rsrsync-cluster.XXXXXX")
    CL_PORT_BASE=$(_cl_pick_ports "$CL_NODES")
    mkdir -p "$CL_BASE/logs"
    local i
    for ((i = 1; i <= CL_NODES; i++)); do mkdir -p "$(cl_datadir "$i")"; done
    _cl_write_cnf >"$CL_BASE/my.cnf"
    chown -R mysql:mysql "$CL_BASE"
    chmod 755 "$CL_BASE"
    _cl_set_as_mysql
    for ((i = 1; i <= CL_NODES; i++)); do _cl_check_node "$i"; done
    say "  cluster base dir: $CL_BASE (ports $CL_PORT_BASE+, SST method $SST_METHOD)"
}

# What the nodes' my.cnf sets that changes the figures, for summaries.
cl_node_settings() {
    printf 'log_bin %s, innodb_flush_log_at_trx_commit=%s\n' \
        "$([[ $CL_LOG_BIN == 0 ]] && echo off || echo on)" "$CL_TRX_FLUSH"
}

# The binary log options of my.cnf, unless CL_LOG_BIN=0.
_cl_binlog_options() {
    [[ $CL_LOG_BIN == 0 ]] || printf '%s\n' log_bin=mysqld-bin log_slave_updates=ON
}

# Print the my.cnf of the cluster: shared [mysqld], then one group per node.
_cl_write_cnf() {
    local i addrs=()
    for ((i = 1; i <= CL_NODES; i++)); do addrs+=("$(cl_host "$i"):$(cl_port "$i" 1)"); done
    local IFS=,
    cat <<EOF
# Written by bin/lib/cluster.sh for the test cluster in $CL_BASE.
[mysqld]
skip-name-resolve
character-set-server=utf8mb4
$(_cl_binlog_options)
binlog_format=ROW
innodb_undo_tablespaces=2
innodb_buffer_pool_size=${CL_BUFFER_POOL:-128M}
innodb_log_file_size=64M
innodb_flush_log_at_trx_commit=$CL_TRX_FLUSH
innodb_autoinc_lock_mode=2
default_storage_engine=InnoDB
max_allowed_packet=64M
wsrep_on=ON
wsrep_provider=$CL_PROVIDER
wsrep_cluster_name=rsrsync-test
wsrep_cluster_address=gcomm://${addrs[*]}
wsrep_sst_method=$SST_METHOD
wsrep_slave_threads=2
${CL_MYSQLD_EXTRA:-}
EOF
    unset IFS
    for ((i = 1; i <= CL_NODES; i++)); do
        local g i_port s a h weight=1
        a=$(cl_addr "$i")
        h=$(cl_host "$i")
        g=$(cl_port "$i" 1)
        i_port=$(cl_port "$i" 2)
        s=$(cl_port "$i" 3)
        # Node 1 weighs 2 so it keeps quorum when node 2 is killed.
        [[ $i -eq 1 ]] && weight=2
        cat <<EOF

[mysqld.$i]
server_id=$i
bind-address=$a
datadir=$(cl_datadir "$i")
socket=$(cl_socket "$i")
port=$(cl_port "$i" 0)
pid_file=$CL_BASE/node$i/mysqld.pid
log_error=$(cl_errlog "$i")
wsrep_node_name=node$i
wsrep_node_address=$h:$g
wsrep_node_incoming_address=$h:$(cl_port "$i" 0)
wsrep_sst_receive_address=$h:$s
wsrep_provider_options="base_host=$h;base_port=$g;gmcast.listen_addr=tcp://$h:$g;ist.recv_addr=$h:$i_port;gcache.size=${CL_GCACHE:-64M};pc.weight=$weight"
EOF
    done
}

# The options every mariadbd-side command of node $1 starts with.
_cl_defaults() { printf '%s\n' "--defaults-file=$CL_BASE/my.cnf" "--defaults-group-suffix=.$1"; }

# Create node $1's system tables with mariadb-install-db, as mysql.
cl_install() {
    local i=$1 log="$CL_BASE/logs/install-node$1.log" defaults
    mapfile -t defaults < <(_cl_defaults "$i")
    # --force: do not insist that the host name resolves (a container or
    # chroot may lack /etc/hosts); root logs in through the socket anyway.
    (cd "$CL_BASE" && _cl_node_as_mysql "$i" timeout 300 mariadb-install-db "${defaults[@]}" \
        --force --skip-test-db --auth-root-authentication-method=socket --auth-root-socket-user=root \
        --wsrep-on=OFF) >"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "mariadb-install-db failed for node $i; log: $log"; }
}

# True while PID $1 runs (a zombie counts as ended).
_cl_alive() {
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# True while node $1's mariadbd runs.
cl_running() { [[ -n ${CL_PID[$1]:-} ]] && _cl_alive "${CL_PID[$1]}"; }

# Print on stderr what explains a failure of node $1: the last [ERROR] and
# WSREP_SST lines of its error log, its last lines, and its early stderr.
cl_log_tail() {
    local f
    f=$(cl_errlog "$1")
    {
        printf -- '--- node %s: last [ERROR] and WSREP_SST lines of %s ---\n' "$1" "$f"
        grep -E '\[ERROR\]|WSREP_SST:' "$f" 2>/dev/null | tail -n 15
        printf -- '--- node %s: last 20 lines of %s ---\n' "$1" "$f"
        tail -n 20 "$f" 2>/dev/null || printf '(no error log)\n'
        if [[ -s $CL_BASE/node$1/mariadbd.out ]]; then
            printf -- '--- node %s: %s ---\n' "$1" "$CL_BASE/node$1/mariadbd.out"
            tail -n 10 "$CL_BASE/node$1/mariadbd.out"
        fi
        printf -- '---\n'
    } >&2
}

# Start node $1's mariadbd in the background as mysql; extra args follow
# (e.g. --wsrep-new-cluster). Does not wait.
cl_start() {
    local i=$1 defaults
    shift
    cl_running "$i" && die "node $i is already running (pid ${CL_PID[$i]})"
    mapfile -t defaults < <(_cl_defaults "$i")
    _cl_node_cmd "$i"
    # exec all the way down, so $! is mariadbd itself.
    (cd "$CL_BASE" && exec "${CL_CMD[@]}" mariadbd "${defaults[@]}" "$@") \
        >>"$CL_BASE/node$i/mariadbd.out" 2>&1 </dev/null &
    CL_PID[i]=$!
    # bash still reaps it; disowning only silences "Aborted" job notices
    # (the error log says why a node died).
    disown "${CL_PID[$i]}"
}

# Remove everything in node $1's datadir (the node must be stopped).
cl_wipe() {
    cl_running "$1" && die "cannot wipe node $1: it is running"
    local d
    d=$(cl_datadir "$1")
    find "$d" -mindepth 1 -delete
}

# Bootstrap node $1 as a new cluster and wait until it is Synced.
cl_bootstrap() {
    cl_start "$1" --wsrep-new-cluster
    cl_wait_synced "$1"
}

# Wait (up to $3 seconds, default CL_START_TIMEOUT) until the command in $2
# (a shell function name, given node $1) succeeds; fail if node $1 dies.
_cl_wait_until() {
    local i=$1 check=$2 limit=${3:-$CL_START_TIMEOUT} what=$4 t0=$SECONDS
    while ! "$check" "$i"; do
        if ! cl_running "$i"; then
            cl_log_tail "$i"
            die "node $i's mariadbd exited while waiting for $what"
        fi
        if ((SECONDS - t0 >= limit)); then
            cl_log_tail "$i"
            die "timed out after ${limit}s waiting for node $i: $what"
        fi
        sleep "${CL_POLL:-1}"
    done
}

# Print the value of global status variable $2 on node $1 (quick timeout).
cl_status() {
    CL_SQL_TIMEOUT=10 cl_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}

# True when node $1 reports wsrep_local_state_comment=Synced.
_cl_is_synced() { [[ $(cl_status "$1" wsrep_local_state_comment) == Synced ]]; }

# Wait until node $1 is Synced (bounded by $2 or CL_START_TIMEOUT).
cl_wait_synced() { _cl_wait_until "$1" _cl_is_synced "${2:-}" "wsrep_local_state_comment=Synced"; }

# Wait until node $1 sees a cluster of $2 nodes (bounded by $3 seconds).
cl_wait_size() {
    _CL_WANT_SIZE=$2
    _cl_wait_until "$1" _cl_has_size "${3:-}" "wsrep_cluster_size=$2"
}
# True when node $1's wsrep_cluster_size is $_CL_WANT_SIZE.
_cl_has_size() { [[ $(cl_status "$1" wsrep_cluster_size) == "$_CL_WANT_SIZE" ]]; }

# Wait until node $1 has committed every write set node $2 had committed.
cl_wait_caught_up() {
    _CL_WANT_SEQNO=$(cl_status "$2" wsrep_last_committed)
    [[ $_CL_WANT_SEQNO =~ ^[0-9]+$ ]] || die "cannot read wsrep_last_committed on node $2"
    _cl_wait_until "$1" _cl_has_seqno 120 "wsrep_last_committed >= $_CL_WANT_SEQNO"
}
# True when node $1's wsrep_last_committed is at least $_CL_WANT_SEQNO.
_cl_has_seqno() {
    local s
    s=$(cl_status "$1" wsrep_last_committed)
    [[ $s =~ ^[0-9]+$ ]] && ((s >= _CL_WANT_SEQNO))
}

# Send signal $2 to node $1's mariadbd and wait up to $3 seconds for it to
# end; reap it. Returns 1 if it is still running then.
_cl_signal_wait() {
    local i=$1 pid=${CL_PID[$1]:-} t0=$SECONDS
    cl_running "$i" || return 0
    kill "-$2" "$pid" 2>/dev/null || true
    while _cl_alive "$pid"; do
        ((SECONDS - t0 >= $3)) && return 1
        sleep 0.5
    done
    CL_PID[i]=
}

# Shut node $1 down cleanly (SIGTERM), bounded by CL_STOP_TIMEOUT.
cl_stop() {
    _cl_signal_wait "$1" TERM "$CL_STOP_TIMEOUT" && return 0
    cl_log_tail "$1"
    _cl_signal_wait "$1" KILL 30 || true
    die "node $1 did not shut down within ${CL_STOP_TIMEOUT}s (killed it)"
}

# Kill node $1's mariadbd with SIGKILL and reap it.
cl_kill() { _cl_signal_wait "$1" KILL 30 || die "node $1 survived SIGKILL for 30s"; }

# Run SQL on node $1 as root through its socket: the SQL is $2, or stdin when
# absent. Tab-separated rows, no header. Bounded by CL_SQL_TIMEOUT (600 s).
cl_sql() {
    local i=$1
    shift
    local args=(--no-defaults --protocol=socket "--socket=$(cl_socket "$i")" -uroot
        --batch --skip-column-names --default-character-set=utf8mb4 --connect-timeout=5)
    if [[ $# -gt 0 ]]; then
        timeout "${CL_SQL_TIMEOUT:-600}" mariadb "${args[@]}" -e "$1"
    else
        timeout "${CL_SQL_TIMEOUT:-600}" mariadb "${args[@]}"
    fi
}

# The mysql schema tables whose contents must match across nodes.
CL_MYSQL_TABLES="mysql.global_priv, mysql.db, mysql.tables_priv, mysql.proc"

# Print "<table or object>\t<checksum>" for every table of every non-system
# schema, the mysql tables above, and every view and trigger, sorted.
cl_checksums() {
    local i=$1 list
    list=$(cl_sql "$i" "SET SESSION group_concat_max_len = 16777216;
        SELECT GROUP_CONCAT(CONCAT('\`', REPLACE(TABLE_SCHEMA, '\`', '\`\`'), '\`.\`',
                                   REPLACE(TABLE_NAME, '\`', '\`\`'), '\`') SEPARATOR ', ')
        FROM information_schema.TABLES
        WHERE TABLE_TYPE = 'BASE TABLE'
          AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')")
    [[ $list == NULL ]] && list=
    {
        cl_sql "$i" "CHECKSUM TABLE ${list:+$list, }$CL_MYSQL_TABLES EXTENDED"
        cl_sql "$i" "SELECT CONCAT('view ', TABLE_SCHEMA, '.', TABLE_NAME), MD5(VIEW_DEFINITION)
                     FROM information_schema.VIEWS
                     WHERE TABLE_SCHEMA NOT IN ('sys')"
        cl_sql "$i" "SELECT CONCAT('trigger ', TRIGGER_SCHEMA, '.', TRIGGER_NAME),
                            MD5(CONCAT_WS('|', EVENT_OBJECT_TABLE, ACTION_TIMING,
                                          EVENT_MANIPULATION, ACTION_STATEMENT))
                     FROM information_schema.TRIGGERS"
    } | LC_ALL=C sort
}

# Compare the checksums of nodes $1 and $2 (after $1 caught up with $2),
# both nodes at once; tables matching the ERE $3 (e.g. ^sbtest\. while a
# load writes them) are left out. Prints "N tables" when equal; else prints
# the differing tables on stderr and returns 1. The lists are kept in
# logs/checksums-node<i>.txt.
cl_compare_checksums() {
    local a=$1 b=$2 skip=${3:-} fa fb pid rc=0
    fa="$CL_BASE/logs/checksums-node$a.txt"
    fb="$CL_BASE/logs/checksums-node$b.txt"
    cl_wait_caught_up "$a" "$b"
    cl_checksums "$a" >"$fa" &
    pid=$!
    cl_checksums "$b" >"$fb" || rc=$?
    wait "$pid" || rc=$?
    [[ $rc -eq 0 ]] || die "CHECKSUM TABLE failed on node $a or $b (exit $rc)"
    if [[ -n $skip ]]; then
        grep -Ev -- "$skip" "$fa" >"$fa.kept" || true
        grep -Ev -- "$skip" "$fb" >"$fb.kept" || true
        fa=$fa.kept fb=$fb.kept
    fi
    [[ -s $fb ]] || die "no checksums from node $b"
    if cmp -s "$fa" "$fb"; then
        printf '%s tables\n' "$(wc -l <"$fb")"
        return 0
    fi
    {
        printf 'checksums differ between node %s and node %s:\n' "$a" "$b"
        LC_ALL=C join -t $'\t' -a1 -a2 -e '(missing)' -o 0,1.2,2.2 "$fa" "$fb" |
            awk -F'\t' -v a="$a" -v b="$b" '$2 != $3 { printf "  %s: node%s=%s node%s=%s\n", $1, a, $2, b, $3 }'
    } >&2
    return 1
}

# Print the size in bytes of node $1's error log (a mark for cl_sst_lines).
cl_log_mark() { stat -c %s "$(cl_errlog "$1")" 2>/dev/null || echo 0; }

# Print node $1's "WSREP_SST:" log lines written after byte $2 (default 0).
cl_sst_lines() {
    tail -c +$((${2:-0} + 1)) "$(cl_errlog "$1")" 2>/dev/null | grep 'WSREP_SST:' || true
}

# Print node $1's error log lines after byte $2 matching the ERE $3.
cl_log_grep() {
    tail -c +$((${2:-0} + 1)) "$(cl_errlog "$1")" 2>/dev/null | grep -E -- "$3" || true
}

# Fail unless node $1's log, after byte $2, has a line matching the ERE $3
# (printing its WSREP_SST lines when not).
cl_expect_log() {
    [[ -n $(cl_log_grep "$1" "$2" "$3") ]] && return 0
    cl_sst_lines "$1" "$2" >&2
    die "node $1's error log lacks /$3/ (its WSREP_SST lines are above)"
}

# Fail if node $1's log, after byte $2, has a line matching the ERE $3.
cl_refuse_log() {
    local hit
    hit=$(cl_log_grep "$1" "$2" "$3")
    [[ -z $hit ]] || die "node $1's error log has /$3/, which it must not: $hit"
}

# Print the epoch seconds of the timestamp "(YYYYMMDD HH:MM:SS.mmm)" that
# ends the first of node $1's WSREP_SST lines after byte $2 containing $3.
_cl_sst_stamp() {
    local line
    line=$(cl_sst_lines "$1" "$2" | grep -F -- "$3" | head -n 1)
    [[ $line =~ \(([0-9]{8})\ ([0-9:.]+)\)$ ]] || return 1
    date -d "${BASH_REMATCH[1]} ${BASH_REMATCH[2]}" +%s.%3N
}

# Print the seconds (two decimals) between node $1's "<method> <SST|IST>
# started on <role>" and "… completed on <role>" lines after byte $2, where
# $3 is the role and $4 SST or IST (default SST). A joiner learns that it
# gets an IST only from the donor, so its IST starts with "SST started".
# Returns 1 if either is missing.
cl_sst_seconds() {
    local kind="$SST_METHOD ${4:-SST}" t0 t1
    t0=$(_cl_sst_stamp "$1" "$2" "$kind started on $3") ||
        t0=$(_cl_sst_stamp "$1" "$2" "$SST_METHOD SST started on $3") || return 1
    t1=$(_cl_sst_stamp "$1" "$2" "$kind completed on $3") || return 1
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

# Print the seconds (two decimals) from the first of node $1's WSREP_SST
# lines after byte $2 containing $3 to the first containing $4 (for the
# phases of a script: e.g. "Tables flushed" to "Sending continue to
# donor"). Returns 1 if either is missing.
cl_sst_between() {
    local t0 t1
    t0=$(_cl_sst_stamp "$1" "$2" "$3") || return 1
    t1=$(_cl_sst_stamp "$1" "$2" "$4") || return 1
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

# Make mtr-like TLS files in $1 (owned by mysql): a CA (cacert.pem) and a
# server certificate for localhost, 127.0.0.1 and ::1 signed by it
# (server-cert.pem, server-key.pem), X.509 v3, used by both roles.
cl_make_certs() {
    local d=$1
    mkdir -p "$d"
    (
        cd "$d"
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=rsrsync test CA" \
            -keyout cakey.pem -out cacert.pem
        openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
            -keyout server-key.pem -out server.csr
        printf 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n' >server.ext
        openssl x509 -req -days 30 -in server.csr -CA cacert.pem -CAkey cakey.pem \
            -CAcreateserial -extfile server.ext -out server-cert.pem
    ) >"$d/openssl.log" 2>&1 || { cat "$d/openssl.log" >&2; die "openssl failed to make the TLS files"; }
    chown -R mysql:mysql "$d"
    chmod 600 "$d"/*key.pem
}

# Replace the [sst] options of my.cnf by the lines $1… ("key=value"; none:
# no [sst] group). The SST scripts read my.cnf at every SST, so this takes
# effect with the next one, without a restart.
cl_set_sst_options() {
    local f="$CL_BASE/my.cnf" mark="# [sst] options of cl_set_sst_options"
    {
        awk -v m="$mark" '$0 == m { exit } { print }' "$f"
        if [[ $# -gt 0 ]]; then
            printf '%s\n[sst]\n' "$mark"
            printf '%s\n' "$@"
        fi
    } >"$f.new"
    chown mysql:mysql "$f.new"
    mv "$f.new" "$f"
}

# Print the PID of node $1's wsrep_sst_rsrsync in role $2, if running
# (our process itself, not the sh -c wrapper whose command line is quoted).
cl_sst_pid() {
    pgrep -f -n "^wsrep_sst_rsrsync --role $2 .*$CL_BASE/node$1/"
}

# Wait up to $2 seconds for node $1's $3-role wsrep_sst_rsrsync to appear;
# print its PID.
cl_wait_sst_pid() {
    local t0=$SECONDS pid
    until pid=$(cl_sst_pid "$1" "$3"); do
        ((SECONDS - t0 < $2)) || die "no $3 wsrep_sst_rsrsync on node $1 after $2 s"
        sleep 0.05
    done
    printf '%s\n' "$pid"
}

# Print the bytes an rsrsync donor (node $1) announced in its first round
# after log byte $2, waiting (up to 120 s) for the line.
cl_announced_bytes() {
    local t0=$SECONDS line
    while :; do
        line=$(cl_log_grep "$1" "$2" 'sending [0-9]+ files \([0-9]+ bytes\)' | head -n 1)
        [[ $line =~ \(([0-9]+)\ bytes\) ]] && break
        ((SECONDS - t0 < 120)) || die "node $1's donor never announced its file list"
        sleep 0.05
    done
    printf '%s\n' "${BASH_REMATCH[1]}"
}

# Block until node $1's datadir holds $2 bytes of allocated data (what has
# been written, sparse preallocation excluded), at most 120 s.
cl_wait_written() {
    local t0=$SECONDS
    while (($(du -s --block-size=1 "$(cl_datadir "$1")" | cut -f1) < $2)); do
        ((SECONDS - t0 < 120)) || die "node $1 never reached $2 bytes"
        sleep 0.02
    done
}

# Start node $1 (args from $4 on) to join node $2 by rsrsync SST and return
# once $3 % of the bytes its donor announced are written on node $1; sets
# CL_SST_JOINER and CL_SST_DONOR (the two wsrep_sst_rsrsync PIDs) and
# CL_SST_TOTAL (the announced bytes), for a fault to strike mid-transfer.
# shellcheck disable=SC2034 # the CL_SST_* values are for the caller
cl_start_sst_until() {
    local j=$1 d=$2 pct=$3 mark
    shift 3
    mark=$(cl_log_mark "$d")
    cl_start "$j" "$@"
    CL_SST_JOINER=$(cl_wait_sst_pid "$j" 60 joiner)
    CL_SST_DONOR=$(cl_wait_sst_pid "$d" 60 donor)
    CL_SST_TOTAL=$(cl_announced_bytes "$d" "$mark")
    cl_wait_written "$j" $((CL_SST_TOTAL * pct / 100))
}

# Wait until PID $1 has ended (a zombie counts), at most $2 seconds; print
# the seconds it took.
cl_wait_gone() {
    local t0 limit=$2
    t0=$(now)
    while _cl_alive "$1"; do
        awk -v a="$(elapsed_since "$t0")" -v l="$limit" 'BEGIN { exit !(a < l) }' ||
            die "PID $1 still runs after ${limit}s"
        sleep 0.05
    done
    elapsed_since "$t0"
}

# Wait (up to 60 s) until node $1's mariadbd has exited on its own, as it
# does after a failed SST; forget its PID. $2: node $1's log mark from
# before the SST. Galera races when its group reports the donor's failure
# while the joiner script's exit is being handled: two threads close the
# group connection ("Will never receive state" and "ReplicatorSMM::abort()"
# both logged) and, rarely, one of them waits forever. That hang, and only
# it, is reported (threads' stacks saved when gdb is there) and the node
# SIGKILLed; CL_ABORT_HUNG=1 then tells the caller.
# shellcheck disable=SC2034 # CL_ABORT_HUNG is for the caller
cl_wait_down() {
    local i=$1 mark=${2:-0} t0=$SECONDS stacks
    CL_ABORT_HUNG=0
    while cl_running "$i"; do
        if ((SECONDS - t0 >= 60)); then
            [[ -n $(cl_log_grep "$i" "$mark" 'Will never receive state') &&
                -n $(cl_log_grep "$i" "$mark" 'ReplicatorSMM::abort\(\)') ]] ||
                die "node $i's mariadbd did not exit (expected it to abort)"
            stacks="$CL_BASE/logs/node$i-abort-hang.txt"
            if command -v gdb >/dev/null; then
                timeout 60 gdb -batch -p "${CL_PID[$i]}" -ex 'thread apply all bt' >"$stacks" 2>&1 || true
            fi
            warn "node $i's mariadbd hangs in Galera's double abort (a server race, see" \
                "\"Will never receive state\" and \"ReplicatorSMM::abort()\" in its log;" \
                "stacks in $stacks if gdb was there); killing it"
            cl_kill "$i"
            CL_ABORT_HUNG=1
            return 0
        fi
        sleep 0.5
    done
    CL_PID[i]=
}

# Stop every node (SIGKILL if a clean stop fails), end leftover processes
# that still name the base dir, then keep the base dir (printing it) when $1
# is non-zero or KEEP=1, else remove it. Meant for an EXIT trap.
cl_cleanup() {
    local rc=$1 i
    [[ -n $CL_BASE && -d $CL_BASE ]] || return 0
    for ((i = 1; i <= CL_NODES; i++)); do
        _cl_signal_wait "$i" TERM "$CL_STOP_TIMEOUT" || _cl_signal_wait "$i" KILL 30 ||
            warn "node $i (pid ${CL_PID[$i]}) survived SIGKILL"
    done
    _cl_end_leftovers
    if [[ $rc -ne 0 || ${KEEP:-0} == 1 ]]; then
        say "cluster files kept in $CL_BASE"
    else
        rm -rf "$CL_BASE"
    fi
}

# Warn about and end processes (e.g. an SST helper that outlived its
# mariadbd) whose command line contains this cluster's unique base dir.
_cl_end_leftovers() {
    local p cmd pids=()
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        [[ $p == "$$" || $p == "$BASHPID" ]] && continue
        # The glob above ran before any helper of this loop, so none is in it.
        cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        [[ $cmd == *"$CL_BASE/"* ]] && pids+=("$p")
    done
    [[ ${#pids[@]} -eq 0 ]] && return 0
    for p in "${pids[@]}"; do
        warn "leftover process after the cluster stopped: $p $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
        kill -TERM "$p" 2>/dev/null || true
    done
    sleep 2
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
}
