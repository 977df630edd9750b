#!/bin/sh
# Builds a busybox bundle in a temp dir and runs a real container with ocirun,
# printing what the container sees.
set -eu
OCIRUN=$(readlink -f "${1:-./ocirun}")
[ "$(id -u)" = 0 ] || { echo "demo: run as root (containers need namespaces and cgroups)" >&2; exit 1; }
[ -x /bin/busybox ] || { echo "demo: /bin/busybox missing: apt-get install busybox-static" >&2; exit 1; }
dir=$(mktemp -d /tmp/ocirun-demo.XXXXXX)
state=$dir/state
id=demo-$$
cleanup() { "$OCIRUN" --root "$state" delete --force "$id" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
mkdir -p "$dir/rootfs/bin" "$dir/rootfs/etc"
cp /bin/busybox "$dir/rootfs/bin/busybox"
for a in sh cat echo hostname id ls ps mount grep head wc sleep; do ln -s busybox "$dir/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/rootfs/etc/passwd"
echo 'root:x:0:' > "$dir/rootfs/etc/group"
cd "$dir"
"$OCIRUN" spec
# A non-interactive demo: no terminal, a script instead of an interactive sh,
# and a hostname of our own.
script='echo "== hostname: $(hostname)"; echo "== id: $(id)"; echo "== processes (a new pid namespace):"; ps; echo "== mounts:"; mount | head -12; echo "== cgroup:"; head -3 /proc/self/cgroup; echo "== capabilities:"; grep Cap /proc/self/status; echo "== writing to / (read-only rootfs):"; touch /x 2>&1 || true'
sed -i -e 's/"terminal": true/"terminal": false/' \
	-e "s|\"sh\"$|\"sh\", \"-c\", $(printf '%s' "$script" | sed 's/[\\&|]/\\&/g; s/"/\\\\"/g; s/^/"/; s/$/"/')|" \
	-e 's/"hostname": "runc"/"hostname": "ocirun-demo"/' config.json
echo "== ocirun $("$OCIRUN" --version | head -1 | sed 's/.*version //') running busybox in $dir"
"$OCIRUN" --root "$state" run "$id"
echo "== container exited with status $?; state after run (nothing left):"
"$OCIRUN" --root "$state" list
