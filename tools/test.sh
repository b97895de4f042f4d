#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
#
# Command two: dependencies, build, every test suite and a minute of fuzzing; ends
# with ONE line "N passed, N failed" (timeouts, errors and skips count as failed: a
# skip is a defect here) and exits 1 if anything failed. Run as root on Debian 12.
#
# SHUNT_SANITIZE=1: the same, built with -Dsanitize=true (ASan + UBSan) in build-asan/;
# any sanitizer report fails the test that caused it (README.md, Testing).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec </dev/null

if [ -n "${SHUNT_SANITIZE:-}" ]; then
	BUILD=${SHUNT_BUILD_DIR:-build-asan}
	SETUP_ARGS=(-Dsanitize=true)
else
	BUILD=${SHUNT_BUILD_DIR:-build}
	SETUP_ARGS=()
fi

finish() {  # passed failed
	echo "$1 passed, $2 failed"
	[ "$2" -eq 0 ] && exit 0
	exit 1
}

bash tools/deps.sh || { echo "dependencies could not be installed"; finish 0 1; }
bash tools/clean.sh

if [ ! -f "$BUILD/build.ninja" ]; then
	meson setup "$BUILD" "${SETUP_ARGS[@]}" || { echo "meson setup failed"; finish 0 1; }
elif [ ${#SETUP_ARGS[@]} -gt 0 ]; then
	meson configure "$BUILD" "${SETUP_ARGS[@]}" || { echo "meson configure failed"; finish 0 1; }
fi
ninja -C "$BUILD" || { echo "build failed"; finish 0 1; }

rm -f "$BUILD/meson-logs/testlog.json"
meson test -C "$BUILD" --num-processes 2 --print-errorlogs
mrc=$?

counts=$(python3 - "$BUILD/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            if not line.strip():
                continue
            t = json.loads(line)
            if t.get("result") in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:  # FAIL, TIMEOUT, ERROR, SKIP, UNEXPECTEDPASS, INTERRUPT
                failed += 1
                print("  not passed: %s (%s)" % (t.get("name"), t.get("result")),
                      file=sys.stderr)
except OSError as e:
    print("no test log: %s" % e, file=sys.stderr)
    failed += 1
print(passed, failed)
PY
)
read -r passed failed <<<"$counts"
[ -n "${passed:-}" ] || { passed=0; failed=1; }
if [ "$mrc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	echo "meson test exited $mrc with no failed test recorded"
	failed=1
fi

# The receive path under libFuzzer for 60 s, the regression inputs first
# (tools/fuzz.sh, its own clang build in build-fuzz/): one test more.
if bash tools/fuzz.sh 60; then
	passed=$((passed + 1))
else
	echo "  not passed: fuzz_rx (tools/fuzz.sh 60)" >&2
	failed=$((failed + 1))
fi

# Every test must tear down what it made; anything left is a failure too.
if ! bash tools/clean.sh --check >/dev/null; then
	echo "tests left namespaces or files behind:"
	bash tools/clean.sh
	failed=$((failed + 1))
fi
finish "$passed" "$failed"
