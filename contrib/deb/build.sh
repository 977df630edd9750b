#!/usr/bin/env bash
# build.sh DIR VERSION COMMIT: turns DIR/debian/ocirun (what `make install`
# put under /usr) into DIR/ocirun_<version>_<arch>.deb with dpkg's own tools:
# dpkg-shlibdeps for the libraries a dynamic binary needs, dpkg-gencontrol
# for DEBIAN/control, dpkg-deb to build. Run by `make deb`.
set -euo pipefail
for tool in dpkg-gencontrol dpkg-shlibdeps dpkg-deb readelf; do
	command -v $tool >/dev/null || { echo "make deb: $tool is missing: apt-get install dpkg-dev" >&2; exit 1; }
done
dir=$(cd "$1" && pwd) version=$2 commit=$3
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cd "$dir"
pkg=debian/ocirun
doc=$pkg/usr/share/doc/ocirun
bin=$pkg/usr/sbin/ocirun

# A Debian version starts with a digit; an untagged `git describe` (a bare
# hash) becomes a snapshot of 0.1.0 ordered by the commit date.
if [[ $version =~ ^v?[0-9]+\.[0-9] ]]; then
	debversion=${version#v}
else
	debversion=0.1.0~git$(git -C "$repo" log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$version
fi
debversion=${debversion//-/+}
when=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
maintainer="${DEBFULLNAME:-$(git -C "$repo" log -1 --format=%an)} <${DEBEMAIL:-$(git -C "$repo" log -1 --format=%ae)}>"

# Man pages and docs compressed as policy wants (-n: no timestamp, so the
# build is reproducible).
gzip -9n "$pkg"/usr/share/man/man8/*.8
install -d -m 0755 "$doc/examples"
gzip -9n <"$repo/README.md" >"$doc/README.md.gz"
# The examples name the binary where this package puts it.
for f in containerd/config.toml:containerd-config.toml containerd/runtime-handler.toml:containerd-runtime-handler.toml \
	kubernetes/runtimeclass.yaml:kubernetes-runtimeclass.yaml containers.conf:containers.conf; do
	sed 's|/usr/local/sbin/ocirun|/usr/sbin/ocirun|g' "$repo/contrib/${f%%:*}" >"$doc/examples/${f##*:}"
done

# A native package: the changelog is changelog.gz (dpkg-gencontrol reads
# the version from it).
cat >debian/changelog <<EOC
ocirun ($debversion) unstable; urgency=medium

  * Built from commit $commit.

 -- $maintainer  $when
EOC
gzip -9n <debian/changelog >"$doc/changelog.gz"
sed "s|\${maintainer}|$maintainer|" "$here/control" >debian/control

# Static binary: no shared library to depend on, but Debian records the
# sources of the static libraries in Built-Using. Dynamic: dpkg-shlibdeps.
: >debian/substvars
if readelf -l "$bin" | grep -q 'Requesting program interpreter'; then
	dpkg-shlibdeps -Tdebian/substvars "$bin"
	static=
else
	static=$(dpkg-query -W -f='${source:Package} (= ${source:Version}), ' libseccomp-dev libc6-dev)
	static=${static%, }
	echo "shlibs:Depends=" >>debian/substvars
	install -d -m 0755 "$pkg/usr/share/lintian/overrides"
	cat >"$pkg/usr/share/lintian/overrides/ocirun" <<EOC
# Static on purpose: ocirun re-executes itself as the container's init, which
# must not load shared objects through a dynamic loader (see the Makefile).
ocirun: statically-linked-binary [usr/sbin/ocirun]
EOC
fi
echo "static:Built-Using=$static" >>debian/substvars
(cd "$repo" && "$here/copyright.sh" "$dir/$bin" "$static") >"$doc/copyright"

find "$pkg" -type d -exec chmod 0755 {} +
find "$pkg" -type f ! -path "$bin" -exec chmod 0644 {} +
install -d -m 0755 "$pkg/DEBIAN"
dpkg-gencontrol -pocirun -P"$pkg" -Tdebian/substvars
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/md5sums"
dpkg-deb --root-owner-group -Zxz --build "$pkg" .
