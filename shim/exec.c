/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * exec and spawn: shunt sockets without close-on-exec survive into the new image
 * (docs/design.md, "The process model"). Onload keeps its stack's fd across exec
 * and maps it again in the new image; here the new image joins the region as a
 * member of its own, on a control connection the old image made for it.
 *
 *   execve / execv / execvp / execvpe / execl* / fexecve (the image about to go,
 *   or a vfork child such as CPython's subprocess: no shim state is written),
 *   posix_spawn / posix_spawnp (the parent, before the child exists):
 *     exec_prepare(): the sockets the new image will have (its fds without
 *       close-on-exec, from /proc/self/fd: a vfork child's dup2s count) matched
 *       with ours by the placeholders' inodes; none: nothing to do -> a member
 *       bit claimed -> a control connection without close-on-exec, JOIN (with
 *       fds) sent on it -> the member's bit OR'd into those sockets' holders ->
 *       envp + SHUNT_INHERIT=<ctl fd>:<member>
 *     the real call; if it fails, exec_undo(): that connection closed (shuntd
 *       sweeps the member: the bits go back)
 *   the old image's own connection is close-on-exec: when exec succeeds it hangs
 *   up, and shuntd closes what only the old image held (the close-on-exec
 *   sockets), as the kernel closes them at exec
 *   new image, init: shim_exec_inherit(): SHUNT_INHERIT taken out of environ ->
 *     the welcome on that connection (attach.c) -> every fd that is a socket whose
 *     inode a live slot names becomes that shunt socket again (several fds, one
 *     record); a slot we were given but have no fd of is let go
 *
 * glibc's own spawns (system(), popen()) reach execve inside libc, where no
 * preload can follow: their children get the placeholders (README).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define EXEC_VAR "SHUNT_INHERIT="

extern char **environ;

struct exec_prep {
	int ctl;          /* the new image's control connection; -1: nothing to give */
	uint32_t member;
	bool locked;      /* the fork lock is ours (share.c) until exec_undo() */
	char var[48];     /* EXEC_VAR "<ctl>:<member>" */
};

/* ---- the image that goes ------------------------------------------------------- */

#define EXEC_MAX_FDS 1024 /* sockets of the new image looked at (more: by the table) */

/* What the new image will have: the inodes of the sockets this process holds
 * without close-on-exec, sorted, found by reading /proc/self/fd with getdents64
 * into our stack (no malloc: this may run in a vfork child, whose fds are not
 * those of the table, after its dup2s). */
struct exec_fds {
	uint64_t ino[EXEC_MAX_FDS];
	unsigned n;
	bool all; /* every fd was looked at (else the table's fds are trusted) */
};

static void exec_fds_add(struct exec_fds *f, int fd)
{
	struct stat st;
	unsigned i;
	int fl = real_fcntl(fd, F_GETFD);

	if (fl < 0 || (fl & FD_CLOEXEC) || fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return;
	if (f->n == EXEC_MAX_FDS) {
		f->all = false;
		return;
	}
	for (i = f->n++; i > 0 && f->ino[i - 1] > (uint64_t)st.st_ino; i--)
		f->ino[i] = f->ino[i - 1]; /* insertion: a handful in the usual case */
	f->ino[i] = (uint64_t)st.st_ino;
}

static void exec_fds_scan(struct exec_fds *f)
{
	char buf[4096] __attribute__((aligned(8)));
	int dir = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;

	f->n = 0;
	f->all = dir >= 0;
	if (dir < 0)
		return;
	while ((n = syscall(SYS_getdents64, dir, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);

			off += d->reclen;
			if (d->name[0] >= '0' && d->name[0] <= '9') {
				int fd = atoi(d->name);

				if (fd != dir)
					exec_fds_add(f, fd);
			}
		}
	}
	real_close(dir);
}

static bool exec_fds_has(const struct exec_fds *f, uint64_t ino)
{
	unsigned lo = 0, hi = f->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (f->ino[mid] == ino)
			return true;
		if (f->ino[mid] < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct exec_hold {
	const struct exec_fds *fds;
	uint64_t bit; /* 0: only count */
	unsigned n;
};

/* Will the new image have a descriptor of this socket? Then it holds it. */
static void exec_hold(int fd, struct shim_file *f, void *arg)
{
	struct shim_sock *s = (struct shim_sock *)f;
	struct exec_hold *h = arg;
	uint64_t ino;
	struct stat st;
	int fl;

	if (f->type != SHIM_F_SOCK || atomic_load(&s->kind) != SHIM_SHUNT || shim_sock_dead(s))
		return;
	ino = __atomic_load_n(&s->ss->ph_ino, __ATOMIC_RELAXED);
	if (!exec_fds_has(h->fds, ino)) {
		if (h->fds->all)
			return;
		/* too many to list: this fd itself, if it is still this socket */
		fl = real_fcntl(fd, F_GETFD);
		if (fl < 0 || (fl & FD_CLOEXEC) || fstat(fd, &st) < 0 || (uint64_t)st.st_ino != ino)
			return;
	}
	if (h->bit != 0)
		__atomic_fetch_or(&s->ss->holders, h->bit, __ATOMIC_SEQ_CST);
	h->n++;
}

/* Make what the new image needs to find its sockets. Writes only the region and
 * the kernel's state, never the shim's: it may run in a vfork child. */
static void exec_prepare(struct exec_prep *x)
{
	struct exec_fds fds;
	struct exec_hold h = { .fds = &fds };

	x->ctl = -1;
	x->locked = false;
	if (!atomic_load(&shim_ready) || !shim_g.attached || !shim_g.share || shim_is_lost() ||
	    shim_g.r == NULL || atomic_load(&shim_shunt_live) == 0)
		return;
	/* Not in a vfork child (the lock is its parent's memory): a fork or spawn in
	 * another thread must not inherit the new image's connection, which has no
	 * close-on-exec, nor see sockets half made */
	if (getpid() == shim_g.owner_pid) {
		shim_share_wrlock();
		x->locked = true;
	}
	exec_fds_scan(&fds);
	shim_fdtab_foreach_arg(exec_hold, &h);
	if (h.n == 0)
		return; /* nothing of ours survives */
	if (shim_share_claim(&x->member) < 0)
		return;
	x->ctl = shim_share_join(x->member, SHUNT_JOINF_FDS, false);
	if (x->ctl < 0) {
		__atomic_fetch_and(&shim_g.r->members, ~(1ull << x->member), __ATOMIC_RELEASE);
		x->ctl = -1;
		return;
	}
	/* the new image's bit, before it exists: whatever we close from now on
	 * stays open for it */
	h.bit = 1ull << x->member;
	h.n = 0;
	shim_fdtab_foreach_arg(exec_hold, &h);
	snprintf(x->var, sizeof(x->var), EXEC_VAR "%d:%u", x->ctl, x->member);
}

/* The real call failed (or, for a spawn, is over in the parent): the new image's
 * connection goes, and with it (shuntd sweeps the member) its holder bits. */
static void exec_undo(struct exec_prep *x)
{
	int e = errno;

	if (x->ctl >= 0)
		real_close(x->ctl);
	x->ctl = -1;
	if (x->locked)
		shim_share_wrunlock();
	x->locked = false;
	errno = e;
}

static size_t exec_env_count(char *const envp[])
{
	size_t n = 0;

	while (envp != NULL && envp[n] != NULL)
		n++;
	return n;
}

/* out (room for exec_env_count(envp) + 2): envp without an old SHUNT_INHERIT,
 * with ours. */
static char **exec_env(char *const envp[], char **out, struct exec_prep *x)
{
	size_t i, k = 0;

	for (i = 0; envp != NULL && envp[i] != NULL; i++)
		if (strncmp(envp[i], EXEC_VAR, sizeof(EXEC_VAR) - 1) != 0)
			out[k++] = envp[i];
	out[k++] = x->var;
	out[k] = NULL;
	return out;
}

/* The next definition of name (libc's), looked up once. */
static void *exec_real(void *_Atomic *cache, const char *name)
{
	void *p = atomic_load_explicit(cache, memory_order_relaxed);

	if (p == NULL) {
		p = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(cache, p, memory_order_relaxed);
	}
	return p;
}

#define EXEC_REAL(type, name) \
	({ static void *_Atomic cache_; (type)exec_real(&cache_, #name); })

typedef int (*execve_fn)(const char *, char *const[], char *const[]);
typedef int (*fexecve_fn)(int, char *const[], char *const[]);
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
			const posix_spawnattr_t *, char *const[], char *const[]);

/* exec through fn (execve or execvpe: same signature) with what the new image
 * needs in its environment; search: fn searches PATH for path (execvpe). Returns
 * only on failure, -1 with errno. */
static int exec_with(execve_fn fn, bool search, const char *path, char *const argv[],
		     char *const envp[])
{
	struct exec_prep x;
	int rc;

	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	/* a PATH search tries one name after another: only one that can run is
	 * worth a member (execvpe searches inside libc, once for us) */
	if (!search && faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) < 0)
		return fn(path, argv, envp);
	exec_prepare(&x);
	if (x.ctl < 0) {
		exec_undo(&x);
		return fn(path, argv, envp);
	}
	{
		char *env[exec_env_count(envp) + 2];

		rc = fn(path, argv, exec_env(envp, env, &x));
	}
	exec_undo(&x);
	return rc;
}

SHIM_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	execve_fn fn = EXEC_REAL(execve_fn, execve);

	if (!shim_init() || fn == NULL)
		return (int)syscall(SYS_execve, path, argv, envp);
	return exec_with(fn, false, path, argv, envp);
}

SHIM_EXPORT int execv(const char *path, char *const argv[])
{
	return execve(path, argv, environ);
}

SHIM_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{
	(void)shim_init();
	return exec_with(EXEC_REAL(execve_fn, execvpe), true, file, argv, envp);
}

SHIM_EXPORT int execvp(const char *file, char *const argv[])
{
	return execvpe(file, argv, environ);
}

SHIM_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	fexecve_fn fn = EXEC_REAL(fexecve_fn, fexecve);
	struct exec_prep x;
	int rc;

	(void)shim_init();
	if (fn == NULL) {
		errno = ENOSYS;
		return -1;
	}
	exec_prepare(&x);
	if (x.ctl < 0) {
		exec_undo(&x);
		return fn(fd, argv, envp);
	}
	{
		char *env[exec_env_count(envp) + 2];

		rc = fn(fd, argv, exec_env(envp, env, &x));
	}
	exec_undo(&x);
	return rc;
}

/* execl, execle, execlp: the arguments into an array, then as execve/execvpe. */
enum exec_list_how { EXEC_L, EXEC_LP, EXEC_LE };

static int exec_list(enum exec_list_how how, const char *path, const char *arg, va_list ap)
{
	size_t argc = 1, i;
	char *const *envp = environ;
	va_list cp;

	va_copy(cp, ap);
	while (va_arg(cp, char *) != NULL)
		argc++;
	va_end(cp);
	{
		char *argv[argc + 1];

		argv[0] = (char *)arg;
		for (i = 1; i <= argc; i++)
			argv[i] = va_arg(ap, char *); /* the last one is the NULL */
		if (how == EXEC_LE)
			envp = va_arg(ap, char *const *);
		return how == EXEC_LP ? execvpe(path, argv, envp) : execve(path, argv, envp);
	}
}

SHIM_EXPORT int execl(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = exec_list(EXEC_L, path, arg, ap);
	va_end(ap);
	return rc;
}

SHIM_EXPORT int execlp(const char *file, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = exec_list(EXEC_LP, file, arg, ap);
	va_end(ap);
	return rc;
}

SHIM_EXPORT int execle(const char *path, const char *arg, ...)
{
	va_list ap;
	int rc;

	va_start(ap, arg);
	rc = exec_list(EXEC_LE, path, arg, ap);
	va_end(ap);
	return rc;
}

/* posix_spawn: the parent prepares (the child is glibc's, and execs inside libc);
 * the child's connection is closed here whatever happened: the child has its own
 * copy if it exists. */
static int exec_spawn(spawn_fn fn, pid_t *pid, const char *path,
		      const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
		      char *const argv[], char *const envp[])
{
	struct exec_prep x;
	int rc;

	(void)shim_init();
	if (fn == NULL)
		return ENOSYS;
	exec_prepare(&x);
	if (x.ctl < 0) {
		exec_undo(&x);
		return fn(pid, path, fa, attr, argv, envp);
	}
	{
		char *env[exec_env_count(envp) + 2];

		rc = fn(pid, path, fa, attr, argv, exec_env(envp, env, &x));
	}
	exec_undo(&x);
	return rc;
}

SHIM_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
			    const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return exec_spawn(EXEC_REAL(spawn_fn, posix_spawn), pid, path, fa, attr, argv, envp);
}

SHIM_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
			     const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
	return exec_spawn(EXEC_REAL(spawn_fn, posix_spawnp), pid, file, fa, attr, argv, envp);
}

/* ---- the new image -------------------------------------------------------------- */

struct exec_cand {
	uint64_t ino;
	uint32_t slot;
	uint32_t gen;
	struct shim_sock *s; /* made for the first fd found naming it */
};

static int exec_cand_cmp(const void *a, const void *b)
{
	const struct exec_cand *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/* s, for placeholder fd, is the shunt socket of slot (gen) again: what the old
 * image knew of it, from the slot and the placeholder. Returns 0 or -errno. */
static int exec_adopt(struct shim_sock *s, int fd, const struct exec_cand *c)
{
	struct shunt_sock *ss = shunt_region_sock(shim_g.r, c->slot);
	struct sockaddr_in ph = { 0 };
	socklen_t len = sizeof(int);
	struct linger lg;
	int v = 0, rc;
	uint32_t st, fl;

	s->type = ss->type == SHUNT_SOCK_DGRAM ? SOCK_DGRAM : SOCK_STREAM;
	if (real_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) == 0)
		s->family = v;
	fl = (uint32_t)real_fcntl(fd, F_GETFL);
	atomic_store(&s->nonblock, (fl & O_NONBLOCK) != 0);
	rc = shim_sock_adopt_slot(s, shim_g.r, atomic_load(&shim_g.att_gen), c->slot, c->gen);
	if (rc < 0)
		return rc;
	/* acquire: pairs with the dp's release of ev_seq after its last change */
	(void)SHUNT_LOAD_ACQ(&ss->ev_seq);
	st = SHUNT_LOAD_RLX(&ss->state);
	fl = SHUNT_LOAD_RLX(&ss->flags);
	atomic_store(&s->listening, st == SHUNT_SS_LISTEN);
	if (s->type == SOCK_STREAM)
		s->sstate = st >= SHUNT_SS_ESTABLISHED ? SHIM_SS_CONNECTED :
			    st == SHUNT_SS_SYN_SENT ? SHIM_SS_CONNECTING : SHIM_SS_UNCONNECTED;
	else
		s->sstate = (fl & SHUNT_SF_CONNECTED) ? SHIM_SS_CONNECTED : SHIM_SS_UNCONNECTED;
	atomic_store(&s->shut_wr, (fl & SHUNT_SF_TX_SHUT) != 0);
	s->bound = (fl & SHUNT_SF_BOUND) != 0 || ss->local.port != 0;
	s->port_locked = s->bound;
	s->bind_addr.sin_family = AF_INET;
	s->bind_addr.sin_addr.s_addr = ss->local.addr;
	s->bind_addr.sin_port = ss->local.port;
	s->bound_local = s->bound && ss->local.addr == shim_g.welcome.stack_ip;
	len = sizeof(ph);
	s->ph_bound = real_getsockname(fd, (struct sockaddr *)&ph, &len) == 0 && ph.sin_port != 0;
	len = sizeof(lg);
	if (real_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, &len) == 0 && lg.l_onoff)
		atomic_store(&s->linger_s, lg.l_linger);
	len = sizeof(v);
	v = 0;
	if (st == SHUNT_SS_LISTEN &&
	    real_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v)
		atomic_store(&s->ph_listening, true);
	pthread_mutex_lock(&s->lock);
	atomic_store_explicit(&s->kind, SHIM_SHUNT, memory_order_release);
	shim_epoll_sock_decided(s, false);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

/* CLOSE for (slot, gen) of the current region, from no socket record: one we
 * held and let go of last. */
static void exec_close_slot(uint32_t slot, uint32_t gen)
{
	struct shim_sock tmp;

	memset(&tmp, 0, sizeof(tmp));
	tmp.r = shim_g.r;
	tmp.att = atomic_load(&shim_g.att_gen);
	tmp.slot = slot;
	tmp.gen = gen;
	tmp.ss = shunt_region_sock(shim_g.r, slot);
	(void)shim_chan_async(&tmp, SHUNT_CMD_CLOSE, 0);
}

/* Do we hold c? The old image gave us its bit; a socket that reached this image
 * another way (a dup2 in posix_spawn's file actions) is claimed now, if it is
 * still the socket the inode names. */
static bool exec_holds(const struct exec_cand *c)
{
	struct shunt_sock *ss = shunt_region_sock(shim_g.r, c->slot);
	uint64_t bit = shim_share_bit(), old;

	if (__atomic_load_n(&ss->holders, __ATOMIC_RELAXED) & bit)
		return true;
	old = __atomic_fetch_or(&ss->holders, bit, __ATOMIC_SEQ_CST);
	if (old != 0 && __atomic_load_n(&ss->ph_ino, __ATOMIC_RELAXED) == c->ino &&
	    SHUNT_LOAD_ACQ(&ss->gen) == c->gen)
		return true;
	/* gone meanwhile; if a last close saw our bit and left the CLOSE to us, we
	 * send it (for that generation: stale, shuntd drops it) */
	old = __atomic_fetch_and(&ss->holders, ~bit, __ATOMIC_SEQ_CST);
	if (old == bit)
		exec_close_slot(c->slot, c->gen);
	return false;
}

/* The fds of this image that are sockets some live slot names. */
static void exec_rebuild(struct exec_cand *cands, size_t n)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int err;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct exec_cand key, *c;
		struct shim_file *prev;
		struct stat st;
		int fd;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		fd = atoi(e->d_name);
		if (fd == dirfd(d) || shim_fdtab_get(fd) != NULL) /* ours (attach.c) */
			continue;
		if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		key.ino = (uint64_t)st.st_ino;
		c = bsearch(&key, cands, n, sizeof(*cands), exec_cand_cmp);
		if (c == NULL)
			continue;
		if (c->s == NULL) {
			struct shim_sock *s;

			if (!exec_holds(c) || (s = shim_sock_alloc()) == NULL)
				continue;
			if (exec_adopt(s, fd, c) < 0) {
				shim_sock_free(s);
				continue;
			}
			c->s = s;
		} else {
			atomic_fetch_add(&c->s->f.refs, 1);
		}
		prev = shim_fdtab_swap(fd, &c->s->f, &err);
		if (prev != NULL && prev != &shim_fdtab_internal)
			shim_file_put(prev);
	}
	closedir(d);
	for (int fd = 0; fd <= 2; fd++)
		shim_relay_stdio(fd); /* stdio reads and writes there from inside libc */
}

/* Slots the old image gave us that no fd of ours names (their fd was closed, in
 * posix_spawn's file actions): let go, closing what we were the last to hold. */
static void exec_let_go(struct exec_cand *cands, size_t n)
{
	uint64_t bit = shim_share_bit();
	size_t i;

	for (i = 0; i < n; i++) {
		struct shunt_sock *ss = shunt_region_sock(shim_g.r, cands[i].slot);

		if (cands[i].s != NULL || !(__atomic_load_n(&ss->holders, __ATOMIC_RELAXED) & bit))
			continue;
		/* seq_cst RMW: against the others' ANDs, as share.c's release */
		if (__atomic_fetch_and(&ss->holders, ~bit, __ATOMIC_SEQ_CST) == bit)
			exec_close_slot(cands[i].slot, cands[i].gen);
	}
}

/* Is fd a connection to the control socket we would attach to (not a stale or
 * forged SHUNT_INHERIT naming some other fd)? */
static bool exec_is_ctl(int fd)
{
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);

	memset(&sun, 0, sizeof(sun));
	return real_getpeername(fd, (struct sockaddr *)&sun, &len) == 0 &&
	       sun.sun_family == AF_UNIX &&
	       strncmp(sun.sun_path, shim_g.ctl_path, sizeof(sun.sun_path)) == 0;
}

void shim_exec_inherit(void)
{
	const char *v = getenv("SHUNT_INHERIT"), *why = "?";
	struct exec_cand *cands;
	unsigned member;
	uint32_t i, hwm;
	size_t n = 0;
	int ctl, type = 0, rc;
	socklen_t len = sizeof(type);

	if (v == NULL)
		return;
	rc = sscanf(v, "%d:%u", &ctl, &member);
	unsetenv("SHUNT_INHERIT"); /* the program's environment is its own */
	if (rc != 2 || ctl < 0 || member >= SHUNT_MAX_MEMBERS ||
	    real_getsockopt(ctl, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_SEQPACKET ||
	    !exec_is_ctl(ctl))
		return;
	(void)real_fcntl(ctl, F_SETFD, FD_CLOEXEC);
	rc = shim_attach_joined(ctl, member, &why);
	if (rc < 0) {
		SHIM_WARN("exec: inherited shunt sockets are lost (%s: %s)", why, strerror(-rc));
		real_close(ctl); /* shuntd lets the member go, and what it held */
		return;
	}
	hwm = SHUNT_LOAD_ACQ(&shim_g.r->slot_hwm);
	if (hwm > shim_g.nsocks)
		hwm = shim_g.nsocks;
	cands = calloc(hwm ? hwm : 1, sizeof(*cands));
	if (cands == NULL) {
		SHIM_WARN("exec: no memory to find the inherited shunt sockets: they are "
			  "placeholders, held until this process exits");
		return;
	}
	for (i = 0; i < hwm; i++) {
		struct shunt_sock *ss = shunt_region_sock(shim_g.r, i);
		uint64_t ino = __atomic_load_n(&ss->ph_ino, __ATOMIC_RELAXED);

		if (ino == 0 || SHUNT_LOAD_ACQ(&ss->state) == SHUNT_SS_FREE ||
		    __atomic_load_n(&ss->holders, __ATOMIC_RELAXED) == 0)
			continue;
		cands[n++] = (struct exec_cand){ .ino = ino, .slot = i, .gen = ss->gen };
	}
	qsort(cands, n, sizeof(*cands), exec_cand_cmp);
	exec_rebuild(cands, n);
	exec_let_go(cands, n);
	SHIM_INFO("exec: member %u of the region, %zu inherited socket slot(s) looked at",
		  member, n);
	free(cands);
}
