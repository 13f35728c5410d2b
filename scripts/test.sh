#!/bin/sh
# One command for the whole test suite: install dependencies, build with
# AddressSanitizer + UndefinedBehaviorSanitizer, run the cmocka unit tests
# and the integration tests (real swarmd, real containerd, real docker CLIs).
#   sudo ./scripts/test.sh
# Ends with one line: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
./scripts/install-deps.sh || exit 1

werror=OFF
[ "${CI:-}" = true ] && werror=ON
./scripts/build.sh build-test -DSWARMD_SANITIZE=ON -DSWARMD_WERROR=$werror || {
	echo "0 passed, 1 failed (build)"
	exit 1
}

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
results=build-test/results
rm -rf "$results"
mkdir -p "$results"

echo "== unit tests (cmocka, ctest)"
(cd build-test && ctest --output-on-failure --timeout 300 \
	--output-junit results/unit.xml)

echo "== integration tests (pytest)"
# Every integration suite is part of the gate.
SWARMD_BIN=$PWD/build-test/swarmd /usr/bin/python3 -m pytest -q \
	-p no:cacheprovider --junitxml="$results/integration.xml" \
	tests/integration

/usr/bin/python3 scripts/summarize.py "$results/unit.xml" \
	"$results/integration.xml"
