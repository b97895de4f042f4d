#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
#
# Remove what an interrupted test run left behind, and ONLY what matches our
# naming: namespaces shunt-app-* / shunt-peer-* (and the processes inside them,
# shuntd among them: a process in one of our namespaces is ours), temp dirs
# /tmp/shunt-bed-*, DPDK runtime dirs /var/run/dpdk/shunt<pid>x<n> and
# /var/run/dpdk/shunt_unit_<name>_<pid> (unit tests that start the EAL).
# Each name carries the pid of the test that made it (shunt-app-<pid>-<n>,
# shunt-bed-<pid>-<n>-*, shunt<pid>x<n>); while that pid is alive the thing is in
# use (tests of another run on the same machine) and is left alone.
# Prints what it removed; `--check` only reports and exits 1 if anything is left.
set -uo pipefail

owner_alive() {  # name -> 0 if the pid in it is a live process
	local pid
	pid=$(echo "$1" | sed -E -e 's/^(shunt-(app|peer|bed)-|shunt)([0-9]+)[-x].*$/\3/' \
		-e 's/^shunt_unit_[a-z]+_([0-9]+)$/\1/')
	[ -n "$pid" ] && [ "$pid" != "$1" ] && [ -d "/proc/$pid" ]
}

check=0
[ "${1:-}" = "--check" ] && check=1

left=0
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^shunt-(app|peer)-[0-9]+-[0-9]+$'); do
	owner_alive "$ns" && continue
	left=1
	echo "stale namespace $ns"
	[ $check -eq 1 ] && continue
	for pid in $(ip netns pids "$ns" 2>/dev/null); do
		echo "  killing pid $pid ($(tr '\0' ' ' </proc/"$pid"/cmdline 2>/dev/null | cut -c1-80))"
		kill -KILL "$pid" 2>/dev/null
	done
	ip netns del "$ns"
done
for d in /tmp/shunt-bed-* /var/run/dpdk/shunt[0-9]*x[0-9]* /var/run/dpdk/shunt_unit_*; do
	[ -e "$d" ] || continue
	owner_alive "$(basename "$d")" && continue
	left=1
	echo "stale $d"
	[ $check -eq 1 ] || rm -rf -- "$d"
done
[ $check -eq 1 ] && exit $left
exit 0
