#!/usr/bin/env bash
# Runs the black-box integration suite (tests/integration) against ocirun in a
# throw-away pure cgroup v2 VM (../shared/vm/run-in-vm.sh: qemu, Debian kernel,
# busybox), so the cgroup v2 path (cgroup2 mounts, CLONE_INTO_CGROUP, eBPF
# device filter, v2 freezer, memory.events) is exercised on a v1/hybrid host.
#
# Usage: contrib/test-cgroupv2.sh [go test flags for the test binary...]
#   e.g. contrib/test-cgroupv2.sh -test.run 'TestCgroup'
# Environment: OCIRUN_VM_MEM (MiB, default 1024), OCIRUN_VM_CPUS (default 2),
#   OCIRUN_VM_TIMEOUT (seconds, default 1200), and run-in-vm.sh's own variables.
# Exit status: the suite's (0 passed, 1 failed); 124 the VM timed out; 125 the
# VM harness failed; 2 this script could not prepare the run. Prints "SKIP"
# and exits 0 when ../shared/vm is not beside the repository, unless
# OCIRUN_TEST_STRICT is set (.ci/run): then that fails (2), and so does any
# test that skips in the VM without a "cgroupv2-vm" line in
# tests/expected-skips.txt (tests/cmd/skipcheck reads the suite's output).
set -euo pipefail

prog=test-cgroupv2
# shellcheck source=contrib/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"
vm_prepare

tmp=$(mktemp -d -t ocirun-cgroupv2-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
vm_build "$tmp"
echo "test-cgroupv2: built in $(($(date +%s) - start))s; booting the VM"

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

# Rootless podman with a delegated cgroup v2 subtree (TestRootlessPodman):
# podman, conmon, catatonit (its pause process), the setuid newuidmap and
# newgidmap, the signature policy, and a busybox image as an OCI archive.
# Without podman or uidmap on the host the test skips.
if podman=$(command -v podman) && conmon=$(command -v conmon) && newuidmap=$(command -v newuidmap) &&
	newgidmap=$(command -v newgidmap) && [ -f /etc/containers/policy.json ]; then
	add_program "$podman" /usr/bin/podman
	add_program "$conmon" /usr/bin/conmon
	add_program "$newuidmap" /usr/bin/newuidmap
	add_program "$newgidmap" /usr/bin/newgidmap
	for c in /usr/libexec/podman/catatonit /usr/bin/catatonit; do
		[ -x "$c" ] && add_program "$c" /usr/libexec/podman/catatonit && break
	done
	add_file /etc/containers/policy.json /etc/containers/policy.json
	(cd "$repo" && go run ./contrib/containerd/mkimage -o "$tmp/busybox.oci.tar") || die "building the busybox image failed"
	vm_args+=(-a "$tmp/busybox.oci.tar" -e OCIRUN_TEST_PODMAN_IMAGE=/payload/busybox.oci.tar)
	echo "test-cgroupv2: adding podman, conmon, newuidmap and a busybox image to the VM"
fi

# TCG runs CPU-bound code ~8-10x slower: 2 vCPUs with 2 tests at a time keeps
# the suite near 8 minutes (rootless podman included); the OOM test needs 250 MiB beside the tmpfs root.
status=0
run_vm() {
	"$vm" -m "${OCIRUN_VM_MEM:-1024}" -c "${OCIRUN_VM_CPUS:-2}" -t "${OCIRUN_VM_TIMEOUT:-1200}" \
		-a "$tmp/ocirun" -a "$tmp/probe" "${vm_args[@]}" \
		-e OCIRUN_TEST_RUNTIME=/payload/ocirun -e OCIRUN_TEST_PROBE=/payload/probe \
		"$tmp/integration.test" "$1" -test.timeout 18m -test.parallel 2 "${@:2}"
}
if [ -n "${OCIRUN_TEST_STRICT:-}" ]; then
	# test2json's framing attributes each line to its test even when
	# parallel tests interleave; the VM's own lines pass through.
	(cd "$repo" && go build -o "$tmp/skipcheck" ./tests/cmd/skipcheck) || die "build of skipcheck failed"
	run_vm -test.v=test2json "$@" 2>&1 | go tool test2json -p github.com/ocirun/ocirun/tests/integration |
		"$tmp/skipcheck" -skips "$repo/tests/expected-skips.txt" -where cgroupv2-vm || status=$?
else
	run_vm -test.v "$@" || status=$?
fi
echo "test-cgroupv2: exit $status after $(($(date +%s) - start))s"
exit $status
