#!/usr/bin/env bash
# Compares a critest run (RESULTS: "state<TAB>spec" lines, as
# contrib/cri/test-cri.sh writes them from critest's JSON report) with
# EXPECTED (contrib/cri/expected.tsv): a spec not listed must have passed; a
# listed one must have ended as its row allows; a listed spec that was not run
# is reported too, so that rows do not outlive the specs they explain.
# Usage: contrib/cri/check.sh RESULTS [EXPECTED]
# Exit status: 0 as expected, 1 not, 2 bad usage.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 RESULTS [EXPECTED]" >&2; exit 2; }
results=$1
expected=${2:-$(dirname "$0")/expected.tsv}

declare -A allow reason seen
while IFS=$'\t' read -r state name why; do
	case $state in '' | '#'*) continue ;; esac
	allow[$name]=$state reason[$name]=$why
done <"$expected"

bad=0 explained=0
while IFS=$'\t' read -r state name; do
	seen[$name]=1
	if [ -z "${allow[$name]:-}" ]; then
		if [ "$state" != passed ]; then
			echo "UNEXPECTED  $state: $name (not in expected.tsv: it must pass)"
			bad=1
		fi
	elif [[ "|${allow[$name]}|" != *"|$state|"* ]]; then
		echo "UNEXPECTED  $state: $name (expected.tsv allows ${allow[$name]}: ${reason[$name]})"
		[ "$state" = passed ] && echo "            it passes now: remove or change its row"
		bad=1
	elif [ "$state" != passed ]; then
		explained=$((explained + 1))
	fi
done <"$results"
for name in "${!allow[@]}"; do
	[ -n "${seen[$name]:-}" ] || { echo "MISSING     $name: in expected.tsv, not run"; bad=1; }
done
echo "check: $explained specs not passing as expected.tsv explains"
exit "$bad"
