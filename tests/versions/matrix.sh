#!/usr/bin/env bash
# The cross-version matrix: real MariaDB servers of other versions (Debian
# chroots) next to the host's, SST and IST between versions and a rolling
# upgrade, each with the stock rsync method and with rsrsync; prints a table
# of results and times. As root on Debian 12:
#
#   tests/versions/matrix.sh
#
# Steps:
#   1. host prerequisites with apt (the test packages, debootstrap);
#   2. a chroot per suite of MATRIX_SUITES (default "trixie forky": MariaDB
#      11.8 with the same Galera as the host, and with a newer one) and of
#      MATRIX_OLD_SUITES (default "bullseye": MariaDB 10.5, older Galera) under
#      CH_CACHE (default /var/cache/rsrsync-chroots), built from the host's
#      apt mirror when missing or incomplete, else reused (bin/lib/chroot.sh);
#   3. the rsrsync binary (RSRSYNC_BIN; default the static release build,
#      built when missing) staged for the host's nodes (SST_BIN_DIR) and
#      copied to each chroot's /usr/bin;
#   4. every case of tests/versions/case.sh (MATRIX_CASES, default below), once
#      per method of SST_METHODS (default "rsync rsrsync"), one cluster at a
#      time, each bounded by CASE_TIME_LIMIT seconds (default 1500).
#
# Prints the table (Markdown) and the notes of failed rows; writes them to
# target/versions-logs/matrix.md, with one log per case run there too.
# Options (environment): DATA_MB (default 20), KEEP=1 (keep every cluster's
# files; a failed one is always kept), MATRIX_CASES ("sst:host:trixie
# ist:host:trixie …"), MATRIX_ARGV_FIXTURES=<dir> (run rsrsync through
# tests/versions/argv-capture.sh and write the argv each server version
# passes to <dir>/<major.minor>-<role>.txt, plus <…>-donor.stdin.txt).
# Exits 0 when every row passed or was REFUSED as expected, else 1. The whole
# run is bounded by MATRIX_TIME_LIMIT seconds (default 10800).
set -Eeuo pipefail
shopt -s inherit_errexit

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=bin/lib/common.sh
. "$ROOT/bin/lib/common.sh"
# shellcheck source=bin/lib/chroot.sh
. "$ROOT/bin/lib/chroot.sh"

run_with_time_limit "${MATRIX_TIME_LIMIT:-10800}" "$0" "$@"
require_root
: "${MATRIX_SUITES:=trixie forky}"
: "${MATRIX_OLD_SUITES=bullseye}"
ALL_SUITES="$MATRIX_SUITES $MATRIX_OLD_SUITES"
: "${SST_METHODS:=rsync rsrsync}"
: "${DATA_MB:=20}"
export DATA_MB CH_CACHE
LOGS="$RS_ROOT/target/versions-logs"
RESULTS="$LOGS/results.tsv"
CASE="$RS_ROOT/tests/versions/case.sh"
STAGE=
CAPTURE=

# The default cases: for each suite S, SST both ways and within S, the
# refusal of S's datadir by a 10.x joiner that uses the change buffer, IST
# both ways, a rolling upgrade host → S; SST between each two suites; for
# each old suite O, SST within O and the refusal of O's datadir by the host
# and by each suite (a file copy of a running pre-10.8 server).
default_cases() {
    local s t
    printf '%s\n' sst:host:host
    for s in $MATRIX_SUITES; do
        printf '%s\n' "sst:$s:$s" "sst:host:$s" "sst:$s:host" "refused:$s:host" "ist:host:$s" "rolling:host:$s"
    done
    for s in $MATRIX_SUITES; do
        for t in $MATRIX_SUITES; do [[ $s != "$t" ]] && printf '%s\n' "sst:$s:$t"; done
    done
    for s in $MATRIX_OLD_SUITES; do
        printf '%s\n' "sst:$s:$s" "refused:$s:host"
        for t in $MATRIX_SUITES; do printf '%s\n' "refused:$s:$t"; done
    done
    return 0
}

# EXIT trap: remove the staging dirs; leave each chroot with the plain binary.
on_exit() {
    local rc=$? s root
    for s in $ALL_SUITES; do
        root=$(ch_root "$s")
        if [[ -f $root/usr/bin/wsrep_sst_rsrsync.real ]]; then
            mv -f "$root/usr/bin/wsrep_sst_rsrsync.real" "$root/usr/bin/wsrep_sst_rsrsync"
        fi
    done
    [[ -n $STAGE ]] && rm -rf "$STAGE"
    [[ -n $CAPTURE ]] && rm -rf "$CAPTURE"
    exit "$rc"
}
trap on_exit EXIT
install_traps err

# Install the rsrsync binary $1 as wsrep_sst_rsrsync in the dir $2 (through
# the argv capture wrapper when capturing).
install_binary() {
    local bin=$1 dir=$2
    rm -f "$dir/wsrep_sst_rsrsync.real"
    if [[ -n $CAPTURE ]]; then
        install -m 0755 "$bin" "$dir/wsrep_sst_rsrsync.real"
        install -m 0755 "$RS_ROOT/tests/versions/argv-capture.sh" "$dir/wsrep_sst_rsrsync"
    else
        install -m 0755 "$bin" "$dir/wsrep_sst_rsrsync"
    fi
}

# Turn the captures of case run $1 into fixtures in MATRIX_ARGV_FIXTURES:
# the first capture of each <major.minor>-<role> wins.
declare -A FIXTURE_DONE=()
collect_fixtures() {
    local what=$1 f version role mm out
    for f in "$CAPTURE"/capture.*.argv; do
        [[ -e $f ]] || continue
        version=$(sed -n 1p "$f") role=$(sed -n 2p "$f")
        mm=$(sed -E 's/^([0-9]+\.[0-9]+).*/\1/' <<<"$version")
        out="$MATRIX_ARGV_FIXTURES/$mm-$role.txt"
        if [[ -z ${FIXTURE_DONE[$mm-$role]:-} ]]; then
            FIXTURE_DONE[$mm-$role]=1
            {
                printf '# argv[1..] of wsrep_sst_rsrsync, role %s, one element per line as received\n' "$role"
                printf '# (after sh unquoting), as run by mariadbd %s.\n' "$version"
                printf '# Captured by tests/versions/matrix.sh (MATRIX_ARGV_FIXTURES) on %s\n' "$(date -u +%Y-%m-%d)"
                printf '# in: %s. Paths are those of that test cluster (a temp dir).\n' "$what"
                sed -n '3,$p' "$f"
            } >"$out"
            if [[ -f ${f%.argv}.stdin ]]; then
                {
                    printf '# stdin of wsrep_sst_rsrsync, role %s, as written by mariadbd %s\n' "$role" "$version"
                    printf '# (the lines after this header; none: only end of file), password values\n'
                    printf '# redacted. Captured with %s.\n' "${out##*/}"
                    cat "${f%.argv}.stdin"
                } >"${out%.txt}.stdin.txt"
            fi
        fi
        rm -f "$f" "${f%.argv}.stdin"
    done
    return 0
}

# Print "<result> <secs> s (<transfer> s)" for row $1 and method $2.
cell() {
    awk -F'\t' -v r="$1" -v m="$2" '
        $1 == r && $2 == m {
            c = $3
            if ($4 != "-") c = c " " $4 " s"
            if ($5 != "-") c = c " (" $5 " s)"
            found = c
        }
        END { print (found == "" ? "not run" : found) }' "$RESULTS"
}

# Print the table and the notes of every row that did not pass.
report() {
    local row m line s
    say "# Cross-version matrix ($(date -u '+%Y-%m-%d %H:%M UTC'), DATA_MB=$DATA_MB)"
    say ""
    say "Servers: host $(_ch_host_codename) $(ch_versions /)$(for s in $ALL_SUITES; do printf '; %s %s' "$s" "$(ch_versions "$(ch_root "$s")")"; done)."
    say "rsrsync: $RSRSYNC_BIN (sha256 $(sha256sum "$RSRSYNC_BIN" | cut -c1-16)), commit $(git -C "$RS_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')."
    say "Cells: result, wall time from the joiner's start to Synced (or the row's time), and in"
    say "parentheses the SST/IST time on the joiner from its WSREP_SST started/completed lines."
    say ""
    line="| transfer |"
    for m in $SST_METHODS; do line="$line $m |"; done
    say "$line"
    line="| --- |"
    for m in $SST_METHODS; do line="$line --- |"; done
    say "$line"
    while IFS= read -r row; do
        line="| $row |"
        for m in $SST_METHODS; do line="$line $(cell "$row" "$m") |"; done
        say "$line"
    done < <(cut -f1 "$RESULTS" | awk '!seen[$0]++')
    say ""
    say "Notes (rows that did not pass):"
    awk -F'\t' '$3 != "PASS" { printf "- %s, %s: %s: %s\n", $1, $2, $3, $6 }' "$RESULTS"
}

mkdir -p "$LOGS"
: >"$RESULTS"
say "== prerequisites (apt; log in $LOGS/apt.log)"
ensure_apt_packages "$LOGS/apt.log" "${RS_APT_PACKAGES[@]}" debootstrap

say "== chroots: $ALL_SUITES (in $CH_CACHE)"
for s in $ALL_SUITES; do
    root=$(ch_ensure "$s" "$LOGS/chroot-$s.log")
    say "   $s: $(ch_versions "$root")"
done

RSRSYNC_BIN=${RSRSYNC_BIN:-$RS_RELEASE_BIN}
if [[ $SST_METHODS == *rsrsync* && ! -x $RSRSYNC_BIN ]]; then
    say "== building the static release binary (log: $LOGS/build.log)"
    require_cargo
    build_release_binary "$LOGS/build.log"
fi
STAGE=$(mktemp -d "${CL_TMP:-/tmp}/rsrsync-matrix-bin.XXXXXX")
chmod 755 "$STAGE"
if [[ -n ${MATRIX_ARGV_FIXTURES:-} ]]; then
    mkdir -p "$MATRIX_ARGV_FIXTURES"
    MATRIX_ARGV_FIXTURES=$(realpath "$MATRIX_ARGV_FIXTURES")
    # Under the clusters' parent dir, which chroot nodes see at the same path.
    CAPTURE=$(mktemp -d "${CL_TMP:-/tmp}/rsrsync-argv.XXXXXX")
    chown mysql:mysql "$CAPTURE"
    export RSRSYNC_ARGV_CAPTURE_DIR=$CAPTURE
fi
if [[ -x $RSRSYNC_BIN ]]; then
    install_binary "$RSRSYNC_BIN" "$STAGE"
    for s in $ALL_SUITES; do install_binary "$RSRSYNC_BIN" "$(ch_root "$s")/usr/bin"; done
fi
export SST_BIN_DIR=$STAGE

if [[ -n ${MATRIX_CASES:-} ]]; then
    read -r -a cases <<<"$MATRIX_CASES"
else
    mapfile -t cases < <(default_cases)
fi
say "== ${#cases[@]} cases × methods ($SST_METHODS); logs in $LOGS"
for c in "${cases[@]}"; do
    IFS=: read -r kind a b <<<"$c"
    for m in $SST_METHODS; do
        log="$LOGS/$kind-$a-$b-$m.log"
        before=$(wc -l <"$RESULTS")
        t0=$(now)
        rc=0
        SST_METHOD=$m MATRIX_RESULTS=$RESULTS bash "$CASE" "$kind" "$a" "$b" >"$log" 2>&1 </dev/null || rc=$?
        if [[ $(wc -l <"$RESULTS") -eq $before ]]; then
            printf '%s\t%s\tFAIL\t%s\t-\t%s\n' "case $c" "$m" "$(elapsed_since "$t0")" \
                "exit $rc before any row; log: $log: $(grep -m1 '^ERROR' "$log" || tail -n 1 "$log")" >>"$RESULTS"
        fi
        say "   $c ($m): exit $rc, $(elapsed_since "$t0")s; $(tail -n +$((before + 1)) "$RESULTS" | cut -f3 | sort | uniq -c | xargs)"
        [[ -n $CAPTURE ]] && collect_fixtures "tests/versions/case.sh $kind $a $b, SST_METHOD=$m"
    done
done

say ""
report | tee "$LOGS/matrix.md"
! awk -F'\t' '$3 != "PASS" && $3 != "REFUSED" { bad = 1 } END { exit !bad }' "$RESULTS"
