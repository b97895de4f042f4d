/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The real libc entry points (see real.h): early raw-syscall stubs, and their
 * replacement by dlsym(RTLD_NEXT) once initialisation runs.
 *
 *   real_connect -> early_connect -> syscall(SYS_connect)     before real_resolve()
 *   real_connect -> libc connect                              after
 *
 * The stubs exist only for calls that arrive while the shim initialises; they keep
 * libc's contract (-1 and errno) because syscall() does.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

#define KSIGSET_SIZE (_NSIG / 8)

static int early_socket(int d, int t, int p)
{
	return (int)syscall(SYS_socket, d, t, p);
}

static int early_connect(int fd, const struct sockaddr *a, socklen_t l)
{
	return (int)syscall(SYS_connect, fd, a, l);
}

static int early_bind(int fd, const struct sockaddr *a, socklen_t l)
{
	return (int)syscall(SYS_bind, fd, a, l);
}

static int early_listen(int fd, int b)
{
	return (int)syscall(SYS_listen, fd, b);
}

static int early_accept(int fd, struct sockaddr *a, socklen_t *l)
{
	return (int)syscall(SYS_accept4, fd, a, l, 0);
}

static int early_accept4(int fd, struct sockaddr *a, socklen_t *l, int f)
{
	return (int)syscall(SYS_accept4, fd, a, l, f);
}

static ssize_t early_sendfile(int o, int i, off_t *off, size_t n)
{
	return syscall(SYS_sendfile, o, i, off, n);
}

static int early_close(int fd)
{
	return (int)syscall(SYS_close, fd);
}

static int early_close_range(unsigned lo, unsigned hi, int flags)
{
	return (int)syscall(SYS_close_range, lo, hi, flags);
}

static int early_shutdown(int fd, int how)
{
	return (int)syscall(SYS_shutdown, fd, how);
}

static int early_dup(int fd)
{
	return (int)syscall(SYS_dup, fd);
}

static int early_dup2(int o, int n)
{
#ifdef SYS_dup2
	return (int)syscall(SYS_dup2, o, n);
#else
	if (o == n)
		return syscall(SYS_fcntl, o, F_GETFD) < 0 ? -1 : n;
	return (int)syscall(SYS_dup3, o, n, 0);
#endif
}

static int early_dup3(int o, int n, int f)
{
	return (int)syscall(SYS_dup3, o, n, f);
}

static ssize_t early_read(int fd, void *b, size_t n)
{
	return syscall(SYS_read, fd, b, n);
}

static ssize_t early_write(int fd, const void *b, size_t n)
{
	return syscall(SYS_write, fd, b, n);
}

static ssize_t early_readv(int fd, const struct iovec *v, int n)
{
	return syscall(SYS_readv, fd, v, n);
}

static ssize_t early_writev(int fd, const struct iovec *v, int n)
{
	return syscall(SYS_writev, fd, v, n);
}

static ssize_t early_sendto(int fd, const void *b, size_t n, int f, const struct sockaddr *a,
			    socklen_t l)
{
	return syscall(SYS_sendto, fd, b, n, f, a, l);
}

static ssize_t early_send(int fd, const void *b, size_t n, int f)
{
	return early_sendto(fd, b, n, f, NULL, 0);
}

static ssize_t early_recvfrom(int fd, void *b, size_t n, int f, struct sockaddr *a,
			      socklen_t *l)
{
	return syscall(SYS_recvfrom, fd, b, n, f, a, l);
}

static ssize_t early_recv(int fd, void *b, size_t n, int f)
{
	return early_recvfrom(fd, b, n, f, NULL, NULL);
}

static ssize_t early_sendmsg(int fd, const struct msghdr *m, int f)
{
	return syscall(SYS_sendmsg, fd, m, f);
}

static ssize_t early_recvmsg(int fd, struct msghdr *m, int f)
{
	return syscall(SYS_recvmsg, fd, m, f);
}

/* The one stub that cannot use libc's syscall(): the shim's syscall() comes here
 * until real_resolve(), and the other stubs call syscall(). A raw system call with
 * libc's contract (-1 and errno). */
static long early_syscall(long n, ...)
{
	long a[6], ret;
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
#if defined(__x86_64__)
	{
		register long r10 __asm__("r10") = a[3];
		register long r8 __asm__("r8") = a[4];
		register long r9 __asm__("r9") = a[5];

		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "a"(n), "D"(a[0]), "S"(a[1]), "d"(a[2]), "r"(r10), "r"(r8),
				   "r"(r9)
				 : "rcx", "r11", "memory");
	}
#elif defined(__aarch64__)
	{
		register long x8 __asm__("x8") = n;
		register long x0 __asm__("x0") = a[0];
		register long x1 __asm__("x1") = a[1];
		register long x2 __asm__("x2") = a[2];
		register long x3 __asm__("x3") = a[3];
		register long x4 __asm__("x4") = a[4];
		register long x5 __asm__("x5") = a[5];

		__asm__ volatile("svc 0"
				 : "+r"(x0)
				 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
				 : "memory");
		ret = x0;
	}
#else
#error "early_syscall: add this architecture's system call instruction"
#endif
	if (ret < 0 && ret > -4096) {
		errno = (int)-ret;
		return -1;
	}
	return ret;
}

static int early_sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int f)
{
	return (int)syscall(SYS_sendmmsg, fd, v, n, f);
}

static int early_recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int f, struct timespec *t)
{
	return (int)syscall(SYS_recvmmsg, fd, v, n, f, t);
}

static int early_getsockopt(int fd, int l, int o, void *v, socklen_t *n)
{
	return (int)syscall(SYS_getsockopt, fd, l, o, v, n);
}

static int early_setsockopt(int fd, int l, int o, const void *v, socklen_t n)
{
	return (int)syscall(SYS_setsockopt, fd, l, o, v, n);
}

static int early_getsockname(int fd, struct sockaddr *a, socklen_t *l)
{
	return (int)syscall(SYS_getsockname, fd, a, l);
}

static int early_getpeername(int fd, struct sockaddr *a, socklen_t *l)
{
	return (int)syscall(SYS_getpeername, fd, a, l);
}

static int early_fcntl(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

static int early_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	return (int)syscall(SYS_ioctl, fd, req, arg);
}

static int early_ppoll(struct pollfd *p, nfds_t n, const struct timespec *t, const sigset_t *m)
{
	return (int)syscall(SYS_ppoll, p, n, t, m, KSIGSET_SIZE);
}

static int early_poll(struct pollfd *p, nfds_t n, int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	return early_ppoll(p, n, ms < 0 ? NULL : &ts, NULL);
}

static int early_pselect(int n, fd_set *r, fd_set *w, fd_set *e, const struct timespec *t,
			 const sigset_t *m)
{
	struct timespec ts, *tp = NULL;
	struct {
		const sigset_t *set;
		size_t size;
	} sm = { m, KSIGSET_SIZE };

	if (t != NULL) {
		ts = *t; /* the kernel writes the remaining time back */
		tp = &ts;
	}
	return (int)syscall(SYS_pselect6, n, r, w, e, tp, m != NULL ? &sm : NULL);
}

static int early_select(int n, fd_set *r, fd_set *w, fd_set *e, struct timeval *t)
{
	struct timespec ts;

	if (t == NULL)
		return early_pselect(n, r, w, e, NULL, NULL);
	ts.tv_sec = t->tv_sec;
	ts.tv_nsec = t->tv_usec * 1000;
	return early_pselect(n, r, w, e, &ts, NULL);
}

static int early_epoll_create1(int f)
{
	return (int)syscall(SYS_epoll_create1, f);
}

static int early_epoll_create(int size)
{
	if (size <= 0) {
		errno = EINVAL;
		return -1;
	}
	return early_epoll_create1(0);
}

static int early_epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	return (int)syscall(SYS_epoll_ctl, ep, op, fd, ev);
}

static int early_epoll_pwait(int ep, struct epoll_event *ev, int n, int ms, const sigset_t *m)
{
	return (int)syscall(SYS_epoll_pwait, ep, ev, n, ms, m, KSIGSET_SIZE);
}

static int early_epoll_wait(int ep, struct epoll_event *ev, int n, int ms)
{
	return early_epoll_pwait(ep, ev, n, ms, NULL);
}

static int early_epoll_pwait2(int ep, struct epoll_event *ev, int n, const struct timespec *t,
			      const sigset_t *m)
{
#ifdef SYS_epoll_pwait2
	return (int)syscall(SYS_epoll_pwait2, ep, ev, n, t, m, KSIGSET_SIZE);
#else
	(void)ep, (void)ev, (void)n, (void)t, (void)m;
	errno = ENOSYS;
	return -1;
#endif
}

static int early_fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	return (int)syscall(SYS_fcntl, fd, cmd, arg);
}

#define SHIM_REAL_DEF(ret, name, params) ret (*real_##name) params = early_##name;
SHIM_REAL_LIST(SHIM_REAL_DEF)
#undef SHIM_REAL_DEF

void real_resolve(void)
{
	void *p;

	/* A symbol libc lacks (epoll_pwait2 on an old glibc) keeps its raw stub. */
#define SHIM_REAL_RESOLVE(ret, name, params) \
	p = dlsym(RTLD_NEXT, #name); \
	if (p != NULL) \
		real_##name = (ret (*) params)p;
	SHIM_REAL_LIST(SHIM_REAL_RESOLVE)
#undef SHIM_REAL_RESOLVE
}
