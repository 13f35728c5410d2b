#!/bin/bash
# images.sh OUTDIR: build the busybox test images from Debian's busybox-static.
#
#   OUTDIR/busybox-oci.tar     OCI layout, docker.io/library/busybox:latest
#                              (ctr images import; skopeo oci-archive:)
#   OUTDIR/busybox-docker.tar  docker-save archive, RepoTags busybox:latest
#                              (docker load; ctr images import)
#
# Both hold /bin/busybox with a symlink per applet, a minimal /etc/passwd and
# /etc/group, /tmp, and PATH; Cmd is ["sh"]. Nothing is rebuilt while both
# tarballs are newer than /bin/busybox, mkimage.sh and this script.
set -euo pipefail
export LC_ALL=C
umask 022

[ $# -eq 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
outdir=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkimage=$here/../../scripts/mkimage.sh
busybox=/bin/busybox
oci=$outdir/busybox-oci.tar
docker=$outdir/busybox-docker.tar

[ -x "$busybox" ] || {
	echo "$0: $busybox missing (apt-get install busybox-static)" >&2
	exit 1
}

up_to_date() {
	local out in
	for out in "$oci" "$docker"; do
		[ -f "$out" ] || return 1
		for in in "$busybox" "$mkimage" "${BASH_SOURCE[0]}"; do
			[ "$out" -nt "$in" ] || return 1
		done
	done
}
if up_to_date; then
	exit 0
fi

mkdir -p "$outdir"
rootfs=$(mktemp -d "$outdir/.busybox-rootfs.XXXXXX")
trap 'rm -rf "$rootfs"' EXIT
chmod 755 "$rootfs"

mkdir -p "$rootfs"/{bin,etc,dev,proc,sys,root,home,var,tmp}
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
cp "$busybox" "$rootfs/bin/busybox"
chmod 755 "$rootfs/bin/busybox"
while read -r applet; do
	case $applet in
	busybox | */* | '') continue ;;
	esac
	ln -s busybox "$rootfs/bin/$applet"
done < <("$busybox" --list)
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/home:/bin/false
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
chmod 644 "$rootfs/etc/passwd" "$rootfs/etc/group"

common=(--rootfs "$rootfs" --cmd sh 
	--env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
"$mkimage" --format oci --ref docker.io/library/busybox:latest "${common[@]}" \
	-o "$oci"
"$mkimage" --format docker --ref busybox:latest "${common[@]}" -o "$docker"
