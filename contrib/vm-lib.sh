# shellcheck shell=bash
# vm-lib.sh: what the scripts that run the integration suite in a qemu VM
# (../shared/vm/run-in-vm.sh) share: finding the runner, installing qemu and
# busybox, fetching the guest kernel, the static builds, and putting host
# programs into the guest. Sourced by contrib/test-cgroupv2.sh and
# contrib/test-lsm.sh after they set $prog (the name in their messages).

repo=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null) ||
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vm=$repo/../shared/vm/run-in-vm.sh
cache=${OCIRUN_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocirun-vm}

die() {
	echo "${prog:?}: $*" >&2
	exit 2
}

# vm_prepare prints SKIP and exits 0 when the runner is not beside the
# repository, but fails (exit 2) in a strict run (OCIRUN_TEST_STRICT=1, as
# .ci/run runs): CI must not pass a suite it did not run. Otherwise it
# installs what the VM needs and fetches the kernel.
vm_prepare() {
	if [ ! -x "$vm" ]; then
		[ -z "${OCIRUN_TEST_STRICT:-}" ] || die "$vm not found (the VM runner lives in ../shared beside the repository); OCIRUN_TEST_STRICT is set, so this is a failure, not a skip"
		echo "SKIP: $prog: $vm not found (the VM runner lives in ../shared beside the repository)"
		exit 0
	fi
	# Debian packages: qemu for the VM, busybox-static for the guest userland
	# and the initramfs cpio.
	local missing=()
	command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
	[ -x /bin/busybox ] || missing+=(busybox-static)
	if [ ${#missing[@]} -gt 0 ]; then
		[ "$(id -u)" = 0 ] || die "missing ${missing[*]}: install them (apt-get install --no-install-recommends ${missing[*]})"
		echo "$prog: installing ${missing[*]}"
		apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
			{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
			die "apt-get install ${missing[*]} failed"
	fi
	# The guest kernel: a /boot one, else the run-in-vm.sh cache, else fetch
	# it (apt-get download: needs package lists, so update once if that fails).
	if [ -z "${OCIRUN_VM_KERNEL:-}" ] && ! ls /boot/vmlinuz-* >/dev/null 2>&1 &&
		! ls "$cache"/*/boot/vmlinuz-* >/dev/null 2>&1; then
		echo "$prog: fetching the guest kernel into $cache"
		"$vm" --fetch-kernel || { [ "$(id -u)" = 0 ] && apt-get update >/dev/null && "$vm" --fetch-kernel; } ||
			die "run-in-vm.sh --fetch-kernel failed"
	fi
}

# vm_build DIR builds DIR/ocirun, DIR/probe and DIR/integration.test.
# Everything the guest runs must be static: it has no libc and no Go. ocirun
# needs cgo (nsexec, libseccomp.a from libseccomp-dev).
vm_build() {
	(
		cd "$repo" || exit
		CGO_ENABLED=1 go build -trimpath -tags netgo,osusergo -ldflags "-extldflags -static" -o "$1/ocirun" ./cmd/ocirun ||
			die "static build of ocirun failed (libseccomp-dev provides libseccomp.a)"
		CGO_ENABLED=0 go build -trimpath -o "$1/probe" ./tests/cmd/probe || die "build of the probe failed"
		CGO_ENABLED=0 go test -c -trimpath -o "$1/integration.test" ./tests/integration || die "build of the integration tests failed"
	)
}

# Dynamically linked host programs go into the guest with their shared
# libraries, each resolved and put at the path the loader looks in; vm_args
# collects the run-in-vm.sh options.
declare -A vm_added=()
vm_args=()
add_file() { # SRC DEST
	[ -n "${vm_added[$2]:-}" ] && return
	vm_added[$2]=1
	vm_args+=(-a "$(readlink -f "$1"):$2")
}
add_program() { # SRC DEST
	add_file "$1" "$2"
	local lib
	for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		add_file "$lib" "$lib"
	done
}
