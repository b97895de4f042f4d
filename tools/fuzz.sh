#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
#
# Fuzz the receive path (tests/fuzz/fuzz_rx, README.md "Fuzzing") for SECONDS
# (default 60; tools/test.sh runs the default as one test):
#
#   bash tools/fuzz.sh [SECONDS] [libFuzzer flags...]   e.g. bash tools/fuzz.sh 3600 -jobs=2
#
# Builds build-fuzz/ with clang (-Dfuzz=true) if needed, replays every input of
# tests/fuzz/regress/ (each a crash once found), then fuzzes a temporary copy of
# tests/fuzz/corpus/ (the repository's corpus is never grown by a run; to keep what a
# long run found: SHUNT_FUZZ_KEEP=DIR). A crash, leak, sanitizer report or timeout
# fails the run, names the reproducer and says how to replay it. Exit 0 or 1.
# SHUNT_FUZZ_TARGET=fuzz_app fuzzes the application side instead (tests/fuzz/fuzz_app.c:
# the input is what a hostile process writes into its region), from tests/fuzz/corpus-app/.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
exec </dev/null

SECS=${1:-60}
shift || true
BUILD=${SHUNT_FUZZ_BUILD_DIR:-build-fuzz}
TARGET=${SHUNT_FUZZ_TARGET:-fuzz_rx} # or fuzz_app: the application side
FUZZER=$BUILD/tests/fuzz/$TARGET
ART=$BUILD/fuzz-artifacts

if ! command -v clang >/dev/null; then
	echo "fuzz: clang is not installed (tools/deps.sh installs it)"
	exit 1
fi
if [ ! -f "$BUILD/build.ninja" ]; then
	CC=clang meson setup "$BUILD" -Dfuzz=true >"$BUILD.setup.log" 2>&1 ||
		{ cat "$BUILD.setup.log"; echo "fuzz: meson setup failed"; exit 1; }
	rm -f "$BUILD.setup.log"
fi
ninja -C "$BUILD" "tests/fuzz/$TARGET" >/dev/null || { echo "fuzz: build failed"; exit 1; }

work=$(mktemp -d /tmp/shunt-fuzz.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
mkdir -p "$ART" "$work/corpus"
if [ "$TARGET" = fuzz_rx ]; then cp tests/fuzz/corpus/* "$work/corpus/"
else cp tests/fuzz/corpus-app/* "$work/corpus/"; fi

# Each regression input alone first: a crash names its file.
regress=(tests/fuzz/regress/*)
if [ "$TARGET" = fuzz_rx ] && [ -e "${regress[0]}" ]; then
	if ! "$FUZZER" -runs=1 "${regress[@]}" >"$work/regress.log" 2>&1; then
		tail -40 "$work/regress.log"
		echo "fuzz: a regression input fails again (the last one named above)"
		exit 1
	fi
	echo "fuzz: ${#regress[@]} regression inputs replayed"
fi

# -timeout: one input running for seconds is a hang; -rss_limit_mb: 2 GiB
"$FUZZER" -max_total_time="$SECS" -max_len=32768 -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$ART/" -print_final_stats=1 "$@" "$work/corpus" \
	>"$work/fuzz.log" 2>&1
rc=$?
# A crash skips the EAL's cleanup: its runtime directory is left (ours by name, the
# pid in it gone), which tools/test.sh would count as a failure too.
for d in /var/run/dpdk/shunt_unit_fuzz_*; do
	[ -e "$d" ] && [ ! -d "/proc/${d##*_}" ] && rm -rf -- "$d"
done
if [ -n "${SHUNT_FUZZ_KEEP:-}" ]; then
	mkdir -p "$SHUNT_FUZZ_KEEP" && cp "$work"/corpus/* "$SHUNT_FUZZ_KEEP/"
fi
# coverage at the start and at the end (libFuzzer's cov: edges, ft: features)
grep -E '^#[0-9]+.*cov: [0-9]+' "$work/fuzz.log" | sed -n '1p;$p'
if [ $rc -ne 0 ]; then
	tail -60 "$work/fuzz.log"
	repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/fuzz.log" | tail -1)
	echo "fuzz: FAILED after a run of at most ${SECS}s; reproducer: ${repro:-none written}"
	[ -n "$repro" ] && echo "  replay: $FUZZER $repro; keep it: cp $repro tests/fuzz/regress/NAME"
	exit 1
fi
echo "fuzz: ${SECS}s, no crash ($(grep -c . <<<"$(ls "$work/corpus")") corpus inputs)"
