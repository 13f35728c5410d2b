#!/bin/sh
# Configures and builds swarmd. usage: scripts/build.sh BUILD_DIR [cmake args]
set -eu
dir=$1
shift
cd "$(dirname "$0")/.."
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
