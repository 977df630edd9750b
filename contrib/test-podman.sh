#!/usr/bin/env bash
# Drives a runc-compatible runtime (ocirun by default) through podman and
# conmon: private storage, run root and containers.conf under a temp dir, a
# private mount namespace, no network (--network none: netavark would change
# the host's iptables), and a busybox image built locally.
#
# Usage: contrib/test-podman.sh [--keep] [RUNTIME]
#   RUNTIME   runtime binary: a path or a name in $PATH (default: $OCIRUN, else
#             ./ocirun). Pass `runc` to check the harness itself.
#   --keep    keep the temp dir after the run.
# podman passes no --root: the runtime keeps its state in its default root.
# Exit status: 0 all passed, 1 some test failed, 2 the harness could not run.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
image=docker.io/ocirun/busybox:test
keep=0
runtime_arg=
for a in "$@"; do
	case $a in
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "unknown option $a" >&2
		exit 2
		;;
	*) runtime_arg=$a ;;
	esac
done

harness_error() {
	echo "HARNESS ERROR (not a runtime failure): $*" >&2
	exit 2
}

if [ "$(id -u)" != 0 ]; then
	echo "test-podman: skipped: needs root (rootful podman, namespaces, cgroups)"
	exit 0
fi

# podman and conmon mount each container's rootfs in the caller's mount
# namespace: give the whole run a private one, so nothing outlives it.
if [ -z "${OCIRUN_PODMAN_TEST_NS:-}" ]; then
	OCIRUN_PODMAN_TEST_NS=1 exec unshare -m --propagation private "$0" "$@"
fi

rt=${runtime_arg:-${OCIRUN:-$repo/ocirun}}
case $rt in
*/*) ;;
*) rt=$(command -v "$rt") || harness_error "runtime ${runtime_arg:-$OCIRUN} not found in \$PATH" ;;
esac
abs=$(realpath -e "$rt" 2>/dev/null) || harness_error "runtime binary $rt does not exist (build it: make ocirun)"
rt=$abs
[ -x "$rt" ] || harness_error "runtime binary $rt is not executable"

if ! command -v podman >/dev/null; then
	echo "installing podman (Debian package)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null ||
		harness_error "apt-get install podman failed"
fi
command -v go >/dev/null || harness_error "go is not in \$PATH (needed to build the test image)"

tmp=$(mktemp -d /tmp/ocirun-podman.XXXXXX) || harness_error "mktemp failed"
chmod 0711 "$tmp"

# Containers go below the deepest cgroup this script is in.
own_cgroup() {
	local best=/ p
	while IFS=: read -r _ _ p; do
		[ ${#p} -gt ${#best} ] && best=$p
	done </proc/self/cgroup
	echo "${best%/}"
}
cgparent=$(own_cgroup)/$(basename "$tmp")
cgroup_mounts() { awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo; }
v1_mount() {
	awk -v c="$1" '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo
}

# The runtime cannot raise a hard limit (no CAP_SYS_RESOURCE in the bounding
# set here), and podman's defaults are 1048576: ask for what conmon has.
# conmon runs with nproc capped at 32768, whatever the caller's limit.
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ] && nproc=32768
cat >"$tmp/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
sed -n '/^\[engine\]/,$p' "$repo/contrib/containers.conf" | sed 1d >>"$tmp/containers.conf"
# podman decides on --log-format=json by the runtime's basename.
rtstate=/run/$(basename "$rt")
case $(basename "$rt") in
runc | crun) ;;
*)
	rtstate=/run/ocirun
	mkdir "$tmp/bin"
	ln -s "$rt" "$tmp/bin/ocirun"
	rt=$tmp/bin/ocirun
	;;
esac
export CONTAINERS_CONF=$tmp/containers.conf
# conmon's exit command (podman container cleanup) inherits these flags.
p() {
	timeout 60 podman --root "$tmp/storage" --runroot "$tmp/run" --tmpdir "$tmp/tmp" \
		--storage-driver overlay --runtime "$rt" "$@"
}

cleanup() {
	local pid m
	p rm -af -t 0 >/dev/null 2>&1
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

echo "runtime: $rt ($("$rt" --version 2>/dev/null | head -n 1))"
echo "$(podman --version), $(conmon --version | head -n 1)"
echo "cgroups under: $cgparent"

passed=0
failed=0
failures=()
pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}
# fail NAME DETAIL: podman relays the runtime's last log line in its error.
fail() {
	failed=$((failed + 1))
	failures+=("$1")
	echo "FAIL $1: $2"
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
if [ -z "$id" ]; then
	fail "run -d --pid host" "$(tr '\n' ' ' <"$tmp/err")"
else
	p stop -t 1 "$id" >/dev/null 2>"$tmp/err"
	out=$(p inspect -f '{{.State.Status}}' "$id" 2>&1)
	[ "$out" = exited ] && pass "stop --pid host (kill --all): exited" || fail "stop --pid host (kill --all): exited" "got \"$out\": $(tr '\n' ' ' <"$tmp/err")"
	p rm -f "$id" >/dev/null 2>&1
fi

echo
[ "$failed" -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
