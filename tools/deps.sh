#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright (c) 2026 The shunt authors
#
# Install what shunt needs to build and test on Debian 12, only if something is
# missing (apt-get update runs only then). Must run as root; never reads stdin.
# clang builds the fuzz target (tools/fuzz.sh); libFuzzer and the sanitizer
# runtimes are in libclang-rt-14-dev, which clang only recommends.
# tcpdump records impaired runs on the tap and tshark checks the captures
# (tests/integration/capcheck.py: malformed frames, checksums, SACKed data resent).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
	echo "deps.sh: run as root (network namespaces, taps and DPDK need it)" >&2
	exit 1
fi

PKGS="dpdk libdpdk-dev check meson ninja-build pkg-config gcc python3 iproute2
iputils-ping curl netcat-openbsd iperf3 nftables dnsutils procps strace
nginx-light redis-server redis-tools wrk sockperf dnsmasq-base openssh-client
openssh-server libnetfilter-queue-dev iptables clang libclang-rt-14-dev tcpdump
tshark"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps.sh: all packages present"
	exit 0
fi

echo "deps.sh: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q </dev/null
# iperf3's postinst asks whether to start a daemon; the answer is no.
echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections
# wireshark-common asks whether non-root users may capture (a setuid dumpcap);
# only root captures here, so no.
echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing </dev/null
# nginx, redis-server and sshd are run by the tests in their own namespaces;
# the daemons their packages may have started on this host are not wanted.
for svc in nginx redis-server ssh; do
	if command -v systemctl >/dev/null 2>&1; then
		systemctl disable --now "$svc" >/dev/null 2>&1 || true
	fi
done
