/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * fd -> struct shim_file, for every fd the shim tracks (its sockets, epoll
 * instances, and its own internal fds). Every interposed call does one lookup, so
 * it is lock-free and O(1): a two-level array of atomic pointers, second-level
 * pages allocated on first use and never freed.
 *
 *   lookup:  l1[fd >> L2_BITS] (acquire) -> page[fd & mask] (acquire)
 *   install: page exists? else calloc + CAS into l1 -> exchange (acq_rel)
 *
 * Writers (socket, dup, close) race only with readers of the same fd, which is a
 * race in the program too; records are type-stable (sock.c), so a stale reader
 * never touches freed memory, and a call that uses a record holds it
 * (shim_sock_hold: a reference, then the entry re-checked) so it is not recycled
 * under the call.
 */
#include <stdlib.h>

#include "shim.h"

#define FDTAB_L2_BITS 10
#define FDTAB_L2      (1u << FDTAB_L2_BITS)
#define FDTAB_L1      4096u /* fds below 4M are tracked; higher ones stay kernel fds */

typedef _Atomic(struct shim_file *) fdtab_slot;

static _Atomic(fdtab_slot *) fdtab_l1[FDTAB_L1];

struct shim_file shim_fdtab_internal = { .type = SHIM_F_INTERNAL, .refs = 1 };

struct shim_file *shim_fdtab_get(int fd)
{
	fdtab_slot *page;

	if (shim_unlikely((unsigned)fd >= FDTAB_L1 * FDTAB_L2))
		return NULL;
	/* acquire: pairs with the release CAS that installed the zeroed page */
	page = atomic_load_explicit(&fdtab_l1[(unsigned)fd >> FDTAB_L2_BITS],
				    memory_order_acquire);
	if (page == NULL)
		return NULL;
	/* acquire: pairs with the exchange that published the record */
	return atomic_load_explicit(&page[fd & (FDTAB_L2 - 1)], memory_order_acquire);
}

struct shim_file *shim_fdtab_swap(int fd, struct shim_file *f, int *err)
{
	_Atomic(fdtab_slot *) *l1;
	fdtab_slot *page, *fresh = NULL;

	*err = 0;
	if ((unsigned)fd >= FDTAB_L1 * FDTAB_L2) {
		*err = f != NULL ? -EMFILE : 0;
		return NULL;
	}
	l1 = &fdtab_l1[(unsigned)fd >> FDTAB_L2_BITS];
	page = atomic_load_explicit(l1, memory_order_acquire);
	if (page == NULL) {
		if (f == NULL)
			return NULL;
		fresh = calloc(FDTAB_L2, sizeof(*fresh));
		if (fresh == NULL) {
			*err = -ENOMEM;
			return NULL;
		}
		/* release: the zeroed page is visible before its pointer */
		if (atomic_compare_exchange_strong_explicit(l1, &page, fresh,
							    memory_order_release,
							    memory_order_acquire))
			page = fresh;
		else
			free(fresh); /* another thread installed it first */
	}
	return atomic_exchange_explicit(&page[fd & (FDTAB_L2 - 1)], f, memory_order_acq_rel);
}

void shim_fdtab_foreach_arg(void (*fn)(int fd, struct shim_file *f, void *arg), void *arg)
{
	unsigned i, j;

	for (i = 0; i < FDTAB_L1; i++) {
		fdtab_slot *page = atomic_load(&fdtab_l1[i]);

		if (page == NULL)
			continue;
		for (j = 0; j < FDTAB_L2; j++) {
			struct shim_file *f = atomic_load(&page[j]);

			if (f != NULL)
				fn((int)(i * FDTAB_L2 + j), f, arg);
		}
	}
}

static void fdtab_call(int fd, struct shim_file *f, void *arg)
{
	(*(void (**)(int, struct shim_file *))arg)(fd, f);
}

void shim_fdtab_foreach(void (*fn)(int fd, struct shim_file *f))
{
	shim_fdtab_foreach_arg(fdtab_call, &fn);
}

void shim_fdtab_drop_range(unsigned lo, unsigned hi)
{
	unsigned i, j;

	for (i = lo >> FDTAB_L2_BITS; i < FDTAB_L1 && i <= hi >> FDTAB_L2_BITS; i++) {
		fdtab_slot *page = atomic_load_explicit(&fdtab_l1[i], memory_order_acquire);

		if (page == NULL)
			continue;
		for (j = 0; j < FDTAB_L2; j++) {
			unsigned fd = i * FDTAB_L2 + j;
			struct shim_file *f;

			if (fd < lo || fd > hi)
				continue;
			f = atomic_load_explicit(&page[j], memory_order_acquire);
			if (f == NULL || f == &shim_fdtab_internal)
				continue;
			f = atomic_exchange_explicit(&page[j], NULL, memory_order_acq_rel);
			if (f != NULL && f != &shim_fdtab_internal)
				shim_file_put(f);
		}
	}
}

int shim_fdtab_next_internal(unsigned from, unsigned hi)
{
	unsigned i, j;

	for (i = from >> FDTAB_L2_BITS; i < FDTAB_L1 && i <= hi >> FDTAB_L2_BITS; i++) {
		fdtab_slot *page = atomic_load_explicit(&fdtab_l1[i], memory_order_acquire);

		if (page == NULL)
			continue;
		for (j = i == from >> FDTAB_L2_BITS ? from & (FDTAB_L2 - 1) : 0; j < FDTAB_L2;
		     j++) {
			unsigned fd = i * FDTAB_L2 + j;

			if (fd > hi)
				return -1;
			if (atomic_load_explicit(&page[j], memory_order_relaxed) ==
			    &shim_fdtab_internal)
				return (int)fd;
		}
	}
	return -1;
}
