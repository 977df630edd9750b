#!/bin/sh
# Installs the Debian packages ocirun's build, demo and tests need, if missing.
set -eu
need=""
command -v gcc >/dev/null 2>&1 || need="$need gcc libc6-dev"
dpkg -s busybox-static >/dev/null 2>&1 || need="$need busybox-static"
dpkg -s libseccomp-dev >/dev/null 2>&1 || need="$need libseccomp-dev"
dpkg -s iproute2 >/dev/null 2>&1 || need="$need iproute2"
# newuidmap and newgidmap: the rootless tests map subordinate ids with them.
dpkg -s uidmap >/dev/null 2>&1 || need="$need uidmap"
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "missing packages:$need — run: sudo apt-get install -y$need" >&2
	exit 1
fi
echo "installing:$need"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
