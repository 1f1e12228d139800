# shellcheck shell=bash
# Debian chroots with another MariaDB and Galera, for nodes of other server
# versions next to the host's (bin/lib/cluster.sh runs a node inside one).
#
# Source bin/lib/common.sh first. ch_ensure SUITE makes (or reuses) a
# minimal Debian SUITE (trixie, forky, sid, …) under CH_CACHE with
# mariadb-server and galera-4 installed, and prints its path.
#
# Environment:
#   CH_CACHE    where chroots live (default /var/cache/rsrsync-chroots);
#               a complete chroot is reused, a partial one is rebuilt
#   CH_MIRROR   the Debian mirror to use; by default the one the host's
#               apt uses (read from its sources at run time)
#   CH_REFRESH=1  rebuild the chroots even when complete

: "${CH_CACHE:=/var/cache/rsrsync-chroots}"
# Written last into a chroot: its presence means the chroot is complete.
CH_MARK=.rsrsync-chroot-complete
# Packages installed in every chroot: the server and Galera, and what the
# stock rsync SST script runs (rsync, ss, ps).
CH_PACKAGES=(mariadb-server mariadb-client galera-4 rsync iproute2 procps)

# Print the host's Debian release code name (bookworm, …).
_ch_host_codename() {
    # shellcheck disable=SC1091 # a system file
    (. /etc/os-release && printf '%s\n' "${VERSION_CODENAME:-}")
}

# Print the URI of the Debian archive the host's apt uses: the first "deb"
# source whose suite is the host's release itself (not -security or
# -updates), from /etc/apt/sources.list, sources.list.d/*.list and
# sources.list.d/*.sources (deb822), in the order apt reads them.
ch_host_mirror() {
    local codename f uri
    codename=$(_ch_host_codename)
    [[ -n $codename ]] || die "cannot read VERSION_CODENAME from /etc/os-release"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        if [[ $f == *.sources ]]; then
            # deb822: stanzas separated by blank lines; one URI per stanza is
            # enough (the first), if Types has deb and Suites has the release.
            uri=$(awk -v want="$codename" '
                function flush() {
                    if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ") && uri != "" && enabled != "no") {
                        print uri; found = 1; exit
                    }
                    types = ""; suites = ""; uri = ""; enabled = ""
                }
                /^[ \t]*#/ { next }
                /^[ \t]*$/ { flush(); next }
                tolower($1) == "types:" { $1 = ""; types = $0; gsub(/^ +| +$/, "", types) }
                tolower($1) == "suites:" { $1 = ""; suites = $0; gsub(/^ +| +$/, "", suites) }
                tolower($1) == "uris:" { uri = $2 }
                tolower($1) == "enabled:" { enabled = tolower($2) }
                END { if (!found) flush() }' "$f")
        else
            # One-line format: deb [options] URI suite components…
            uri=$(awk -v want="$codename" '
                $1 != "deb" { next }
                { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } }
                $(i + 1) == want { print $i; exit }' "$f")
        fi
        if [[ -n $uri ]]; then
            printf '%s\n' "${uri%/}"
            return 0
        fi
    done
    die "no apt source for the host's release '$codename' in /etc/apt/sources.list{,.d}: set CH_MIRROR"
}

# Print the chroot dir of suite $1.
ch_root() { printf '%s\n' "$CH_CACHE/$1"; }

# True when the chroot of suite $1 exists and is complete.
ch_complete() { [[ -f $(ch_root "$1")/$CH_MARK ]]; }

# Run the command $2… inside the chroot $1 as root, with /proc and /dev
# mounted in a private mount namespace (they vanish with the command, so
# nothing stays mounted in the cache), plain PATH, no host locale.
ch_run_root() {
    local root=$1
    shift
    # shellcheck disable=SC2016 # expanded by that inner sh
    unshare --mount --propagation private -- sh -c '
        root=$1; shift
        mount -t proc proc "$root/proc" && mount --bind /dev "$root/dev" || exit 125
        exec chroot "$root" "$@"' sh "$root" \
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# Print "<mariadbd version> galera <galera version>" of the chroot $1 (or of
# the host when $1 is empty), from the package database.
ch_versions() {
    local root=${1:-/} m g
    m=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' mariadb-server 2>/dev/null) || m='?'
    g=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' galera-4 2>/dev/null) || g='?'
    m=${m#*:} m=${m%%-*} g=${g#*:} g=${g%%-*}
    printf '%s galera %s\n' "${m%%+*}" "${g%%+*}"
}

# Make sure the chroot of suite $1 exists and is complete; print its path.
# Builds it when missing (output to the log file $2): debootstrap
# --variant=minbase from the host's mirror, a mysql user with the host's
# uid/gid (so files in a shared datadir belong to the same user inside and
# out), then mariadb-server and galera-4 with apt, service starts denied.
ch_ensure() {
    local suite=$1 log=$2 root part mirror script=() uid gid
    root=$(ch_root "$suite")
    if [[ ${CH_REFRESH:-0} != 1 ]] && ch_complete "$suite" && _ch_has_packages "$root"; then
        _ch_check_mysql_ids "$root"
        printf '%s\n' "$root"
        return 0
    fi
    command -v debootstrap >/dev/null || ensure_apt_packages "$log" debootstrap >&2
    mirror=${CH_MIRROR:-$(ch_host_mirror)}
    # debootstrap knows a suite by a script of that name; a newer Debian
    # (forky, …) than the installed debootstrap knows is built like sid.
    [[ -e /usr/share/debootstrap/scripts/$suite ]] || script=(/usr/share/debootstrap/scripts/sid)
    part="$root.partial"
    mkdir -p "$CH_CACHE"
    rm -rf "$part"
    say "  building the $suite chroot in $root from $mirror (a few minutes; log: $log)" >&2
    debootstrap --variant=minbase "$suite" "$part" "$mirror" "${script[@]}" >>"$log" 2>&1 ||
        { tail -n 20 "$log" >&2; die "debootstrap of $suite failed; log: $log"; }
    id mysql >/dev/null 2>&1 || die "no mysql user on the host: install mariadb-server"
    uid=$(id -u mysql)
    gid=$(id -g mysql)
    # Never start services inside the chroot (no init there; we start our own).
    printf '#!/bin/sh\nexit 101\n' >"$part/usr/sbin/policy-rc.d"
    chmod 755 "$part/usr/sbin/policy-rc.d"
    cp /etc/resolv.conf "$part/etc/resolv.conf" 2>/dev/null || true
    # Judge Release files as the host's apt does: a host set up for a
    # snapshot mirror turns off the date checks, and forky/sid Release
    # files carry a Valid-Until that such a mirror lets expire.
    apt-config dump | grep -E '^Acquire::Check-(Valid-Until|Date) ' >"$part/etc/apt/apt.conf.d/99rsrsync-as-host" || true
    {
        # shellcheck disable=SC2016 # expanded by that inner sh
        ch_run_root "$part" sh -c '
            set -e
            if ! getent group mysql >/dev/null; then groupadd --system --gid "$2" mysql; fi
            if ! getent passwd mysql >/dev/null; then
                useradd --system --uid "$1" --gid mysql --home-dir /nonexistent --shell /bin/false mysql
            fi' sh "$uid" "$gid" &&
            ch_run_root "$part" apt-get update -q &&
            ch_run_root "$part" apt-get install -y -q --no-install-recommends "${CH_PACKAGES[@]}" &&
            ch_run_root "$part" apt-get clean
    } >>"$log" 2>&1 || { tail -n 20 "$log" >&2; die "installing ${CH_PACKAGES[*]} in the $suite chroot failed; log: $log"; }
    _ch_check_mysql_ids "$part"
    ch_versions "$part" >"$part/$CH_MARK"
    rm -rf "$root"
    mv "$part" "$root"
    say "  $suite chroot ready: $(ch_versions "$root")" >&2
    printf '%s\n' "$root"
}

# True when every package of CH_PACKAGES is installed in the chroot $1.
_ch_has_packages() {
    local p
    for p in "${CH_PACKAGES[@]}"; do
        dpkg-query --admindir="$1/var/lib/dpkg" -W -f='${Status}' "$p" 2>/dev/null |
            grep -q 'install ok installed' || return 1
    done
}

# Fail unless the chroot $1's mysql user has the host's uid and gid.
_ch_check_mysql_ids() {
    local root=$1 inside
    inside=$(awk -F: '$1 == "mysql" { print $3 ":" $4 }' "$root/etc/passwd")
    [[ $inside == "$(id -u mysql):$(id -g mysql)" ]] ||
        die "the mysql user of $root has uid:gid '$inside', the host's is $(id -u mysql):$(id -g mysql): rebuild it with CH_REFRESH=1"
}
