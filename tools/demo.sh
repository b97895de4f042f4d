#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
#
# Command one: dependencies, build, then a short show: unmodified curl and iperf3
# through shunt against kernel peers, in namespaces it creates and removes.
# Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
exec </dev/null

bash tools/deps.sh
bash tools/clean.sh
[ -f build/build.ninja ] || meson setup build
ninja -C build
echo
SHUNT_BUILD="$PWD/build" python3 tests/integration/demo.py
