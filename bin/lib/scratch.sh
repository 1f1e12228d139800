# shellcheck shell=bash
# Scratch filesystems and memory limits for tests and the benchmark.
#
# sc_xfs_up makes an XFS image with reflink (the RHEL family's default
# filesystem), attached with losetup --direct-io=on so the host's page
# cache does not hold the image (a memory limit on the node would leak
# through it otherwise), mounted on a fresh directory; sc_xfs_down removes
# all of it. sc_cgroup_* put processes in a memory cgroup (v1 or v2,
# whichever the host has) whose limit caps their page cache, and read the
# bytes they read from disk. Source bin/lib/common.sh first. Call from the
# main shell: the state is in shell variables, and sc_down_all undoes
# everything (for EXIT traps).

SC_IMG='' SC_LOOP='' SC_MNT=''
SC_CG='' SC_CG_IO='' SC_CG_V=''

# Make a $1 (e.g. 8G) XFS image in directory $2 (default /var/tmp),
# attach and mount it; sets SC_MNT (owned by root, mode 755).
sc_xfs_up() {
    local size=$1 dir=${2:-/var/tmp}
    command -v mkfs.xfs >/dev/null || die "mkfs.xfs is missing (apt install xfsprogs)"
    SC_IMG=$(mktemp "$dir/rsrsync-xfs.XXXXXX.img")
    truncate -s "$size" "$SC_IMG"
    mkfs.xfs -q -m reflink=1 "$SC_IMG" || die "mkfs.xfs failed on $SC_IMG"
    SC_LOOP=$(losetup --direct-io=on -f --show "$SC_IMG") || die "losetup failed for $SC_IMG"
    SC_MNT=$(mktemp -d /mnt/rsrsync-xfs.XXXXXX)
    mount "$SC_LOOP" "$SC_MNT" || die "mounting $SC_LOOP on $SC_MNT failed"
    chmod 755 "$SC_MNT"
}

# Unmount, detach and delete what sc_xfs_up made (quietly, for traps).
sc_xfs_down() {
    if [[ -n $SC_MNT ]]; then
        umount "$SC_MNT" 2>/dev/null || umount -l "$SC_MNT" 2>/dev/null || true
        rmdir "$SC_MNT" 2>/dev/null || true
    fi
    [[ -z $SC_LOOP ]] || losetup -d "$SC_LOOP" 2>/dev/null || true
    [[ -z $SC_IMG ]] || rm -f "$SC_IMG"
    SC_IMG='' SC_LOOP='' SC_MNT=''
}

# Make a memory cgroup named $1 limited to $2 bytes; sets SC_CG (the
# memory controller's directory) and SC_CG_IO (where its disk reads are
# counted: blkio on v1, the same directory on v2).
sc_cgroup_up() {
    local name=$1 limit=$2
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        SC_CG_V=2
        SC_CG=/sys/fs/cgroup/$name
        grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
            echo "+memory +io" >/sys/fs/cgroup/cgroup.subtree_control
        mkdir -p "$SC_CG"
        echo "$limit" >"$SC_CG/memory.max"
        SC_CG_IO=$SC_CG
    else
        SC_CG_V=1
        [[ -d /sys/fs/cgroup/memory ]] || die "no memory cgroup controller under /sys/fs/cgroup"
        SC_CG=/sys/fs/cgroup/memory/$name
        mkdir -p "$SC_CG"
        echo "$limit" >"$SC_CG/memory.limit_in_bytes"
        SC_CG_IO=/sys/fs/cgroup/blkio/$name
        mkdir -p "$SC_CG_IO"
    fi
}

# Move process $1 (its threads; children it forks later follow) into the
# cgroup.
sc_cgroup_add() {
    echo "$1" >"$SC_CG/cgroup.procs"
    [[ $SC_CG_IO == "$SC_CG" ]] || echo "$1" >"$SC_CG_IO/cgroup.procs"
}

# Print the bytes the cgroup's processes have read from block devices.
sc_cgroup_read_bytes() {
    if [[ $SC_CG_V == 2 ]]; then
        awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^rbytes=/) { sub(/rbytes=/, "", $i); s += $i } }
            END { printf "%.0f\n", s }' "$SC_CG_IO/io.stat"
    else
        # Both the loop device and the disk under it count a loop image's
        # reads; the loop device is what the process asked for.
        awk -v loop="${SC_LOOP:+$(lsblk -dno MAJ:MIN "$SC_LOOP" | tr -d ' ')}" '
            $2 == "Read" && (loop == "" ? $1 !~ /^7:/ : $1 == loop) { s += $3 }
            END { printf "%.0f\n", s }' "$SC_CG_IO/blkio.throttle.io_service_bytes"
    fi
}

# Drop the host's page cache (clean pages only: nothing is lost).
sc_drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# Move the cgroup's processes back to the root and remove it (quietly).
sc_cgroup_down() {
    local dir p
    for dir in "$SC_CG" "$SC_CG_IO"; do
        [[ -n $dir && -d $dir ]] || continue
        while read -r p; do
            echo "$p" >"${dir%/*}/cgroup.procs" 2>/dev/null || true
        done <"$dir/cgroup.procs"
        rmdir "$dir" 2>/dev/null || true
    done
    SC_CG='' SC_CG_IO=''
}

# Undo everything above (for EXIT traps).
sc_down_all() {
    sc_cgroup_down
    sc_xfs_down
}
