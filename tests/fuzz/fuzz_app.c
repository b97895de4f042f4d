/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * libFuzzer target: the application side, in process. The process of fuzz_stack.h
 * (a listener, an established connection with data in flight, a UDP socket) turns
 * hostile: the input is what it writes into its region and when, and the dataplane
 * must take all of it (core/app.c's commands, the protocols' ring indices, the
 * notifiers, the datagram records) without a crash, a sanitizer report, a leak or a
 * lost mbuf. tests/integration/appfuzz.c does the same against a live shuntd.
 *
 *   LLVMFuzzerTestOneInput()  fuzz_stack_start(), then per record one of:
 *     'C' cmd[48]             a command pushed on channel cmd.pad % 4; cmd.sock < 16
 *                             takes that slot's current generation if cmd.gen is 0
 *     'W' u32 off u8 n bytes  n bytes written at off % region size (anything: the
 *                             control block, channels, notifiers, slots, rings)
 *     'T' u8 ms               the clock advances, one loop iteration
 *     'H'                     the process hangs up (app_detach(), as a SIGKILL)
 *   then one last iteration and fuzz_stack_stop().
 * Anything else ends the input. At most FUZZ_MAX_RECS records.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <shunt/ring.h>

#include "dp.h"
#include "core/app.h"
#include "fuzz_stack.h"

#define FUZZ_MAX_RECS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_ctx *ctx = fuzz_stack_start();
	struct dp_app *app = fuzz_stack_proc();
	/* the geometry as the dataplane made it, before the input rewrites it */
	uint8_t *base = (uint8_t *)app->r;
	uint64_t rsize = app->r->region_size;
	struct shunt_channel *chan = shunt_region_channel(app->r, 0);
	struct shunt_sock *socks = shunt_region_sock(app->r, 0);
	uint32_t nsocks = app->r->nsocks;
	size_t off = 0;
	unsigned n = 0;

	(void)ctx;
	while (off < size && n++ < FUZZ_MAX_RECS) {
		uint8_t kind = data[off++];

		if (kind == 'C' && size - off >= sizeof(struct shunt_cmd)) {
			struct shunt_cmd c;

			memcpy(&c, data + off, sizeof(c));
			off += sizeof(c);
			if (c.sock < nsocks && c.gen == 0)
				c.gen = SHUNT_LOAD_RLX(&socks[c.sock].gen);
			/* a full channel (the region broken): the command is lost, as
			 * the shim's would wait */
			(void)shunt_chan_push(&chan[c.pad % 4], &c);
			if (app->r->chan_hint[0] < 4)
				app->r->chan_hint[0] = 4;
			fuzz_stack_step();
		} else if (kind == 'W' && size - off >= 5) {
			uint32_t at, len;

			memcpy(&at, data + off, 4);
			len = data[off + 4];
			off += 5;
			if (len > size - off)
				len = (uint32_t)(size - off);
			at = (uint32_t)(at % rsize);
			if (len > rsize - at)
				len = (uint32_t)(rsize - at);
			memcpy(base + at, data + off, len);
			off += len;
		} else if (kind == 'T' && size - off >= 1) {
			fuzz_stack_advance(data[off++] * 1000ull);
			fuzz_stack_step();
		} else if (kind == 'H') {
			if (!app->gone)
				app_detach(ctx, app);
			fuzz_stack_step();
		} else {
			break;
		}
	}
	fuzz_stack_step();
	fuzz_stack_stop();
	return 0;
}
