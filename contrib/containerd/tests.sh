# Tests for contrib/test-containerd.sh, sourced by it: each function drives one
# client-visible behaviour through ctr and checks what the kernel and ctr show.
# shellcheck shell=bash disable=SC2154

tests="t_run_exit t_no_leaked_fds t_missing_binary t_lifecycle t_kill_all t_memory_limit t_tty t_join_netns t_userns t_userns_pod t_cgroup_nesting t_teardown"

# ctr run in the foreground: create, start, wait, delete; output and exit code
# travel back through the shim.
t_run_exit() {
	local id=run-exit out rc
	out=$(ctr_run $id -- sh -c 'echo hi; echo oops >&2; exit 3' 2>"$tmp/err")
	rc=$?
	if [ "$rc" = 3 ] && [ "$out" = hi ] && grep -qx oops "$tmp/err"; then
		pass "run: stdout, stderr and exit code 3"
	else
		fail "run: stdout, stderr and exit code 3" $id \
			"want stdout \"hi\", stderr \"oops\", exit 3; got stdout \"$out\", exit $rc, stderr: $(tr '\n' ' ' <"$tmp/err")"
	fi
	remove_container $id
}

# The shim leaves a socket on fd 3 while it calls create: pid 1 must see only
# its stdio.
t_no_leaked_fds() {
	local id=no-leaked-fds out
	# ls runs as a child of sh (pid 1): ls's own directory fd is not in the list.
	out=$(ctr_run $id -- sh -c 'ls /proc/1/fd; true' 2>"$tmp/err")
	# shellcheck disable=SC2086 # one line
	if [ "$(echo $out)" = "0 1 2" ]; then
		pass "run: pid 1 has only fds 0 1 2"
	else
		fail "run: pid 1 has only fds 0 1 2" $id "want \"0 1 2\"; got \"$(echo $out)\"; $(where "$tmp/err")"
	fi
	remove_container $id
}

# The shim shows the last "level":"error" line of log.json to the user.
t_missing_binary() {
	local id=missing-binary rc
	ctr_run $id -- /no/such/binary >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" != 0 ] && grep -q '/no/such/binary' "$tmp/err" && grep -qiE 'no such file|not found' "$tmp/err"; then
		pass "run of a missing binary fails with the runtime's message"
	else
		fail "run of a missing binary fails with the runtime's message" $id \
			"want a non-zero exit and the runtime's \"no such file or directory\" error for /no/such/binary; got exit $rc: $(tr '\n' ' ' <"$tmp/err")"
	fi
	remove_container $id
}

# A detached container through its life: exec, ps, pause, resume, SIGTERM,
# delete.
t_lifecycle() {
	local id=lifecycle out rc pid freezer
	# pid 1 ignores signals it has no handler for: trap TERM explicitly.
	if ! ctr_run $id -d -- sh -c 'trap "exit 143" TERM; while :; do sleep 0.1; done' >/dev/null 2>"$tmp/err"; then
		fail "run -d" $id "$(where "$tmp/err")"
		remove_container $id
		return
	fi
	if wait_status $id RUNNING; then
		pass "run -d: task RUNNING"
	else
		fail "run -d: task RUNNING" $id "ctr task ls says \"$(task_field $id 3)\""
	fi
	pid=$(task_field $id 2)

	out=$(c task exec --exec-id exec1 $id sh -c 'echo exec-ok; tr "\0" " " </proc/1/cmdline; exit 4' 2>"$tmp/err")
	rc=$?
	if [ "$rc" = 4 ] && [ "$(echo "$out" | head -n 1)" = exec-ok ] && echo "$out" | grep -q 'trap'; then
		pass "exec: output, exit code 4, same pid namespace"
	else
		fail "exec: output, exit code 4, same pid namespace" $id \
			"want \"exec-ok\" then pid 1's command line (sh -c trap...), exit 4; got exit $rc, output \"$out\"; $(where "$tmp/err")"
	fi

	out=$(in_tty ctr --address "$sock" -n "$ns" task exec -t --exec-id exec2 $id sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo tty-ok; exit 6')
	rc=$?
	if [ "$rc" = 6 ] && echo "$out" | grep -q '^.*/dev/pts/' && echo "$out" | grep -q tty-ok; then
		pass "exec -t: stdin and stdout are a pty, exit code 6"
	else
		fail "exec -t: stdin and stdout are a pty, exit code 6" $id "want /dev/pts/N and tty-ok, exit 6; got exit $rc, output \"$(echo "$out" | tr -d '\r\0' | tr '\n' ' ')\""
	fi

	out=$(c task ps $id 2>"$tmp/err")
	if [ -n "$pid" ] && echo "$out" | awk 'NR > 1 { print $1 }' | grep -qx "$pid"; then
		pass "ps: lists the init pid"
	else
		fail "ps: lists the init pid" $id "want pid $pid in: $(echo "$out" | tr '\n' ' ') $(where "$tmp/err")"
	fi

	freezer=$(v1_mount freezer)
	c task pause $id 2>"$tmp/err"
	out=$(task_field $id 3)
	if [ "$out" = PAUSED ] && frozen $id "$freezer"; then
		pass "pause: PAUSED and the cgroup is frozen"
	else
		fail "pause: PAUSED and the cgroup is frozen" $id "ctr task ls says \"$out\", freezer says \"$(freezer_state $id "$freezer")\"; $(where "$tmp/err")"
	fi
	c task resume $id 2>"$tmp/err"
	out=$(task_field $id 3)
	if [ "$out" = RUNNING ] && ! frozen $id "$freezer"; then
		pass "resume: RUNNING and the cgroup is thawed"
	else
		fail "resume: RUNNING and the cgroup is thawed" $id "ctr task ls says \"$out\", freezer says \"$(freezer_state $id "$freezer")\"; $(where "$tmp/err")"
	fi

	c task kill -s SIGTERM $id 2>"$tmp/err"
	if wait_status $id STOPPED; then
		pass "kill SIGTERM: task STOPPED"
	else
		fail "kill SIGTERM: task STOPPED" $id "ctr task ls says \"$(task_field $id 3)\"; $(where "$tmp/err")"
	fi
	# ctr task rm reports a non-zero exit code as a warning.
	c task rm $id >/dev/null 2>"$tmp/err"
	rc=$?
	if [ "$rc" = 0 ] && grep -q 'exit code 143' "$tmp/err"; then
		pass "task rm: exit code 143 reported"
	else
		fail "task rm: exit code 143 reported" $id "want exit 0 and \"exit code 143\"; got exit $rc: $(tr '\n' ' ' <"$tmp/err")"
	fi
	if [ -z "$(task_field $id 1)" ] && ! "$rt" --root "$rtroot/$ns" state $id >/dev/null 2>&1 && ! cgroup_exists $id; then
		pass "delete: task, runtime state and cgroup gone"
	else
		fail "delete: task, runtime state and cgroup gone" $id \
			"ctr task ls: \"$(task_field $id 3)\"; runtime state: $("$rt" --root "$rtroot/$ns" state $id 2>&1 | tr '\n' ' '); cgroup dirs left: $(cgroup_exists $id && echo yes || echo no)"
	fi
	remove_container $id
}

# kill --all with SIGKILL, as the shim sends on cleanup, reaches every process.
t_kill_all() {
	local id=kill-all
	if ! ctr_run $id -d -- sh -c 'sleep 1000 & sleep 1000' >/dev/null 2>"$tmp/err"; then
		fail "run -d" $id "$(where "$tmp/err")"
		remove_container $id
		return
	fi
	wait_status $id RUNNING
	c task kill -a -s SIGKILL $id 2>"$tmp/err"
	if wait_status $id STOPPED && [ -z "$(cgroup_procs $id)" ]; then
		pass "kill --all SIGKILL: STOPPED, no process left in the cgroup"
	else
		fail "kill --all SIGKILL: STOPPED, no process left in the cgroup" $id \
			"ctr task ls says \"$(task_field $id 3)\", cgroup procs: $(cgroup_procs $id | tr '\n' ' '); $(where "$tmp/err")"
	fi
	c task rm $id >/dev/null 2>"$tmp/err"
	if grep -q 'exit code 137' "$tmp/err"; then
		pass "task rm: exit code 137 reported"
	else
		fail "task rm: exit code 137 reported" $id "got: $(tr '\n' ' ' <"$tmp/err")"
	fi
	remove_container $id
}

# --memory-limit reaches the container's cgroup, seen from the host and from
# inside through a cgroup mount (ctr adds none by default).
t_memory_limit() {
	local id=memory-limit limit=104857600 m file inner host out
	if m=$(v1_mount memory) && [ -n "$m" ]; then
		file=memory.limit_in_bytes
		inner="cat /sys/fs/cgroup/memory/$file"
	else
		m=$(v2_mount)
		file=memory.max
		inner="cat /sys/fs/cgroup/$file"
	fi
	if ! ctr_run $id -d --memory-limit $limit \
		--mount type=cgroup,src=cgroup,dst=/sys/fs/cgroup,options=ro:nosuid:noexec:nodev \
		-- sleep 1000 >/dev/null 2>"$tmp/err"; then
		fail "run -d --memory-limit" $id "$(where "$tmp/err")"
		remove_container $id
		return
	fi
	host=$(cat "$m$cgparent/$id/$file" 2>&1)
	if [ "$host" = $limit ]; then
		pass "memory limit: host cgroup $file = $limit"
	else
		fail "memory limit: host cgroup $file = $limit" $id "$m$cgparent/$id/$file: $host"
	fi
	out=$(c task exec --exec-id mem $id sh -c "$inner" 2>&1)
	if [ "$out" = $limit ]; then
		pass "memory limit: $file = $limit inside the container"
	else
		fail "memory limit: $file = $limit inside the container" $id "$inner gave: $out"
	fi
	remove_container $id
}

# ctr run -t: the container's stdio is the pty the runtime passed back over
# --console-socket.
t_tty() {
	local id=tty out rc
	out=$(in_tty ctr --address "$sock" -n "$ns" run -t --runc-binary "$runtime_bin" --runc-root "$rtroot" \
		--cgroup "$cgparent/$id" "$image" $id sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo tty-ok; exit 5')
	rc=$?
	if [ "$rc" = 5 ] && echo "$out" | grep -q '/dev/pts/' && echo "$out" | grep -q tty-ok; then
		pass "run -t: stdin and stdout are a pty, exit code 5"
	else
		fail "run -t: stdin and stdout are a pty, exit code 5" $id "want /dev/pts/N and tty-ok, exit 5; got exit $rc, output \"$(echo "$out" | tr -d '\r\0' | tr '\n' ' ')\""
	fi
	remove_container $id
}

# ctr run --with-ns puts a namespace path in the spec: the runtime joins it.
t_join_netns() {
	local holder=netns-holder id=netns-join pid want out
	if ! ctr_run $holder -d -- sleep 1000 >/dev/null 2>"$tmp/err"; then
		fail "run -d" $holder "$(where "$tmp/err")"
		remove_container $holder
		return
	fi
	wait_status $holder RUNNING
	pid=$(task_field $holder 2)
	want=$(readlink "/proc/$pid/ns/net")
	out=$(ctr_run $id --with-ns "network:/proc/$pid/ns/net" -- readlink /proc/self/ns/net 2>"$tmp/err")
	if [ -n "$want" ] && [ "$out" = "$want" ]; then
		pass "run --with-ns network:PATH joins that namespace"
	else
		fail "run --with-ns network:PATH joins that namespace" $id "want $want (pid $pid); got \"$out\"; $(where "$tmp/err")"
	fi
	remove_container $id
	remove_container $holder
}

# --uidmap/--gidmap: a user namespace with the mappings, the rootfs chowned by
# containerd to match.
t_userns() {
	local id=userns out
	out=$(ctr_run $id --uidmap 0:100000:65536 --gidmap 0:100000:65536 -- \
		sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u; touch /tmp/f && stat -c %u:%g /tmp/f' 2>"$tmp/err")
	# shellcheck disable=SC2086 # word splitting folds the maps' padding
	if [ "$(echo $out)" = "0 100000 65536 0 100000 65536 0 0:0" ]; then
		pass "run --uidmap/--gidmap: mapped ids, root inside owns new files"
	else
		fail "run --uidmap/--gidmap: mapped ids, root inside owns new files" $id \
			"want uid_map and gid_map \"0 100000 65536\", id -u 0, new file 0:0; got \"$(echo "$out" | tr '\n' '|')\"; $(where "$tmp/err")"
	fi
	remove_container $id
}

# A user-namespaced pod: the sandbox (here a holder container) has the user
# and network namespaces, and the pod's container joins both by path, with
# mount, pid, ipc and uts namespaces of its own made inside that user
# namespace; it is its root, with the sandbox's maps. The runtime joins the
# network namespace (owned by the pod's user namespace) after the user one.
t_userns_pod() {
	local holder=userns-pod-sandbox id=userns-pod-app pid out want
	if ! ctr_run $holder -d --uidmap 0:100000:65536 --gidmap 0:100000:65536 -- sleep 1000 >/dev/null 2>"$tmp/err"; then
		fail "run -d --uidmap (the pod's sandbox)" $holder "$(where "$tmp/err")"
		remove_container $holder
		return
	fi
	wait_status $holder RUNNING
	pid=$(task_field $holder 2)
	want="$(readlink "/proc/$pid/ns/user") $(readlink "/proc/$pid/ns/net")"
	out=$(ctr_run $id --uidmap 0:100000:65536 --gidmap 0:100000:65536 \
		--with-ns "user:/proc/$pid/ns/user" --with-ns "network:/proc/$pid/ns/net" -- \
		sh -c 'echo $(readlink /proc/self/ns/user) $(readlink /proc/self/ns/net); cat /proc/self/uid_map; id -u;
			touch /tmp/f && stat -c %u:%g /tmp/f' 2>"$tmp/err")
	# shellcheck disable=SC2086,SC2046 # word splitting folds the map's padding
	if [ "$(echo "$out" | head -n 1)" = "$want" ] && [ "$(echo $(echo "$out" | tail -n +2))" = "0 100000 65536 0 0:0" ]; then
		pass "a user-namespaced pod: the container joins the sandbox's user and network namespaces"
	else
		fail "a user-namespaced pod: the container joins the sandbox's user and network namespaces" $id \
			"want \"$want\", uid_map \"0 100000 65536\", id -u 0, new file 0:0; got \"$(echo "$out" | tr '\n' '|')\"; $(where "$tmp/err")"
	fi
	remove_container $id
	remove_container $holder
}

# --- cgroup probes --------------------------------------------------------------

freezer_state() { # ID FREEZER_MOUNT
	if [ -n "$2" ]; then
		cat "$2$cgparent/$1/freezer.state" 2>&1
	else
		cat "$(v2_mount)$cgparent/$1/cgroup.freeze" 2>&1
	fi
}

frozen() { # ID FREEZER_MOUNT
	case $(freezer_state "$1" "$2") in
	FROZEN | 1) return 0 ;;
	esac
	return 1
}

cgroup_procs() { # every pid left in the container's cgroups
	local m
	for m in $(cgroup_mounts); do
		cat "$m$cgparent/$1/cgroup.procs" 2>/dev/null
	done | sort -u
}

cgroup_exists() {
	local m
	for m in $(cgroup_mounts); do
		[ -d "$m$cgparent/$1" ] && return 0
	done
	return 1
}

# --- placement and teardown ----------------------------------------------------

# ctr's default cgroupsPath is /<namespace>/<id> at the root of every hierarchy,
# outside this script's cgroup: ctr_run passes --cgroup below our own. Every
# process of the container, an exec'd one too, must be in that cgroup in every
# hierarchy (named and unified ones included), and so below ours.
t_cgroup_nesting() {
	local id=cgroup-nesting want pids pid h ctrl path own bad=
	want=$cgparent/$id
	if ! ctr_run $id -d -- sleep 1000 >/dev/null 2>"$tmp/err"; then
		fail "run -d" $id "$(where "$tmp/err")"
		remove_container $id
		return
	fi
	wait_status $id RUNNING
	c task exec -d --exec-id sleeper $id sleep 1000 >/dev/null 2>"$tmp/err"
	pids=$(c task ps $id 2>/dev/null | awk 'NR > 1 { print $1 }')
	for pid in $pids; do
		while IFS=: read -r h ctrl path; do
			own=$(awk -F: -v h="$h" '$1 == h { print $3 }' /proc/self/cgroup)
			case $path in
			"$want") ;;
			"${own%/}"/*) bad+="pid $pid in $h:$ctrl:$path, below ours but not the container's; " ;;
			*) bad+="pid $pid in $h:$ctrl:$path, outside ours ($own); " ;;
			esac
		done <"/proc/$pid/cgroup"
	done
	# shellcheck disable=SC2086 # one line
	if [ "$(echo $pids | wc -w)" = 2 ] && [ -z "$bad" ]; then
		pass "cgroups: init and exec'd process in <our cgroup>/$id in every hierarchy"
	else
		fail "cgroups: init and exec'd process in <our cgroup>/$id in every hierarchy" $id \
			"want 2 pids from ctr task ps; got \"$(echo $pids)\": $bad $(where "$tmp/err")"
	fi
	remove_container $id
}

# Every test removed what it made: nothing of the run may be left for the
# cleanup trap to find.
t_teardown() {
	local containers tasks states cgdirs procs shims
	containers=$(c container ls -q 2>&1)
	tasks=$(c task ls -q 2>&1)
	states=$(ls -A "$rtroot/$ns" 2>/dev/null)
	cgdirs=$(for m in $(cgroup_mounts); do [ -d "$m$cgparent" ] && find "$m$cgparent" -mindepth 1 -type d; done)
	procs=$(for m in $(cgroup_mounts); do [ -d "$m$cgparent" ] && find "$m$cgparent" -name cgroup.procs -exec cat {} +; done | sort -u)
	# A shim exits once containerd has deleted its last task.
	for _ in $(seq 20); do
		shims=$(pgrep -f "containerd-shim-runc-v2 .*-address $sock( |$)")
		[ -z "$shims" ] && break
		sleep 0.1
	done
	if [ -z "$containers$tasks$states$cgdirs$procs$shims" ]; then
		pass "teardown: no container, task, shim, runtime state, cgroup or process left"
	else
		fail "teardown: no container, task, shim, runtime state, cgroup or process left" teardown \
			"containers: $(echo $containers); tasks: $(echo $tasks); shims: $(echo $shims); state in $rtroot/$ns: $(echo $states); cgroups: $(echo $cgdirs); pids in them: $(echo $procs)"
	fi
}
