#!/bin/bash
# run_executor_containerd.sh [BUILD_DIR] [TEST_BINARY]
#
# Runs the CRI executor's containerd test (test_executor_cri) for real: starts
# a private containerd on a temporary directory (its own root, state, socket,
# runc root, CNI conf dir), imports the pause and busybox images, runs the
# test with SWARMD_TEST_* set, then removes everything it made: the
# containerd it started (by PID) and the shims of that containerd, mounts
# under the temporary directory, the test node's bridge, the portmap nat
# chains if they did not exist before, cgroup directories, the directory.
# Needs root. Exit status is the test's.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
test_bin=${2:-$build/tests/unit/cri/test_executor_cri}
pause_tar=$build/images/swarmd-pause.tar

[ "$(id -u)" = 0 ] || { echo "$0: needs root" >&2; exit 2; }
[ -x "$test_bin" ] || { echo "$0: $test_bin missing (build it)" >&2; exit 2; }
[ -f "$pause_tar" ] || { echo "$0: $pause_tar missing (build swarmd-pause-image)" >&2; exit 2; }

root=$(mktemp -d /tmp/swd-exec.XXXXXX)
chmod 711 "$root"
sock=$root/run/containerd.sock
node=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | head -c 25)
ctd_pid=
nat_before=$(iptables -t nat -S 2>/dev/null | grep -c '^-N CNI-HOSTPORT' || true)

cleanup() {
	local pid m f
	# Processes left in our pods (a failed test): they outlive the shims.
	for f in /sys/fs/cgroup/pids/"swarmd-${node:0:12}"/*/cgroup.procs; do
		[ -f "$f" ] || continue
		for pid in $(cat "$f"); do kill -9 "$pid" 2>/dev/null; done
	done
	if [ -n "$ctd_pid" ]; then
		kill "$ctd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$ctd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$ctd_pid" 2>/dev/null
		wait "$ctd_pid" 2>/dev/null
	fi
	# Shims of our containerd (they outlive it), found by its address.
	for pid in $(pgrep -f containerd-shim-runc-v2); do
		if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-address $sock "; then
			kill -9 "$pid" 2>/dev/null
		fi
	done
	# Mounts under our directory (rootfs overlays, netns, shm), deepest first.
	awk -v r="$root" 'index($2, r) == 1 {print $2}' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
	ip link del "swd${node:0:8}" 2>/dev/null
	if [ "$nat_before" = 0 ]; then
		for c in CNI-HOSTPORT-DNAT CNI-HOSTPORT-SETMARK CNI-HOSTPORT-MASQ; do
			while iptables -t nat -S | grep -q -- "-j $c\$"; do
				iptables -t nat -S | grep -- "-j $c\$" | head -1 | sed 's/^-A/-D/' |
					xargs iptables -t nat 2>/dev/null || break
			done
			iptables -t nat -F "$c" 2>/dev/null
			iptables -t nat -X "$c" 2>/dev/null
		done
	fi
	for d in /sys/fs/cgroup/*/"swarmd-${node:0:12}"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
	done
	rm -rf "$root"
}
trap cleanup EXIT

mkdir -p "$root"/{root,run,state,runc,opt,cni/net.d,logs}
cat >"$root/config.toml" <<EOF
version = 2
root = "$root/root"
state = "$root/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$root/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "swarmd.local/pause:1"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  max_container_log_line_size = 16384
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "$root/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$root/cni/net.d"
EOF

containerd --config "$root/config.toml" >"$root/containerd.log" 2>&1 &
ctd_pid=$!
for _ in $(seq 100); do
	ctr --address "$sock" version >/dev/null 2>&1 && break
	sleep 0.1
done
if ! ctr --address "$sock" version >/dev/null 2>&1; then
	echo "$0: containerd did not come up" >&2
	tail -20 "$root/containerd.log" >&2
	exit 1
fi
"$src/tests/integration/images.sh" "$build/test-images" || exit 1
ctr --address "$sock" -n k8s.io images import "$pause_tar" >/dev/null || exit 1
ctr --address "$sock" -n k8s.io images import "$build/test-images/busybox-oci.tar" >/dev/null || exit 1

SWARMD_TEST_CONTAINERD_SOCK=$sock \
SWARMD_TEST_PAUSE_IMAGE=swarmd.local/pause:1 \
SWARMD_TEST_CNI_CONF_DIR=$root/cni/net.d \
SWARMD_TEST_LOG_ROOT=$root/logs \
SWARMD_TEST_NODE_ID=$node \
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
	"$test_bin"
rc=$?
if [ $rc -ne 0 ]; then
	echo "--- containerd log (last 40 lines) ---" >&2
	tail -40 "$root/containerd.log" >&2
fi
exit $rc
