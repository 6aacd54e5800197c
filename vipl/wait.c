/*
 * wait.c - how every VIPL wait waits: poll for a short while (latency),
 * then arm the CQ and sleep on its completion channel (no core burnt).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

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

void vip_wake_init(struct vip_wake *w)
{
	atomic_init(&w->closing, false);
	atomic_init(&w->fd, -1);
}

/* The fd a sleeper adds to its poll, made on first use; -1 if none can be
 * made (then a destroy is seen within one slice). */
static int wake_fd(struct vip_wake *w)
{
	int fd = atomic_load(&w->fd), expected = -1;

	if (fd >= 0)
		return fd;
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!atomic_compare_exchange_strong(&w->fd, &expected, fd)) {
		close(fd);
		return expected;
	}
	return fd;
}

/* The sleeper stores fd, then looks at closing; the destroy stores
 * closing, then looks at fd: one of them sees the other. */
void vip_wake_close(struct vip_wake *w)
{
	uint64_t one = 1;
	int fd;

	atomic_store(&w->closing, true);
	fd = atomic_load(&w->fd);
	/* Never read: it stays readable for every sleeper, late ones too. */
	if (fd >= 0 && write(fd, &one, sizeof(one)) < 0)
		return;
}

void vip_wake_fini(struct vip_wake *w)
{
	int fd = atomic_exchange(&w->fd, -1);

	if (fd >= 0)
		close(fd);
}

static bool closing(struct vip_wake *w)
{
	return atomic_load_explicit(&w->closing, memory_order_relaxed);
}

/* attempt returns VIP_NOT_DONE while there is nothing to hand back (and
 * has then set the caller's output to NULL); anything else it returns is
 * the wait's result, VIP_DESCRIPTOR_ERROR included. Every other return
 * here comes after an attempt that found nothing. The caller keeps the
 * object of w (and cq) alive: a hold, or a notify thread its destroy
 * joins. */
VIP_RETURN vip_wait(struct vip_wake *w, struct map_cq *cq, VIP_ULONG timeout,
		    VIP_RETURN (*attempt)(void *arg), void *arg)
{
	int ms = vip_timeout_ms(timeout), err, fd;
	uint64_t start = vip_now_ns(), now, spin = spin_ns();
	uint64_t deadline = ms < 0 ? UINT64_MAX : start + ms * 1000000ull;
	VIP_RETURN ret;

	for (;;) {
		ret = attempt(arg);
		if (ret != VIP_NOT_DONE)
			return ret;
		if (closing(w))
			return VIP_INVALID_PARAMETER;
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
		fd = wake_fd(w);
		if (atomic_load(&w->closing))
			return VIP_INVALID_PARAMETER;
		ms = SLICE_MS;
		if (deadline != UINT64_MAX && deadline - now < SLICE_MS * 1000000ull)
			ms = (int)((deadline - now + 999999) / 1000000);
		err = map_cq_block(cq, fd, ms);
		if (err && err != ETIMEDOUT)
			return vip_from_errno(err);
	}
}
