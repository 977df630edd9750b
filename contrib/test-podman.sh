#!/usr/bin/env bash
# Drives a runc-compatible runtime (ocirun by default) through podman and
# conmon: private storage, run root and containers.conf under a temp dir, a
# private mount namespace, no network (--network none: netavark would change
# the host's iptables) except for one case run in a network namespace of its
# own, and a busybox image built locally.
#
# Usage: contrib/test-podman.sh [--calls] [--keep] [RUNTIME]
#   RUNTIME   runtime binary: a path or a name in $PATH (default: $OCIRUN, else
#             ./ocirun). Pass `runc` to check the harness itself.
#   --calls   wrap the runtime to record each call podman and conmon make
#             (argv, exit code, new --log lines); printed for failing tests.
#   --keep    keep the temp dir after the run.
# podman passes no --root: the runtime keeps its state in its default root.
# Exit status: 0 all passed, 1 some test failed, 2 the harness could not run.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
image=docker.io/ocirun/busybox:test
. "$repo/contrib/client-lib.sh"
parse_client_args "$@"

if [ "$(id -u)" != 0 ]; then
	# A strict run (OCIRUN_TEST_STRICT, .ci/run) must not pass what it skipped.
	[ -z "${OCIRUN_TEST_STRICT:-}" ] || { echo "test-podman: needs root (rootful podman, namespaces, cgroups), and OCIRUN_TEST_STRICT is set" >&2; exit 2; }
	echo "test-podman: skipped: needs root (rootful podman, namespaces, cgroups)"
	exit 0
fi

# podman and conmon mount each container's rootfs in the caller's mount
# namespace: give the whole run a private one, so nothing outlives it.
if [ -z "${OCIRUN_PODMAN_TEST_NS:-}" ]; then
	OCIRUN_PODMAN_TEST_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

resolve_runtime

if ! command -v podman >/dev/null; then
	echo "installing podman (Debian package)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null ||
		harness_error "apt-get install podman failed"
fi
command -v go >/dev/null || harness_error "go is not in \$PATH (needed to build the test image)"

tmp=$(mktemp -d /tmp/ocirun-podman.XXXXXX) || harness_error "mktemp failed"
chmod 0711 "$tmp"

# Containers go below the deepest cgroup this script is in.
cgparent=$(own_cgroup)/$(basename "$tmp")
cgroup_mounts() { awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo; }
v1_mount() {
	awk -v c="$1" '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo
}
v2_mount() { awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo; }

# The runtime cannot raise a hard limit (no CAP_SYS_RESOURCE in the bounding
# set here), and podman's defaults are 1048576: ask for what conmon has.
# conmon runs with nproc capped at 32768, whatever the caller's limit.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[network]
# Network definitions stay private (the default network needs none on disk).
network_config_dir = "$tmp/networks"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
sed -n '/^\[engine\]/,$p' "$repo/contrib/containers.conf" | sed 1d >>"$tmp/containers.conf"
# podman decides on --log-format=json by the runtime's basename.
rtname=$(basename "$rt")
case $rtname in
runc | crun) ;;
*) rtname=ocirun ;;
esac
rtstate=/run/$rtname
real_rt=$rt
mkdir "$tmp/bin"
if [ "$calls" = 1 ]; then
	# The wrapper keeps the runtime's basename: podman keys behaviour on it.
	cat >"$tmp/bin/$rtname" <<EOF
#!/bin/sh
# Records how podman and conmon call the runtime; passes everything through.
log= prev=
for a in "\$@"; do
	[ "\$prev" = --log ] && log=\$a
	case \$a in --log=*) log=\${a#--log=} ;; esac
	prev=\$a
done
before=0
[ -n "\$log" ] && [ -f "\$log" ] && before=\$(stat -c %s "\$log")
"$real_rt" "\$@"
rc=\$?
{
	echo "== exit \$rc: $rtname \$*"
	[ -n "\$log" ] && [ -f "\$log" ] && tail -c +\$((before + 1)) "\$log" | sed 's/^/   /'
} >>"$tmp/calls.log"
exit \$rc
EOF
	chmod 0755 "$tmp/bin/$rtname"
	: >"$tmp/calls.log"
else
	ln -s "$real_rt" "$tmp/bin/$rtname"
fi
rt=$tmp/bin/$rtname
export CONTAINERS_CONF=$tmp/containers.conf
# conmon's exit command (podman container cleanup) inherits these flags.
p() {
	timeout 60 podman --root "$tmp/storage" --runroot "$tmp/run" --tmpdir "$tmp/tmp" \
		--storage-driver overlay --runtime "$rt" "$@"
}

cleanup() {
	local pid m
	p rm -af -t 0 >/dev/null 2>&1
	rootless_cleanup
	for pid in $(pgrep -f "conmon .*$tmp/"); do kill -9 "$pid" 2>/dev/null; done
	for m in $(cgroup_mounts); do
		[ -d "$m$cgparent" ] && find "$m$cgparent" -depth -type d -exec rmdir {} + 2>/dev/null
	done
	if [ "$keep" = 1 ]; then
		echo "kept $tmp"
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$repo" && go run ./contrib/containerd/mkimage -o "$tmp/busybox.oci.tar") || harness_error "building the busybox image failed"
p pull -q "oci-archive:$tmp/busybox.oci.tar" >/dev/null || harness_error "podman pull oci-archive: failed"
p image exists "$image" || harness_error "image $image missing after pull"

echo "runtime: $real_rt ($("$real_rt" --version 2>/dev/null | head -n 1))"
echo "$(podman --version), $(conmon --version | head -n 1)"
echo "cgroups under: $cgparent"

passed=0
failed=0
skipped=0
failures=()
calls_seen=0 # bytes of calls.log already shown or passed over
# calls_since [show]: with --calls, print the runtime calls made since the
# last result.
calls_since() {
	local size
	[ -f "$tmp/calls.log" ] || return 0
	size=$(stat -c %s "$tmp/calls.log")
	if [ -n "${1:-}" ] && [ "$size" -gt "$calls_seen" ]; then
		echo "  runtime calls since the last result:"
		tail -c +$((calls_seen + 1)) "$tmp/calls.log" | tail -n 40 | sed 's/^/    /'
	fi
	calls_seen=$size
}
pass() {
	passed=$((passed + 1))
	echo "ok   $1"
	calls_since
}
# fail NAME DETAIL: podman relays the runtime's last log line in its error.
fail() {
	failed=$((failed + 1))
	failures+=("$1")
	echo "FAIL $1: $2"
	calls_since show
}
# skip NAME REASON: the host cannot run this case; says nothing of the runtime.
skip() {
	skipped=$((skipped + 1))
	echo "skip $1: $2"
	calls_since
}
prun() { p run --pull never --network none --cgroup-parent "$cgparent" "$@"; }
in_tty() {
	local q
	printf -v q '%q ' "$@"
	timeout 60 script -qec "$q" /dev/null </dev/null
}
pod() { # podman command line for in_tty
	echo podman --root "$tmp/storage" --runroot "$tmp/run" --tmpdir "$tmp/tmp" --storage-driver overlay --runtime "$rt"
}
ids=() # detached containers, to check their runtime state is gone at the end

# What netavark would change on the host if it ran there.
host_net_state() {
	echo "ip_forward=$(sysctl -n net.ipv4.ip_forward)"
	command -v iptables-save >/dev/null && iptables-save | grep -v '^#'
	command -v nft >/dev/null && nft list ruleset
	ip -o link show | awk -F': ' '{ print $2 }'
}

# net_case: podman's default network (netavark: a bridge, a veth pair,
# iptables rules, ip_forward) in a network namespace made for this case alone,
# with a tmpfs on /run so netns files and netavark's IPAM database stay private
# too. The namespaces go when the last process in them exits.
net_case() {
	local name="default network in a private netns: address, route, gateway reachable" netavark d before after out rc
	for d in /usr/local/libexec/podman /usr/local/lib/podman /usr/libexec/podman /usr/lib/podman; do
		[ -x "$d/netavark" ] && netavark=$d/netavark && break
	done
	if [ -z "${netavark:-}" ]; then
		skip "$name" "netavark is not installed"
		return
	fi
	if ! command -v iptables >/dev/null; then
		skip "$name" "iptables is not installed (netavark needs it)"
		return
	fi
	before=$(host_net_state)
	# A real ping needs CAP_NET_RAW (busybox ping has no ICMP datagram socket).
	# shellcheck disable=SC2016 # expanded inside the container
	local inner='ip -4 -o addr show eth0 | awk "{ print \$4 }"
		gw=$(ip route | awk "/^default/ { print \$3 }")
		echo "gw=$gw"
		ping -c 1 -W 3 "$gw" >/dev/null && echo ping-ok'
	out=$(
		export tmp rt image cgparent inner
		# shellcheck disable=SC2016 # expanded by the inner shell
		unshare -n -m --propagation private bash -c "$(declare -f p)"'
			mount -t tmpfs -o mode=0755 tmpfs /run || exit 99
			p run --rm --pull never --cgroup-parent "$cgparent" --cap-add NET_RAW "$image" sh -c "$inner"
		' 2>&1
	)
	rc=$?
	after=$(host_net_state)
	if [ "$before" != "$after" ]; then
		fail "$name" "the host's network state changed: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
	elif [ "$rc" = 0 ] && echo "$out" | grep -qE '^10\.88\.[0-9.]+/16$' && echo "$out" | grep -qE '^gw=10\.88\.0\.1$' && echo "$out" | grep -qx ping-ok; then
		pass "$name"
	else
		fail "$name" "want eth0 in 10.88.0.0/16, default route via 10.88.0.1, ping-ok; got exit $rc, \"$(echo "$out" | tr '\n' '|')\""
	fi
}

# rootless_cases: podman run by an unprivileged user made for the test, with
# subordinate ids in /etc/subuid and /etc/subgid, its own storage and
# runtime dir: podman maps the user's ids through newuidmap and runs conmon
# and the runtime as root of its user namespace. The user and every process
# it ran go at the end.
rootless_cases() {
	local u uid gid home sub out rc id v2 cg="" memcase="--memory 64m: memory.max inside"
	if ! command -v newuidmap >/dev/null || ! command -v newgidmap >/dev/null; then
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uidmap >/dev/null ||
			harness_error "apt-get install uidmap (newuidmap, newgidmap) failed"
	fi
	u=ocirl$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
	useradd --no-create-home --user-group --shell /usr/sbin/nologin "$u" || harness_error "useradd $u failed"
	rootless_user=$u
	uid=$(id -u "$u") gid=$(id -g "$u")
	sub=$(awk -F: -v u="$u" '$1 == u { print $2; exit }' /etc/subuid)
	if [ -z "$sub" ]; then
		sub=$(awk -F: 'BEGIN { m = 1048576 } { if ($2 + $3 > m) m = $2 + $3 } END { print m }' /etc/subuid /etc/subgid)
		usermod --add-subuids "$sub-$((sub + 65535))" --add-subgids "$sub-$((sub + 65535))" "$u" ||
			harness_error "usermod --add-subuids for $u failed"
	fi
	[ "$(awk -F: -v u="$u" '$1 == u { print $2; exit }' /etc/subgid)" = "$sub" ] ||
		harness_error "$u's subordinate uid and gid ranges differ: the cases assume one start"
	home=$tmp/rootless
	mkdir -p "$home/xdg" "$home/bin" "$home/vol"
	chmod 0711 "$home"
	chmod 0700 "$home/xdg"
	# A copy it may execute (the checkout may be under a root-only dir),
	# with the basename podman keys --log-format=json on.
	cp "$real_rt" "$home/bin/$rtname"
	# Its own network definitions: root's are not the user's to lock.
	sed "s|^network_config_dir = .*|network_config_dir = \"$home/xdg/networks\"|" "$tmp/containers.conf" >"$home/containers.conf"
	chown -R "$uid:$gid" "$home/xdg" "$home/vol" "$home/containers.conf"
	# On pure cgroup v2 the user gets a delegated subtree, as systemd's
	# user@.service would: the runtime then makes the container's cgroup
	# there and applies its limits. On v1 nothing is delegated.
	if [ "$(stat -fc %T /sys/fs/cgroup)" = cgroup2fs ]; then
		v2=1
		cg=/sys/fs/cgroup$cgparent-rootless
		mkdir -p "$cg/session" || harness_error "mkdir $cg failed"
		for c in $(<"$cg/cgroup.controllers"); do echo "+$c" >"$cg/cgroup.subtree_control"; done
		chown "$uid:$gid" "$cg" "$cg/cgroup.procs" "$cg/cgroup.subtree_control" "$cg/cgroup.threads" \
			"$cg/session" "$cg/session/cgroup.procs" "$cg/session/cgroup.threads"
	fi
	# rp ARGS: podman as the user, in its delegated cgroup if any, from its
	# home: podman chdirs back to its cwd in the user namespace, and the
	# clone this runs from may sit below a directory only root may enter.
	rp() {
		local enter=":"
		[ -n "$cg" ] && enter="echo \$\$ >$cg/session/cgroup.procs"
		(cd "$home" && timeout 60 sh -c "$enter"' && exec "$@"' sh setpriv --reuid="$uid" --regid="$gid" --init-groups \
			env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$home" USER="$u" XDG_RUNTIME_DIR="$home/xdg" \
			CONTAINERS_CONF="$home/containers.conf" \
			podman --root "$home/xdg/storage" --runroot "$home/xdg/run" --tmpdir "$home/xdg/tmp" \
			--storage-driver overlay --runtime "$home/bin/$rtname" "$@")
	}
	rp pull -q "oci-archive:$tmp/busybox.oci.tar" >/dev/null 2>"$tmp/err" ||
		harness_error "rootless podman pull failed: $(tr '\n' ' ' <"$tmp/err")"

	out=$(rp run --rm --pull never --network none "$image" sh -c 'id -u; cat /proc/self/uid_map' 2>"$tmp/err")
	rc=$?
	# shellcheck disable=SC2086 # word splitting folds the map's columns
	if [ "$rc" = 0 ] && [ "$(echo $out)" = "0 0 $uid 1 1 $sub 65536" ]; then
		pass "rootless: run --rm: root inside is the user, subordinate ids above"
	else
		fail "rootless: run --rm: root inside is the user, subordinate ids above" \
			"got exit $rc, \"$(echo "$out" | tr '\n' '|')\": $(tr '\n' ' ' <"$tmp/err")"
	fi

	# A user namespace inside podman's: the runtime, root there, writes its
	# maps itself (from podman's own ids 1 and up).
	out=$(rp run --rm --pull never --network none --userns=auto "$image" sh -c 'cat /proc/self/uid_map; id -u; touch /tmp/f && stat -c %u /tmp/f' 2>"$tmp/err")
	rc=$?
	# shellcheck disable=SC2086 # word splitting folds the map's columns
	set -- $out
	if [ "$rc" = 0 ] && [ $# = 5 ] && [ "$1" = 0 ] && [ "$2" -ge 1 ] && [ "$4" = 0 ] && [ "$5" = 0 ]; then
		pass "rootless: run --userns=auto: a user namespace of its own inside podman's"
	else
		fail "rootless: run --userns=auto: a user namespace of its own inside podman's" \
			"got exit $rc, \"$(echo "$out" | tr '\n' '|')\": $(tr '\n' ' ' <"$tmp/err")"
	fi

	# Namespaced sysctls, written in the container's namespaces by a runtime
	# that is only root of podman's user namespace.
	out=$(rp run --rm --pull never --network none --sysctl net.ipv4.ip_forward=1 --sysctl kernel.shmmax=12345678 "$image" \
		cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax 2>"$tmp/err")
	rc=$?
	# shellcheck disable=SC2086
	[ "$rc" = 0 ] && [ "$(echo $out)" = "1 12345678" ] && pass "rootless: --sysctl in the container's network and ipc namespaces" ||
		fail "rootless: --sysctl in the container's network and ipc namespaces" "got exit $rc, \"$(echo "$out" | tr '\n' '|')\": $(tr '\n' ' ' <"$tmp/err")"

	id=$(rp run -d --pull never --network none "$image" sh -c 'trap "exit 143" TERM; while :; do sleep 0.1; done' 2>"$tmp/err")
	if [ -z "$id" ]; then
		fail "rootless: run -d" "$(tr '\n' ' ' <"$tmp/err")"
	else
		out=$(rp exec "$id" sh -c 'echo exec-ok; exit 4' 2>"$tmp/err")
		rc=$?
		[ "$rc" = 4 ] && [ "$out" = exec-ok ] && pass "rootless: exec: output and exit code 4" ||
			fail "rootless: exec: output and exit code 4" "got exit $rc, \"$out\": $(tr '\n' ' ' <"$tmp/err")"
		rp stop -t 10 "$id" >/dev/null 2>"$tmp/err"
		out=$(rp inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>&1)
		[ "$out" = "exited 143" ] && pass "rootless: stop: SIGTERM, exited 143" ||
			fail "rootless: stop: SIGTERM, exited 143" "got \"$out\": $(tr '\n' ' ' <"$tmp/err")"
		rp rm "$id" >/dev/null 2>"$tmp/err"
		[ ! -e "$home/xdg/ocirun/$id" ] && [ ! -e "$home/xdg/$rtname/$id" ] && pass "rootless: rm: runtime state gone" ||
			fail "rootless: rm: runtime state gone" "left: $(ls -d "$home/xdg/"*"/$id" 2>/dev/null) $(tr '\n' ' ' <"$tmp/err")"
	fi

	# A volume chowned in podman's user namespace: its 1000 is the user's
	# subordinate id 999 above the start, and the container's 1000 owns it.
	rp unshare chown 1000:1000 "$home/vol" 2>"$tmp/err" || fail "rootless: podman unshare chown" "$(tr '\n' ' ' <"$tmp/err")"
	out=$(rp run --rm --pull never --network none --user 1000:1000 -v "$home/vol:/data" "$image" \
		sh -c 'stat -c %u:%g /data; touch /data/f && stat -c %u:%g /data/f' 2>"$tmp/err")
	rc=$?
	owner=$(stat -c %u:%g "$home/vol/f" 2>&1)
	# shellcheck disable=SC2086
	if [ "$rc" = 0 ] && [ "$(echo $out)" = "1000:1000 1000:1000" ] && [ "$owner" = "$((sub + 999)):$((sub + 999))" ]; then
		pass "rootless: a podman unshare-made volume: 1000:1000 inside, $((sub + 999)) on the host"
	else
		fail "rootless: a podman unshare-made volume: 1000:1000 inside, $((sub + 999)) on the host" \
			"got exit $rc, \"$(echo "$out" | tr '\n' '|')\", host owner $owner: $(tr '\n' ' ' <"$tmp/err")"
	fi

	if [ -z "${v2:-}" ]; then
		skip "rootless: $memcase" "cgroup v1: nothing is delegated to a user, podman drops the limit (make test-cgroupv2 runs it)"
	else
		out=$(rp run --rm --pull never --network none --memory 64m "$image" cat /sys/fs/cgroup/memory.max 2>"$tmp/err")
		rc=$?
		[ "$rc" = 0 ] && [ "$out" = 67108864 ] && pass "rootless: $memcase" ||
			fail "rootless: $memcase" "got exit $rc, \"$out\": $(tr '\n' ' ' <"$tmp/err")"
	fi
	rp rm -af -t 0 >/dev/null 2>&1
	left=$(ls "$home/xdg/$rtname" 2>/dev/null)
	[ -z "$left" ] && pass "rootless: teardown: no runtime state left" ||
		fail "rootless: teardown: no runtime state left" "left: $left"
}

# rootless_cleanup: the test user's processes (podman's pause process
# holds its user namespace), by pid, then the user and its cgroup.
rootless_cleanup() {
	local uid pid
	[ -n "${rootless_user:-}" ] || return 0
	uid=$(id -u "$rootless_user" 2>/dev/null) || return 0
	for pid in $(awk -v u="$uid" '$1 == "Uid:" && $2 == u { split(FILENAME, p, "/"); print p[3] }' /proc/[0-9]*/status 2>/dev/null); do
		kill -9 "$pid" 2>/dev/null
	done
	sleep 0.2
	userdel "$rootless_user" 2>/dev/null
	[ -d "/sys/fs/cgroup$cgparent-rootless" ] && find "/sys/fs/cgroup$cgparent-rootless" -depth -type d -exec rmdir {} + 2>/dev/null
	rootless_user=
}

# --- tests --------------------------------------------------------------------
out=$(prun --rm "$image" sh -c 'echo hi; echo oops >&2; exit 3' 2>"$tmp/err")
rc=$?
if [ "$rc" = 3 ] && [ "$out" = hi ] && grep -qx oops "$tmp/err"; then
	pass "run --rm: stdout, stderr, exit code 3"
else
	fail "run --rm: stdout, stderr, exit code 3" "got exit $rc, stdout \"$out\", stderr: $(tr '\n' ' ' <"$tmp/err")"
fi

prun --rm "$image" /no/such/binary >/dev/null 2>"$tmp/err"
rc=$?
if [ "$rc" = 127 ]; then
	pass "run of a missing binary: exit 127"
else
	fail "run of a missing binary: exit 127" "got exit $rc: $(tr '\n' ' ' <"$tmp/err")"
fi

out=$(in_tty $(pod) run -t --rm --pull never --network none --cgroup-parent "$cgparent" "$image" sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo tty-ok; exit 5')
rc=$?
if [ "$rc" = 5 ] && echo "$out" | grep -q /dev/pts/ && echo "$out" | grep -q tty-ok; then
	pass "run -t: stdio is a pty, exit code 5"
else
	fail "run -t: stdio is a pty, exit code 5" "got exit $rc, output \"$(echo "$out" | tr -d '\r' | tr '\n' ' ')\""
fi

# A detached container through its life.
id=$(prun -d --memory 100m "$image" sh -c 'trap "exit 143" TERM; while :; do sleep 0.1; done' 2>"$tmp/err")
[ -n "$id" ] && ids+=("$id")
if [ -z "$id" ]; then
	fail "run -d" "$(tr '\n' ' ' <"$tmp/err")"
else
	status() { p inspect -f '{{.State.Status}}' "$id" 2>&1; }
	[ "$(status)" = running ] && pass "run -d: running" || fail "run -d: running" "status $(status)"

	out=$(p exec "$id" sh -c 'echo exec-ok; exit 4' 2>"$tmp/err")
	rc=$?
	[ "$rc" = 4 ] && [ "$out" = exec-ok ] && pass "exec: output and exit code 4" ||
		fail "exec: output and exit code 4" "got exit $rc, \"$out\": $(tr '\n' ' ' <"$tmp/err")"

	p exec "$id" /no/such/binary >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" = 127 ] && pass "exec of a missing binary: exit 127" ||
		fail "exec of a missing binary: exit 127" "got exit $rc: $(tr '\n' ' ' <"$tmp/err")"
	p exec "$id" /etc/passwd >/dev/null 2>"$tmp/err"
	rc=$?
	[ "$rc" = 126 ] && pass "exec of a non-executable file: exit 126" ||
		fail "exec of a non-executable file: exit 126" "got exit $rc: $(tr '\n' ' ' <"$tmp/err")"

	out=$(in_tty $(pod) exec -t "$id" sh -c 'tty; exit 6')
	rc=$?
	[ "$rc" = 6 ] && echo "$out" | grep -q /dev/pts/ && pass "exec -t: a pty, exit code 6" ||
		fail "exec -t: a pty, exit code 6" "got exit $rc, output \"$(echo "$out" | tr -d '\r' | tr '\n' ' ')\""

	# podman 4 top never calls the runtime's ps: it reads /proc in the
	# container's pid namespace (psgo), and for ps(1) options psgo lacks it
	# runs ps inside the container through the runtime's exec.
	out=$(p top "$id" pid args 2>"$tmp/err")
	rc=$?
	[ "$rc" = 0 ] && echo "$out" | grep -q '^1 .*trap' && pass "top: pid 1 is the container's command" ||
		fail "top: pid 1 is the container's command" "got exit $rc, \"$(echo "$out" | tr '\n' '|')\": $(tr '\n' ' ' <"$tmp/err")"
	# psgo left-aligns pids; busybox ps, run inside, right-aligns them.
	out=$(p top "$id" -o pid,args 2>"$tmp/err")
	rc=$?
	[ "$rc" = 0 ] && echo "$out" | grep -qE '^ +1 sh -c trap' &&
		pass "top -o pid,args: ps(1) run inside by exec lists pid 1" ||
		fail "top -o pid,args: ps(1) run inside by exec lists pid 1" "got exit $rc, \"$(echo "$out" | tr '\n' '|')\": $(tr '\n' ' ' <"$tmp/err")"

	if m=$(v1_mount memory) && [ -n "$m" ]; then f=memory/memory.limit_in_bytes; else f=memory.max; fi
	out=$(p exec "$id" cat "/sys/fs/cgroup/$f" 2>&1)
	[ "$out" = 104857600 ] && pass "--memory 100m: $f inside" || fail "--memory 100m: $f inside" "got \"$out\""

	freezer=$(v1_mount freezer)
	frozen() { cat "$freezer$cgparent/libpod-$id/freezer.state" 2>&1; }
	p pause "$id" >/dev/null 2>"$tmp/err"
	[ "$(status)" = paused ] && { [ -z "$freezer" ] || [ "$(frozen)" = FROZEN ]; } && pass "pause: paused, cgroup frozen" ||
		fail "pause: paused, cgroup frozen" "status $(status), freezer $(frozen): $(tr '\n' ' ' <"$tmp/err")"
	p unpause "$id" >/dev/null 2>"$tmp/err"
	[ "$(status)" = running ] && { [ -z "$freezer" ] || [ "$(frozen)" = THAWED ]; } && pass "unpause: running, cgroup thawed" ||
		fail "unpause: running, cgroup thawed" "status $(status), freezer $(frozen): $(tr '\n' ' ' <"$tmp/err")"

	p stop -t 10 "$id" >/dev/null 2>"$tmp/err"
	out=$(p inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>&1)
	[ "$out" = "exited 143" ] && pass "stop: SIGTERM, exited 143" || fail "stop: SIGTERM, exited 143" "got \"$out\": $(tr '\n' ' ' <"$tmp/err")"

	p rm "$id" >/dev/null 2>"$tmp/err"
	[ ! -e "$rtstate/$id" ] && [ ! -e "$freezer$cgparent/libpod-$id" ] && pass "rm: runtime state and cgroup gone" ||
		fail "rm: runtime state and cgroup gone" "left: $(ls -d "$rtstate/$id" "$freezer$cgparent/libpod-$id" 2>/dev/null | tr '\n' ' ') $(tr '\n' ' ' <"$tmp/err")"
fi

# With the host pid namespace podman signals with kill --all.
id=$(prun -d --pid host "$image" sleep 1000 2>"$tmp/err")
[ -n "$id" ] && ids+=("$id")
if [ -z "$id" ]; then
	fail "run -d --pid host" "$(tr '\n' ' ' <"$tmp/err")"
else
	p stop -t 1 "$id" >/dev/null 2>"$tmp/err"
	out=$(p inspect -f '{{.State.Status}}' "$id" 2>&1)
	[ "$out" = exited ] && pass "stop --pid host (kill --all): exited" || fail "stop --pid host (kill --all): exited" "got \"$out\": $(tr '\n' ' ' <"$tmp/err")"
	p rm -f "$id" >/dev/null 2>&1
fi

out=$(prun --rm --user 1000:1000 "$image" sh -c 'grep -E "^(Uid|Gid):" /proc/self/status; id -u; id -g' 2>"$tmp/err")
rc=$?
# shellcheck disable=SC2086 # word splitting folds the tabs
if [ "$rc" = 0 ] && [ "$(echo $out)" = "Uid: 1000 1000 1000 1000 Gid: 1000 1000 1000 1000 1000 1000" ]; then
	pass "--user 1000:1000: real, effective, saved and fs ids inside"
else
	fail "--user 1000:1000: real, effective, saved and fs ids inside" "got exit $rc, \"$(echo "$out" | tr '\t\n' ' |')\": $(tr '\n' ' ' <"$tmp/err")"
fi

# podman adds tmpfs mounts on /tmp, /var/tmp and /run (--read-only-tmpfs).
out=$(prun --rm --read-only "$image" sh -c 'touch /etc/ro-test; echo "rc=$?"; touch /tmp/rw-test && echo tmp-ok' 2>&1)
rc=$?
if [ "$rc" = 0 ] && echo "$out" | grep -q 'Read-only file system' && echo "$out" | grep -qx 'rc=1' && echo "$out" | grep -qx tmp-ok; then
	pass "--read-only: writing / fails with EROFS, /tmp is writable"
else
	fail "--read-only: writing / fails with EROFS, /tmp is writable" "got exit $rc, \"$(echo "$out" | tr '\n' '|')\""
fi

out=$(prun --rm --cap-drop ALL "$image" sh -c 'grep -E "^Cap(Inh|Prm|Eff|Bnd|Amb):" /proc/self/status; touch /tmp/c; chown 1 /tmp/c' 2>&1)
rc=$?
# shellcheck disable=SC2086 # word splitting folds the tabs
if [ "$rc" != 0 ] && [ "$(echo $out | sed 's/ chown:.*//')" = "CapInh: 0000000000000000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapBnd: 0000000000000000 CapAmb: 0000000000000000" ] &&
	echo "$out" | grep -q 'chown: /tmp/c: Operation not permitted'; then
	pass "--cap-drop ALL: every capability set 0, chown fails with EPERM"
else
	fail "--cap-drop ALL: every capability set 0, chown fails with EPERM" "got exit $rc, \"$(echo "$out" | tr '\t\n' ' |')\""
fi

# The limit in the container's pids cgroup, seen from the host and inside, and
# enforced: a 60th process cannot be forked.
id=$(prun -d --pids-limit 50 "$image" sleep 1000 2>"$tmp/err")
[ -n "$id" ] && ids+=("$id")
if [ -z "$id" ]; then
	fail "run -d --pids-limit 50" "$(tr '\n' ' ' <"$tmp/err")"
else
	if m=$(v1_mount pids) && [ -n "$m" ]; then inner=/sys/fs/cgroup/pids/pids.max; else m=$(v2_mount) inner=/sys/fs/cgroup/pids.max; fi
	host=$(cat "$m$cgparent/libpod-$id/pids.max" 2>&1)
	out=$(p exec "$id" cat "$inner" 2>&1)
	[ "$host" = 50 ] && [ "$out" = 50 ] && pass "--pids-limit 50: pids.max on the host and inside" ||
		fail "--pids-limit 50: pids.max on the host and inside" "host $m$cgparent/libpod-$id/pids.max: \"$host\", inside $inner: \"$out\""
	out=$(p exec "$id" sh -c 'i=0; while [ $i -lt 60 ]; do sleep 30 & i=$((i + 1)); done' 2>&1)
	cur=$(cat "$m$cgparent/libpod-$id/pids.current" 2>&1)
	echo "$out" | grep -q "can't fork" && [ "$cur" -le 50 ] 2>/dev/null && pass "--pids-limit 50: the 51st process cannot fork" ||
		fail "--pids-limit 50: the 51st process cannot fork" "pids.current $cur, exec said \"$(echo "$out" | sort -u | tr '\n' '|')\""
	p rm -f -t 0 "$id" >/dev/null 2>&1
fi

# A user namespace: container ids 0-65535 on host 100000-165535. podman
# mounts the image's overlay outside that namespace, where the runtime's
# mount namespace gets it locked: it must pivot into a mount of its own.
mkdir -p "$tmp/vol" && chmod 0777 "$tmp/vol"
out=$(prun --rm --uidmap 0:100000:65536 --gidmap 0:100000:65536 -v "$tmp/vol:/vol" "$image" \
	sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /vol/by-root && echo made' 2>"$tmp/err")
rc=$?
owner=$(stat -c %u:%g "$tmp/vol/by-root" 2>&1)
# shellcheck disable=SC2086 # word splitting folds the map's columns
if [ "$rc" = 0 ] && [ "$(echo $out)" = "0 100000 65536 0 100000 65536 0 made" ] && [ "$owner" = 100000:100000 ]; then
	pass "--uidmap/--gidmap 0:100000:65536: maps, root inside, a new file is 100000:100000 on the host"
else
	fail "--uidmap/--gidmap 0:100000:65536: maps, root inside, a new file is 100000:100000 on the host" \
		"got exit $rc, \"$(echo "$out" | tr '\n' '|')\", host owner $owner: $(tr '\n' ' ' <"$tmp/err")"
fi

net_case
rootless_cases

# Nothing of ours may outlive the tests: containers, conmon, runtime state,
# cgroups.
left=$(p ps -aq 2>&1)
conmons=$(pgrep -f "conmon .*$tmp/")
states=$(for i in "${ids[@]}"; do [ -e "$rtstate/$i" ] && echo "$i"; done)
# podman keeps conmon's own cgroup (<parent>/conmon) for the next container.
cgdirs=$(for m in $(cgroup_mounts); do [ -d "$m$cgparent" ] && find "$m$cgparent" -mindepth 1 -type d ! -path "$m$cgparent/conmon"; done)
procs=$(for m in $(cgroup_mounts); do [ -d "$m$cgparent" ] && find "$m$cgparent" -name cgroup.procs -exec cat {} +; done | sort -u)
[ -z "$left$conmons$states$cgdirs$procs" ] && pass "teardown: no container, conmon, runtime state, cgroup or process left" ||
	fail "teardown: no container, conmon, runtime state, cgroup or process left" \
		"containers: $left; conmon pids: $conmons; state: $states; cgroups: $(echo "$cgdirs" | tr '\n' ' '); pids in them: $(echo "$procs" | tr '\n' ' ')"

echo
[ "$failed" -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
