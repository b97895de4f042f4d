/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * churnapp: a short-lived program for test_churn: it opens N TCP connections to an
 * echo server and one UDP socket to a UDP echo, checks one echo on each, prints
 * "ok", and then ends the way it is told:
 *
 *   churnapp IP TCP_PORT UDP_PORT N exit|kill|abort|close
 *
 *   exit:  _exit(0) with everything open (no close, no atexit)
 *   kill:  SIGKILL itself
 *   abort: abort() (SIGABRT: a crash; no core file)
 *   close: closes every socket, then exits
 *
 * Plain socket API, so libshunt.so serves it when preloaded. Exit 1 (and a
 * reason on stderr) if anything did not echo.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAXCONN 1024

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void echo_once(int fd, char c)
{
	char got = 0;

	if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
		fail("send");
	if (recv(fd, &got, 1, MSG_WAITALL) != 1 || got != c)
		fail("recv");
}

int main(int argc, char **argv)
{
	struct sockaddr_in tcp = { .sin_family = AF_INET }, udp;
	struct timeval tv = { 5, 0 };
	struct rlimit no_core = { 0, 0 };
	static int fds[MAXCONN];
	int n, i, u;
	const char *how;

	if (argc != 6 || inet_pton(AF_INET, argv[1], &tcp.sin_addr) != 1) {
		fprintf(stderr, "usage: churnapp IP TCP_PORT UDP_PORT N exit|kill|abort|close\n");
		return 2;
	}
	tcp.sin_port = htons((uint16_t)atoi(argv[2]));
	udp = tcp;
	udp.sin_port = htons((uint16_t)atoi(argv[3]));
	n = atoi(argv[4]);
	how = argv[5];
	if (n < 0 || n > MAXCONN)
		return 2;
	setrlimit(RLIMIT_CORE, &no_core);
	for (i = 0; i < n; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		if (fds[i] < 0)
			fail("socket");
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fds[i], (struct sockaddr *)&tcp, sizeof(tcp)) < 0)
			fail("connect");
	}
	for (i = 0; i < n; i++)
		echo_once(fds[i], (char)('a' + i % 26));
	u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0)
		fail("socket udp");
	setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(u, "u", 1, 0, (struct sockaddr *)&udp, sizeof(udp)) != 1)
		fail("sendto");
	{
		char c = 0;

		if (recv(u, &c, 1, 0) != 1 || c != 'u')
			fail("recv udp");
	}
	printf("ok\n");
	fflush(stdout);
	if (strcmp(how, "kill") == 0)
		raise(SIGKILL);
	if (strcmp(how, "abort") == 0)
		abort();
	if (strcmp(how, "close") == 0) {
		for (i = 0; i < n; i++)
			close(fds[i]);
		close(u);
		return 0;
	}
	_exit(0);
}
