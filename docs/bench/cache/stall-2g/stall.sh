#!/usr/bin/env bash
# Experiment (not committed): where the longest write stall falls during an
# out-of-cache SST. XFS loop image, 2-node cluster, EXP_MB datadir, donor's
# mariadbd in a 1 GiB memcg, sysbench at 100 tx/s plus a probe writer
# logging server timestamps of each autocommit write, and a sampler of the
# loop device, vda and memcg every 0.1 s. Runs each binary of EXP_BINS
# (label=path) EXP_RUNS times, alternating.
set -Eeuo pipefail
ROOT=/work/wt-16
. "$ROOT/bin/lib/common.sh"
. "$ROOT/bin/lib/cluster.sh"
. "$ROOT/bin/lib/data.sh"
. "$ROOT/bin/lib/bench.sh"
. "$ROOT/bin/lib/scratch.sh"
: "${EXP_MB:=2048}" "${EXP_RUNS:=1}" "${EXP_OUT:=/work/wt-16/target/exp/out}" "${EXP_METHOD:=rsrsync}"
: "${EXP_FS:=xfs}"
mkdir -p "$EXP_OUT"
SST_METHOD=rsrsync
SST_BIN_DIR=$EXP_OUT/bin
mkdir -p "$SST_BIN_DIR"
export SST_BIN_DIR
CL_POLL=0.2
BN_SB_TABLES=4 BN_SB_ROWS=100000
cleanup() {
    local rc=$?
    [[ -n ${base:-} ]] && touch "$base.stop"
    [[ -n ${SAMP_PID:-} ]] && kill "$SAMP_PID" 2>/dev/null || true
    [[ -n ${BN_LOAD_PID:-} ]] && kill "$BN_LOAD_PID" 2>/dev/null || true
    cl_cleanup 0 || true
    sc_down_all || true
    exit $rc
}
trap cleanup EXIT

sampler() {
    local out=$1 loop=${SC_LOOP##*/} cg=$SC_CG
    while :; do
        printf '%s loop %s vda %s cg %s %s %s\n' "$(date +%s.%3N)" \
            "$(cat /sys/block/$loop/stat 2>/dev/null || echo -)" "$(cat /sys/block/vda/stat)" \
            "$(awk '$1=="cache"||$1=="dirty"||$1=="writeback"||$1=="pgmajfault"||$1=="rss"{printf "%s=%s ", $1, $2}' "$cg/memory.stat")" \
            "$(awk '{print $1 $2}' /proc/pressure/io /proc/pressure/memory | tr '\n' ' ')" "$(head -n 1 /proc/stat)"
        sleep 0.1
    done >"$out"
}

probe() {
    local out=$1 stop=$2
    while [[ ! -e $stop ]]; do
        echo "INSERT INTO sbtest.probe (t) VALUES (SYSDATE(6)); SELECT UNIX_TIMESTAMP(SYSDATE(6));"
        sleep 0.01
    done | cl_sql 1 >"$out" 2>&1
}

if [[ $EXP_FS == xfs ]]; then
    sc_xfs_up "$((EXP_MB * 7 / 2 + 4096))M"
    CL_TMP=$SC_MNT
else
    CL_TMP=/var/tmp
fi
first=${EXP_BINS%% *}
install -m 0755 "${first#*=}" "$SST_BIN_DIR/wsrep_sst_rsrsync"
cl_init 2
cl_install 1
cl_bootstrap 1
t0=$(now)
DATA=$(data_load_sized 1 "$EXP_MB")
say "datadir $((DATA >> 20)) MiB loaded in $(bn_since "$t0") s"
bn_load_prepare 1
cl_sql 1 "CREATE TABLE sbtest.probe (id BIGINT AUTO_INCREMENT PRIMARY KEY, t DATETIME(6)) ENGINE=InnoDB"
sc_cgroup_up "rsrsync-exp-$$" 1G
sc_cgroup_add "${CL_PID[1]}"
for ((r = 1; r <= EXP_RUNS; r++)); do
    for spec in $EXP_BINS; do
        label=${spec%%=*} bin=${spec#*=}
        method=rsrsync
        [[ $label == rsync ]] && method=rsync
        SST_METHOD=$method
        [[ $method == rsrsync ]] && install -m 0755 "$bin" "$SST_BIN_DIR/wsrep_sst_rsrsync"
        if cl_running 2; then cl_stop 2; fi
        cl_wipe 2
        base="$EXP_OUT/$label-$r"
        rm -f "$base.stop"
        now >"$base.sbstart"
        bn_load_start 1 100 600 "$base.sysbench"
        probe "$base.probe" "$base.stop" &
        PROBE_PID=$!
        sleep 3
        sc_drop_caches
        m1=$(cl_log_mark 1)
        sampler "$base.samples" &
        SAMP_PID=$!
        ts=$(now)
        cl_start 2 "--wsrep-sst-method=$method"
        cl_wait_synced 2 300
        te=$(now)
        sleep 1
        kill "$SAMP_PID"; wait "$SAMP_PID" 2>/dev/null || true; SAMP_PID=
        touch "$base.stop"; wait "$PROBE_PID" 2>/dev/null || true; PROBE_PID=
        bn_load_stop 1 "$base.sysbench" >"$base.result"
        cl_sst_lines 1 "$m1" >"$base.donor"
        tail -c +$((m1 + 1)) "$(cl_errlog 1)" >"$base.donorlog"
        echo "$ts $te" >"$base.times"
        say "$label run $r: join $(awk -v a="$ts" -v b="$te" 'BEGIN{print b-a}') s; sysbench: $(cat "$base.result")"
        python3 /work/wt-16/target/exp/analyze.py "$base" | tee "$base.analysis" || true
    done
done
