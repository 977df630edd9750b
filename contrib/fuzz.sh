#!/bin/sh
# Runs every Go fuzz target in the module for a while each: `make fuzz`
# (FUZZTIME=20s by default; .ci/run uses 10s). Each starts from its seed
# corpus (the f.Add seeds and testdata/fuzz/<Fuzzer>/ beside it, which
# `make test` runs as ordinary test cases); a crasher it finds is written
# there and fails the run. Prints the executions of each target at the end.
set -eu
cd "$(dirname "$0")/.."
time=${1:-20s}
summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
for file in $(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do
	pkg=./$(dirname "${file#./}")
	for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "== $pkg $fn ($time)"
		out=$(go test -run '^$' -fuzz "^$fn\$" -fuzztime "$time" "$pkg" 2>&1) ||
			# Go's fuzz coordinator can fail the run with "context deadline
			# exceeded" when a worker answers late as -fuzztime ends, with no
			# input at fault (nothing written to testdata). Only that is run
			# again, once; a crasher always writes its input and fails.
			case $out in
			*"Failing input written to"*) false ;;
			*"context deadline exceeded"*)
				echo "fuzz: $pkg $fn: coordinator deadline without a failing input; once more"
				out=$(go test -run '^$' -fuzz "^$fn\$" -fuzztime "$time" "$pkg" 2>&1) ;;
			*) false ;;
			esac || {
			printf '%s\n' "$out"
			echo "fuzz: $pkg $fn failed; the input is in $pkg/testdata/fuzz/$fn/" >&2
			exit 1
		}
		printf '%s\n' "$out" | tail -n 3
		execs=$(printf '%s\n' "$out" | sed -n 's/.*execs: \([0-9]*\).*/\1/p' | tail -n 1)
		printf '%-40s %-36s %s\n' "$pkg" "$fn" "${execs:-?}" >>"$summary"
	done
done
echo "== executions per fuzz target ($time each)"
cat "$summary"
