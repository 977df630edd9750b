# Shared by contrib/test-containerd.sh and contrib/test-podman.sh (sourced,
# not run): their command line, the runtime to test and the harness's own
# failures. The caller sets $repo first.

# parse_client_args "$@": --calls, --keep, -h and one RUNTIME argument; sets
# calls, keep and runtime_arg. --help prints the caller's header comment.
parse_client_args() {
	calls=0
	keep=0
	runtime_arg=
	local a
	for a in "$@"; do
		case $a in
		--calls) calls=1 ;;
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
}

# A failure of the harness (the client, its daemon, the image) says nothing
# about the runtime under test: report it apart and stop. $harness_log, when
# set and present, is the daemon's log to show the end of.
harness_error() {
	echo "HARNESS ERROR (not a runtime failure): $*" >&2
	[ -n "${harness_log:-}" ] && [ -f "$harness_log" ] && tail -n 20 "$harness_log" | sed "s/^/  $(basename "$harness_log" .log): /" >&2
	exit 2
}

# resolve_runtime: rt = the absolute path of RUNTIME (a path or a name in
# $PATH; default $OCIRUN, else the repository's ./ocirun).
resolve_runtime() {
	rt=${runtime_arg:-${OCIRUN:-$repo/ocirun}}
	case $rt in
	*/*) ;;
	*) rt=$(command -v "$rt") || harness_error "runtime ${runtime_arg:-$OCIRUN} not found in \$PATH" ;;
	esac
	local abs
	abs=$(realpath -e "$rt" 2>/dev/null) || harness_error "runtime binary $rt does not exist (build it: make ocirun)"
	rt=$abs
	[ -x "$rt" ] || harness_error "runtime binary $rt is not executable"
}

# own_cgroup: the deepest cgroup this script is in (on a v1 host each
# hierarchy has its own path; the others are its prefixes).
own_cgroup() {
	local best=/ p
	while IFS=: read -r _ _ p; do
		[ ${#p} -gt ${#best} ] && best=$p
	done </proc/self/cgroup
	echo "${best%/}"
}
