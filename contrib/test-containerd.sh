#!/usr/bin/env bash
# Drives a runc-compatible runtime (ocirun by default) through containerd's
# io.containerd.runc.v2 shim with `ctr`: a private containerd (own root, state,
# socket, mount namespace) and a busybox image built locally, so neither a
# registry nor the host's containerd is involved.
#
# Usage: contrib/test-containerd.sh [--calls] [--keep] [RUNTIME]
#   RUNTIME   runtime binary: a path or a name in $PATH (default: $OCIRUN, else
#             ./ocirun). Pass `runc` to check the harness itself.
#   --calls   wrap the runtime to record each call the shim makes (argv, exit
#             code, new log.json lines); printed for failing tests.
#   --keep    keep the temp dir (containerd.log, state) after the run.
# Exit status: 0 all passed, 1 some test failed, 2 the harness could not run.
set -uo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
ns=ocirun-test
image=docker.io/ocirun/busybox:test
. "$repo/contrib/client-lib.sh"
parse_client_args "$@"

if [ "$(id -u)" != 0 ]; then
	# A strict run (OCIRUN_TEST_STRICT, .ci/run) must not pass what it skipped.
	[ -z "${OCIRUN_TEST_STRICT:-}" ] || { echo "test-containerd: needs root (containerd, namespaces, cgroups), and OCIRUN_TEST_STRICT is set" >&2; exit 2; }
	echo "test-containerd: skipped: needs root (containerd, namespaces, cgroups)"
	exit 0
fi

resolve_runtime

if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null || ! command -v containerd-shim-runc-v2 >/dev/null; then
	echo "installing containerd (Debian package)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd >/dev/null ||
		harness_error "apt-get install containerd failed"
fi
command -v script >/dev/null || harness_error "script(1) from bsdutils is missing"
command -v go >/dev/null || harness_error "go is not in \$PATH (needed to build the test image)"

tmp=$(mktemp -d /tmp/ocirun-ctrd.XXXXXX) || harness_error "mktemp failed"
harness_log=$tmp/containerd.log
chmod 0711 "$tmp"
sock=$tmp/containerd.sock
rtroot=$tmp/runtime-root
ctrd_pid=

# --- cgroups -----------------------------------------------------------------
# Containers go below the deepest cgroup this script is in (on a v1 host each
# hierarchy has its own path; the others are its prefixes), never elsewhere.
cgparent=$(own_cgroup)/$(basename "$tmp")

v1_mount() { # controller -> mount point of its v1 hierarchy, if any
	awk -v c="$1" '$0 ~ / - cgroup / { n = split($NF, o, ","); for (i = 1; i <= n; i++) if (o[i] == c) { print $5; exit } }' /proc/self/mountinfo
}
v2_mount() { awk '$0 ~ / - cgroup2 / { print $5; exit }' /proc/self/mountinfo; }

cgroup_mounts() { # every hierarchy, to find and remove what the run left
	awk '$0 ~ / - cgroup2? / { print $5 }' /proc/self/mountinfo
}

# --- private containerd --------------------------------------------------------
runtime_bin=$rt
if [ "$calls" = 1 ]; then
	runtime_bin=$tmp/runtime-wrapper
	cat >"$runtime_bin" <<EOF
#!/bin/sh
# Records how the shim calls the runtime; passes everything else through.
log= prev=
for a in "\$@"; do [ "\$prev" = --log ] && log=\$a; prev=\$a; done
before=0
[ -n "\$log" ] && [ -f "\$log" ] && before=\$(stat -c %s "\$log")
"$rt" "\$@"
rc=\$?
{
	echo "== exit \$rc: $(basename "$rt") \$*"
	[ -n "\$log" ] && [ -f "\$log" ] && tail -c +\$((before + 1)) "\$log" | sed 's/^/   /'
} >>"$tmp/calls.log"
exit \$rc
EOF
	chmod 0755 "$runtime_bin"
fi

cat >"$tmp/config.toml" <<EOF
version = 2
root = "$tmp/root"
state = "$tmp/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[debug]
  level = "info"
EOF

cleanup() {
	local id pid b
	if [ -n "$ctrd_pid" ] && kill -0 "$ctrd_pid" 2>/dev/null; then
		for id in $(c container ls -q 2>/dev/null); do remove_container "$id"; done
		c images rm "$image" >/dev/null 2>&1
		kill "$ctrd_pid"
		for _ in $(seq 50); do kill -0 "$ctrd_pid" 2>/dev/null || break; sleep 0.1; done
	fi
	# Shims outlive containerd by design; ours are the ones given our socket.
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $sock( |$)"); do
		kill -9 "$pid" 2>/dev/null
	done
	for b in "$tmp"/state/io.containerd.runtime.v2.task/*/*/address; do
		[ -f "$b" ] && rm -f "$(sed 's|^unix://||' "$b")"
	done
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

c() { timeout 30 ctr --address "$sock" -n "$ns" "$@"; }

# The rootfs mounts containerd's shim makes stay in this private mount
# namespace and vanish with it.
unshare -m --propagation private containerd --config "$tmp/config.toml" >"$tmp/containerd.log" 2>&1 &
ctrd_pid=$!
for _ in $(seq 100); do
	ctr --address "$sock" version >/dev/null 2>&1 && break
	kill -0 "$ctrd_pid" 2>/dev/null || harness_error "containerd exited at start"
	sleep 0.1
done
ctr --address "$sock" version >/dev/null 2>&1 || harness_error "containerd did not answer on $sock within 10s"

(cd "$repo" && go run ./contrib/containerd/mkimage -o "$tmp/busybox.oci.tar") || harness_error "building the busybox image failed"
c images import "$tmp/busybox.oci.tar" >/dev/null || harness_error "ctr images import failed"

echo "runtime: $rt ($("$rt" --version 2>/dev/null | head -n 1))"
echo "containerd: $(containerd --version)"
echo "cgroups under: $cgparent"

# --- test helpers --------------------------------------------------------------
passed=0
failed=0
failures=()

pass() {
	passed=$((passed + 1))
	echo "ok   $1"
}

# fail NAME ID DETAIL: a check on what the runtime did (through the shim) went
# wrong; show what a user would look at to debug it.
fail() {
	local name=$1 id=$2 detail=$3 bundle=$tmp/state/io.containerd.runtime.v2.task/$ns/$2
	failed=$((failed + 1))
	failures+=("$name")
	echo "FAIL $name: $detail"
	if [ -f "$bundle/log.json" ]; then
		echo "  runtime log ($bundle/log.json):"
		tail -n 15 "$bundle/log.json" | sed 's/^/    /'
	else
		echo "  (no log.json: the shim removed the bundle; rerun with --calls to record it)"
	fi
	if [ -f "$tmp/calls.log" ]; then
		echo "  runtime calls for $id:"
		grep -A 6 -- " $id\$" "$tmp/calls.log" | tail -n 30 | sed 's/^/    /'
	fi
	grep -F "$id" "$tmp/containerd.log" | grep -E 'level=(error|warning)' | tail -n 5 | sed 's/^/  containerd: /'
}

# where FILE: say whether an error came back from the runtime or from containerd.
where() {
	if grep -qE 'OCI runtime|runc|ocirun' "$1"; then
		echo "runtime error relayed by the shim: $(tail -n 1 "$1")"
	else
		echo "ctr/containerd said: $(tail -n 1 "$1")"
	fi
}

# ctr_run ID [ctr run flags...] -- CMD...
ctr_run() {
	local id=$1 flags=()
	shift
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		flags+=("$1")
		shift
	done
	shift
	c run --runc-binary "$runtime_bin" --runc-root "$rtroot" --cgroup "$cgparent/$id" \
		"${flags[@]}" "$image" "$id" "$@"
}

task_field() { # ID COLUMN(2=pid,3=status) from `ctr task ls`
	c task ls 2>/dev/null | awk -v id="$1" -v f="$2" '$1 == id { print $f }'
}

wait_status() { # ID STATUS: poll `ctr task ls` for up to 5s
	for _ in $(seq 50); do
		[ "$(task_field "$1" 3)" = "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

remove_container() {
	if [ -n "$(task_field "$1" 1)" ]; then
		c task kill -a -s SIGKILL "$1" >/dev/null 2>&1
		wait_status "$1" STOPPED
		c task rm -f "$1" >/dev/null 2>&1
	fi
	c container rm "$1" >/dev/null 2>&1
}

# in_tty CMD...: run CMD on a new pseudo-terminal (ctr -t refuses to run
# without one); exits with CMD's status.
in_tty() {
	local q
	printf -v q '%q ' "$@"
	timeout 30 script -qec "$q" /dev/null </dev/null
}

# --- tests --------------------------------------------------------------------
. "$repo/contrib/containerd/tests.sh"

for t in $tests; do
	"$t"
done

echo
if [ "$failed" -gt 0 ]; then
	echo "failed: ${failures[*]}"
	echo "containerd log: $tmp/containerd.log (rerun with --keep to look at it)"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
