/*
 * wait.c - how every VIPL wait waits: poll for a short while (latency),
 * then arm the CQ and sleep on its completion channel (no core burnt).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define SPIN_NS_DEFAULT 50000
/*
 * Several threads may sleep on one CQ (a program thread, a notify thread):
 * one event wakes one of them, and the CQ is re-armed only by a thread that
 * keeps waiting. Sleeping in bounded slices bounds what a missed wake-up
 * can cost.
 */
#define SLICE_MS 20

/* VIPL_SPIN_US tunes the busy-poll phase (0: sleep at once). */
static uint64_t spin_ns(void)
{
	static _Atomic int64_t cached = -1;
	int64_t ns = atomic_load_explicit(&cached, memory_order_relaxed);
	const char *env;

	if (ns < 0) {
		env = getenv("VIPL_SPIN_US");
		ns = env && *env ? strtoll(env, NULL, 10) * 1000 : SPIN_NS_DEFAULT;
		if (ns < 0)
			ns = SPIN_NS_DEFAULT;
		atomic_store_explicit(&cached, ns, memory_order_relaxed);
	}
	return (uint64_t)ns;
}

uint64_t vip_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* attempt returns VIP_NOT_DONE while there is nothing to hand back (and
 * has then set the caller's output to NULL); anything else it returns is
 * the wait's result, VIP_DESCRIPTOR_ERROR included. Every other return
 * here comes after an attempt that found nothing. */
VIP_RETURN vip_wait(struct map_cq *cq, VIP_ULONG timeout,
		    VIP_RETURN (*attempt)(void *arg), void *arg)
{
	int ms = vip_timeout_ms(timeout), err;
	uint64_t start = vip_now_ns(), now, spin = spin_ns();
	uint64_t deadline = ms < 0 ? UINT64_MAX : start + ms * 1000000ull;
	VIP_RETURN ret;

	for (;;) {
		ret = attempt(arg);
		if (ret != VIP_NOT_DONE)
			return ret;
		now = vip_now_ns();
		if (now >= deadline)
			return VIP_TIMEOUT;
		if (now - start < spin)
			continue;
		err = map_cq_arm(cq);
		if (err)
			return vip_from_errno(err);
		/* A completion may have landed before the arm took effect. */
		ret = attempt(arg);
		if (ret != VIP_NOT_DONE)
			return ret;
		ms = SLICE_MS;
		if (deadline != UINT64_MAX && deadline - now < SLICE_MS * 1000000ull)
			ms = (int)((deadline - now + 999999) / 1000000);
		err = map_cq_block(cq, ms);
		if (err && err != ETIMEDOUT)
			return vip_from_errno(err);
	}
}
