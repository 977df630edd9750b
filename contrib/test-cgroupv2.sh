#!/usr/bin/env bash
# Runs the black-box integration suite (tests/integration) against ocirun in a
# throw-away pure cgroup v2 VM (../shared/vm/run-in-vm.sh: qemu, Debian kernel,
# busybox), so the cgroup v2 path (cgroup2 mounts, CLONE_INTO_CGROUP, eBPF
# device filter, v2 freezer, memory.events) is exercised on a v1/hybrid host.
#
# Usage: contrib/test-cgroupv2.sh [go test flags for the test binary...]
#   e.g. contrib/test-cgroupv2.sh -test.run 'TestCgroup'
# Environment: OCIRUN_VM_MEM (MiB, default 1024), OCIRUN_VM_CPUS (default 2),
#   OCIRUN_VM_TIMEOUT (seconds, default 600), and run-in-vm.sh's own variables.
# Exit status: the suite's (0 passed, 1 failed); 124 the VM timed out; 125 the
# VM harness failed; 2 this script could not prepare the run. Prints "SKIP"
# and exits 0 when ../shared/vm is not beside the repository.
set -euo pipefail

repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel 2>/dev/null) || repo=$(cd "$(dirname "$0")/.." && pwd)
vm=$repo/../shared/vm/run-in-vm.sh
if [ ! -x "$vm" ]; then
	echo "SKIP: test-cgroupv2: $vm not found (the VM runner lives in ../shared beside the repository)"
	exit 0
fi

die() {
	echo "test-cgroupv2: $*" >&2
	exit 2
}

# Debian packages: qemu for the VM, busybox-static for the guest userland and
# the initramfs cpio.
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (apt-get install --no-install-recommends ${missing[*]})"
	echo "test-cgroupv2: installing ${missing[*]}"
	apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
		die "apt-get install ${missing[*]} failed"
fi

# The guest kernel: a /boot one, else the run-in-vm.sh cache, else fetch it
# (apt-get download: needs package lists, so update once if that fails).
cache=${OCIRUN_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocirun-vm}
if [ -z "${OCIRUN_VM_KERNEL:-}" ] && ! ls /boot/vmlinuz-* >/dev/null 2>&1 &&
	! ls "$cache"/*/boot/vmlinuz-* >/dev/null 2>&1; then
	echo "test-cgroupv2: fetching the guest kernel into $cache"
	"$vm" --fetch-kernel || { [ "$(id -u)" = 0 ] && apt-get update >/dev/null && "$vm" --fetch-kernel; } ||
		die "run-in-vm.sh --fetch-kernel failed"
fi

tmp=$(mktemp -d -t ocirun-cgroupv2-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$repo"
start=$(date +%s)
# Everything the guest runs must be static: it has no libc and no Go. ocirun
# needs cgo (nsexec, libseccomp.a from libseccomp-dev).
CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags "-extldflags -static" -o "$tmp/ocirun" ./cmd/ocirun ||
	die "static build of ocirun failed (libseccomp-dev provides libseccomp.a)"
CGO_ENABLED=0 go build -trimpath -o "$tmp/probe" ./tests/cmd/probe || die "build of the probe failed"
CGO_ENABLED=0 go test -c -trimpath -o "$tmp/integration.test" ./tests/integration || die "build of the integration tests failed"
echo "test-cgroupv2: built in $(($(date +%s) - start))s; booting the VM"

# Dynamically linked host programs go into the guest with their shared
# libraries, each resolved and put at the path the loader looks in.
declare -A added=()
vm_args=()
add_file() { # SRC DEST
	[ -n "${added[$2]:-}" ] && return
	added[$2]=1
	vm_args+=(-a "$(readlink -f "$1"):$2")
}
add_program() { # SRC DEST
	add_file "$1" "$2"
	local lib
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		add_file "$lib" "$lib"
	done
}

# checkpoint/restore: criu, plus GNU tar as /bin/tar (criu dumps tmpfs mounts
# with it; busybox tar lacks its options; busybox --install keeps an existing
# file) and the modules criu needs: nf_tables (probed at start, and its
# network lock where there is no iptables), nf_conntrack_netlink (criu dumps
# every network namespace's conntrack table, even an --empty-ns one; without
# the module, which busybox cannot autoload, netlink answers EINVAL and the
# dump fails) and the socket diag ones (it collects a namespace's sockets
# through them). Without criu the tests skip.
if criu=$(command -v criu) && tar=$(command -v tar) && [ "$(readlink -f "$tar")" != /bin/busybox ]; then
	for m in nf_tables nf_conntrack_netlink unix_diag inet_diag tcp_diag udp_diag raw_diag netlink_diag af_packet_diag; do
		vm_args+=(--module "$m")
	done
	add_program "$criu" /usr/sbin/criu
	add_program "$tar" /bin/tar
	echo "test-cgroupv2: adding $criu and GNU tar to the VM"
fi
# --systemd-cgroup: systemd 252 runs as PID 1 of a container in the guest
# (tests/integration/systemd_host_test.go), so the driver meets a real
# systemd on pure cgroup v2. Without systemd the tests skip.
if [ -x /lib/systemd/systemd ] && systemctl=$(command -v systemctl); then
	add_program /lib/systemd/systemd /lib/systemd/systemd
	add_program "$systemctl" /usr/bin/systemctl
	# The harness binds its unit dir over /etc/systemd/system.
	mkdir -p "$tmp/empty"
	add_file "$tmp/empty" /etc/systemd/system
	echo "test-cgroupv2: adding systemd and systemctl to the VM"
fi

# TCG runs CPU-bound code ~8-10x slower: 2 vCPUs with 2 tests at a time keeps
# the suite near 5 minutes; the OOM test needs 250 MiB beside the tmpfs root.
status=0
"$vm" -m "${OCIRUN_VM_MEM:-1024}" -c "${OCIRUN_VM_CPUS:-2}" -t "${OCIRUN_VM_TIMEOUT:-600}" \
	-a "$tmp/ocirun" -a "$tmp/probe" "${vm_args[@]}" \
	-e OCIRUN_TEST_RUNTIME=/payload/ocirun -e OCIRUN_TEST_PROBE=/payload/probe \
	"$tmp/integration.test" -test.v -test.timeout 9m -test.parallel 2 "$@" || status=$?
echo "test-cgroupv2: exit $status after $(($(date +%s) - start))s"
exit $status
