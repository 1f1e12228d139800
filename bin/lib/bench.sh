# shellcheck shell=bash
# Measurement helpers of bin/bench: byte counters on a port, the peak RSS
# and CPU time of a node's SST processes, a plain tar copy as the limit,
# TLS certificates, a shaped link between two network namespaces, a write
# load with sysbench, the blocks a re-join has to move, JSON records and an
# SVG chart. Source bin/lib/common.sh and bin/lib/cluster.sh first.
# Functions only; nothing runs on source.

# Clock ticks per second (/proc/<pid>/stat counts CPU time in ticks).
BN_TICKS=$(getconf CLK_TCK)
# The nftables table of this run's byte counters (one per bench process).
BN_NFT_TABLE="rsrsync_bench_$$"
# The network namespaces the counters were installed in ("" = the host's).
declare -a BN_COUNT_NS=()

# Print seconds elapsed since $1 (a value of now), two decimals.
bn_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Run nft in network namespace $1 ("" = the host's) with the arguments $2….
_bn_nft() {
    local ns=$1
    shift
    if [[ -n $ns ]]; then ip netns exec "$ns" nft "$@"; else nft "$@"; fi
}

# Count from now on the TCP bytes (IP packets, headers included) sent to
# port $1 and from it, in each network namespace $2… (none: the host's).
# Every packet passes one output hook once, loopback included.
bn_count_start() {
    local port=$1 ns
    shift
    bn_count_stop
    BN_COUNT_NS=("$@")
    [[ $# -gt 0 ]] || BN_COUNT_NS=("")
    for ns in "${BN_COUNT_NS[@]}"; do
        _bn_nft "$ns" -f - <<EOF
table inet $BN_NFT_TABLE {
    counter to_port {}
    counter from_port {}
    chain out {
        type filter hook output priority 0; policy accept;
        tcp dport $port counter name to_port
        tcp sport $port counter name from_port
    }
}
EOF
    done
}

# Print "<bytes to the port> <bytes from it>" counted since bn_count_start,
# summed over its namespaces.
bn_count_read() {
    local ns to=0 from=0 t f
    for ns in "${BN_COUNT_NS[@]}"; do
        t=$(_bn_nft "$ns" -j list counter inet "$BN_NFT_TABLE" to_port | jq '.nftables[1].counter.bytes')
        f=$(_bn_nft "$ns" -j list counter inet "$BN_NFT_TABLE" from_port | jq '.nftables[1].counter.bytes')
        to=$((to + t)) from=$((from + f))
    done
    printf '%s %s\n' "$to" "$from"
}

# Remove the counters (for the EXIT trap too; never fails).
bn_count_stop() {
    local ns
    for ns in "${BN_COUNT_NS[@]}"; do
        _bn_nft "$ns" delete table inet "$BN_NFT_TABLE" 2>/dev/null || true
    done
    BN_COUNT_NS=()
}

# Print the CPU ticks of the children PID $1 has waited for (cutime +
# cstime): for a mariadbd, every SST script it ran and whatever that
# script waited for, exactly, with nothing sampled.
bn_child_ticks() {
    local st f
    read -r st <"/proc/$1/stat" || return 1
    st=${st##*) }
    read -r -a f <<<"$st"
    # f[0] is field 3 (state): cutime and cstime are fields 16 and 17.
    printf '%s\n' $((f[13] + f[14]))
}

# Print ticks $1 as seconds, two decimals.
bn_ticks_secs() { awk -v t="$1" -v h="$BN_TICKS" 'BEGIN { printf "%.2f", t / h }'; }

# Print the PIDs of every descendant of PID $1 (children by
# /proc/<pid>/task/<tid>/children, recursively), one per line.
_bn_descendants() {
    local queue=("$1") p t kids
    while [[ ${#queue[@]} -gt 0 ]]; do
        p=${queue[0]}
        queue=("${queue[@]:1}")
        for t in /proc/"$p"/task/*/children; do
            [[ -r $t ]] || continue
            read -r -a kids 2>/dev/null <"$t" || true
            [[ ${#kids[@]} -gt 0 ]] || continue
            printf '%s\n' "${kids[@]}"
            queue+=("${kids[@]}")
        done
    done
}

# The sampler (run in the background by bn_sample_start): every 0.1 s,
# for each root PID $3… (0: none), the processes below it; until the file
# $2 exists, then writes one line per root to $1:
#   <root index> <largest VmHWM of one process, KiB> <largest sum of VmRSS
#   at one sample, KiB> <wsrep_sst_rsrsync processes seen> <of them, how
#   many ran the executable BN_EXPECT_EXE> <CPU seconds of the processes
#   as last sampled> <process names seen, comma-separated>
# VmHWM is the kernel's own peak of a process, so one sample shortly
# before it ends gives its exact peak. The sampled CPU time misses up to
# 0.1 s per process and processes shorter than that: a cross-check of
# bn_child_ticks, which is exact.
_bn_sampler() {
    local out=$1 stop=$2 k p key val name hwm rss sum st f
    shift 2
    local roots=("$@")
    local -A peak=() peaksum=() names=() ours=() seen=() expected=() ticks=() owner=()
    while [[ ! -e $stop ]]; do
        for k in "${!roots[@]}"; do
            [[ ${roots[$k]} != 0 ]] || continue
            sum=0
            while read -r p; do
                name='' hwm=0 rss=0
                while read -r key val _; do
                    case $key in
                        Name:) name=$val ;;
                        VmHWM:) hwm=$val ;;
                        VmRSS:) rss=$val ;;
                    esac
                done 2>/dev/null <"/proc/$p/status" || continue
                [[ -n $name ]] || continue
                if read -r st 2>/dev/null <"/proc/$p/stat"; then
                    read -r -a f <<<"${st##*) }"
                    ticks[$p]=$((f[11] + f[12]))
                    owner[$p]=$k
                fi
                sum=$((sum + rss))
                ((hwm > ${peak[$k]:-0})) && peak[$k]=$hwm
                [[ ,${names[$k]:-}, == *",$name,"* ]] || names[$k]+="${names[$k]:+,}$name"
                if [[ $name == wsrep_sst_rsrs* && -z ${seen[$p]:-} ]]; then
                    seen[$p]=1
                    ours[$k]=$((${ours[$k]:-0} + 1))
                    [[ /proc/$p/exe -ef ${BN_EXPECT_EXE:-/nonexistent} ]] &&
                        expected[$k]=$((${expected[$k]:-0} + 1))
                fi
            done < <(_bn_descendants "${roots[$k]}")
            ((sum > ${peaksum[$k]:-0})) && peaksum[$k]=$sum
        done
        sleep 0.1
    done
    local -A cpu=()
    for p in "${!ticks[@]}"; do
        k=${owner[$p]}
        cpu[$k]=$((${cpu[$k]:-0} + ticks[$p]))
    done
    for k in "${!roots[@]}"; do
        printf '%s %s %s %s %s %s %s\n' "$k" "${peak[$k]:-0}" "${peaksum[$k]:-0}" \
            "${ours[$k]:-0}" "${expected[$k]:-0}" "$(bn_ticks_secs "${cpu[$k]:-0}")" "${names[$k]:--}"
    done >"$out"
}

# Start sampling the processes below the PIDs $2… (see _bn_sampler); its
# files are $1.out and $1.stop.
bn_sample_start() {
    local base=$1
    shift
    rm -f "$base.out" "$base.stop"
    _bn_sampler "$base.out" "$base.stop" "$@" &
    BN_SAMPLER_PID=$!
}

# Stop the sampler started with base $1 (bounded: 10 s) and leave its
# results in $1.out.
bn_sample_stop() {
    local base=$1 t0=$SECONDS
    touch "$base.stop"
    while _cl_alive "$BN_SAMPLER_PID"; do
        ((SECONDS - t0 < 10)) || { kill "$BN_SAMPLER_PID" 2>/dev/null || true; break; }
        sleep 0.05
    done
    wait "$BN_SAMPLER_PID" 2>/dev/null || true
    [[ -s $base.out ]] || die "the process sampler wrote nothing ($base.out)"
}

# Wait (up to $2 seconds) until PID $1 has no child left: a donor's
# mariadbd has then reaped its SST script and counted its CPU time.
bn_wait_childless() {
    local t0=$SECONDS t kids
    while :; do
        kids=
        for t in /proc/"$1"/task/*/children; do
            [[ -r $t ]] && read -r kids 2>/dev/null <"$t" && [[ -n $kids ]] && break
            kids=
        done
        [[ -z $kids ]] && return 0
        ((SECONDS - t0 < $2)) || { warn "PID $1 still has children after $2 s: $kids"; return 0; }
        sleep 0.1
    done
}

# Copy node $1's datadir into the empty directory $2 as the limit of any
# SST: tar -cf - | socat | tar -xf - over a TCP socket on $3:$4 (with TLS
# when $5 names a directory of cl_make_certs: socat's OpenSSL, both sides
# verifying the CA), then syncfs of $2. Leaves galera.cache out (no SST
# sends it); a file that changed while tar read it (the running server's
# redo log) is no error. Prints "<copy s> <copy + sync s> <CPU s> <peak RSS KiB>" (CPU
# and RSS of the tars and socats, from GNU time).
bn_tar_copy() {
    local src dst=$2 addr=$3 port=$4 certs=${5:-} listen connect t0 t_copy t_sync
    src=$(cl_datadir "$1")
    listen="TCP-LISTEN:$port,bind=$addr,reuseaddr"
    connect="TCP:$addr:$port"
    if [[ -n $certs ]]; then
        listen="OPENSSL-LISTEN:$port,bind=$addr,reuseaddr,cert=$certs/server-cert.pem,key=$certs/server-key.pem,cafile=$certs/cacert.pem,verify=1"
        connect="OPENSSL:$addr:$port,cert=$certs/server-cert.pem,key=$certs/server-key.pem,cafile=$certs/cacert.pem,verify=1,commonname=localhost"
    fi
    local rx="$dst.rx.time" tx="$dst.tx.time" rxpid t_start=$SECONDS
    # shellcheck disable=SC2016 # expanded by that inner bash
    /usr/bin/time -f '%U %S %M' -o "$rx" bash -o pipefail -c \
        'socat -u "$1" STDOUT | tar -xf - -C "$2"' _ "$listen" "$dst" &
    rxpid=$!
    until ss -Hltn "sport = :$port" | grep -q .; do
        ((SECONDS - t_start < 30)) || die "the tar receiver did not listen on $addr:$port"
        _cl_alive "$rxpid" || die "the tar receiver exited before listening"
        sleep 0.05
    done
    t0=$(now)
    # shellcheck disable=SC2016 # expanded by that inner bash
    /usr/bin/time -f '%U %S %M' -o "$tx" bash -o pipefail -c \
        '{ tar -cf - --warning=no-file-changed --exclude=./galera.cache -C "$1" . || [ $? -eq 1 ]; } |
            socat -u STDIN "$2"' _ "$src" "$connect" ||
        die "the tar sender failed"
    wait "$rxpid" || die "the tar receiver failed"
    t_copy=$(bn_since "$t0")
    sync -f "$dst"
    t_sync=$(bn_since "$t0")
    awk -v c="$t_copy" -v s="$t_sync" '
        { cpu += $1 + $2; if ($3 > rss) rss = $3 }
        END { printf "%s %s %.2f %d\n", c, s, cpu, rss }' "$rx" "$tx"
    rm -f "$rx" "$tx"
}

# The two network namespaces of the shaped link (this run's own: benches
# may run side by side) and their addresses.
BN_NS=("rsbench-d-$$" "rsbench-j-$$")
BN_NS_ADDR=(10.213.0.1 10.213.0.2)
# The WAN link's delay line (bn_wan_up): its PID and log; and the host's
# list of congestion controls a namespace may choose, to restore.
BN_DELAY_PID=
BN_DELAY_LOG=
BN_CC_ALLOWED=

# Make two network namespaces joined by a veth pair, unshaped and down:
# the donor's end in BN_NS[0] at BN_NS_ADDR[0], the joiner's in BN_NS[1].
# Replaces leftovers.
_bn_ns_pair() {
    local k
    bn_link_down
    for k in 0 1; do
        ip netns add "${BN_NS[$k]}"
        ip -n "${BN_NS[$k]}" link set lo up
    done
    ip link add rsbench-v0 netns "${BN_NS[0]}" type veth peer name rsbench-v1 netns "${BN_NS[1]}"
    for k in 0 1; do
        ip -n "${BN_NS[$k]}" addr add "${BN_NS_ADDR[$k]}/24" dev "rsbench-v$k"
    done
}

# Make the namespace pair with both ends of the veth sending at most $1 (tc
# rate, e.g. 100mbit) through a token bucket.
bn_link_up() {
    local rate=$1 k
    _bn_ns_pair
    for k in 0 1; do
        ip -n "${BN_NS[$k]}" link set "rsbench-v$k" up
        # Big segments are split by tbf to fit its bucket; 50 ms of queue.
        tc -n "${BN_NS[$k]}" qdisc add dev "rsbench-v$k" root tbf rate "$rate" burst 128kb latency 50ms
    done
}

# Make the namespace pair a WAN link: the donor sends at most $1 (tc rate,
# e.g. 1gbit) with a queue of one round trip, the round trip is $2 ms, $3
# packets in a million are lost each way, and both namespaces use the
# congestion control $4 (cubic: what a Debian host runs). $5: a directory
# for the delay line's binary and log.
#
# This kernel has no netem, so the delay is a userspace delay line
# (bin/lib/wan-delay.c) on the way back only: the joiner reaches the donor
# through a pair of TUN devices, a whole round trip late, while the
# donor's data goes through the veth and tbf in the kernel. TCP sees the
# same round trip either way, and userspace copies the ACKs, not the data.
# The loss on the data's way is an nftables rule on the joiner's ingress,
# which sees single segments only if the donor's veth makes no larger
# ones (gso_max_segs 1, with loss only: a lost 64 KiB GSO packet would be
# a burst of 45 lost segments).
bn_wan_up() {
    local rate=$1 rtt=$2 ppm=$3 cc=$4 dir=$5 k t0=$SECONDS
    _bn_ns_pair
    [[ $ppm == 0 ]] || ip -n "${BN_NS[0]}" link set rsbench-v0 gso_max_segs 1
    # A queue of one bandwidth-delay product, so a full window fits.
    tc -n "${BN_NS[0]}" qdisc add dev rsbench-v0 root tbf rate "$rate" burst 128kb latency "${rtt}ms"
    _bn_allow_cc "$cc"
    for k in 0 1; do
        ip -n "${BN_NS[$k]}" link set "rsbench-v$k" up
        ip netns exec "${BN_NS[$k]}" sysctl -q -w "net.ipv4.tcp_congestion_control=$cc"
    done
    gcc -O2 -Wall -o "$dir/wan-delay" "$RS_ROOT/bin/lib/wan-delay.c"
    BN_DELAY_LOG="$dir/wan-delay.log"
    "$dir/wan-delay" "${BN_NS[1]}" rsbench-t1 "${BN_NS[0]}" rsbench-t0 "$rtt" "$ppm" 2>"$BN_DELAY_LOG" &
    BN_DELAY_PID=$!
    until ip -n "${BN_NS[0]}" link show rsbench-t0 >/dev/null 2>&1 &&
        ip -n "${BN_NS[1]}" link show rsbench-t1 >/dev/null 2>&1; do
        ((SECONDS - t0 < 10)) || die "the WAN delay line made no TUN devices (log: $BN_DELAY_LOG)"
        _cl_alive "$BN_DELAY_PID" || die "the WAN delay line exited: $(cat "$BN_DELAY_LOG")"
        sleep 0.05
    done
    ip -n "${BN_NS[0]}" link set rsbench-t0 up
    ip -n "${BN_NS[1]}" link set rsbench-t1 up
    ip -n "${BN_NS[1]}" route add "${BN_NS_ADDR[0]}/32" dev rsbench-t1 src "${BN_NS_ADDR[1]}"
    [[ $ppm == 0 ]] || ip netns exec "${BN_NS[1]}" nft -f - <<EOF
table netdev rsbench_loss {
    chain in {
        type filter hook ingress device rsbench-v1 priority 0; policy accept;
        numgen random mod 1000000 < $ppm counter drop
    }
}
EOF
}

# Let a namespace choose the congestion control $1: outside the host's
# namespace only those in net.ipv4.tcp_allowed_congestion_control may be
# the default. Adds it there if missing; bn_link_down restores the list.
_bn_allow_cc() {
    local allowed
    allowed=$(sysctl -n net.ipv4.tcp_allowed_congestion_control)
    [[ " $allowed " == *" $1 "* ]] && return 0
    BN_CC_ALLOWED=$allowed
    sysctl -q -w "net.ipv4.tcp_allowed_congestion_control=$allowed $1"
}

# Print "<segments sent> <of them retransmitted>" by TCP in the network
# namespace $1 since it was made.
bn_tcp_segs() {
    # shellcheck disable=SC2016 # awk's fields, not the shell's
    ip netns exec "$1" awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) c[$i] = i; h = 1; next }
        $1 == "Tcp:" { print $c["OutSegs"], $c["RetransSegs"] }' /proc/net/snmp
}

# Print "<busy jiffies> <all jiffies>" of the host's CPUs (/proc/stat; idle
# and iowait are not busy).
bn_cpu_jiffies() {
    awk '$1 == "cpu" { for (i = 2; i <= NF; i++) all += $i; print all - $5 - $6, all; exit }' /proc/stat
}

# Remove the namespaces of bn_link_up or bn_wan_up (and so the veth pair
# and the TUN devices), stop the delay line, restore the host's allowed
# congestion controls; never fails.
bn_link_down() {
    local ns
    if [[ -n $BN_DELAY_PID ]]; then
        kill -TERM "$BN_DELAY_PID" 2>/dev/null || true
        wait "$BN_DELAY_PID" 2>/dev/null || true
        BN_DELAY_PID=
    fi
    for ns in "${BN_NS[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [[ -n $BN_CC_ALLOWED ]]; then
        sysctl -q -w "net.ipv4.tcp_allowed_congestion_control=$BN_CC_ALLOWED" || true
        BN_CC_ALLOWED=
    fi
}

# Measure the shaped link: send $1 MiB of zeros from BN_NS[0] to BN_NS[1];
# print MiB/s.
bn_link_rate() {
    local mb=$1 port=5999 t0 rx secs
    ip netns exec "${BN_NS[1]}" socat -u "TCP-LISTEN:$port,bind=${BN_NS_ADDR[1]},reuseaddr" OPEN:/dev/null &
    rx=$!
    sleep 0.5
    t0=$(now)
    head -c $((mb << 20)) /dev/zero |
        ip netns exec "${BN_NS[0]}" timeout 600 socat -u STDIN "TCP:${BN_NS_ADDR[1]}:$port"
    wait "$rx"
    secs=$(bn_since "$t0")
    awk -v m="$mb" -v s="$secs" 'BEGIN { printf "%.2f", m / s }'
}

# Set BN_SB to the sysbench command line of oltp_write_only against node
# $1 as root through its socket, BN_SB_TABLES tables of BN_SB_ROWS rows.
_bn_sysbench_cmd() {
    BN_SB=(sysbench oltp_write_only --db-driver=mysql --mysql-socket="$(cl_socket "$1")"
        --mysql-user=root --mysql-db=sbtest --tables="${BN_SB_TABLES:-4}"
        --table-size="${BN_SB_ROWS:-100000}")
}

# Create sysbench's tables (BN_SB_TABLES of BN_SB_ROWS rows) on node $1.
bn_load_prepare() {
    cl_sql "$1" "CREATE DATABASE IF NOT EXISTS sbtest"
    _bn_sysbench_cmd "$1"
    "${BN_SB[@]}" --threads=2 prepare >"$CL_BASE/logs/sysbench-prepare.log" 2>&1 ||
        { tail -n 5 "$CL_BASE/logs/sysbench-prepare.log" >&2; die "sysbench prepare failed"; }
}

# Start the write load on node $1 in the background: oltp_write_only
# transactions at a fixed rate of $2 per second on 2 threads, at most $3
# seconds, output to $4. Its latencies count the time a transaction waited
# in sysbench's queue, so a stalled server shows as a long latency (no
# coordinated omission). Sets BN_LOAD_PID.
bn_load_start() {
    _bn_sysbench_cmd "$1"
    # A simple command in the background: $! is sysbench itself.
    "${BN_SB[@]}" --threads=2 --rate="$2" --time="$3" --report-interval=1 \
        --percentile=100 --mysql-ignore-errors=1213,1205,1180 run >"$4" 2>&1 &
    BN_LOAD_PID=$!
}

# Stop the load on node $1 (SIGTERM: a background job ignores SIGINT),
# wait until its connections are gone from the server (bounded: 30 s
# each), and print "<longest latency ms> <transactions per second>
# <errors>" from its output $2: the longest latency is the largest
# per-second maximum (--percentile=100).
bn_load_stop() {
    local i=$1 out=$2 t0=$SECONDS
    kill -TERM "$BN_LOAD_PID" 2>/dev/null || true
    while _cl_alive "$BN_LOAD_PID"; do
        ((SECONDS - t0 < 30)) || { kill -KILL "$BN_LOAD_PID" 2>/dev/null || true; break; }
        sleep 0.1
    done
    wait "$BN_LOAD_PID" 2>/dev/null || true
    BN_LOAD_PID=
    t0=$SECONDS
    until [[ $(cl_sql "$i" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = 'sbtest'") == 0 ]]; do
        ((SECONDS - t0 < 30)) || die "the load's connections to node $i are still there 30 s after it stopped"
        sleep 0.2
    done
    grep -q 'lat (ms,100%)' "$out" || { tail -n 20 "$out" >&2; die "the write load reported nothing ($out)"; }
    awk '
        /lat \(ms,100%\)/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "tps:") { tps += $(i + 1); n++ }
                if ($i == "(ms,100%):" && $(i + 1) > max) max = $(i + 1)
                if ($i == "err/s:") err += $(i + 1)
            }
        }
        END { printf "%.1f %.1f %.0f\n", max, (n ? tps / n : 0), err }' "$out"
}

# Compare, block by block, the files an SST would bring to the stopped
# joiner node $1 from the donor node $2 (database directories, ibdata*,
# undo*, ib_logfile0, aria logs) with what the joiner already holds. Not
# binlogs: the SST sends the one mariadbd starts when it rotates under the
# lock (sst-max-binlogs=1), which does not exist yet; today's newest goes
# only with sst-max-binlogs above 1. Prints one line per class: "<class>
# <bytes> <bytes in differing 1 MiB blocks> <bytes in differing 16 KiB
# pages>": what a
# block delta at best has to move, at rsrsync's block size and at the
# InnoDB page size.
bn_block_delta() {
    local joiner donor
    joiner=$(cl_datadir "$1")
    donor=$(cl_datadir "$2")
    perl -e '
        use strict; use warnings; use File::Find;
        my ($j, $d) = @ARGV;
        my (%total, %mib, %page);
        my $class = sub {
            my $r = shift;
            return "tables" if $r =~ m{/};
            return "redo" if $r eq "ib_logfile0";
            return "undo" if $r =~ /^undo\d+$/;
            return "ibdata" if $r =~ /^ibdata\d+$/;
            return "aria" if $r =~ /^aria_log/;
            return undef;
        };
        find({ no_chdir => 1, wanted => sub {
            return unless -f $_;
            my $r = substr($_, length($d) + 1);
            my $c = $class->($r) // return;
            open(my $df, "<:raw", $_) or return;
            my $jf;
            open($jf, "<:raw", "$j/$r") or undef $jf;
            while (1) {
                my $n = read($df, my $a, 1 << 20);
                last unless $n;
                my $b = "";
                read($jf, $b, 1 << 20) if $jf;
                $total{$c} += $n;
                next if $a eq $b;
                $mib{$c} += $n;
                for (my $o = 0; $o < $n; $o += 16384) {
                    my $pa = substr($a, $o, 16384);
                    my $pb = $o < length($b) ? substr($b, $o, 16384) : "";
                    $page{$c} += length($pa) if $pa ne $pb;
                }
            }
        } }, $d);
        printf "%s %d %d %d\n", $_, $total{$_}, $mib{$_} // 0, $page{$_} // 0
            for sort keys %total;
    ' "$joiner" "$donor"
}

# Append one run to the JSON-lines file $1: the pairs $2… are key=value;
# a value that is a JSON number, true, false or null stays one, others
# become strings.
bn_record() {
    local file=$1 kv args=() filter='{}' k v n=0
    shift
    for kv in "$@"; do
        k=${kv%%=*} v=${kv#*=}
        if [[ $v =~ ^-?[0-9]+(\.[0-9]+)?$ || $v == true || $v == false || $v == null ]]; then
            args+=(--argjson "v$n" "$v")
        else
            args+=(--arg "v$n" "$v")
        fi
        filter+=" | .[\"$k\"] = \$v$n"
        n=$((n + 1))
    done
    jq -cn "${args[@]}" "$filter" >>"$file"
}

# Write an SVG bar chart to $2 from the TSV on stdin: rows "<group>
# <series> <median> <min> <max>"; one bar per row (median, with a min-max
# whisker), grouped, one colour per series. $1 is the title, $3 the unit.
bn_svg_bars() {
    local title=$1 file=$2 unit=$3
    awk -F'\t' -v title="$title" -v unit="$unit" '
        function esc(s) { gsub(/&/, "\\&amp;", s); gsub(/</, "\\&lt;", s); gsub(/>/, "\\&gt;", s); return s }
        {
            n++; g[n] = $1; s[n] = $2; med[n] = $3; lo[n] = $4; hi[n] = $5
            if ($5 + 0 > max) max = $5 + 0
            if (!($2 in col)) { ns++; col[$2] = ns; sname[ns] = $2 }
        }
        END {
            split("#4e79a7 #f28e2b #59a14f #e15759 #76b7b2 #edc948", pal, " ")
            if (max <= 0) max = 1
            # Round the axis up to 1, 2 or 5 times a power of ten.
            p = 1; while (p * 10 <= max) p *= 10
            top = (max <= p) ? p : (max <= 2 * p) ? 2 * p : (max <= 5 * p) ? 5 * p : 10 * p
            left = 230; width = 560; bar = 16; gap = 10
            y = 60; rows = ""
            for (i = 1; i <= n; i++) {
                if (i > 1 && g[i] != g[i - 1]) y += gap
                if (i == 1 || g[i] != g[i - 1])
                    rows = rows sprintf("<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-weight=\"bold\">%s</text>\n", left - 8, y + bar - 3, esc(g[i]))
                w = med[i] / top * width; x0 = left + lo[i] / top * width; x1 = left + hi[i] / top * width
                rows = rows sprintf("<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"><title>%s %s: %s %s (min %s, max %s)</title></rect>\n", left, y, w, bar, pal[(col[s[i]] - 1) % 6 + 1], esc(g[i]), esc(s[i]), med[i], unit, lo[i], hi[i])
                rows = rows sprintf("<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" y2=\"%d\" stroke=\"#222\"/>\n", x0, x1, y + bar / 2, y + bar / 2)
                rows = rows sprintf("<text x=\"%.1f\" y=\"%d\" font-size=\"11\">%s</text>\n", (x1 > left + w ? x1 : left + w) + 4, y + bar - 4, med[i])
                y += bar + 2
            }
            h = y + 60
            printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", left + width + 60, h
            printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            printf "<text x=\"10\" y=\"22\" font-size=\"15\" font-weight=\"bold\">%s</text>\n", esc(title)
            for (k = 0; k <= 5; k++) {
                x = left + k * width / 5
                printf "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"45\" y2=\"%d\" stroke=\"#ddd\"/>\n", x, x, y
                printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"11\">%g</text>\n", x, y + 14, top * k / 5
            }
            printf "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s (bar: median; line: min to max)</text>\n", left + width / 2, y + 32, esc(unit)
            printf "%s", rows
            for (k = 1; k <= ns; k++) {
                printf "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"%s\"/>", left + (k - 1) * 170, 32, pal[(k - 1) % 6 + 1]
                printf "<text x=\"%d\" y=\"%d\">%s</text>\n", left + (k - 1) * 170 + 16, 42, esc(sname[k])
            }
            printf "</svg>\n"
        }' >"$file"
}

# Align the tab-separated lines of stdin in columns, block by block (a
# block: consecutive lines with a tab); other lines pass as they are.
bn_align() {
    awk -F'\t' '
        function flush(   i, k, line) {
            for (i = 1; i <= n; i++) {
                line = ""
                for (k = 1; k <= nf[i]; k++)
                    line = line sprintf(k < nf[i] ? "%-" w[k] "s  " : "%s", cell[i, k])
                print line
            }
            n = 0; delete w
        }
        /\t/ {
            n++; nf[n] = NF
            for (k = 1; k <= NF; k++) { cell[n, k] = $k; if (length($k) > w[k]) w[k] = length($k) }
            next
        }
        { flush(); print }
        END { flush() }'
}
