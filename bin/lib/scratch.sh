# shellcheck shell=bash
# Scratch filesystems and memory limits for tests and the benchmark.
#
# sc_image_up makes an XFS (the RHEL family's default filesystem) or
# btrfs image with reflink, attached with losetup --direct-io=on so the
# host's page cache does not hold the image (a memory limit on the node
# would leak through it otherwise), mounted on a fresh directory;
# sc_image_down removes all of it. sc_cgroup_* put processes in a memory cgroup (v1 or v2,
# whichever the host has) whose limit caps their page cache, and read the
# bytes they read from storage. Source bin/lib/common.sh first. Call from the
# main shell: the state is in shell variables, and sc_down_all undoes
# everything (for EXIT traps).

SC_IMG='' SC_LOOP='' SC_MNT=''
SC_CG=''
SC_TMPFS=''

# Make a $1 (e.g. 8G) image of filesystem $2 with reflink (xfs, the
# default, or btrfs) in directory $3 (default /var/tmp), attach and mount
# it; sets SC_MNT (owned by root, mode 755).
sc_image_up() {
    local size=$1 fs=${2:-xfs} dir=${3:-/var/tmp} package
    local -a mkfs
    case $fs in
        xfs) mkfs=(mkfs.xfs -q -m reflink=1) package=xfsprogs ;;
        btrfs) mkfs=(mkfs.btrfs -q) package=btrfs-progs ;;
        *) die "sc_image_up: no image of filesystem '$fs' (xfs, btrfs)" ;;
    esac
    command -v "${mkfs[0]}" >/dev/null || die "${mkfs[0]} is missing (apt install $package)"
    SC_IMG=$(mktemp "$dir/rsrsync-$fs.XXXXXX.img")
    truncate -s "$size" "$SC_IMG"
    "${mkfs[@]}" "$SC_IMG" >/dev/null || die "${mkfs[0]} failed on $SC_IMG"
    SC_LOOP=$(losetup --direct-io=on -f --show "$SC_IMG") || die "losetup failed for $SC_IMG"
    SC_MNT=$(mktemp -d "/mnt/rsrsync-$fs.XXXXXX")
    mount "$SC_LOOP" "$SC_MNT" || die "mounting $SC_LOOP on $SC_MNT failed"
    chmod 755 "$SC_MNT"
}

# Unmount, detach and delete what sc_image_up made (quietly, for traps).
sc_image_down() {
    if [[ -n $SC_MNT ]]; then
        umount "$SC_MNT" 2>/dev/null || umount -l "$SC_MNT" 2>/dev/null || true
        rmdir "$SC_MNT" 2>/dev/null || true
    fi
    [[ -z $SC_LOOP ]] || losetup -d "$SC_LOOP" 2>/dev/null || true
    [[ -z $SC_IMG ]] || rm -f "$SC_IMG"
    SC_IMG='' SC_LOOP='' SC_MNT=''
}

# Make a memory cgroup named $1 limited to $2 bytes; sets SC_CG (the
# memory controller's directory).
sc_cgroup_up() {
    local name=$1 limit=$2
    if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
        SC_CG=/sys/fs/cgroup/$name
        grep -qw memory /sys/fs/cgroup/cgroup.subtree_control ||
            echo "+memory" >/sys/fs/cgroup/cgroup.subtree_control
        mkdir -p "$SC_CG"
        echo "$limit" >"$SC_CG/memory.max"
    else
        [[ -d /sys/fs/cgroup/memory ]] || die "no memory cgroup controller under /sys/fs/cgroup"
        SC_CG=/sys/fs/cgroup/memory/$name
        mkdir -p "$SC_CG"
        echo "$limit" >"$SC_CG/memory.limit_in_bytes"
    fi
}

# Move process $1 (its threads; children it forks later follow) into the
# cgroup.
sc_cgroup_add() {
    echo "$1" >"$SC_CG/cgroup.procs"
}

# Print the bytes the cgroup's processes have read from storage (the
# kernel's per-task I/O accounting, which adds a reaped child's to its
# parent: read it while no child is running, or a child's bytes are
# missed). The cgroup's own block I/O counters miss reads through a loop
# device on some kernels (cgroup v1 shows none at all here).
sc_cgroup_read_bytes() {
    local p sum=0 bytes
    while read -r p; do
        bytes=$(awk '$1 == "read_bytes:" { print $2 }' "/proc/$p/io" 2>/dev/null) || continue
        sum=$((sum + ${bytes:-0}))
    done <"$SC_CG/cgroup.procs"
    printf '%s\n' "$sum"
}

# Drop the host's page cache (clean pages only: nothing is lost).
sc_drop_caches() {
    sync
    echo 3 >/proc/sys/vm/drop_caches
}

# Move the cgroup's processes back to the root and remove it (quietly).
sc_cgroup_down() {
    local p
    [[ -n $SC_CG && -d $SC_CG ]] || return 0
    while read -r p; do
        echo "$p" >"${SC_CG%/*}/cgroup.procs" 2>/dev/null || true
    done <"$SC_CG/cgroup.procs"
    rmdir "$SC_CG" 2>/dev/null || true
    SC_CG=''
}

# Mount a tmpfs of $2 (e.g. 6G) on the existing directory $1, keeping its
# owner and mode; sets SC_TMPFS.
sc_tmpfs_up() {
    local dir=$1 size=$2 owner mode
    owner=$(stat -c %u:%g "$dir") mode=$(stat -c %a "$dir")
    mount -t tmpfs -o "size=$size,mode=$mode" tmpfs "$dir" || die "mounting a tmpfs on $dir failed"
    SC_TMPFS=$dir
    chown "$owner" "$dir"
}

# Unmount what sc_tmpfs_up mounted (lazily while a process still uses it:
# quietly, for traps).
sc_tmpfs_down() {
    [[ -n $SC_TMPFS ]] || return 0
    umount "$SC_TMPFS" 2>/dev/null || umount -l "$SC_TMPFS" 2>/dev/null || true
    SC_TMPFS=''
}

# Undo everything above (for EXIT traps).
sc_down_all() {
    sc_tmpfs_down
    sc_cgroup_down
    sc_image_down
}
