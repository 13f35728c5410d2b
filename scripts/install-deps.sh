#!/bin/sh
# Installs, from Debian's apt, everything swarmd needs to build, run and be
# tested. Idempotent: does nothing when every package is already there.
set -eu

PACKAGES="
build-essential cmake pkg-config git ca-certificates curl
libmicrohttpd-dev libuv1-dev libraft-dev librocksdb-dev libssl-dev
libjson-c-dev libcurl4-openssl-dev libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev
containerd runc containernetworking-plugins iproute2 iptables
busybox-static docker-registry skopeo
docker.io
python3 python3-pytest python3-docker
gnuplot-nox
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (missing:$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing$missing"
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
