/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * libFuzzer target: the whole receive path, Ethernet through ARP, ICMP, UDP and TCP
 * payload delivery into a socket's ring, against the stack of fuzz_stack.h.
 *
 *   LLVMFuzzerInitialize()    (fuzz_stack.c) EAL and the port, once
 *   LLVMFuzzerTestOneInput()  fuzz_stack_start(), then per record: clock, frame,
 *                             application, then fuzz_stack_stop()
 *
 * An input is a sequence of records (tests/fuzz/convert.py writes them):
 *
 *   u16 len (big-endian) | u8 delay | u8 ops | len bytes of Ethernet frame
 *
 * delay advances the clock before the frame: 0-127 ms, then 128 + k for (k + 1) * 500
 * ms (to 64 s: RTOs, TIME_WAIT, the ARP cache); ops are FUZZ_APP_* bits run after
 * it (read, write, shutdown, close), and FUZZ_REC_CSUM_GOOD: the port vouches for the
 * checksums, so a mutated frame still reaches TCP and UDP. A short last record
 * delivers what there is. At most FUZZ_MAX_FRAMES records are taken, and a frame is
 * cut at FUZZ_MAX_FRAME bytes (a 9 KB jumbo frame and then some).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_stack.h"

#define FUZZ_REC_HDR       4
#define FUZZ_REC_CSUM_GOOD 0x80u
#define FUZZ_MAX_FRAMES    256
#define FUZZ_MAX_FRAME     10240

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fuzz_delay_us(uint8_t d)
{
	return d < 128 ? d * 1000ull : (d - 127ull) * 500000ull;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	unsigned n = 0;

	fuzz_stack_start();
	while (off + FUZZ_REC_HDR <= size && n++ < FUZZ_MAX_FRAMES) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint8_t delay = data[off + 2], ops = data[off + 3];

		off += FUZZ_REC_HDR;
		if (len > size - off)
			len = size - off;
		fuzz_stack_advance(fuzz_delay_us(delay));
		fuzz_stack_rx(data + off, len > FUZZ_MAX_FRAME ? FUZZ_MAX_FRAME : (uint32_t)len,
			      (ops & FUZZ_REC_CSUM_GOOD) != 0);
		fuzz_stack_app(ops);
		off += len;
	}
	/* what the last application step asked for, and timers due by then */
	fuzz_stack_step();
	fuzz_stack_stop();
	return 0;
}
