# shellcheck shell=bash
# Shared by packaging/build-deb, packaging/build-rpm and
# packaging/test-packages: the package name, the version, the checks on the
# binary and the files every package carries. Source it after
# bin/lib/common.sh; it defines functions and runs nothing.

# The package name, in both families.
# shellcheck disable=SC2034 # used by the scripts that source this file
RS_PKG=wsrep-sst-rsrsync
# The manual page's source.
RS_MAN_SRC="$RS_ROOT/packaging/wsrep_sst_rsrsync.1"

# Print the version of the [package] section of Cargo.toml, as both
# package families sort it (a pre-release "-rc.1" becomes "~rc.1" so that it
# sorts before the release; neither allows '-' in a version).
cargo_version() {
    local v
    v=$(awk -F'"' '/^\[/ { section = $0 } section == "[package]" && /^version[ \t]*=/ { print $2; exit }' \
        "$RS_ROOT/Cargo.toml")
    [[ $v =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the package version from Cargo.toml (got '$v')"
    printf '%s\n' "${v//-/\~}"
}

# Fail unless $1 is a statically linked executable (no NEEDED libraries).
require_static() {
    [[ -x $1 ]] || die "$1 not found; build it first:
  RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target $RS_TARGET"
    # (Read whole: under pipefail, grep -q stopping early could hide a match.)
    if grep -q '(NEEDED)' <<<"$(readelf -d "$1" 2>/dev/null)"; then
        die "$1 is dynamically linked; build it with RUSTFLAGS='-C target-feature=+crt-static'"
    fi
}

# Write the gzipped manual page to $1 (reproducibly: no name, no time).
install_man_page() {
    mkdir -p "$(dirname "$1")"
    gzip -9n <"$RS_MAN_SRC" >"$1"
    chmod 0644 "$1"
}

# The release history, in Debian changelog format: the .deb carries it
# gzipped, build-rpm turns it into the spec's %changelog.
RS_CHANGELOG="$RS_ROOT/packaging/debian/changelog"

# Fail unless the newest entry of the changelog is for version $1, so that
# no package goes out with the history of an older release.
require_changelog_version() {
    local top
    top=$(sed -n '1s/^[^ ]* (\([^)]*\)).*/\1/p' "$RS_CHANGELOG")
    [[ $top == "$1" ]] ||
        die "the newest entry of $RS_CHANGELOG is for version '$top', not $1: add one for $1"
}

# Print the build-id of the ELF file $1 (hex), or nothing.
build_id() {
    readelf -n "$1" 2>/dev/null | awk '/Build ID:/ { print $3; exit }'
}

# Split the debug information of the ELF file $1 off into the file $2, as
# dh_strip does: keep only the debug sections (compressed) in $2, strip $1
# of them, of its symbol table and of its .comment and .note sections, and
# add a GNU debuglink from $1 to $2 (the name and CRC of $2). The build-id
# stays in $1, so a debugger finds $2 at /usr/lib/debug/.build-id/xx/yyy.debug.
split_debug() {
    local bin=$1 debug=$2
    [[ -n $(build_id "$bin") ]] ||
        die "$bin has no build-id; add -C link-arg=-Wl,--build-id to RUSTFLAGS"
    mkdir -p "$(dirname "$debug")"
    objcopy --only-keep-debug --compress-debug-sections=zlib "$bin" "$debug"
    chmod 0644 "$debug"
    strip --remove-section=.comment --remove-section=.note "$bin"
    objcopy --add-gnu-debuglink="$debug" "$bin"
}

# Print where a debugger looks for the debug file of build-id $1.
debug_path() {
    printf '/usr/lib/debug/.build-id/%s/%s.debug\n' "${1:0:2}" "${1:2}"
}

# Print the changelog in the form of an rpm spec's %changelog (without the
# %changelog line), for rpm Release $1:
# "* Wed Dec 02 2026 Name <mail> - version-release" and "- item".
rpm_changelog() {
    awk -v release="$1" '
        /^[^ ]/ { version = $2; gsub(/[()]/, "", version); n = 0; next }
        { gsub(/%/, "%%") } # rpm would expand a macro
        /^  \* / { items[++n] = "- " substr($0, 5); next }
        /^    / { items[n] = items[n] "\n  " substr($0, 5); next }
        /^ -- / {
            line = substr($0, 5)
            split(line, parts, "  ")
            split(parts[2], d, /[ ,]+/) # Wed, 02 Dec 2026 20:00:00 +0000
            printf "%s* %s %s %s %s %s - %s-%s\n", sep, d[1], d[3], d[2], d[4], parts[1], version, release
            for (i = 1; i <= n; i++) print items[i]
            sep = "\n"
        }' "$RS_CHANGELOG"
}
