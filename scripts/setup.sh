#!/bin/sh
# One command for a new user: install dependencies, build, and start swarmd
# (with the containerd it manages) in the background on the default socket.
#   sudo ./scripts/setup.sh
# Then: export DOCKER_HOST=unix:///var/run/swarmd.sock; docker info
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh build

SOCK=${SWARMD_SOCK:-/var/run/swarmd.sock}
PIDFILE=/var/run/swarmd/swarmd.pid
LOG=${SWARMD_LOG:-/var/log/swarmd.log}

# Replace a swarmd this script started earlier (found by its pid file).
if [ -f "$PIDFILE" ]; then
	old=$(cat "$PIDFILE")
	if [ -n "$old" ] && grep -q swarmd "/proc/$old/cmdline" 2>/dev/null; then
		echo "setup: stopping the running swarmd (pid $old)"
		kill -TERM "$old"
		for _ in $(seq 300); do kill -0 "$old" 2>/dev/null || break; sleep 0.1; done
	fi
fi

nohup ./build/swarmd -H "unix://$SOCK" >>"$LOG" 2>&1 &
pid=$!
for _ in $(seq 300); do
	if grep -q "containerd ready" "$LOG" 2>/dev/null && [ -S "$SOCK" ]; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "setup: swarmd exited; see $LOG" >&2
		tail -20 "$LOG" >&2
		exit 1
	fi
	sleep 0.1
done
echo "setup: swarmd is running (pid $pid), log $LOG"
echo "export DOCKER_HOST=unix://$SOCK"
