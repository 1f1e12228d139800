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
    if readelf -d "$1" 2>/dev/null | grep -q '(NEEDED)'; then
        die "$1 is dynamically linked; build it with RUSTFLAGS='-C target-feature=+crt-static'"
    fi
}

# Write the gzipped manual page to $1 (reproducibly: no name, no time).
install_man_page() {
    mkdir -p "$(dirname "$1")"
    gzip -9n <"$RS_MAN_SRC" >"$1"
    chmod 0644 "$1"
}
