/*
 * progress.c - statuses for programs that spin on CS.Status.
 *
 * VIA NICs wrote a descriptor's status by DMA, so some programs poll
 * `desc->CS.Status & VIP_STATUS_DONE` in their own memory and never call
 * into the library until then (vipl-api.md section 3). Verbs only reports
 * a completion to whoever polls the CQ, so a thread per NIC does it for
 * them. Two ways:
 *
 * - The watcher (the default). Every SWEEP_MS it looks at each queue's
 *   indices, without its lock: a queue with descriptors on the device
 *   that the program did not poll since the last look is polled once, and
 *   if that finds work, the queue is marked spun. Spun queues' CQs are
 *   armed and the thread sleeps on their completion channels, so their
 *   statuses appear about one wake-up after the completion. A spun queue
 *   the program polls itself again is let go, and so is a queue on a VIPL
 *   CQ the program polls. It never waits for a queue's lock (the program
 *   holds it). Nothing of this is on the post or Done path; an idle NIC
 *   costs one wake-up per SWEEP_MS.
 * - VIPL_PROGRESS=1: poll every VI's queues all the time (a core while
 *   descriptors are outstanding), the lowest latency for spinners.
 *
 * VIPL_PROGRESS=0 turns both off.
 */
#define _GNU_SOURCE /* pipe2 */
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "watch.h"

#define IDLE_NAP_NS 200000
#define SWEEP_MS 10

static uint32_t peek(const uint32_t *index)
{
	return __atomic_load_n(index, __ATOMIC_RELAXED);
}

/* Without its lock, which the program may hold (see look()). */
static bool outstanding(struct vip_queue *q)
{
	return peek(&q->done) != peek(&q->tail);
}

/* VIPL_PROGRESS=1 */
static void *full_thread(void *arg)
{
	struct vip_nic *nic = arg;
	struct timespec nap = { 0, IDLE_NAP_NS };
	struct vip_vi *vi;
	bool busy;

	while (!atomic_load(&nic->progress_stop)) {
		busy = false;
		pthread_mutex_lock(&nic->vis_lock);
		for (vi = nic->vis; vi; vi = vi->next) {
			if (outstanding(&vi->sq)) {
				vip_queue_try_progress(&vi->sq);
				busy = true;
			}
			if (outstanding(&vi->rq)) {
				vip_queue_try_progress(&vi->rq);
				busy = true;
			}
		}
		pthread_mutex_unlock(&nic->vis_lock);
		if (busy)
			sched_yield();
		else
			nanosleep(&nap, NULL);
	}
	return NULL;
}

/*
 * One look at q (vis_lock held). The program is at a queue when, since
 * the last look, its done index moved without us, or now, when its lock
 * is held (a post or a Done: we never wait for it, since a post holds it
 * across the provider's post, a system call on rxe, and a watcher spinning
 * meanwhile takes a CPU from the program and the device: that halved
 * bw_send over rxe from 4 to 256 KiB). A queue the program is not at,
 * with descriptors on the device, is polled; work found that way means
 * nobody else polls it: it is spun. A spun queue is polled at every look,
 * and vip_watch_keep (watch.h) decides when to let it go.
 */
static void look(struct vip_queue *q)
{
	uint32_t done = peek(&q->done);
	bool polled = done != q->seen_done;

	/* A CQ the program polls (VipCQDone, VipCQWait) delivers its
	 * queues' completions: the watcher would only contend for its lock
	 * (and, its own polls finding work, never let the queues go). */
	if (q->vcq) {
		unsigned int polls = atomic_load_explicit(&q->vcq->polls,
							  memory_order_relaxed);

		if (polls != q->seen_cq_polls) {
			q->seen_cq_polls = polls;
			q->spun = false;
			q->seen_done = done;
			return;
		}
	}
	if (q->spun) {
		bool busy = !vip_queue_try_progress(q);

		q->spun = vip_watch_keep(&q->misses, polled || busy,
					 !busy && peek(&q->done) != done);
	} else if (!polled && done != peek(&q->submitted) &&
		   vip_queue_try_progress(q) && peek(&q->done) != done) {
		q->spun = true;
		q->misses = 0;
	}
	q->seen_done = peek(&q->done);
}

/* Arms a spun queue's CQ and adds it to cqs (once: CQs may be shared). */
static void arm(struct vip_queue *q, struct map_cq **cqs, unsigned int *n)
{
	unsigned int i;

	if (!q->spun)
		return;
	for (i = 0; i < *n; i++)
		if (cqs[i] == q->cq)
			return;
	if (*n == MAP_BLOCK_ANY_MAX || map_cq_arm(q->cq))
		return;
	cqs[(*n)++] = q->cq;
	/* A completion that came before the arm raises no event. */
	look(q);
}

static void drain_wake(struct vip_nic *nic)
{
	char buf[64];

	while (read(nic->progress_wake[0], buf, sizeof(buf)) > 0)
		;
}

/*
 * The default. While it sleeps on spun queues' channels it holds
 * vis_lock, so that no VI (and no CQ under it) goes away meanwhile;
 * whoever wants the lock wakes it through progress_wake first.
 */
static void *watch_thread(void *arg)
{
	struct vip_nic *nic = arg;
	struct map_cq *cqs[MAP_BLOCK_ANY_MAX];
	struct vip_vi *vi;
	unsigned int n;

	while (!atomic_load(&nic->progress_stop)) {
		while (atomic_load(&nic->vis_waiters))
			sched_yield();
		pthread_mutex_lock(&nic->vis_lock);
		n = 0;
		for (vi = nic->vis; vi; vi = vi->next) {
			look(&vi->sq);
			look(&vi->rq);
			arm(&vi->sq, cqs, &n);
			arm(&vi->rq, cqs, &n);
		}
		if (n)
			map_cq_block_any(cqs, n, nic->progress_wake[0],
					 SWEEP_MS);
		pthread_mutex_unlock(&nic->vis_lock);
		if (!n)
			map_cq_block_any(NULL, 0, nic->progress_wake[0],
					 SWEEP_MS);
		drain_wake(nic);
	}
	return NULL;
}

static enum vip_progress_mode mode_from_env(void)
{
	const char *env = getenv("VIPL_PROGRESS");

	if (!env || !*env)
		return VIP_PROGRESS_WATCH;
	return strcmp(env, "0") ? VIP_PROGRESS_FULL : VIP_PROGRESS_OFF;
}

void vip_progress_start(struct vip_nic *nic)
{
	void *(*fn)(void *);

	pthread_mutex_init(&nic->vis_lock, NULL);
	nic->progress_wake[0] = nic->progress_wake[1] = -1;
	nic->progress_mode = mode_from_env();
	nic->progress = nic->progress_mode == VIP_PROGRESS_FULL;
	if (nic->progress_mode == VIP_PROGRESS_OFF)
		return;
	if (pipe2(nic->progress_wake, O_NONBLOCK | O_CLOEXEC))
		goto off;
	fn = nic->progress ? full_thread : watch_thread;
	if (!pthread_create(&nic->progress_thread, NULL, fn, nic)) {
		/* As top -H and /proc/<pid>/task/<tid>/comm show it. */
		pthread_setname_np(nic->progress_thread,
				   nic->progress ? VIP_PROGRESS_THREAD_NAME
						 : VIP_WATCH_THREAD_NAME);
		return;
	}
	close(nic->progress_wake[0]);
	close(nic->progress_wake[1]);
	nic->progress_wake[0] = nic->progress_wake[1] = -1;
off:
	nic->progress_mode = VIP_PROGRESS_OFF;
	nic->progress = false;
}

static void wake(struct vip_nic *nic)
{
	char byte = 0;

	if (nic->progress_wake[1] >= 0 &&
	    write(nic->progress_wake[1], &byte, 1) < 0)
		return; /* full: a wake-up is pending anyway */
}

void vip_progress_stop(struct vip_nic *nic)
{
	if (nic->progress_mode != VIP_PROGRESS_OFF) {
		atomic_store(&nic->progress_stop, true);
		wake(nic);
		pthread_join(nic->progress_thread, NULL);
		close(nic->progress_wake[0]);
		close(nic->progress_wake[1]);
	}
	pthread_mutex_destroy(&nic->vis_lock);
}

/* vis_lock for a thread other than the watcher, which may be asleep
 * holding it. */
static void vis_lock(struct vip_nic *nic)
{
	atomic_fetch_add(&nic->vis_waiters, 1);
	wake(nic);
	pthread_mutex_lock(&nic->vis_lock);
	atomic_fetch_sub(&nic->vis_waiters, 1);
}

void vip_progress_add(struct vip_vi *vi)
{
	struct vip_nic *nic = vi->nic;

	vis_lock(nic);
	vi->next = nic->vis;
	if (vi->next)
		vi->next->pprev = &vi->next;
	vi->pprev = &nic->vis;
	nic->vis = vi;
	pthread_mutex_unlock(&nic->vis_lock);
}

/* Once this returns, the progress thread no longer touches vi. */
void vip_progress_remove(struct vip_vi *vi)
{
	vis_lock(vi->nic);
	if (vi->pprev) {
		*vi->pprev = vi->next;
		if (vi->next)
			vi->next->pprev = vi->pprev;
		vi->pprev = NULL;
	}
	pthread_mutex_unlock(&vi->nic->vis_lock);
}
