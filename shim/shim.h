/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * libshunt.so internals: the per-process state, the per-socket record, and the
 * contracts between the shim's modules. Nothing here is exported (the library is
 * built with -fvisibility=hidden; libshunt.map lists the interposed symbols).
 *
 *   interposed call (sock.c io.c opt.c poll.c epoll.c)
 *     -> shim_init()                      init.c: once; re-entry -> real syscall
 *     -> shim_fdtab_get(fd)               fdtab.c: fd -> struct shim_file, lock-free
 *     -> kernel fd: real_*()              real.c
 *     -> shunt socket: rings + shim_chan_*() (chan.c) + shim_wait_*() (wait.c)
 *
 * Conventions: functions return 0 / -errno (byte counts for I/O); errno is set only
 * in the exported wrappers, right before they return -1.
 */
#ifndef SHIM_SHIM_H
#define SHIM_SHIM_H

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <shunt/abi.h>
#include <shunt/ctl.h>
#include <shunt/ring.h>

#define SHIM_EXPORT __attribute__((visibility("default")))
#define shim_likely(x)   __builtin_expect(!!(x), 1)
#define shim_unlikely(x) __builtin_expect(!!(x), 0)

static inline void shim_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* ---- init.c / log.c ---------------------------------------------------------------- */

enum shim_log_level { SHIM_LOG_OFF = 0, SHIM_LOG_ERROR, SHIM_LOG_WARN, SHIM_LOG_INFO,
		      SHIM_LOG_DEBUG };

extern _Atomic int shim_ready; /* 1 once init finished */

/* Returns true when the shim is initialised and the caller may use its tables;
 * false when this thread is inside initialisation (the caller must then go straight
 * to real_*(), which are raw syscalls at that point). */
bool shim_init_slow(void);
static inline bool shim_init(void)
{
	if (shim_likely(atomic_load_explicit(&shim_ready, memory_order_acquire)))
		return true;
	return shim_init_slow();
}

extern int shim_log_level;
void shim_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define SHIM_ERR(...)   do { if (shim_log_level >= SHIM_LOG_ERROR) shim_log(SHIM_LOG_ERROR, __VA_ARGS__); } while (0)
#define SHIM_WARN(...)  do { if (shim_log_level >= SHIM_LOG_WARN) shim_log(SHIM_LOG_WARN, __VA_ARGS__); } while (0)
#define SHIM_INFO(...)  do { if (shim_log_level >= SHIM_LOG_INFO) shim_log(SHIM_LOG_INFO, __VA_ARGS__); } while (0)
#define SHIM_DEBUG(...) do { if (shim_log_level >= SHIM_LOG_DEBUG) shim_log(SHIM_LOG_DEBUG, __VA_ARGS__); } while (0)

/* Returns -1 with errno = -rc for rc < 0, else rc: the edge of every wrapper. */
static inline long shim_ret(long rc)
{
	if (rc < 0) {
		errno = (int)-rc;
		return -1;
	}
	return rc;
}

/* ---- attach.c ------------------------------------------------------------------------ */

struct shim_global {
	char ctl_path[108];      /* SHUNT_CONTROL */
	bool attached;           /* region mapped and checked; else all goes to the kernel */
	struct shunt_region *r;
	uint64_t region_size;
	struct shunt_ctl_welcome welcome;
	uint32_t nchannels;      /* as the region says, capped at SHIM_MAX_CHANNELS */
	uint32_t nnotifiers;     /* likewise, capped at SHIM_MAX_NOTIFIERS */
	uint32_t nsocks;
	/* Internal fds; dup2() by the app onto one of them moves it (attach.c). */
	_Atomic int ctl_fd;
	_Atomic int doorbell_fd;
	/* The process whose memory this is (init, and the fork child's handler). A
	 * vfork()/CLONE_VM child runs no atfork handler and shares it: close and the
	 * dup family check this once a tracked fd is involved, and then only make the
	 * real call (sock.c). */
	pid_t owner_pid;
	/* lost.c: shuntd went away (set once, with release, after every slot was
	 * reset); slot_hwm: one past the highest slot this process has used. */
	_Atomic bool lost;
	_Atomic int lost_epfd;   /* the watcher's epoll instance (internal fd) */
	_Atomic int64_t lost_at_ns; /* when the last loss was declared */
	_Atomic uint32_t slot_hwm;
	/* Attachments so far: a new one after shuntd came back (attach.c). A socket
	 * of an older one is dead for good. */
	_Atomic uint32_t att_gen;
	/* Notifier generations: a new attachment, and a fork child (whose parent's
	 * notifiers are the parent's), make every notifier taken before stale. */
	_Atomic uint32_t notif_gen;
	/* Sharing (share.c, abi.h "Sharing"): this process is member `member` of the
	 * region, whose channels [chan_base, chan_base + nchannels) and notifiers
	 * [notif_base, notif_base + nnotifiers) are its own. share: the dataplane
	 * agreed on SHUNT_FEAT_SHARE. */
	bool share;
	uint32_t member;
	uint32_t chan_base;
	uint32_t notif_base;
};
extern struct shim_global shim_g;

/* lost.c: shim_lost_watch() starts the thread that notices shuntd's hang-up (at
 * attach; 0 or -errno); shim_lost_declare() (that thread's) does what that means,
 * once. shim_is_lost(): it happened. shim_lost_atfork_child(): the child's lock. */
int shim_lost_watch(void);
void shim_lost_declare(void);
void shim_lost_atfork_child(void);
/* attach.c, attaching again after a loss: between begin and end no loss is being
 * declared; end(true) makes the new attachment current (older sockets dead). */
void shim_lost_reattach_begin(void);
void shim_lost_reattach_end(bool attached);
static inline bool shim_is_lost(void)
{
	return atomic_load_explicit(&shim_g.lost, memory_order_acquire);
}

/* Attach once (first AF_INET stream socket). Returns shim_g.attached. */
bool shim_attach(void);
/* fd is one of ours and the app wants the number (dup2/dup3 onto it): move ours to a
 * new number first. Returns 0 or -errno. */
int shim_attach_relocate(int fd);
/* fork child: unless it shares the parent's sockets, drop the inherited
 * attachment (fds, mapping) so that the child's next socket attaches afresh with
 * its own region. */
void shim_attach_atfork_child(bool shared);
/* Close one of the shim's internal fds (*slot: ctl_fd, doorbell_fd, lost_epfd)
 * and forget it (a fork child's copy of its parent's). */
void shim_attach_drop_fd(_Atomic int *slot);
/* The geometry of member `member` of the mapped region r (shim_g's counts and
 * bases). Returns NULL, or why it cannot be. */
const char *shim_attach_member(struct shunt_region *r, uint32_t member);
/* One request on the control connection and its answer (ctl.h: one at a time,
 * answered in order): req (len bytes) with fd as SCM_RIGHTS (-1: none), the
 * answer into ans (alen bytes). Returns the answer's length or -errno (-EAGAIN:
 * this thread is inside one already, a signal handler). shim_ctl_busy(): it is. */
ssize_t shim_ctl_call(const void *req, size_t len, int fd, void *ans, size_t alen);
bool shim_ctl_busy(void);
/* A new control connection to shuntd (CLOEXEC, 2 s timeouts): the fd, or -errno
 * with *why. */
int shim_attach_connect(const char **why);
/* share.c, an exec'd image: ctl sent a JOIN with SHUNT_JOINF_FDS as member
 * `member`; take the welcome and make it this process's attachment, once and
 * for all (as shim_attach() would). Returns 0 or -errno with *why. */
int shim_attach_joined(int ctl, uint32_t member, const char **why);

/* ---- share.c: sockets shared by processes (fork, exec) ------------------------------- */

struct shim_sock;

/* The bit of this process in holders (abi.h). */
static inline uint64_t shim_share_bit(void)
{
	return 1ull << shim_g.member;
}
/* pthread_atfork handlers: the child joins the region as a new member, holding
 * what the parent held (share.c). */
void shim_share_prepare(void);
void shim_share_parent(void);
void shim_share_child(void);
/* The fork lock (share.c): readers change the fd table with the kernel's fds, or
 * make a shunt socket; a fork or spawn is the writer. */
void shim_share_rdlock(void);
void shim_share_rdunlock(void);
void shim_share_wrlock(void);
void shim_share_wrunlock(void);
/* In the child, before shim_share_child(): does it share the parent's sockets? */
bool shim_share_forked(void);
/* Claim a free member bit of the current region (CAS). 0 or -EUSERS. */
int shim_share_claim(uint32_t *member);
/* A new control connection that joins the current region as member (JOIN sent;
 * SHUNT_JOINF_* flags), close-on-exec or not. The fd, or -errno. No shim state
 * is touched (a vfork child may call it). */
int shim_share_join(uint32_t member, uint32_t flags, bool cloexec);
/* s was just made a shunt socket with placeholder fd (OPEN, accept): this
 * process is its only holder; nobody else can know the slot yet. */
void shim_share_own(struct shim_sock *s, int fd);
/* The last descriptor of shunt socket s in this process closed: true if this
 * process was its last holder (then the caller sends CLOSE). */
bool shim_share_release(struct shim_sock *s);
/* relay.c: fd (0, 1 or 2) is a connected shunt TCP socket: from now on every fd of
 * it is one end of a socketpair that shuntd carries to the connection, so calls
 * the shim cannot see (stdio) work. Nothing happens for anything else. */
void shim_relay_stdio(int fd);
/* exec.c, at init: an exec'd image that inherited shunt sockets (SHUNT_INHERIT)
 * joins the region and finds them again. */
void shim_exec_inherit(void);

/* ---- fdtab.c --------------------------------------------------------------------------- */

enum shim_ftype {
	SHIM_F_SOCK = 1, /* struct shim_sock */
	SHIM_F_EPOLL,    /* struct shim_epoll */
	SHIM_F_INTERNAL, /* one of the shim's own fds: looks closed to the app */
};

/* The head of everything the fd table points at. refs counts the fds naming it. */
struct shim_file {
	int type;
	_Atomic int refs;
};

/* Lock-free O(1) lookup; NULL for fds the shim does not track (plain kernel fds). */
struct shim_file *shim_fdtab_get(int fd);
/* Install f at fd (NULL clears). Returns the previous entry, or an error pointer
 * never: -ENOMEM is returned through *err when the table cannot grow. */
struct shim_file *shim_fdtab_swap(int fd, struct shim_file *f, int *err);
/* Calls fn for every tracked fd (used in a fork child, single-threaded). */
void shim_fdtab_foreach(void (*fn)(int fd, struct shim_file *f));
/* The same with an argument; also safe to read from a vfork child (it writes
 * nothing of the table). */
void shim_fdtab_foreach_arg(void (*fn)(int fd, struct shim_file *f, void *arg), void *arg);
/* close_range(): drop every entry in [lo, hi] but the shim's own fds, putting the
 * files they named. Walks only the pages in use. */
void shim_fdtab_drop_range(unsigned lo, unsigned hi);
/* The lowest fd in [from, hi] that is one of the shim's own, or -1. */
int shim_fdtab_next_internal(unsigned from, unsigned hi);
extern struct shim_file shim_fdtab_internal; /* the marker for SHIM_F_INTERNAL */

/* Take a reference to f unless it already dropped to 0 (being freed: a record
 * on a free list is never brought back by a reader, only by its allocator). */
static inline bool shim_file_tryget(struct shim_file *f)
{
	int refs = atomic_load_explicit(&f->refs, memory_order_relaxed);

	do {
		if (refs <= 0)
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&f->refs, &refs, refs + 1,
							memory_order_acquire,
							memory_order_relaxed));
	return true;
}

/* ---- sockets (sock.c) -------------------------------------------------------------------- */

enum shim_kind {
	SHIM_UNDECIDED = 0, /* a kernel socket until connect() decides */
	SHIM_KERNEL,        /* decided: every call goes to the kernel */
	SHIM_SHUNT,         /* decided: a slot in the region */
};

/* Linux's struct socket state (SS_*): what connect() does next depends on it. */
enum shim_sstate { SHIM_SS_UNCONNECTED = 0, SHIM_SS_CONNECTING, SHIM_SS_CONNECTED,
		  SHIM_SS_DISCONNECTING };

/* Options replayed from the placeholder at connect() (bit per SHUNT_OPT_*). */
#define SHIM_OPTBIT(o) (1u << (o))

struct shim_epitem;

#define SHIM_UNAPPLIED_MAX 4

struct shim_sock {
	struct shim_file f;
	_Atomic int kind;        /* enum shim_kind; SHIM_SHUNT published with release */
	_Atomic bool nonblock;   /* O_NONBLOCK of the (shared) file description */
	_Atomic bool shut_rd;    /* the app called shutdown(SHUT_RD/RDWR) */
	_Atomic bool shut_wr;
	_Atomic bool listening;  /* a shunt listener: its rx ring holds accept records */
	_Atomic int linger_s;    /* SO_LINGER: seconds close() waits; -1 off (0: RST) */
	_Atomic bool more_sent;  /* our last SEND said MSG_MORE */
	_Atomic bool ph_listening; /* ...bound to 0.0.0.0: its placeholder listens too, for
				    * the kernel's addresses (loopback) */
	int type;                /* SOCK_STREAM or SOCK_DGRAM, fixed at socket() */
	int family;              /* AF_INET, or AF_INET6 (TCP, IPv4-mapped: addr.c) */
	int sstate;              /* enum shim_sstate, under lock */
	uint32_t optmask;        /* options the app set before the decision, under lock */
	uint16_t user_mss;       /* TCP_MAXSEG as set, under lock: the placeholder reads
				  * back 536 for 0 (its mss_cache), so it is kept here */
	_Atomic uint32_t inherit; /* options set that an accepted socket inherits (opt.c) */
	_Atomic unsigned cmsg_want; /* SHIM_CMSG_*: control messages asked for (cmsg.c) */
	uint8_t n_unapplied;     /* options shunt will not apply, set before the decision */
	int16_t unapplied[SHIM_UNAPPLIED_MAX][2]; /* their level and name */
	bool bound;              /* bind() succeeded (placeholder or dataplane) */
	bool bound_local;        /* ... to the stack's address: the kernel never saw it */
	bool port_locked;        /* ... with a port the app chose (Linux SOCK_BINDPORT_LOCK) */
	bool ph_bound;           /* the placeholder holds a port in the kernel: its own
				  * bind(), or the shunt socket's port (connect.c) */
	struct sockaddr_in bind_addr; /* as bound; the port is the one actually held */
	uint16_t ghost_port;     /* TCP after connect(AF_UNSPEC): Linux still names the old
				  * ephemeral port (inet_sport) until the next connect */

	/* valid once kind == SHIM_SHUNT */
	struct shunt_region *r;   /* the region of the attachment the slot is in */
	uint32_t att;             /* that attachment's number (shim_g.att_gen) */
	uint32_t slot;
	uint32_t gen;             /* the slot's generation, named in every command */
	struct shunt_sock *ss;
	uint8_t *rxbuf, *txbuf;
	uint32_t rx_size, tx_size;
	struct shim_txjob *tx_job; /* the owner's job under way, for a handler (tx.c) */
	_Atomic uint32_t sndbuf;  /* in-flight bytes allowed, <= tx_size */

	pthread_mutex_t lock;     /* decision, connect state, sync commands; never held
				   * while sleeping */
	struct shim_epitem *ep_items; /* interest-list entries, under shim_ep_lock */
	struct shim_sock *next_free;

	/* Command thinning (chan.c, io.c), reset by OPEN (shim_chan_open). */
	_Atomic uint64_t send_pos; /* our last SEND: channel << 32 | (entry index + 1);
				    * 0: none */
	_Atomic uint32_t rcv_ann;  /* rx_cons when the last RECVD was queued */
	_Atomic uint32_t rcvbuf;   /* SO_RCVBUF as last sent to the dataplane; 0: ring */
};

/* s's attachment is gone: shuntd went away (lost.c), or came back since (a new
 * attachment). Every call on s then fails as on a reset connection. */
static inline bool shim_sock_dead(const struct shim_sock *s)
{
	return s->att != atomic_load_explicit(&shim_g.att_gen, memory_order_acquire) ||
	       shim_is_lost();
}

static inline struct shim_sock *shim_sock_get(int fd)
{
	struct shim_file *f = shim_fdtab_get(fd);

	return f != NULL && f->type == SHIM_F_SOCK ? (struct shim_sock *)f : NULL;
}

/* The fd is a decided shunt socket (acquire: its slot fields are visible). No
 * reference: only for routing a call (mmsg.c, syscall.c); whatever touches the
 * record or its slot holds it (shim_sock_hold). */
static inline struct shim_sock *shim_shunt_get(int fd)
{
	struct shim_sock *s = shim_sock_get(fd);

	if (s != NULL && atomic_load_explicit(&s->kind, memory_order_acquire) == SHIM_SHUNT)
		return s;
	return NULL;
}

void shim_sock_put(struct shim_sock *s);

/* The socket fd names, held for the duration of a call (Linux's fdget()): until
 * shim_sock_put() the record is not recycled and its slot not closed, whatever
 * close() does meanwhile (the last put does that). NULL for an untracked fd after
 * one table lookup; also NULL for a decided kernel socket unless any_kind. Taken
 * with a CAS and the table entry re-checked, so a record being freed, or already
 * naming another fd, is never used. */
static inline struct shim_sock *shim_sock_hold_kind(int fd, bool any_kind)
{
	struct shim_file *f;

	for (;;) {
		f = shim_fdtab_get(fd);
		if (f == NULL || f->type != SHIM_F_SOCK)
			return NULL;
		if (!any_kind && atomic_load_explicit(&((struct shim_sock *)f)->kind,
						      memory_order_relaxed) == SHIM_KERNEL)
			return NULL; /* final: no reference needed to go to the kernel */
		if (!shim_file_tryget(f))
			continue; /* closed and freed meanwhile: the table says what is there */
		if (shim_likely(shim_fdtab_get(fd) == f))
			return (struct shim_sock *)f;
		shim_sock_put((struct shim_sock *)f); /* fd names something else now */
	}
}

/* Any tracked socket (undecided, kernel or shunt), held. */
static inline struct shim_sock *shim_sock_hold(int fd)
{
	return shim_sock_hold_kind(fd, true);
}

/* A decided shunt socket, held (acquire: its slot fields are visible); NULL, with
 * nothing held, for everything else. */
static inline struct shim_sock *shim_shunt_hold(int fd)
{
	struct shim_sock *s = shim_sock_hold_kind(fd, false);

	if (s == NULL)
		return NULL;
	if (atomic_load_explicit(&s->kind, memory_order_acquire) == SHIM_SHUNT)
		return s;
	shim_sock_put(s);
	return NULL;
}

static inline bool shim_err_pending(const struct shim_sock *s)
{
	return SHUNT_LOAD_ACQ(&s->ss->err_seq) != SHUNT_LOAD_RLX(&s->ss->err_seen);
}

/* An entry on the error queue (abi.h eq_*): POLLERR until MSG_ERRQUEUE reads it. */
static inline bool shim_errq_pending(const struct shim_sock *s)
{
	return SHUNT_LOAD_ACQ(&s->ss->eq_seq) != SHUNT_LOAD_RLX(&s->ss->eq_seen);
}

/* Take the pending socket error (positive errno), 0 if none: SO_ERROR and every
 * call that reports it (Linux's sock_error()). */
int shim_sock_take_error(struct shim_sock *s);
/* Drop one reference (an fd's, or a call's from shim_sock_hold); the last one
 * closes the socket: interest lists, CLOSE for a slot, record back on the free
 * list. shim_sock_put() is declared above, with the holds. */
/* Free-list allocation: records are never returned to malloc, so a lock-free reader
 * racing with close() reads a stale record, never unmapped memory. */
struct shim_sock *shim_sock_alloc(void);
void shim_sock_atfork_child(bool shared);
/* newfd now names the same file as oldfd (after a successful real dup*): track it.
 * Whatever newfd named before is dropped; a shunt socket landing on 0, 1 or 2 is
 * relayed (relay.c). Called under the fork lock (share.c). */
void shim_fd_dup_track(int oldfd, int newfd);
/* Drop one fd reference to any tracked file. */
void shim_file_put(struct shim_file *f);

/* Copy a user address in (out) as the kernel would: -EFAULT instead of a crash. */
int shim_copyin(void *dst, const void *src, size_t len);

/* addr.c: the program's addresses for a socket of `family` (AF_INET or AF_INET6).
 * shim_addr_in(): as IPv4 in *out: 0; 1 when it is not an IPv4 (or IPv4-mapped,
 * or ::) address, or the socket is IPV6_V6ONLY: the kernel's; -errno for what
 * bind/connect refuse first (length, fault). shim_addr_form(): a as the socket
 * names it, in *st (*size bytes). shim_addr_out(): that, into the program's
 * value-result buffer (truncated, the full size reported). */
bool shim_addr_v6only(int fd);
int shim_addr_in(int family, int fd, const struct sockaddr *addr, socklen_t len,
		 struct sockaddr_in *out);
void shim_addr_form(int family, const struct sockaddr_in *a, struct sockaddr_storage *st,
		    socklen_t *size);
int shim_addr_out(int family, const struct sockaddr_in *a, struct sockaddr *addr,
		  socklen_t *alen);
int shim_copyout(void *dst, const void *src, size_t len);
/* A record from shim_sock_alloc() that never named an fd back on the free list. */
void shim_sock_free(struct shim_sock *s);

/* The offload decision for a destination (sock.c): true iff dst is inside an
 * offload CIDR and s may use the stack (not bound to another local address). */
bool shim_sock_offloadable(const struct shim_sock *s, uint32_t dst_be);
/* Decide an undecided UDP socket at its first sendto()/sendmsg() with address dst:
 * shunt or kernel. Returns the kind it now has, or -errno. */
int shim_sock_decide_dgram(int fd, struct shim_sock *s, const struct sockaddr_in *dst);

void shim_conn_atfork_child(void);
/* s is now the shunt socket in (slot, gen) of region r of attachment att, which the
 * dataplane has set up and published: point s at its slot and rings, and start its
 * shim-side state from the slot's (abi.h: [app] indices run on). Returns 0, or
 * -EPROTO for a slot no dataplane of ours would describe, -ENETDOWN if that
 * attachment is no longer the current one (lost.c). */
int shim_sock_adopt_slot(struct shim_sock *s, struct shunt_region *r, uint32_t att,
			 uint32_t slot, uint32_t gen);

/* Nanoseconds from a struct timeval socket timeout (SO_SNDTIMEO/SO_RCVTIMEO) of fd;
 * -1 when none (block forever). */
int64_t shim_sock_timeo_ns(int fd, int optname);

/* ---- offload.c ---------------------------------------------------------------------------- */

#include "offload.h"

/* ---- opt.c ------------------------------------------------------------------------------- */

/* SHUNT_OPT_* for a (level, optname) the dataplane acts on, else 0. */
int shim_opt_map(int level, int optname);
/* s became a shunt socket: say which options it was given that shunt does not apply. */
void shim_opt_decided_shunt(int fd, struct shim_sock *s);
void shim_opt_inherit(int lfd, struct shim_sock *l, int fd, struct shim_sock *s);
/* The value of SHUNT_OPT_* opt as the placeholder kernel socket fd of s holds it (it
 * validated and normalised what the app set). Returns 0 or -errno. */
int shim_opt_value(int fd, const struct shim_sock *s, int opt, uint64_t *value);

/* ---- chan.c ---------------------------------------------------------------------------------- */

#define SHIM_MAX_CHANNELS 64 /* one bitmap word; the region may have more */

/* Commands go on the calling thread's own channel (abi.h, "command channels"): a
 * thread is given one on its first command and gives it back when it exits; with
 * more threads than channels, threads share them, taking turns with a CAS. A
 * signal handler that interrupts a command of its own thread takes another free
 * channel, so nothing ever waits for the interrupted code. */

/* Asynchronous command for s (SEND, RECVD, CLOSE). Returns 0, or -EPIPE if the
 * dataplane is gone (ring full and control hung up). */
int shim_chan_async(struct shim_sock *s, uint16_t op, uint32_t arg);
/* SEND for a TCP socket whose tx_prod the caller just published (release), unless
 * a SEND of s is still queued on a channel: the dataplane reads tx_prod when it
 * takes that one, so it sends our bytes too. Returns as shim_chan_async(). */
int shim_chan_send(struct shim_sock *s, bool more);
/* Synchronous command: wait (uninterruptibly) for the dataplane's answer. Caller
 * holds s->lock. Returns the result (0 / -errno), or -EPIPE if the dataplane hung up. */
int shim_chan_sync(struct shim_sock *s, uint16_t op, uint32_t arg,
		   const struct shunt_inaddr *addr, uint64_t value);
/* OPEN: the dataplane allocates a slot of type SHUNT_SOCK_*. Returns 0 with *slot
 * and *gen set, or -errno (-ENOBUFS: no slot free). */
int shim_chan_open(struct shunt_region *r, uint32_t type, uint32_t *slot, uint32_t *gen);
/* Has the dataplane hung up its control connection? */
bool shim_chan_dp_gone(void);
int shim_chan_init(void);
void shim_chan_atfork_child(void);

/* ---- wait.c ---------------------------------------------------------------------------------- */

#define SHIM_WAIT_SPIN_NS 50000 /* bounded spin before sleeping */

int64_t shim_now_ns(void);

#define SHIM_WAIT_NOINTR 0x1 /* restart on signals (sync commands) */
#define SHIM_WAIT_CTL    0x2 /* also watch the control socket: -EPIPE on hang-up */

/* Wait until cond(arg), sleeping on the futex word *word that the dataplane
 * advances whenever cond may have changed, announced in *sleepers (abi.h,
 * "Waking"): spin, then sleepers++, fence, re-check, FUTEX_WAIT, sleepers--, repeat.
 * timeout_ns < 0 waits forever. Returns 0 (cond held), -ETIMEDOUT, -EINTR, or -EPIPE
 * (SHIM_WAIT_CTL). Without a timeout or flags the kernel restarts the wait under
 * SA_RESTART exactly as for a blocking call on a kernel socket; with a timeout a
 * signal gives EINTR, as SO_RCVTIMEO/SO_SNDTIMEO do in Linux. */
int shim_wait_until(uint32_t *word, uint32_t *sleepers, bool (*cond)(void *), void *arg,
		    int64_t timeout_ns, int flags);
/* The same, on socket s (its ev_seq and sleepers). */
static inline int shim_wait_sock(struct shim_sock *s, bool (*cond)(void *), void *arg,
				 int64_t timeout_ns, int flags)
{
	return shim_wait_until(&s->ss->ev_seq, &s->ss->sleepers, cond, arg, timeout_ns, flags);
}

/* ---- notify.c: waits on several sockets (poll, select, epoll) ------------------------------- */

#define SHIM_MAX_NOTIFIERS 1024

/* A notifier of the region (abi.h) with its wake socket registered at shuntd. */
struct shim_notifier {
	uint32_t idx;   /* notifier index, among this process's own */
	uint32_t gidx;  /* its index in the region (subscriptions, NOTIFY_SET) */
	uint32_t att;   /* the notifier generation it belongs to (shim_g.notif_gen) */
	struct shunt_notifier *n;
};

/* The calling thread's notifier for poll() and select(), registered on first use,
 * given back when the thread exits. NULL if none can be had (then the caller
 * sleeps in short steps). */
struct shim_notifier *shim_notify_thread(void);
/* A notifier of its own (an epoll instance): flags SHUNT_NOTIFY_*. Returns 0 or
 * -errno. shim_notify_put() gives it back. */
int shim_notify_get(struct shim_notifier *nf, uint32_t flags);
void shim_notify_put(struct shim_notifier *nf);
/* Our end of nf's wake socket: readable after a wake (poll it with kernel fds). */
int shim_notify_fd(const struct shim_notifier *nf);
/* Subscribe / unsubscribe nf to socket s's changes (s->ss->notify[]). Returns 0. */
int shim_notify_sub(struct shim_sock *s, const struct shim_notifier *nf);
void shim_notify_unsub(struct shim_sock *s, const struct shim_notifier *nf);
/* Around a sleep in poll() on nf->fd: announce (fd_sleepers++, fence: the caller
 * re-checks its sockets after this), then retract and drain the wake socket,
 * errno kept (the caller reports its sleep's failure). */
void shim_notify_arm(struct shim_notifier *nf);
void shim_notify_disarm(struct shim_notifier *nf);
/* A wait on shunt socket s (fd) whose placeholder receives too (ph_listening: a
 * 0.0.0.0 listener, or UDP socket): until cond(arg) or the placeholder is
 * readable, in one ppoll on it and the thread's notifier. Returns 0 (look
 * again), -ETIMEDOUT or -EINTR. ppoll is never restarted by the kernel: without a
 * timeout, a signal whose handlers all have SA_RESTART returns 0 instead, as a
 * blocking socket call would restart (with SO_RCVTIMEO Linux says EINTR too). */
int shim_wait_dual(int fd, struct shim_sock *s, bool (*cond)(void *), void *arg,
		   int64_t timeo);
/* fd is a notifier's wake socket and the app wants the number: move it (as
 * shim_attach_relocate). Returns 0 (moved), 1 (not one of them) or -errno. */
int shim_notify_relocate(int fd);
void shim_notify_atfork_child(void);
/* shuntd went away (lost.c): every wake socket is shut for reading, so whoever
 * sleeps on one wakes, and nobody sleeps on one again. */
void shim_notify_lost(void);
/* A new attachment: every notifier of the old one is forgotten (its wake socket
 * stays open, never reused, so a late sleeper on it cannot wake on another file). */
void shim_notify_reattach(void);

/* ---- io.c ------------------------------------------------------------------------------------ */

/* Total length of an iovec as the kernel checks it (-EINVAL past SSIZE_MAX). */
/* What a blocked send or receive waits for (io.c, dgram.c): any event on the socket,
 * or its ring index moving (rx_prod for a receive, tx_cons for a send). */
struct shim_io_wait {
	struct shim_sock *s;
	uint32_t ev_seq;
	uint32_t idx;      /* rx_prod (recv) or tx_cons (send) when we looked */
	bool tx;
};
bool shim_io_changed(void *arg);
/* Cap *n bytes to queue on a socket holding used by what the process's memory
 * bound leaves (abi.h mem_avail, never below SHUNT_MEM_FLOOR held). Returns true if
 * it cut. */
bool shim_mem_cap(const struct shim_sock *s, uint32_t used, uint32_t *n);
/* A blocked sender's wait (shim_wait_sock on its socket); when it is short of
 * process memory (mem_short), in slices, *waited counting toward timeo. Returns 0,
 * -ETIMEDOUT or -errno. */
int shim_wait_mem(struct shim_sock *s, struct shim_io_wait *w, int64_t timeo,
		  bool mem_short, int64_t *waited);

int shim_iov_len(const struct iovec *iov, int iovcnt, size_t *len);
/* write() on shunt socket s, as send() with flags. Returns bytes or -errno. */
ssize_t shim_io_send(int fd, struct shim_sock *s, const struct iovec *iov, int cnt, int flags);
/* Copy n bytes at ring position pos of the rx ring into iov, skip bytes into it. */
void shim_io_copy_out(const struct shim_sock *s, uint32_t pos, uint32_t n,
		      const struct iovec *iov, int iovcnt, size_t skip);
/* Copy n bytes of iov, from skip bytes into it, into the tx ring at pos. */
void shim_io_copy_in(struct shim_sock *s, uint32_t pos, uint32_t n,
		     const struct iovec *iov, int iovcnt, size_t skip);

/* ---- tx.c: the send side ---------------------------------------------------------------- */

/* One piece of the send ring to fill and publish: [head, end) of the stream. */
struct shim_txjob {
	uint32_t head, end;
	void (*fill)(struct shim_sock *s, const struct shim_txjob *j);
	const struct iovec *iov; /* the bytes, from skip bytes into iov */
	int iovcnt;
	size_t skip;
	struct shunt_dgram d;    /* UDP: the record's header */
	uint32_t gap;            /* UDP: tail bytes skipped before the record */
	volatile bool done;      /* published (by us, or by a handler that helped) */
};

/* Become the socket's sender (tx.c's header says how). Returns true when nested:
 * a signal handler interrupted this thread's own send on s, whose job has now been
 * finished. *guard: the stream position this sender must not write beyond. */
bool shim_tx_enter(struct shim_sock *s, uint32_t *guard);
void shim_tx_leave(struct shim_sock *s, bool nested);
void shim_tx_atfork_child(void);
/* Fill and publish j (j->head must be tx_prod as read while owning s). Returns 0,
 * or -EAGAIN when a handler moved tx_prod first: compute the job again. */
int shim_tx_run(struct shim_sock *s, struct shim_txjob *j);

/* ---- errq.c --------------------------------------------------------------------------------- */

/* recvmsg(MSG_ERRQUEUE) on a shunt socket, as Linux's ip_recv_error(): dequeues the
 * entry into msg (data, msg_name, an IP_RECVERR cmsg, msg_controllen and msg_flags
 * as Linux sets them). Returns the data bytes copied, or -EAGAIN when the queue is
 * empty (it never blocks), or -errno. */
ssize_t shim_errq_recv(struct shim_sock *s, struct msghdr *msg);

/* ---- dgram.c: UDP data path on shunt sockets ------------------------------------------ */

#define SHIM_UDP_MAX_PAYLOAD 1472 /* MTU 1500 - IPv4 - UDP: the dataplane does not fragment */

/* Linux udp_sendmsg(): one record into the tx ring. dst NULL: the connected peer.
 * Returns bytes sent or -errno. */
ssize_t shim_dgram_send(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
			int flags, const struct sockaddr_in *dst);
/* Linux udp_recvmsg(): one record out of the rx ring. src (may be NULL) gets the
 * source, *oflags MSG_TRUNC when cut. Returns the bytes copied (the datagram's
 * length with MSG_TRUNC in flags) or -errno. */
ssize_t shim_dgram_recv(int fd, struct shim_sock *s, const struct iovec *iov, int iovcnt,
			int flags, struct sockaddr_in *src, uint32_t *dst, int *oflags);
/* *dst (may be NULL): the address a datagram from shuntd's ring was sent to (0 if
 * the dataplane did not say; untouched for a datagram from the placeholder). */

/* cmsg.c: control messages. shim_cmsg_put() appends one at *used in msg_control
 * as Linux's put_cmsg() (MSG_CTRUNC in *oflags when cut); shim_cmsg_dgram() writes
 * those s asked for about a datagram sent to dst, and sets msg_controllen. */
#define SHIM_CMSG_PKTINFO     0x1u /* IP_PKTINFO */
#define SHIM_CMSG_ORIGDSTADDR 0x2u /* IP_RECVORIGDSTADDR */
void shim_cmsg_put(struct msghdr *msg, size_t *used, int level, int type, const void *data,
		   size_t len, int *oflags);
void shim_cmsg_dgram(struct shim_sock *s, struct msghdr *msg, uint32_t dst, int *oflags);
/* shim_dgram_recv() flag of ours (no Linux MSG_* uses the bit): shuntd's ring
 * only, not the placeholder of a socket bound to 0.0.0.0 (the caller reads that
 * itself with the program's msghdr). Never passed to the kernel. */
#define SHIM_MSG_RING_ONLY 0x10000000
/* Something for a reader in s's ring (a datagram or an error): a wait condition. */
bool shim_dgram_readable(void *arg);
/* Payload bytes of the next queued datagram, 0 if none (FIONREAD). */
int shim_dgram_next_len(struct shim_sock *s);
/* POLL* bits as Linux's udp_poll() / datagram_poll(). */
uint32_t shim_dgram_poll(struct shim_sock *s);

/* ---- poll.c ---------------------------------------------------------------------------------- */

/* POLL* bits of a shunt socket as Linux's tcp_poll() would report them. */
uint32_t shim_poll_sock_events(struct shim_sock *s);

/* Live shunt sockets in the process. 0: poll, select and epoll_wait go straight
 * to the kernel without looking at a single fd. Kept by shim_epoll_sock_decided()
 * and shim_epoll_sock_closed(), which every move to or from SHIM_SHUNT and every
 * last close go through; too high is only slower, never wrong. */
extern _Atomic unsigned shim_shunt_live;

/* ---- epoll.c --------------------------------------------------------------------------------- */

/* connect() decided s (kind is set): move it between the kernel epoll and the shim
 * interest lists. was_shunt: s was a shunt socket and went back to the kernel (its
 * entries go back into the kernel epolls). Caller holds s->lock. */
void shim_epoll_sock_decided(struct shim_sock *s, bool was_shunt);
/* s, a shunt listener, now listens on its placeholder too: every epoll holding it
 * watches the placeholder in the kernel as well. */
void shim_epoll_sock_dual(struct shim_sock *s);
/* The last fd of s is closing: forget it in every interest list. */
void shim_epoll_sock_closed(struct shim_sock *s);
/* Drop one fd reference to an epoll instance. */
void shim_epoll_put(struct shim_file *f);
/* fd is one of an epoll instance's internal fds (its private kernel epoll dup or
 * its wake eventfd) and the app wants the number: move it (as
 * shim_attach_relocate). Returns 0 (moved), 1 (not one of them) or -errno. */
int shim_epoll_relocate(int fd);
void shim_epoll_atfork_child(void);

#endif /* SHIM_SHIM_H */
