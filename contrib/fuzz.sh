#!/bin/sh
# Runs every Go fuzz target in the module for a while each: `make fuzz`
# (FUZZTIME=20s by default). New crashers land in the package's
# testdata/fuzz/ and then run as ordinary test cases in `make test`.
set -eu
cd "$(dirname "$0")/.."
time=${1:-20s}
grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r file; do
	pkg=./$(dirname "${file#./}")
	for fn in $(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file"); do
		echo "== $pkg $fn ($time)"
		go test -run '^$' -fuzz "^$fn\$" -fuzztime "$time" "$pkg"
	done
done
