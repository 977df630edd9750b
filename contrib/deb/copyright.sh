#!/usr/bin/env bash
# copyright.sh BINARY BUILT-USING: prints the package's machine-readable
# copyright file. A static Go binary carries its modules' code, so they are
# listed with their licences (read from each module's licence file in the
# module cache), and the static C libraries when BUILT-USING names them.
set -euo pipefail
bin=$1 static=$2
modcache=$(go env GOMODCACHE)

# licence DIR: the licences of a module, by its licence files' wording.
licence() {
	local f out=()
	while IFS= read -r f; do
		if grep -q 'Apache License' "$f"; then out+=(Apache-2.0)
		elif grep -q 'Mozilla Public License' "$f"; then out+=(MPL-2.0)
		elif grep -q 'Permission is hereby granted, free of charge' "$f"; then out+=(Expat)
		elif grep -q 'Permission to use, copy, modify, and/or distribute' "$f"; then out+=(ISC)
		elif grep -q 'Neither the name' "$f"; then out+=(BSD-3-clause)
		elif grep -q 'Redistribution and use' "$f"; then out+=(BSD-2-clause)
		fi
	done < <(find "$1" -maxdepth 1 -type f \( -iname 'LICENSE*' -o -iname 'COPYING*' \) 2>/dev/null | sort)
	if [ ${#out[@]} -eq 0 ]; then
		echo "unknown: no licence file in the module cache"
	else
		printf '%s\n' "${out[@]}" | sort -u | paste -sd '/' | sed 's|/| and |g'
	fi
}

# The years of the history, for the copyright notice.
first=$(git log --format=%cd --date=format:%Y 2>/dev/null | tail -n 1)
last=$(git log -1 --format=%cd --date=format:%Y 2>/dev/null || date +%Y)
years=${first:-$last}
[ "$years" = "$last" ] || years=$years-$last

cat <<EOC
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ocirun
Source: https://github.com/ocirun/ocirun

Files: *
Copyright: $years the ocirun authors
License: Apache-2.0
Comment: /usr/sbin/ocirun also contains the Go standard library
 ($(go version "$bin" | awk '{print $2}'), BSD-3-clause) and these Go modules:
EOC
go version -m "$bin" | awk '$1 == "dep" { print $2, $3 }' | while read -r path version; do
	# The module cache escapes capitals as !lower.
	dir=$modcache/$(printf '%s' "$path" | sed 's/[A-Z]/!\L&/g')@$version
	echo "  $path $version ($(licence "$dir"))"
done
if [ -n "$static" ]; then
	cat <<EOC
 It is statically linked with libseccomp (LGPL-2.1) and the GNU C library
 (LGPL-2.1+); Built-Using names their Debian sources:
  $static
EOC
fi
cat <<EOC

License: Apache-2.0
 On Debian systems, the full text of the Apache License, Version 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOC
