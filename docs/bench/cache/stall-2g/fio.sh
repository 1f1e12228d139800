#!/usr/bin/env bash
set -Eeuo pipefail
. /work/wt-16/bin/lib/common.sh
. /work/wt-16/bin/lib/scratch.sh
trap 'sc_down_all' EXIT
sc_xfs_up 6G
fio --name=w --filename=$SC_MNT/f --size=2G --bs=1M --rw=write --direct=1 --ioengine=psync --output-format=terse >/dev/null
for qd in 1 4 16; do
  sc_drop_caches
  printf 'direct 1M QD%s: ' $qd; fio --name=r --filename=$SC_MNT/f --size=2G --bs=1M --rw=read --direct=1 --ioengine=libaio --iodepth=$qd --runtime=8 --time_based=0 --output-format=json | jq '.jobs[0].read.bw_bytes/1048576|floor'
done
sc_drop_caches
printf 'buffered 1M psync (readahead): '; fio --name=r --filename=$SC_MNT/f --size=2G --bs=1M --rw=read --ioengine=psync --output-format=json | jq '.jobs[0].read.bw_bytes/1048576|floor'
sc_drop_caches
printf 'buffered 2 jobs: '; fio --name=r --filename=$SC_MNT/f --size=1G --offset_increment=1G --numjobs=2 --group_reporting --bs=1M --rw=read --ioengine=psync --output-format=json | jq '.jobs[0].read.bw_bytes/1048576|floor'
sc_drop_caches
printf 'direct read QD4 + write QD4 same device (r,w): '; fio --output-format=json --name=r --filename=$SC_MNT/f --size=2G --bs=1M --rw=read --direct=1 --ioengine=libaio --iodepth=4 --name=w --filename=$SC_MNT/g --size=2G --bs=1M --rw=write --direct=1 --ioengine=libaio --iodepth=4 | jq -c '[.jobs[].read.bw_bytes, .jobs[].write.bw_bytes]|map(./1048576|floor)'
