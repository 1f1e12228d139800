# shellcheck shell=bash
# Named, timed steps with a pass/fail summary, for scripts that stop at the
# first failure (the cluster tests) and for runners that go on (bin/test).
# Source bin/lib/common.sh first.

declare -a PH_NAMES=() PH_RESULTS=() PH_SECONDS=()
PH_CURRENT=
PH_T0=

# Start step $1; prints it.
phase_begin() {
    PH_CURRENT=$1
    PH_T0=$(now)
    say "== $1"
}

# Record the end of the current step with result $1 (PASS, FAIL or SKIP).
phase_end() {
    local secs=0.0
    [[ -n $PH_T0 ]] && secs=$(elapsed_since "$PH_T0")
    PH_NAMES+=("$PH_CURRENT")
    PH_RESULTS+=("${1:-PASS}")
    PH_SECONDS+=("$secs")
    say "   ${1:-PASS} (${secs}s)"
    PH_CURRENT=
    PH_T0=
}

# Record step $1 as skipped without running it.
phase_skip() {
    PH_NAMES+=("$1")
    PH_RESULTS+=(SKIP)
    PH_SECONDS+=(0.0)
}

# Mark a step still open (the script is exiting on an error) as failed.
phase_fail_open() {
    if [[ -n $PH_CURRENT ]]; then phase_end FAIL; fi
}

# Print the summary table and the closing "N passed, N failed" line, under
# the title $1. Returns 1 if any step failed.
phase_summary() {
    local k pass=0 fail=0 skip=0
    say ""
    say "Summary: $1"
    for k in "${!PH_NAMES[@]}"; do
        printf '  %-4s %8ss  %s\n' "${PH_RESULTS[$k]}" "${PH_SECONDS[$k]}" "${PH_NAMES[$k]}"
        case ${PH_RESULTS[$k]} in
            PASS) pass=$((pass + 1)) ;;
            FAIL) fail=$((fail + 1)) ;;
            *) skip=$((skip + 1)) ;;
        esac
    done
    if [[ $skip -gt 0 ]]; then
        say "$pass passed, $fail failed, $skip skipped"
    else
        say "$pass passed, $fail failed"
    fi
    [[ $fail -eq 0 ]]
}
