#!/usr/bin/env bash
# rsrsync over IPv6 on a real 2-node MariaDB Galera cluster on [::1]: every
# address (wsrep_node_address, wsrep_sst_receive_address, gmcast, IST) is an
# IPv6 literal in brackets, as galera_3nodes.GAL-501 sets them:
#   1. bootstrap node 1, load DATA_MB (default 50) MiB
#   2. node 2 joins from an empty datadir by rsrsync SST without TLS; every
#      table equal; `check --listen` on node 2 answers `check --peer
#      [::1]:<port>` from node 1, both pass
#   3. the same with TLS (ssl-mode=VERIFY_CA, a CA and a certificate made
#      with openssl, valid for ::1): SST, tables, the probe over TLS
#   4. node 2 restarts after a clean stop: IST (bypass) over TLS
# rsrsync only (the probe is rsrsync's). Needs root (the servers and the
# probes run as mysql). Bounded by TEST_TIME_LIMIT seconds (default 600).
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

run_with_time_limit "${TEST_TIME_LIMIT:-600}" "$0" "$@"
require_root
[[ $SST_METHOD == rsrsync ]] || die "this test probes with rsrsync's check; run it with SST_METHOD=rsrsync"
: "${DATA_MB:=50}"
# Seconds a probe may take (each side).
PROBE_TIMEOUT=30

on_exit() {
    local rc=$?
    trap - ERR
    phase_fail_open
    cl_cleanup "$rc"
    phase_summary "tests/cluster/rsrsync_ipv6.sh, DATA_MB=$DATA_MB" || rc=1
    exit "$rc"
}
trap on_exit EXIT
install_traps err

ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/' ||
    die "loopback has no ::1 (IPv6 disabled?): this test needs it"

# Node 2 joins node 1 from an empty datadir by SST; the joiner must have
# listened on and published [::1], and the donor connected from ::1.
sst_from_empty() {
    local m1 m2
    cl_stop 2
    cl_wipe 2
    m1=$(cl_log_mark 1)
    m2=$(cl_log_mark 2)
    cl_start 2
    cl_wait_synced 2 180
    cl_wait_size 1 2 60
    cl_expect_log 2 "$m2" "rsrsync SST completed on joiner"
    cl_expect_log 1 "$m1" "rsrsync SST completed on donor"
    cl_expect_log 2 "$m2" "donor connected from \[::1\]:"
    say "   checksums equal: $(cl_compare_checksums 2 1)"
    M2=$m2
}

# check --listen on node 2 (its SST address, as its joiner would bind it)
# answered by check --peer [::1]:<port> from node 1: both must pass.
probe() {
    local port out="$CL_BASE/logs" pid rc=0 t0=$SECONDS
    port=$(cl_port 2 3)
    _cl_node_as_mysql 2 wsrep_sst_rsrsync check --listen "--defaults-file=$CL_BASE/my.cnf" \
        --defaults-group-suffix=.2 --timeout "$PROBE_TIMEOUT" >"$out/listen.txt" 2>&1 &
    pid=$!
    until [[ -n $(ss -Hltn "sport = :$port") ]]; do
        if ! _cl_alive "$pid" || ((SECONDS - t0 >= PROBE_TIMEOUT)); then
            cat "$out/listen.txt" >&2
            die "check --listen never listened on port $port"
        fi
        sleep 0.1
    done
    ss -Hltn "sport = :$port" | grep -qF "[::1]:$port" ||
        die "check --listen is not on [::1]:$port: $(ss -Hltn "sport = :$port")"
    _cl_node_as_mysql 1 wsrep_sst_rsrsync check --peer "[::1]:$port" "--defaults-file=$CL_BASE/my.cnf" \
        --defaults-group-suffix=.1 --timeout "$PROBE_TIMEOUT" >"$out/peer.txt" 2>&1 || rc=$?
    wait "$pid" || rc=$((rc ? rc : $?))
    if [[ $rc -ne 0 ]]; then
        printf -- '--- check --listen (node 2) ---\n' >&2
        cat "$out/listen.txt" >&2
        printf -- '--- check --peer (node 1) ---\n' >&2
        cat "$out/peer.txt" >&2
        die "the probe between node 1 and node 2 over [::1] failed (exit $rc)"
    fi
    grep -E '^\s*(ok|info|warn)\s+(probe|Probe|peer)' "$out/peer.txt" | head -n 3 | sed 's/^/   /' || true
    say "   check --listen (node 2) and check --peer [::1]:$port (node 1): both passed"
}

phase_begin "bootstrap node 1 on [::1] and load $DATA_MB MiB"
cl_place_node 1 ::1
cl_place_node 2 ::1
cl_init 2
grep -qx 'wsrep_sst_receive_address=\[::1\]:[0-9]*' "$CL_BASE/my.cnf" ||
    die "my.cnf lacks a bracketed IPv6 wsrep_sst_receive_address"
cl_install 1
cl_bootstrap 1
data_load 1
say "   node 1 datadir: $(du -sh "$(cl_datadir 1)" | cut -f1)"
phase_end

phase_begin "node 2 joins over [::1] by rsrsync SST, no TLS; probe"
sst_from_empty
cl_refuse_log 2 "$M2" "Using TLS for SST"
probe
phase_end

phase_begin "node 2 joins over [::1] by rsrsync SST with TLS (VERIFY_CA); probe"
certs="$CL_BASE/certs"
cl_make_certs "$certs"
cl_set_sst_options "ssl-mode=VERIFY_CA" "tca=$certs/cacert.pem" \
    "tcert=$certs/server-cert.pem" "tkey=$certs/server-key.pem"
sst_from_empty
cl_expect_log 2 "$M2" "Using TLS for SST encryption: .*ssl-mode='VERIFY_CA'"
probe
grep -q 'VERIFY_CA' "$CL_BASE/logs/peer.txt" || die "check --peer does not report TLS VERIFY_CA"
phase_end

phase_begin "node 2 restarts over [::1]: IST with TLS"
cl_stop 2
cl_wait_size 1 1 60
data_write_more 1 ist
m1=$(cl_log_mark 1)
m2=$(cl_log_mark 2)
cl_start 2
cl_wait_synced 2 180
cl_expect_log 2 "$m2" "rsrsync IST completed on joiner"
cl_refuse_log 2 "$m2" "rsrsync SST completed on joiner"
cl_expect_log 1 "$m1" "rsrsync IST completed on donor"
say "   checksums equal: $(cl_compare_checksums 2 1)"
cl_stop 2
cl_stop 1
phase_end
