#!/usr/bin/env bash
# Runs the AppArmor and SELinux integration tests (tests/integration/lsm_*)
# where those LSMs are real: in the qemu VM of ../shared/vm/run-in-vm.sh,
# booted twice: with AppArmor (the Debian kernel's default LSM; the tests
# load their profiles with apparmor_parser) and with security=selinux and
# Debian's reference policy loaded (permissive). Each boot also runs the
# refusal test of the other LSM, which is off there. Everywhere else these
# tests skip, so one that skips inside the VM fails the run.
#
# Usage: contrib/test-lsm.sh [apparmor|selinux]... [go test flags for the test binary...]
#   (no LSM named: both; e.g. contrib/test-lsm.sh selinux -test.run TestLSMSELinuxExec)
# Environment: OCIRUN_VM_MEM (MiB, default 512), OCIRUN_VM_CPUS (default 2),
#   OCIRUN_VM_TIMEOUT (seconds per boot, default 300), run-in-vm.sh's own.
# Exit status: 0 every test ran and passed; 1 a test failed or skipped, or
# none ran; 124 a VM timed out; 125 the VM harness failed; 2 this script
# could not prepare the run. Prints "SKIP" and exits 0 when ../shared/vm is
# not beside the repository.
#
# The Debian packages (apparmor; selinux-policy-default and the tools that
# compile it) are fetched with apt-get download and unpacked into a cache,
# never installed: selinux-policy-default's postinst would build and install
# a policy store on this host.
set -euo pipefail
shopt -s inherit_errexit

prog=test-lsm
# shellcheck source=contrib/vm-lib.sh
. "$(dirname "$0")/vm-lib.sh"

boots=()
while [ $# -gt 0 ] && { [ "$1" = apparmor ] || [ "$1" = selinux ]; }; do
	boots+=("$1")
	shift
done
[ ${#boots[@]} -gt 0 ] || boots=(apparmor selinux)

vm_prepare
lsm=$cache/lsm
mkdir -p "$lsm"
sandbox=()
# As root, apt drops to user _apt, which cannot write into our directory.
[ "$(id -u)" = 0 ] && sandbox=(-o APT::Sandbox::User=root)

# unpack PKG prints a directory holding the candidate version of the Debian
# package PKG unpacked (its maintainer scripts in DEBIAN/), downloading it
# the first time.
unpack() {
	local v dir dl
	v=$(apt-cache show --no-all-versions "$1" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')
	if [ -z "$v" ] && [ "$(id -u)" = 0 ]; then
		apt-get update >/dev/null
		v=$(apt-cache show --no-all-versions "$1" 2>/dev/null | awk '$1 == "Version:" { print $2; exit }')
	fi
	[ -n "$v" ] || die "apt-cache knows no package $1 (run apt-get update)"
	dir=$lsm/$1_${v//:/%3a}
	if [ ! -d "$dir" ]; then
		dl=$(mktemp -d "$lsm/.dl.XXXXXX")
		(cd "$dl" && apt-get "${sandbox[@]}" download "$1=$v" >/dev/null) || { rm -rf "$dl"; die "apt-get download $1=$v failed"; }
		if ! { dpkg-deb -x "$dl"/*.deb "$dl/root" && dpkg-deb -e "$dl"/*.deb "$dl/root/DEBIAN"; }; then
			rm -rf "$dl"
			die "unpacking $1 failed"
		fi
		mv "$dl/root" "$dir"
		rm -rf "$dl"
	fi
	printf '%s\n' "$dir"
}

# selinux_policy prints the path of Debian's default policy compiled for the
# kernel, building it the first time as the package's postinst would with
# semodule: every module it enables, from its own format to CIL (the pp
# converter of policycoreutils), then all of them into one binary (secilc).
selinux_policy() {
	local pol out pp secilc sepol notdefault cil m t0
	t0=$(date +%s)
	pol=$(unpack selinux-policy-default)
	# 33: the newest version the 6.1 guest kernel loads.
	out=$pol.policy.33
	if [ -s "$out" ]; then
		printf '%s\n' "$out"
		return
	fi
	pp=$(unpack policycoreutils)/usr/libexec/selinux/hll/pp
	secilc=$(unpack secilc)/usr/bin/secilc
	sepol=$(unpack libsepol2)
	sepol=$(find "$sepol" -name libsepol.so.2 -printf '%h\n' -quit)
	notdefault=$(sed -n 's/^notdefault="\(.*\)"$/\1/p' "$pol/DEBIAN/postinst")
	cil=$(mktemp -d "$tmp/cil.XXXXXX")
	while read -r m; do
		case " $notdefault " in *" $m "*) continue ;; esac
		/bin/busybox bzcat "$pol/usr/share/selinux/default/$m.pp.bz2" | LD_LIBRARY_PATH=$sepol "$pp" >"$cil/$m.cil" ||
			die "converting SELinux module $m to CIL failed"
	done < <(tr -s ' ' '\n' <"$pol/usr/share/selinux/default/.modules" | grep .)
	LD_LIBRARY_PATH=$sepol "$secilc" -c 33 -f /dev/null -o "$out.tmp" "$cil"/*.cil >&2 || die "secilc failed"
	mv "$out.tmp" "$out"
	echo "$prog: fetched and compiled Debian's SELinux policy in $(($(date +%s) - t0))s (cached in $lsm)" >&2
	printf '%s\n' "$out"
}

tmp=$(mktemp -d -t ocirun-lsm-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)
vm_build "$tmp"
echo "$prog: built in $(($(date +%s) - start))s"

# boot LSM KERNEL-ARGS TEST-REGEXP: one VM run of the tests matching
# TEST-REGEXP, with vm_args; fails when a test failed, skipped or none ran.
# As test-cgroupv2.sh: 2 vCPUs, 2 tests at a time. Under TCG every create or
# exec costs seconds (most of it sealing the binary into a memfd: the 6.1
# kernel's overlayfs has no lowerdir+), and each runtime call must stay
# within the suite's 30 s command timeout on a busy host.
boot() {
	local name=$1 append=$2 re=$3 log=$tmp/$1.log rc=0 t0
	t0=$(date +%s)
	echo "$prog: booting the VM with $name"
	OCIRUN_VM_APPEND="${OCIRUN_VM_APPEND:-} $append" "$vm" -m "${OCIRUN_VM_MEM:-512}" -c "${OCIRUN_VM_CPUS:-2}" \
		-t "${OCIRUN_VM_TIMEOUT:-300}" -a "$tmp/ocirun" -a "$tmp/probe" -a "$tmp/integration.test" "${vm_args[@]}" \
		-e OCIRUN_LSM="$name" -e OCIRUN_TEST_RUNTIME=/payload/ocirun -e OCIRUN_TEST_PROBE=/payload/probe \
		"$repo/contrib/test-lsm-guest.sh" -test.v -test.timeout 4m -test.parallel 2 -test.run "$re" "${args[@]}" 2>&1 |
		tee "$log" || rc=$?
	if grep -q -- '--- SKIP' "$log"; then
		echo "$prog: $name: tests skipped inside the VM, which exists to run them:"
		grep -B1 -- '--- SKIP' "$log"
		[ "$rc" != 0 ] || rc=1
	fi
	if ! grep -q -- '^--- \(PASS\|FAIL\)' "$log"; then
		echo "$prog: $name: no test ran (-test.run $re ${args[*]})"
		[ "$rc" != 0 ] || rc=1
	fi
	echo "$prog: $name: exit $rc after $(($(date +%s) - t0))s"
	return "$rc"
}

args=("$@")
status=0
for b in "${boots[@]}"; do
	vm_args=()
	vm_added=()
	case $b in
	apparmor)
		aa=$(unpack apparmor)
		add_program "$aa/sbin/apparmor_parser" /sbin/apparmor_parser
		# Debian's parser compiles for the features ABI its parser.conf pins.
		add_file "$aa/etc/apparmor/parser.conf" /etc/apparmor/parser.conf
		add_file "$aa/usr/share/apparmor-features/features" /usr/share/apparmor-features/features
		boot apparmor "" '^TestLSM(AppArmor|NoSELinux)' || status=$?
		;;
	selinux)
		policy=$(selinux_policy)
		add_file "$policy" /payload/policy.33
		# The kernel's SELinux boot parameter is not built in: security=
		# picks the one major LSM instead of AppArmor.
		boot selinux "security=selinux" '^TestLSM(SELinux|NoAppArmor)' || status=$?
		;;
	esac
done
echo "$prog: exit $status after $(($(date +%s) - start))s"
exit "$status"
