#!/usr/bin/env bash
# make test-cri: Kubernetes' CRI validation suite (cri-tools' critest, built
# from its Go module) against a private containerd 1.6 whose CRI plugin runs
# every pod and container with RUNTIME as the runc v2 shim's BinaryName.
# Nothing is fetched from a registry: contrib/cri/registry builds the images
# critest names from busybox-static and serves them on 127.0.0.1, and the CRI
# plugin uses it as the mirror of every registry host.
#
# Everything runs in a network, IPC and mount namespace of its own (the
# HostIpc test's segment, made by critest with ipcmk, goes with it; loopback up,
# pods on a bridge CNI that exists only there, portmap rules only there), with
# containerd's root, state, socket, CNI state and /run/netns under a temp dir,
# and every container's cgroup below this script's own cgroup.
#
# Usage: contrib/cri/test-cri.sh [--keep] [--record] [RUNTIME]
#   RUNTIME   a path or a name in $PATH (default: $OCIRUN, else ./ocirun).
#   --record  only print the counts and each spec's result (for RESULTS.md,
#             e.g. with `runc`): no comparison with expected.tsv.
#   --keep    keep the temp dir (containerd.log, critest.log, report).
# Otherwise each spec's result is compared with contrib/cri/expected.tsv:
# a spec not listed there must pass; a listed one must end as its row allows.
# OCIRUN_TEST_STRICT=1: fail (exit 2) rather than skip when not root.
# Exit status: 0 as expected; 1 a spec did not; 2 the harness could not run.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
expected=$here/expected.tsv
critools_version=v1.37.0
registry_addr=127.0.0.1:5000
. "$repo/contrib/client-lib.sh"

record=0
args=()
for a in "$@"; do
	case $a in
	--record) record=1 ;;
	--inside) ;;
	*) args+=("$a") ;;
	esac
done

# --- inside the private namespaces (the script re-runs itself there) -----------
if [ "${1:-}" = --inside ]; then
	tmp=$2
	harness_log=$tmp/containerd.log
	ip link set lo up || harness_error "ip link set lo up failed"
	# containerd 1.6 puts pod network namespaces in /run/netns: keep them
	# in this mount namespace.
	mkdir -p /run/netns && mount -t tmpfs -o mode=0755 tmpfs /run/netns || harness_error "tmpfs on /run/netns failed"
	"$tmp/bin/registry" -listen "$registry_addr" >"$tmp/registry.log" 2>&1 &
	containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
	echo $! >"$tmp/containerd.pid"
	for _ in $(seq 150); do
		ctr --address "$tmp/containerd.sock" version >/dev/null 2>&1 && break
		sleep 0.1
	done
	ctr --address "$tmp/containerd.sock" version >/dev/null 2>&1 || harness_error "containerd did not answer within 15s"
	grep -q 'registry: .* on http' "$tmp/registry.log" || harness_error "the test registry did not start: $(cat "$tmp/registry.log")"
	# The sandbox image is pulled (from the test registry) on the first pod.
	cd "$tmp" || exit 2
	"$tmp/bin/critest" -runtime-endpoint "unix://$tmp/containerd.sock" \
		-ginkgo.json-report "$tmp/report.json" -ginkgo.no-color -ginkgo.timeout 50m \
		${CRITEST_SKIP:+-ginkgo.skip "$CRITEST_SKIP"} ${CRITEST_FOCUS:+-ginkgo.focus "$CRITEST_FOCUS"} \
		>"$tmp/critest.log" 2>&1
	echo "critest exit status $?" >>"$tmp/critest.log"
	# Stop and remove what critest left (it removes its pods itself when a
	# spec passes), so that containerd stops with no task running.
	remove_leftovers() {
		local ids
		ids=$(ctr --address "$tmp/containerd.sock" -n k8s.io containers ls -q 2>/dev/null)
		for id in $ids; do
			ctr --address "$tmp/containerd.sock" -n k8s.io task kill -s SIGKILL "$id" >/dev/null 2>&1
		done
		sleep 1
		for id in $ids; do
			ctr --address "$tmp/containerd.sock" -n k8s.io task rm -f "$id" >/dev/null 2>&1
			ctr --address "$tmp/containerd.sock" -n k8s.io containers rm "$id" >/dev/null 2>&1
		done
	}
	remove_leftovers
	kill "$(cat "$tmp/containerd.pid")"
	for _ in $(seq 50); do kill -0 "$(cat "$tmp/containerd.pid")" 2>/dev/null || break; sleep 0.1; done
	kill %1 2>/dev/null
	exit 0
fi

set -- "${args[@]}"
parse_client_args "$@"

if [ "$(id -u)" != 0 ]; then
	[ -z "${OCIRUN_TEST_STRICT:-}" ] || { echo "test-cri: needs root (containerd, namespaces, cgroups), and OCIRUN_TEST_STRICT is set" >&2; exit 2; }
	echo "test-cri: skipped: needs root (containerd, namespaces, cgroups)"
	exit 0
fi
resolve_runtime

# --- what it needs ---------------------------------------------------------------
need=()
command -v containerd >/dev/null && command -v containerd-shim-runc-v2 >/dev/null && command -v ctr >/dev/null || need+=(containerd)
[ -x /usr/lib/cni/bridge ] && [ -x /usr/lib/cni/portmap ] && [ -x /usr/lib/cni/host-local ] || need+=(containernetworking-plugins)
[ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null 2>&1 && ! ldd /bin/busybox >/dev/null 2>&1 || need+=(busybox-static)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
command -v jq >/dev/null || need+=(jq)
command -v unshare >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
	echo "installing ${need[*]} (Debian packages)"
	# A fresh machine has no package lists yet: update once and retry.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; } ||
		harness_error "apt-get install ${need[*]} failed"
fi
command -v go >/dev/null || harness_error "go is not in \$PATH (needed to build critest and the test images)"
case $(containerd --version) in
*" 1.6."* | *" v1.6."*) ;;
*) echo "test-cri: note: expected.tsv describes containerd 1.6, this is $(containerd --version)" ;;
esac

# critest is cri-tools' test binary (`go test -c` of cmd/critest), built from
# the module as the Go module proxy serves it; kept in build/ between runs.
critest=$repo/build/critest-$critools_version
if [ ! -x "$critest" ]; then
	echo "building critest $critools_version"
	moddir=$(cd "$repo" && go mod download -json "sigs.k8s.io/cri-tools@$critools_version" | jq -r .Dir) ||
		harness_error "go mod download sigs.k8s.io/cri-tools@$critools_version failed"
	(cd "$moddir" && CGO_ENABLED=0 go test -c -o "$critest.new" ./cmd/critest) ||
		harness_error "building critest failed"
	mv "$critest.new" "$critest"
fi

tmp=$(mktemp -d /tmp/ocirun-cri.XXXXXX) || harness_error "mktemp failed"
harness_log=$tmp/containerd.log
chmod 0711 "$tmp"
mkdir -p "$tmp/bin" "$tmp/net.d" "$tmp/cni"
cp "$critest" "$tmp/bin/critest"
(cd "$repo" && CGO_ENABLED=0 go build -o "$tmp/bin/registry" ./contrib/cri/registry) || harness_error "building contrib/cri/registry failed"
sock=$tmp/containerd.sock

# --- cgroups: below the deepest cgroup this script is in ----------------------------
cgparent=$(own_cgroup)/$(basename "$tmp")
cgroup_mounts() { awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo; }

# critest asks for cgroup parent /test.slice (containerd 1.6 has no
# RuntimeConfig to say it uses cgroupfs), an absolute path: the wrapper moves
# each container's cgroupsPath below ours before the runtime sees it. It is
# the same for every runtime tested and changes nothing else.
cat >"$tmp/bin/runtime" <<EOF
#!/bin/sh
prev= log= bundle=
for a in "\$@"; do
	if [ "\$prev" = --bundle ] && [ -f "\$a/config.json" ]; then
		sed -i 's|"cgroupsPath":"/test.slice/|"cgroupsPath":"$cgparent/test.slice/|' "\$a/config.json"
		bundle=\$a
	fi
	[ "\$prev" = --log ] && log=\$a
	prev=\$a
done
"$rt" "\$@"
rc=\$?
# A failed call's argv and log are kept for the report.
if [ \$rc != 0 ]; then
	{ echo "== exit \$rc: \$*"; [ -n "\$log" ] && tail -n 5 "\$log"; } >>"$tmp/runtime-failures.log" 2>/dev/null
	[ -n "\$bundle" ] && cp "\$bundle/config.json" "$tmp/failed-\$(basename "\$bundle").json"
fi
exit \$rc
EOF
chmod 0755 "$tmp/bin/runtime"

cat >"$tmp/net.d/10-ocirun-cri.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "ocirun-cri",
  "plugins": [
    {
      "type": "bridge", "bridge": "cri0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$tmp/cni/ipam", "ranges": [[{ "subnet": "10.99.0.0/24" }]], "routes": [{ "dst": "0.0.0.0/0" }] }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF

mirrors=
for host in registry.k8s.io k8s.gcr.io gcr.io docker.io; do
	mirrors+="
  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"$host\"]
    endpoint = [\"http://$registry_addr\"]"
done
cat >"$tmp/config.toml" <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  level = "info"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # Sandboxes ask for oom_score_adj -998: lowering it needs CAP_SYS_RESOURCE,
  # which root lacks on CI's machine; clamp to containerd's own value.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$tmp/bin/runtime"
        Root = "$tmp/runtime-root"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$tmp/net.d"
$mirrors
EOF

# teardown: stop what the run left and say what that was; the run fails
# when anything had to be stopped or removed here.
leftovers=()
torn=0
teardown() {
	local pid m b
	torn=1
	# Shims outlive containerd by design; ours are the ones given our socket.
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock( |$)"); do
		leftovers+=("shim process $pid")
		kill -9 "$pid" 2>/dev/null
	done
	for b in "$tmp"/state/io.containerd.runtime.v2.task/*/*/address; do
		[ -f "$b" ] && rm -f "$(sed 's|^unix://||' "$b")"
	done
	for m in $(cgroup_mounts); do
		[ -d "$m$cgparent" ] || continue
		find "$m$cgparent" -depth -type d -exec rmdir {} + 2>/dev/null
		[ -d "$m$cgparent" ] && leftovers+=("cgroup $m$cgparent")
	done
}
cleanup() {
	[ "$torn" = 1 ] || teardown
	if [ "$keep" = 1 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp" 2>/dev/null || { umount -R "$tmp"/* 2>/dev/null; rm -rf "$tmp"; }
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "runtime: $rt ($("$rt" --version 2>/dev/null | head -n 1))"
echo "containerd: $(containerd --version)"
echo "critest: $critools_version; cgroups under: $cgparent"
start=$(date +%s)
unshare -m -n -i --propagation private "$0" --inside "$tmp" || harness_error "the run in the private namespaces failed"
echo "critest ran in $(($(date +%s) - start))s"
teardown
[ -f "$tmp/report.json" ] || { tail -n 30 "$tmp/critest.log" >&2; harness_error "critest wrote no report"; }

# Each spec as "state<TAB>full text", in the order critest ran them.
jq -r '.[].SpecReports[] | select(.LeafNodeType == "It") |
	[.State, ((.ContainerHierarchyTexts + [.LeafNodeText]) | join(" "))] | @tsv' "$tmp/report.json" >"$tmp/results.tsv"
count() { awk -F'\t' -v s="$1" '$1 == s' "$tmp/results.tsv" | wc -l; }
# Worded so that no reader of closing lines takes a listed failure for one.
summary="$(count passed) specs passed; $(($(count failed) + $(count panicked) + $(count timedout))) failed and $(count skipped) were skipped"

if [ "$record" = 1 ]; then
	sort -t$'\t' -k2 "$tmp/results.tsv"
	echo "test-cri: $(basename "$rt"): $summary"
	exit 0
fi

# --- compare with expected.tsv ---------------------------------------------------------
bad=0
"$here/check.sh" "$tmp/results.tsv" "$expected" || bad=1
if [ "$bad" = 1 ]; then
	grep -E '^\s*\[FAIL\]|^  \[FAILED\]' "$tmp/critest.log" | head -n 40
	keep=1
	echo "critest log: $tmp/critest.log, containerd log: $tmp/containerd.log"
fi
if [ ${#leftovers[@]} -gt 0 ]; then
	echo "LEFT BEHIND: ${leftovers[*]}"
	bad=1
fi
if [ "$bad" = 0 ]; then
	echo "test-cri: $(basename "$rt"): $summary, all as expected.tsv says"
else
	echo "test-cri: $(basename "$rt"): $summary; not as expected.tsv says (see above)"
fi
exit "$bad"
