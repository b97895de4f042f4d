/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * sendfile() to a shunt socket (nginx, lighttpd and others send files with it).
 * The kernel cannot splice a file into shuntd's rings, so the shim reads the file
 * and queues the bytes itself; the program cannot tell the difference:
 *
 *   sendfile(sock, file, offset, count) -> not a shunt socket: the real call
 *     -> from *offset (file position untouched) or from the file position
 *     -> pread a chunk -> shim_io_send() as write() would (blocking, EAGAIN,
 *        EPIPE and SIGPIPE as for the socket) -> until count, EOF or a short send
 *     -> *offset, or the file position, moves by what was sent, not by what was
 *        read: bytes read but not queued are read again by the next call
 *
 * Linux's contract (sendfile(2)): at most 0x7ffff000 bytes a call; a negative
 * *offset is EINVAL; an in_fd that is not a regular file (or cannot be read at an
 * offset) is EINVAL; errors after some bytes were sent return the count.
 */
#include <sys/stat.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define SF_CHUNK  32768
#define SF_MAX_RW 0x7ffff000 /* Linux MAX_RW_COUNT */

static ssize_t sf_send(int out_fd, struct shim_sock *s, int in_fd, off_t *offset,
		       size_t count)
{
	uint8_t buf[SF_CHUNK];
	struct stat st;
	size_t done = 0;
	off_t pos;
	ssize_t n, sent;

	if (fstat(in_fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return -EINVAL; /* do_sendfile(): the input must be mappable */
	if (offset != NULL) {
		if (shim_copyin(&pos, offset, sizeof(pos)) < 0)
			return -EFAULT;
		if (pos < 0)
			return -EINVAL;
	} else {
		pos = lseek(in_fd, 0, SEEK_CUR);
		if (pos < 0)
			return -errno;
	}
	if (count > SF_MAX_RW)
		count = SF_MAX_RW;
	while (done < count) {
		size_t want = count - done < SF_CHUNK ? count - done : SF_CHUNK;
		struct iovec v;

		n = pread(in_fd, buf, want, pos + (off_t)done);
		if (n < 0) {
			if (done > 0)
				break;
			return -errno;
		}
		if (n == 0)
			break; /* end of file */
		v.iov_base = buf;
		v.iov_len = (size_t)n;
		sent = shim_io_send(out_fd, s, &v, 1, 0);
		if (sent < 0) {
			if (done > 0)
				break;
			return sent;
		}
		done += (size_t)sent;
		if (sent < n)
			break; /* the socket took less (non-blocking, or a signal) */
	}
	if (offset != NULL) {
		pos += (off_t)done;
		(void)shim_copyout(offset, &pos, sizeof(pos));
	} else if (done > 0) {
		(void)lseek(in_fd, pos + (off_t)done, SEEK_SET);
	}
	return (ssize_t)done;
}

static ssize_t sf_call(int out_fd, int in_fd, off_t *offset, size_t count)
{
	struct shim_sock *s;
	ssize_t rc;

	if (!shim_init() || (s = shim_shunt_hold(out_fd)) == NULL)
		return real_sendfile(out_fd, in_fd, offset, count);
	rc = sf_send(out_fd, s, in_fd, offset, count);
	shim_sock_put(s);
	return shim_ret(rc);
}

/* Both names, declared here rather than through <sys/sendfile.h>, which with
 * _FILE_OFFSET_BITS=64 renames sendfile to sendfile64: on 64-bit glibc they are
 * the same call, and programs link either. */
SHIM_EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count);
SHIM_EXPORT ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count);

ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return sf_call(out_fd, in_fd, offset, count);
}

ssize_t sendfile64(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return sf_call(out_fd, in_fd, offset, count);
}
