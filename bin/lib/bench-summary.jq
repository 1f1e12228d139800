# The summary of bin/bench: reads the runs (runs.jsonl, slurped), takes
# $meta, writes bench.json: {meta, runs, groups, ratios, targets,
# correctness, rejoin_delta, charts, chart_titles}. Medians with min, max
# and count per group of runs (part, size, label).

def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[length / 2 | floor]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def st(f): [.[] | f | select(. != null)] as $v
    | {med: ($v | median), min: ($v | min), max: ($v | max), n: ($v | length)};
def mib: if . == null then null else . / 1048576 end;
def div($a; $b): if $a == null or $b == null or $b == 0 then null else $a / $b end;
def mbit: if . == null then null else . * 8 / 1000000 end;

# One group's statistics.
def group_stats:
    {part: .[0].part, size_mb: .[0].size_mb, variant: .[0].variant, method: .[0].method,
     n: length, equal: all(.equal == true and (.equal_after_load // true) == true),
     m: {
        join_s: st(.join_s), sst_joiner_s: st(.sst_joiner_s), sst_donor_s: st(.sst_donor_s),
        tar_sync_s: st(.tar_sync_s), lock_s: st(.lock_s), flush_wait_s: st(.flush_wait_s),
        locked_round_s: st(.locked_round_s), locked_round_mib: st(.locked_round_bytes | mib),
        wire_mib: st(.wire_to_joiner | mib), wire_back_mib: st(.wire_from_joiner | mib),
        payload_mib: st(.payload_bytes | mib), kept_mib: st(.kept_bytes | mib),
        saved_mib: st(.saved_bytes | mib), set_mib: st(.set_bytes | mib),
        datadir_mib: st(.datadir_bytes | mib),
        tput: st(div(.wire_to_joiner | mib; .sst_joiner_s)),
        tput_sync: st(div(.wire_to_joiner | mib; .tar_sync_s)),
        eff_tput: st(div(.set_bytes // .datadir_bytes | mib; .sst_joiner_s)),
        rss_donor_mib: st(.rss_donor_kib | if . == null then null else . / 1024 end),
        rss_joiner_mib: st(.rss_joiner_kib | if . == null then null else . / 1024 end),
        rss_max_mib: st(.rss_max_kib | if . == null then null else . / 1024 end),
        cpu_donor_s: st(.cpu_donor_s), cpu_joiner_s: st(.cpu_joiner_s), cpu_total_s: st(.cpu_total_s),
        cpu_sampled_donor_s: st(.cpu_sampled_donor_s), cpu_sampled_joiner_s: st(.cpu_sampled_joiner_s),
        sent_ratio: st(div(.payload_bytes // .wire_to_joiner; .set_bytes // .datadir_bytes)),
        wire_ratio: st(div(.wire_to_joiner; .datadir_bytes)),
        stall_ms: st(.stall_ms), stall_load_ms: st(.stall_load_ms), load_tps: st(.load_tps), load_errors: st(.load_errors),
        link_mibs: st(.link_mibs),
        donor_read_mib: st(.donor_read_bytes | mib),
        read_ratio: st(div(.donor_read_bytes; .datadir_bytes)),
        data_mbit: st(div(.datadir_bytes | mbit; .sst_joiner_s)),
        wire_mbit: st(div(.wire_to_joiner | mbit; .sst_joiner_s)),
        link_share: st(div(div(.datadir_bytes | mbit; .sst_joiner_s); .link_mbit)),
        retrans_pct: st(div(.donor_retrans; .donor_segs) | if . == null then null else . * 100 end),
        cpu_busy_pct: st(.cpu_busy_pct)
     }};

. as $runs
| [$runs[] | select(.part != "rejoin-delta" and .part != "setup")] as $sst
| def rank: {"rsrsync": 0, "rsync": 1, "mariabackup": 2, "tar": 3}[.method] // 4;
  ($sst | group_by([.part, .size_mb, .variant]) | sort_by(.[0] | [.part, .size_mb, rank, .variant])
   | map(group_stats)) as $groups
| def g($part; $vr): first($groups[] | select(.part == $part and .variant == $vr)) // null;
  def gs($part; $size; $vr): first($groups[] | select(.part == $part and .size_mb == $size and .variant == $vr)) // null;
  def med($grp; $k): if $grp == null then null else $grp.m[$k].med end;
  def mx($grp; $k): if $grp == null then null else $grp.m[$k].max end;
  ($runs | map(select(.part == "load")) | map(.size_mb) | unique) as $load_sizes
| ($runs | map(select(.part == "main" or .part == "big")) | map(.size_mb) | unique) as $sizes
| {
    main_sst: div(med(g("main"; "rsrsync"); "sst_joiner_s"); med(g("main"; "rsync"); "sst_joiner_s")),
    main_sst_donor: div(med(g("main"; "rsrsync"); "sst_donor_s"); med(g("main"; "rsync"); "sst_donor_s")),
    main_tput_vs_tar: div(med(g("main"; "rsrsync"); "tput"); med(g("main"; "tar"); "tput")),
    main_tput_vs_tar_sync: div(med(g("main"; "rsrsync"); "tput"); med(g("main"; "tar"); "tput_sync")),
    main_tput_vs_rsync: div(med(g("main"; "rsrsync"); "tput"); med(g("main"; "rsync"); "tput")),
    main_join_vs_mariabackup: div(med(g("main"; "rsrsync"); "join_s"); med(g("main"; "mariabackup"); "join_s")),
    main_join_vs_rsync: div(med(g("main"; "rsrsync"); "join_s"); med(g("main"; "rsync"); "join_s")),
    main_sst_vs_tar: div(med(g("main"; "rsrsync"); "sst_joiner_s"); med(g("main"; "tar"); "sst_joiner_s")),
    main_sst_vs_tar_sync: div(med(g("main"; "rsrsync"); "sst_joiner_s"); med(g("main"; "tar"); "tar_sync_s")),
    tls_tput_vs_stunnel: div(med(g("tls"; "rsrsync TLS"); "tput"); med(g("tls"; "rsync+stunnel"); "tput")),
    tls_sst_vs_stunnel: div(med(g("tls"; "rsrsync TLS"); "sst_joiner_s"); med(g("tls"; "rsync+stunnel"); "sst_joiner_s")),
    tls_tput_vs_tar: div(med(g("tls"; "rsrsync TLS"); "tput"); med(g("tls"; "tar+socat TLS"); "tput")),
    rejoin_sent_ratio: med(g("rejoin"; "rsrsync"); "sent_ratio"),
    rejoin_wire_ratio: med(g("rejoin"; "rsrsync"); "wire_ratio"),
    rejoin_vs_full: div(med(g("rejoin"; "rsrsync"); "sst_joiner_s"); med(g("main"; "rsrsync"); "sst_joiner_s")),
    rejoin_vs_rsync_rejoin: div(med(g("rejoin"; "rsrsync"); "sst_joiner_s"); med(g("rejoin"; "rsync"); "sst_joiner_s")),
    retry_sent_ratio: med(g("retry"; "rsrsync retry"); "sent_ratio"),
    slow: ([$groups[] | select(.part == "slow")] as $s
        | (first($s[] | select(.variant == "rsync")) // null) as $r
        | [$s[] | {variant, vs_rsync: div(med(.; "sst_joiner_s"); med($r; "sst_joiner_s"))}]),
    wan: [$groups[] | select(.part == "wan" or .part == "wan-loss") as $x
        | {part: $x.part, variant: $x.variant,
           vs_rsync: div(med($x; "data_mbit"); med(g($x.part; "rsync"); "data_mbit")),
           vs_stunnel: div(med($x; "data_mbit"); med(g($x.part; "rsync+stunnel"); "data_mbit"))}],
    lock: [$load_sizes[] as $z | {size_mb: $z,
        short_vs_rsync: div(med(gs("load"; $z; "rsrsync"); "lock_s"); med(gs("load"; $z; "rsync"); "lock_s")),
        full_vs_rsync: div(med(gs("load"; $z; "rsrsync lock=full"); "lock_s"); med(gs("load"; $z; "rsync"); "lock_s")),
        stall_short_vs_rsync: div(med(gs("load"; $z; "rsrsync"); "stall_ms"); med(gs("load"; $z; "rsync"); "stall_ms"))}],
    cache: ([$groups | map(select(.part | startswith("cache-"))) | group_by([.part, .size_mb])[]
        | (first(.[] | select(.variant == "rsync")) // null) as $y
        | .[] | select(.variant | startswith("rsrsync")) as $x
        | {part: $x.part, size_mb: $x.size_mb,
           # The default variant unnamed, as before there were others.
           label: (if $x.variant == "rsrsync" then "" else " \($x.variant)" end),
           sst_vs_rsync: div(med($x; "sst_joiner_s"); med($y; "sst_joiner_s")),
           lock_vs_rsync: div(med($x; "lock_s"); med($y; "lock_s")),
           lock_s: med($x; "lock_s"), flush_s: med($x; "flush_wait_s"),
           reads: med($x; "read_ratio"), rsync_reads: med($y; "read_ratio"),
           stall_ms: mx($x; "stall_ms"), rsync_stall_ms: mx($y; "stall_ms")}]
      | group_by([.part, .label]) | map(sort_by(.size_mb)
        | (.[0].lock_s) as $small
        | map(. + {lock_growth: div(.lock_s; $small)}))
      | add // []),
    rss: [$sizes[] as $z | ($groups | map(select((.part == "main" or .part == "big") and .size_mb == $z and .variant == "rsrsync"))) as $x
        | {size_mb: $z, donor_mib: ([$x[].m.rss_donor_mib.max] | max), joiner_mib: ([$x[].m.rss_joiner_mib.max] | max)}]
  } as $ratios
| def target($name; $value; $want; $ok): {name: $name, value: $value, target: $want,
      met: (if $value == null then null else $ok end)};
  [ target("SST wall time (joiner) vs rsync, main"; $ratios.main_sst; "<= 0.5"; ($ratios.main_sst // 9) <= 0.5),
    target("throughput vs tar limit (no sync)"; $ratios.main_tput_vs_tar; ">= 0.9"; ($ratios.main_tput_vs_tar // 0) >= 0.9),
    target("throughput vs tar limit (with sync)"; $ratios.main_tput_vs_tar_sync; ">= 0.9"; ($ratios.main_tput_vs_tar_sync // 0) >= 0.9),
    target("join -> Synced vs mariabackup"; $ratios.main_join_vs_mariabackup; "<= 0.5"; ($ratios.main_join_vs_mariabackup // 9) <= 0.5),
    ($ratios.rss[] | target("peak RSS donor MiB at \(.size_mb) MiB"; .donor_mib; "<= 64"; (.donor_mib // 999) <= 64),
                     target("peak RSS joiner MiB at \(.size_mb) MiB"; .joiner_mib; "<= 64"; (.joiner_mib // 999) <= 64)),
    target("TLS throughput vs rsync+stunnel"; $ratios.tls_tput_vs_stunnel; ">= 1.5"; ($ratios.tls_tput_vs_stunnel // 0) >= 1.5),
    target("re-join bytes sent / transfer set"; $ratios.rejoin_sent_ratio; "<= 0.10"; ($ratios.rejoin_sent_ratio // 9) <= 0.10),
    (["rsrsync", "rsrsync TLS", "rsrsync lock=full", "rsrsync TLS lock=full", "rsrsync x4"][] as $v | g("wan"; $v) | select(. != null)
        | target("WAN, no loss: \($v) share of the link"; .m.link_share.med; ">= 0.8"; (.m.link_share.med // 0) >= 0.8)),
    ($ratios.wan[] | select(.part == "wan-loss" and (.variant | startswith("rsrsync")))
        | if (.variant | test("TLS")) then target("WAN, loss: \(.variant) vs rsync+stunnel (throughput)"; .vs_stunnel; ">= 2"; (.vs_stunnel // 0) >= 2)
          else target("WAN, loss: \(.variant) vs rsync (throughput)"; .vs_rsync; ">= 2"; (.vs_rsync // 0) >= 2) end),
    ($ratios.lock[] | target("lock vs rsync under load at \(.size_mb) MiB (short lock)"; .short_vs_rsync; "<= 0.05"; (.short_vs_rsync // 9) <= 0.05)),
    ($ratios.cache | group_by([.part, .label])[] | last
     | target("\(.part)\(.label) \(.size_mb) MiB: lock vs rsync"; .lock_vs_rsync; "<= 0.05"; (.lock_vs_rsync // 9) <= 0.05),
       target("\(.part)\(.label) \(.size_mb) MiB: lock vs the lock at the smallest size"; .lock_growth; "<= 1.3"; (.lock_growth // 9) <= 1.3),
       target("\(.part)\(.label) \(.size_mb) MiB: SST time vs rsync"; .sst_vs_rsync; "<= 0.8"; (.sst_vs_rsync // 9) <= 0.8),
       target("\(.part)\(.label) \(.size_mb) MiB: donor disk reads / datadir"; .reads; "<= 1.3"; (.reads // 9) <= 1.3),
       target("\(.part)\(.label) \(.size_mb) MiB: longest write stall ms, worst run"; .stall_ms; "<= 1000"; (.stall_ms // 1e9) <= 1000))
  ] as $targets
| {
    meta: $meta,
    runs: $runs,
    groups: $groups,
    ratios: $ratios,
    targets: $targets,
    correctness: {
        joins: ($sst | length),
        joins_equal: ($sst | map(select(.equal == true)) | length),
        under_load: ($sst | map(select(.part == "load")) | length),
        under_load_equal: ($sst | map(select(.part == "load" and .equal == true and .equal_after_load == true)) | length),
        under_load_by_variant: ($sst | map(select(.part == "load")) | group_by([.size_mb, .variant])
            | map({size_mb: .[0].size_mb, variant: .[0].variant, runs: length,
                   equal: (map(select(.equal == true and .equal_after_load == true)) | length)}))
    },
    rejoin_delta: ($runs | map(select(.part == "rejoin-delta")) | group_by(.class)
        | map({class: .[0].class, mib: st(.bytes | mib), diff_1mib_mib: st(.diff_1mib | mib),
               diff_16kib_mib: st(.diff_16kib | mib)})),
    charts: {
        "sst-time": [$groups[] | select(.part == "main") as $x
            | (["SST on the joiner", $x.m.sst_joiner_s], ["join: start -> Synced", $x.m.join_s],
               (if $x.method == "tar" then ["tar copy + sync", $x.m.tar_sync_s] else empty end))
            | select(.[1].n > 0) | [$x.variant, .[0], .[1].med, .[1].min, .[1].max]],
        "tls": [$groups[] | select(.part == "tls") as $x
            | (["SST on the joiner", $x.m.sst_joiner_s], ["join: start -> Synced", $x.m.join_s])
            | select(.[1].n > 0) | [$x.variant, .[0], .[1].med, .[1].min, .[1].max]],
        "slow-link": [$groups[] | select(.part == "slow") as $x
            | (["SST on the joiner", $x.m.sst_joiner_s], ["join: start -> Synced", $x.m.join_s])
            | select(.[1].n > 0) | [$x.variant, .[0], .[1].med, .[1].min, .[1].max]]
    },
    chart_titles: (def dd($p): first($groups[] | select(.part == $p) | .m.datadir_mib.med | round) // "?";
      {
        "sst-time": "Full SST of a \(dd("main")) MiB datadir, 2-node Galera on loopback",
        "tls": "Full SST with TLS (VERIFY_CA), \(dd("tls")) MiB datadir",
        "slow-link": "Full SST over a \($meta.link) link, \(dd("slow")) MiB datadir"
      })
  }
