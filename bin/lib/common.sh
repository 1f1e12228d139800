# shellcheck shell=bash
# Shared helpers for bin/test, bin/demo, packaging/build-deb and the cluster
# tests: messages, time, root/tool checks, apt prerequisites, the release
# build and the .deb install. Source it; it defines functions and a few
# read-only paths, and runs nothing.

# The repository root (this file lives in <root>/bin/lib/).
RS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# The Rust target triple of the static release binary.
RS_TARGET=x86_64-unknown-linux-gnu
# Where cargo puts the static release binary (CARGO_TARGET_DIR honoured).
RS_RELEASE_BIN="${CARGO_TARGET_DIR:-$RS_ROOT/target}/$RS_TARGET/release/wsrep_sst_rsrsync"

# Print a progress line on stdout.
say() { printf '%s\n' "$*"; }

# Print a warning on stderr.
warn() { printf 'WARNING: %s\n' "$*" >&2; }

# Print an error on stderr and exit 1 (the EXIT trap, if any, does the rest).
die() {
    printf 'ERROR: %s\n' "$*" >&2
    exit 1
}

# ERR trap body: report the failing command of the main shell with its line.
report_err() {
    [[ $BASH_SUBSHELL -eq 0 ]] || return 0
    printf 'ERROR: command failed (exit %s) at line %s: %s\n' "$1" "$2" "$3" >&2
}

# Set the traps a script shares ($1: "err" or "signals"): with "err", report a failing command (for
# scripts under set -E); always turn TERM/INT (the time limit, Ctrl-C) into
# a failure, so the EXIT trap cleans up.
install_traps() {
    # shellcheck disable=SC2016 # expanded when the trap runs
    [[ ${1:-} == err ]] && trap 'report_err $? $LINENO "$BASH_COMMAND"' ERR
    trap 'die "interrupted (time limit of ${RS_TIME_LIMIT_SECS:-?}s, or a signal)"' TERM INT
}

# Print seconds since the epoch with millisecond precision.
now() { date +%s.%3N; }

# Print the seconds elapsed since $1 (a value of now), one decimal.
elapsed_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Fail unless running as root (apt, dpkg and switching to mysql need it).
require_root() {
    [[ $(id -u) -eq 0 ]] || die "run this as root (it installs packages and runs servers as the mysql user)"
}

# Re-run the calling script under timeout(1) once, so its whole run is bounded:
# run_with_time_limit SECONDS "$0" "$@". Returns when already under its own
# limit (a script it starts gets its own: the variables name the script).
run_with_time_limit() {
    local limit=$1 script fg=()
    shift
    script=$(realpath "$1")
    shift
    [[ ${RS_TIME_LIMIT_SCRIPT:-} == "$script" ]] && return 0
    export RS_TIME_LIMIT_SCRIPT=$script RS_TIME_LIMIT_SECS=$limit
    # Without a terminal, timeout signals its whole process group, servers
    # included. With one, --foreground keeps Ctrl-C working (the script's
    # trap then stops the servers); -k kills the script if that hangs.
    [[ -t 0 ]] && fg=(--foreground)
    exec timeout "${fg[@]}" -k 60 "$limit" bash "$script" "$@"
}

# The apt packages the scripts need on a fresh Debian 12 machine.
# shellcheck disable=SC2034 # used by the scripts that source this file
RS_APT_PACKAGES=(
    mariadb-server mariadb-client galera-4 rsync iproute2 procps
    gcc libc6-dev pkg-config binutils shellcheck rpm
    # packaging/test-packages: unpacking the .rpm, and the linters whose
    # verdict it checks (both in Debian 12).
    rpm2cpio cpio lintian rpmlint
    # tests/cluster/rsrsync_oracle.sh: its write load, and the XFS image
    # (reflink) its cluster runs on; bin/bench's cache part on btrfs.
    sysbench xfsprogs btrfs-progs
)

# Install the missing ones of the given apt packages, quietly; output goes to
# the log file $1. Does nothing (and needs no network) when all are present.
ensure_apt_packages() {
    local log=$1
    shift
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    say "  installing with apt: ${missing[*]} (log: $log)"
    # No init system here, and we run our own servers: keep the package's
    # postinst from starting a default mariadbd on port 3306.
    local policy=/usr/sbin/policy-rc.d added_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        added_policy=1
    fi
    local rc=0
    {
        DEBIAN_FRONTEND=noninteractive apt-get update -q &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    } >>"$log" 2>&1 || rc=$?
    [[ $added_policy -eq 1 ]] && rm -f "$policy"
    if [[ $rc -ne 0 ]]; then
        tail -n 20 "$log" >&2
        die "apt-get failed (exit $rc) installing: ${missing[*]}"
    fi
}

# Put rustup's ~/.cargo/bin on PATH when cargo is not on it already.
add_cargo_to_path() {
    if ! command -v cargo >/dev/null 2>&1 && [[ -x $HOME/.cargo/bin/cargo ]]; then
        PATH="$HOME/.cargo/bin:$PATH"
    fi
}

# Fail with advice unless cargo is usable.
require_cargo() {
    add_cargo_to_path
    command -v cargo >/dev/null 2>&1 ||
        die "cargo not found. Install a Rust toolchain (>= 1.85) with rustup: https://rustup.rs (then 'rustup component add clippy rustfmt'), or put ~/.cargo/bin on PATH"
}

# Fail with advice unless cargo, clippy and rustfmt are usable.
require_cargo_lint() {
    require_cargo
    cargo clippy --version >/dev/null 2>&1 || die "cargo clippy missing: rustup component add clippy"
    cargo fmt --version >/dev/null 2>&1 || die "cargo fmt missing: rustup component add rustfmt"
}

# Build the static release binary; cargo's output goes to the log file $1.
build_release_binary() {
    local log=$1 rc=0
    (cd "$RS_ROOT" && RUSTFLAGS='-C target-feature=+crt-static' \
        cargo build --release --target "$RS_TARGET") >>"$log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        tail -n 30 "$log" >&2
        die "cargo build --release failed (exit $rc); full log: $log"
    fi
    [[ -x $RS_RELEASE_BIN ]] || die "cargo succeeded but $RS_RELEASE_BIN is missing"
}

# Build the .deb with packaging/build-deb and install it with dpkg; output
# goes to the log file $1. Prints the path of the .deb.
build_and_install_deb() {
    local log=$1 deb rc=0
    deb=$("$RS_ROOT/packaging/build-deb" 2>>"$log") || {
        tail -n 20 "$log" >&2
        die "packaging/build-deb failed; log: $log"
    }
    dpkg -i "$deb" >>"$log" 2>&1 || rc=$?
    if [[ $rc -ne 0 ]]; then
        tail -n 20 "$log" >&2
        die "dpkg -i $deb failed (exit $rc); log: $log"
    fi
    [[ -x /usr/bin/wsrep_sst_rsrsync ]] || die "$deb installed but /usr/bin/wsrep_sst_rsrsync is missing"
    # Stripped by build-deb: it must still run.
    /usr/bin/wsrep_sst_rsrsync --version >>"$log" 2>&1 || die "the installed /usr/bin/wsrep_sst_rsrsync does not run"
    printf '%s\n' "$deb"
}
