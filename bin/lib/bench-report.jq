# The text report of bin/bench from bench.json (jq -r). Table rows are
# tab-separated; bin/bench aligns them. A cell is "median [min-max]".

def fmt($d): if . == null then "n/a"
    else (. * pow(10; $d) | round / pow(10; $d)) | tostring end;
def cell($d): if . == null or .n == 0 then "n/a"
    elif .n == 1 or .min == .max then (.med | fmt($d))
    else "\(.med | fmt($d)) [\(.min | fmt($d))-\(.max | fmt($d))]" end;
def ratio: if . == null then "n/a" else fmt(2) end;
def yesno: if . == true then "met" elif . == false then "NOT met" else "n/a" end;
def row: join("\t");

.groups as $g
| def table($part; $title; $cols):
    [$g[] | select(.part == $part)] as $rows
    | if ($rows | length) == 0 then empty else
        "", $title,
        ((["method", "runs"] + ($cols | map(.[0]))) | row),
        ($rows[] as $r | ([$r.variant, "\($r.n)\(if $r.equal then "" else " (TABLES DIFFER)" end)"]
            + ($cols | map(.[1] as $k | .[2] as $d | $r.m[$k] | cell($d)))) | row)
      end;
  def sizes: .meta.sizes | split(" ");
  (sizes) as $sz
| "Benchmark of SST methods, \(.meta.date): \(.meta.cpus) CPUs (\(.meta.cpu)), \(.meta.mem), kernel \(.meta.kernel)",
  "MariaDB \(.meta.mariadb), Galera \(.meta.galera), rsync \(.meta.rsync), stunnel \(.meta.stunnel), \(.meta.rsrsync) (\(.meta.commit))",
  "Nodes: \(.meta.nodes // "not recorded")",
  "Cells: median [min-max] over the runs. Times in s, sizes in MiB, rates in MiB/s (bytes to the joiner's SST port, IP headers included, / SST time on the joiner).",
  table("main"; "Full SST, \($sz[0]) MiB requested (datadir below), loopback, no TLS";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 2], ["SST donor", "sst_donor_s", 2],
     ["tar+sync", "tar_sync_s", 2], ["lock", "lock_s", 2], ["flush wait", "flush_wait_s", 2],
     ["sent MiB", "wire_mib", 0], ["MiB/s", "tput", 1],
     ["RSS donor", "rss_donor_mib", 1], ["RSS joiner", "rss_joiner_mib", 1], ["RSS tar", "rss_max_mib", 1],
     ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1], ["CPU tar", "cpu_total_s", 1],
     ["datadir MiB", "datadir_mib", 0]]),
  table("tls"; "Full SST with TLS (ssl-mode=VERIFY_CA)";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 2], ["SST donor", "sst_donor_s", 2],
     ["tar+sync", "tar_sync_s", 2], ["lock", "lock_s", 2], ["sent MiB", "wire_mib", 0], ["MiB/s", "tput", 1],
     ["RSS donor", "rss_donor_mib", 1], ["RSS joiner", "rss_joiner_mib", 1],
     ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1], ["CPU tar", "cpu_total_s", 1]]),
  table("rejoin"; "Re-join: SST over node 2's old datadir after the rows changed";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 2], ["lock", "lock_s", 2],
     ["payload MiB", "payload_mib", 0], ["kept MiB", "kept_mib", 0], ["sent MiB", "wire_mib", 0],
     ["sent/set", "sent_ratio", 3], ["wire/datadir", "wire_ratio", 3], ["locked-round MiB", "locked_round_mib", 0],
     ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1]]),
  (if (.rejoin_delta | length) > 0 then "", "Re-join: what node 2 lacked before each re-join, by class (blocks that differ; MiB, median [min-max])",
     (["class", "files MiB", "in 1 MiB blocks", "in 16 KiB pages"] | row),
     (.rejoin_delta[] | [.class, (.mib | cell(0)), (.diff_1mib_mib | cell(1)), (.diff_16kib_mib | cell(1))] | row)
   else empty end),
  table("retry"; "Retry: the donor was killed at 50% of a full SST; what the second SST sent";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 2], ["payload MiB", "payload_mib", 0],
     ["kept MiB", "kept_mib", 0], ["sent/set", "sent_ratio", 3], ["sent MiB", "wire_mib", 0]]),
  (([$g[] | select(.part == "load") | .size_mb] | unique[]) as $z
  | [$g[] | select(.part == "load" and .size_mb == $z)] | if length == 0 then empty else
      "", "Lock under a write load, \($z) MiB datadir (\(.[0].m.load_tps.med | fmt(0)) tx/s oltp_write_only on node 1)",
      (["method", "runs", "lock", "flush wait", "longest write stall ms", "over the whole load ms", "locked-round s", "locked-round MiB", "SST joiner", "join->Synced", "tables equal"] | row),
      (.[] | [.variant, "\(.n)", (.m.lock_s | cell(3)), (.m.flush_wait_s | cell(3)), (.m.stall_ms | cell(0)), (.m.stall_load_ms | cell(0)), (.m.locked_round_s | cell(3)),
              (.m.locked_round_mib | cell(1)), (.m.sst_joiner_s | cell(2)), (.m.join_s | cell(1)),
              (if .equal then "all" else "NO" end)] | row)
    end),
  (([$g[] | select(.part | startswith("cache-")) | .part] | unique[]) as $p
  | table($p; "Out of cache, \($p | ltrimstr("cache-")): the donor's mariadbd in a memory cgroup, page cache dropped before each join, writes running (rows by size below)";
    [["size MiB", "datadir_mib", 0], ["SST joiner", "sst_joiner_s", 2], ["lock", "lock_s", 3],
     ["mariadbd's flush", "flush_wait_s", 3], ["donor read MiB", "donor_read_mib", 0],
     ["read/datadir", "read_ratio", 2], ["longest write stall ms", "stall_ms", 0],
     ["over the whole load ms", "stall_load_ms", 0],
     ["join->Synced", "join_s", 1], ["CPU donor", "cpu_donor_s", 1]])),
  (.ratios.cache[]? | ["  \(.part)\(.label) \(.size_mb) MiB: SST \(.sst_vs_rsync | ratio), lock \(.lock_vs_rsync | ratio) (\(.lock_growth | ratio)x the smallest size's), reads \(.reads | ratio) (rsync \(.rsync_reads | ratio)), worst stall \(.stall_ms | ratio) ms (rsync \(.rsync_stall_ms | ratio))"] | row),
  table("slow"; "Slow link (\(.meta.link), two network namespaces), \($sz[2]) MiB requested";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 1], ["sent MiB", "wire_mib", 0],
     ["saved MiB", "saved_mib", 0], ["wire MiB/s", "tput", 2], ["data MiB/s", "eff_tput", 2],
     ["link MiB/s", "link_mibs", 2],
     ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1]]),
  (.meta.wan_sizes // "" | split(" ")) as $wz
| ([["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 1], ["datadir MiB", "datadir_mib", 0],
    ["data Mbit/s", "data_mbit", 0], ["link share", "link_share", 2], ["wire Mbit/s", "wire_mbit", 0],
    ["retrans %", "retrans_pct", 2], ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1],
    ["machine busy %", "cpu_busy_pct", 0]]) as $wcols
| table("wan"; "WAN (\(.meta.wan)), no loss, \($wz[0] // "?") MiB requested; data Mbit/s = datadir bytes / SST time, link share = that / the link's rate"; $wcols),
  table("wan-loss"; "WAN (\(.meta.wan)), 0.1% loss each way (BENCH_WAN_LOSS), \($wz[1] // "?") MiB requested"; $wcols),
  table("big"; "Big datadir, \($sz[1]) MiB requested: rsrsync's memory";
    [["join->Synced", "join_s", 1], ["SST joiner", "sst_joiner_s", 2], ["lock", "lock_s", 2], ["sent MiB", "wire_mib", 0],
     ["MiB/s", "tput", 1], ["RSS donor", "rss_donor_mib", 1], ["RSS joiner", "rss_joiner_mib", 1],
     ["CPU donor", "cpu_donor_s", 1], ["CPU joiner", "cpu_joiner_s", 1], ["datadir MiB", "datadir_mib", 0]]),
  "",
  "Ratios (medians)",
  (.ratios | to_entries[] | select(.value | type == "number") | ["  \(.key)", (.value | ratio)] | row),
  (.ratios.slow[]? | ["  slow \(.variant) vs rsync (SST time)", (.vs_rsync | ratio)] | row),
  (.ratios.wan[]? | select(.variant != "rsync") | ["  \(.part) \(.variant) throughput vs rsync \(.vs_rsync | ratio), vs rsync+stunnel \(.vs_stunnel | ratio)"] | row),
  (.ratios.lock[]? | ["  lock at \(.size_mb) MiB: short/rsync \(.short_vs_rsync | ratio), full/rsync \(.full_vs_rsync | ratio), stall short/rsync \(.stall_short_vs_rsync | ratio)"] | row),
  "",
  "Targets (reported, not asserted)",
  (.targets[] | ["  \(.name)", (.value | ratio), .target, (.met | yesno)] | row),
  "",
  "Correctness: \(.correctness.joins_equal) of \(.correctness.joins) joins with every table equal; under load \(.correctness.under_load_equal) of \(.correctness.under_load) (after the join and after the load stopped)",
  (.correctness.under_load_by_variant[] | "  \(.size_mb) MiB, \(.variant): \(.equal)/\(.runs) equal")
