#!/usr/bin/env bash
# make conformance: runs the OCI runtime-tools validation suite
# (../shared/conformance/run-oci-validation.sh, beside the repository) against
# ./ocirun and compares every program's result with expected.tsv.
#
# Usage: contrib/conformance/check.sh [RUNTIME] (default: ./ocirun)
#        contrib/conformance/check.sh --compare RESULTS_DIR  (an earlier run)
# A program not in expected.tsv must PASS. A listed one must end with one of
# its allowed statuses, and each of its "not ok" lines (or, without any, its
# TAP or stderr) must contain the row's evidence: a listed failure with a new
# cause is as unexplained as an unlisted one. A listed program that passes
# where its row does not allow PASS fails the run too, so that the row goes.
# The total of passed assertions must reach the file's min-passed.
# Exit status: 0 all explained; 1 something unexplained; 2 the run could not
# be made (no suite beside the repository, harness error).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
expected=$here/expected.tsv
suite=${OCIRUN_CONFORMANCE_SUITE:-$repo/../shared/conformance/run-oci-validation.sh}

die() {
	echo "conformance: $*" >&2
	exit 2
}

if [ "${1:-}" = --compare ]; then
	[ $# -eq 2 ] || die "usage: $0 --compare RESULTS_DIR"
	results=$2
else
	runtime=$(realpath "${1:-$repo/ocirun}") || die "no runtime ${1:-$repo/ocirun} (run make first)"
	[ -x "$suite" ] || die "$suite not found: the suite lives in ../shared beside the repository"
	results=$(mktemp -d -t ocirun-conformance-XXXXXX)
	OCI_VALIDATION_RESULTS_DIR=$results "$suite" "$runtime" || die "the harness failed (exit $?)"
fi
[ -f "$results/summary.tsv" ] || die "no $results/summary.tsv"

# evidence_ok TEST EVIDENCE: every "not ok" of the test holds EVIDENCE, in
# its line or its YAML block (up to the next result); with none, its TAP or
# stderr does.
evidence_ok() {
	local ev=$2 tap=$results/$1.tap err=$results/$1.stderr
	[ "$ev" = - ] && return 0
	if grep -q '^not ok' "$tap" 2>/dev/null; then
		awk -v ev="$ev" '
			/^(not )?ok / { if (open && !found) bad = 1; open = /^not ok/; found = 0 }
			open && index($0, ev) { found = 1 }
			END { if (open && !found) bad = 1; exit bad }' "$tap"
	else
		grep -qF -- "$ev" "$tap" "$err" 2>/dev/null
	fi
}

declare -A allow evidence reason
min_passed=0
while IFS=$'\t' read -r test status ev why; do
	case $test in '' | '#'*) continue ;; esac
	if [ "$test" = min-passed ]; then
		min_passed=$status
		continue
	fi
	allow[$test]=$status evidence[$test]=$ev reason[$test]=$why
done <"$expected"

bad=0 explained=0 seen=()
while IFS=$'\t' read -r test status ok notok _ rc _; do
	[ "$test" = test ] && continue
	seen+=("$test")
	if [ -z "${allow[$test]:-}" ]; then
		if [ "$status" != PASS ]; then
			echo "UNEXPLAINED  $test: $status ($ok ok, $notok not ok, exit $rc), and not in expected.tsv"
			grep -h '^not ok' "$results/$test.tap" 2>/dev/null | head -3 | sed 's/^/               /' || true
			bad=1
		fi
		continue
	fi
	if [[ "|${allow[$test]}|" != *"|$status|"* ]]; then
		echo "UNEXPECTED   $test: $status ($ok ok, $notok not ok), expected.tsv allows ${allow[$test]}: ${reason[$test]}"
		[ "$status" = PASS ] && echo "               it passes now: remove or change its row"
		bad=1
	elif [ "$status" != PASS ] && ! evidence_ok "$test" "${evidence[$test]}"; then
		echo "UNEXPLAINED  $test: $status, but not (only) for the listed reason: ${evidence[$test]}"
		grep -h '^not ok' "$results/$test.tap" 2>/dev/null | grep -vF -- "${evidence[$test]}" | head -3 | sed 's/^/               /' || true
		bad=1
	else
		[ "$status" != PASS ] && explained=$((explained + 1))
	fi
done <"$results/summary.tsv"

for test in "${!allow[@]}"; do
	if [[ " ${seen[*]} " != *" $test "* ]]; then
		echo "MISSING      $test: listed in expected.tsv but not run"
		bad=1
	fi
done

passed=$(awk -F'\t' 'NR > 1 { n += $3 } END { print n + 0 }' "$results/summary.tsv")
echo "conformance: $passed assertions passed (min-passed $min_passed), $explained programs fail as expected.tsv explains; results in $results"
if [ "$passed" -lt "$min_passed" ]; then
	echo "conformance: $passed passed assertions, fewer than min-passed $min_passed"
	bad=1
fi
exit "$bad"
