/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright (c) 2026 The shunt authors
 *
 * The control socket server (protocol: include/shunt/ctl.h).
 *
 *   ctl_open(): refuse if another shuntd answers on the path, else bind + listen
 *   loop event LISTEN  -> accept -> PENDING
 *   loop event PENDING -> hello -> ctl_negotiate() -> app_create() -> welcome + fds
 *                      -> JOIN -> app_find_key() -> app_member_join() (+ welcome, fds)
 *                         (no common version / feature: welcome -EPROTONOSUPPORT)
 *   loop event APP_CTL -> NOTIFY_SET / NOTIFY_CLEAR -> app_notifier_*() -> answer
 *                      -> hang-up -> app_member_gone() (the last: ctl_flush_pending(),
 *                         then app_detach()) ... ctl_reap() -> app_destroy()
 *   ctl_close(): unlink the path
 */
#ifndef SHUNT_DP_CTL_H
#define SHUNT_DP_CTL_H

#include "core/loop.h"

struct dp_ctx;
struct dp_app;

int ctl_open(struct dp_ctx *ctx);
void ctl_close(struct dp_ctx *ctx);
void ctl_event(struct dp_ctx *ctx, struct loop_src *src, uint32_t events);
/* Free apps that broke their region, and gone apps whose sockets are done. */
void ctl_reap(struct dp_ctx *ctx);

#endif /* SHUNT_DP_CTL_H */
