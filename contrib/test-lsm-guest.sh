#!/bin/sh
# The guest side of contrib/test-lsm.sh (busybox sh, in the run-in-vm.sh VM):
# makes the LSM named by $OCIRUN_LSM usable, then runs the integration test
# binary with our arguments. The VM's init mounts neither securityfs nor
# selinuxfs, and nothing has loaded a policy.
set -eu

case ${OCIRUN_LSM:-} in
apparmor)
	[ "$(cat /sys/module/apparmor/parameters/enabled)" = Y ] || {
		echo "test-lsm-guest: AppArmor is not the kernel's LSM" >&2
		exit 3
	}
	mount -t securityfs securityfs /sys/kernel/security
	;;
selinux)
	grep -qw selinuxfs /proc/filesystems || {
		echo "test-lsm-guest: SELinux is not enabled (boot with security=selinux)" >&2
		exit 3
	}
	mount -t selinuxfs selinuxfs /sys/fs/selinux
	# The policy must reach the kernel in one write(2): cat writes in chunks
	# and the kernel rejects the first one as a truncated policy.
	policy=/payload/policy.33
	dd if="$policy" of=/sys/fs/selinux/load bs="$(wc -c <"$policy")" 2>/dev/null || {
		echo "test-lsm-guest: loading $policy failed:" >&2
		dmesg | grep -i selinux | tail -5 >&2
		exit 3
	}
	# Permissive: the guest's files and its init (kernel_t) carry no labels
	# the policy would let a confined domain use; labels are applied and
	# shown all the same.
	echo 0 >/sys/fs/selinux/enforce
	;;
*)
	echo "test-lsm-guest: OCIRUN_LSM must be apparmor or selinux" >&2
	exit 3
	;;
esac
exec /payload/integration.test "$@"
