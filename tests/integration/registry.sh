#!/bin/bash
# registry.sh: a private image registry (Debian's docker-registry, i.e.
# distribution v2) on a loopback address, for PullImage tests.
#
#   registry.sh start ADDR PORT DATADIR   serve http://ADDR:PORT, blobs in
#                                         DATADIR; PID in DATADIR/registry.pid,
#                                         log in DATADIR/registry.log; returns
#                                         once /v2/ answers
#   registry.sh push ADDR PORT TAR NAME:TAG
#                                         push an OCI layout tar (or a
#                                         docker-save tar) as ADDR:PORT/NAME:TAG
#   registry.sh stop DATADIR              stop the registry started there
#
# Plain HTTP: containerd must treat ADDR:PORT as an insecure registry (ctr
# images pull --plain-http; CRI: a registry mirror/config for ADDR:PORT with
# an http:// endpoint).
set -euo pipefail

prog=${0##*/}
die() {
	echo "$prog: $*" >&2
	exit 1
}
usage() {
	sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# is_registry PID: PID is alive and is a docker-registry process.
is_registry() {
	local cmdline
	[ -r "/proc/$1/cmdline" ] || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *docker-registry* ]]
}

cmd_start() {
	[ $# -eq 3 ] || usage
	local addr=$1 port=$2 datadir=$3 pid i
	command -v docker-registry >/dev/null ||
		die "docker-registry missing (apt-get install docker-registry)"
	mkdir -p "$datadir"
	datadir=$(cd "$datadir" && pwd)
	if [ -f "$datadir/registry.pid" ]; then
		pid=$(cat "$datadir/registry.pid")
		! is_registry "$pid" ||
			die "a registry already runs from $datadir (pid $pid)"
		rm -f "$datadir/registry.pid"
	fi
	cat >"$datadir/config.yml" <<EOF
version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $datadir
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: $addr:$port
  secret: swarmd-test-registry
health:
  storagedriver:
    enabled: false
EOF
	(
		# REGISTRY_* variables would override the config file.
		for v in $(compgen -e); do
			[[ $v != REGISTRY_* ]] || unset "$v"
		done
		exec docker-registry serve "$datadir/config.yml" \
			</dev/null >"$datadir/registry.log" 2>&1
	) &
	pid=$!
	echo "$pid" >"$datadir/registry.pid"
	for i in $(seq 200); do
		if curl -sf -o /dev/null "http://$addr:$port/v2/"; then
			echo "$prog: registry on http://$addr:$port (pid $pid)"
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			rm -f "$datadir/registry.pid"
			tail -n 20 "$datadir/registry.log" >&2
			die "docker-registry exited"
		fi
		sleep 0.05
	done
	kill "$pid" 2>/dev/null || true
	rm -f "$datadir/registry.pid"
	die "no answer from http://$addr:$port/v2/ after 10 s"
}

cmd_push() {
	[ $# -eq 4 ] || usage
	local addr=$1 port=$2 tar=$3 ref=$4 transport members
	[ -f "$tar" ] || die "$tar: no such file"
	members=$(tar tf "$tar")
	if grep -qx 'index.json' <<<"$members"; then
		transport=oci-archive
	elif grep -qx 'manifest.json' <<<"$members"; then
		transport=docker-archive
	else
		die "$tar is neither an OCI layout nor a docker-save archive"
	fi
	skopeo --insecure-policy copy --quiet --dest-tls-verify=false \
		"$transport:$tar" "docker://$addr:$port/$ref"
}

cmd_stop() {
	[ $# -eq 1 ] || usage
	local datadir=$1 pid i
	[ -f "$datadir/registry.pid" ] || return 0
	pid=$(cat "$datadir/registry.pid")
	if is_registry "$pid"; then
		kill -TERM "$pid"
		for i in $(seq 100); do
			is_registry "$pid" || break
			sleep 0.05
		done
		! is_registry "$pid" || kill -KILL "$pid"
	fi
	rm -f "$datadir/registry.pid"
}

[ $# -ge 1 ] || usage
sub=$1
shift
case $sub in
start) cmd_start "$@" ;;
push) cmd_push "$@" ;;
stop) cmd_stop "$@" ;;
*) usage ;;
esac
