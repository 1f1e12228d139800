#!/bin/sh
# Installed as wsrep_sst_rsrsync by tests/versions/matrix.sh when it captures
# argument fixtures (MATRIX_ARGV_FIXTURES=<dir>), with the real binary next
# to it as wsrep_sst_rsrsync.real. Records, in $RSRSYNC_ARGV_CAPTURE_DIR:
#   capture.<pid>.argv   line 1: the version of the mariadbd on PATH (the one
#                        that ran us), line 2: role (joiner, donor, donor-ist),
#                        then argv[1..], one element per line, as received
#                        (after sh unquoting)
#   capture.<pid>.stdin  donor only: what mariadbd wrote on our stdin, with
#                        the values of *password* keys replaced by <redacted>
# then runs the real binary with the same arguments and the same stdin.
dir=${RSRSYNC_ARGV_CAPTURE_DIR:?RSRSYNC_ARGV_CAPTURE_DIR is not set}
real="$(dirname "$0")/wsrep_sst_rsrsync.real"
f="$dir/capture.$$"
role=unknown prev='' ist=''
for a in "$@"; do
    [ "$a" = --mysqld-args ] && break
    [ "$prev" = --role ] && role=$a
    [ "$a" = --bypass ] && ist=-ist
    prev=$a
done
version=$(mariadbd --version 2>/dev/null | sed -n 's/.* Ver \([^ ]*\).*/\1/p')
{
    printf '%s\n' "${version:-unknown}" "$role$ist"
    printf '%s\n' "$@"
} >"$f.argv"
if [ "$role" = donor ] && [ ! -t 0 ]; then
    # mariadbd 11.x writes credentials and closes the pipe; 10.x gives its
    # own stdin (here /dev/null). Bounded, so a stdin left open cannot hang.
    timeout 60 cat >"$f.raw" || true
    sed 's/^\([A-Za-z_]*password=\).*/\1<redacted>/' "$f.raw" >"$f.stdin"
    exec <"$f.raw"
    rm -f "$f.raw"
fi
exec "$real" "$@"
