/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * acceptsig: a blocking accept() interrupted by a signal, as Linux specifies it:
 * with SA_RESTART the call is restarted and returns the next connection; without
 * it, accept fails with EINTR.
 *
 *   acceptsig PORT restart|eintr
 *
 * Listens on 0.0.0.0:PORT, prints "listening", sets a SIGALRM handler (with or
 * without SA_RESTART) that writes "sig" to stdout, arms it for 200 ms and blocks
 * in accept(). Prints "accepted" or "accept: <errno name>" and exits 0; the test
 * connects only once it has seen "sig".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static void on_alarm(int sig)
{
	static const char msg[] = "sig\n";

	(void)sig;
	(void)!write(1, msg, sizeof(msg) - 1);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct itimerval it = { { 0, 0 }, { 0, 200000 } };
	struct sigaction sa;
	int l, c, one = 1;

	if (argc != 3)
		return 2;
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 8) < 0) {
		perror("acceptsig: listen");
		return 1;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("listening\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = strcmp(argv[2], "restart") == 0 ? SA_RESTART : 0;
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	c = accept(l, NULL, NULL);
	if (c >= 0)
		printf("accepted\n");
	else
		printf("accept: %s\n", errno == EINTR ? "EINTR" : strerror(errno));
	return 0;
}
