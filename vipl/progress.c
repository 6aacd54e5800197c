/*
 * progress.c - progress mode, for programs that spin on CS.Status.
 *
 * VIA NICs wrote a descriptor's status by DMA, so some programs poll
 * `desc->CS.Status & VIP_STATUS_DONE` in their own memory and never call
 * into the library until then. Verbs only reports a completion to whoever
 * polls the CQ, so with VIPL_PROGRESS=1 a thread per NIC polls every VI's
 * queues and writes statuses as completions arrive (vipl-api.md
 * section 3). It costs a core while descriptors are outstanding, and naps
 * when none are. Off by default.
 */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define IDLE_NAP_NS 200000

static bool outstanding(struct vip_queue *q)
{
	bool busy;

	vip_spin_lock(&q->lock);
	busy = q->done != q->tail;
	vip_spin_unlock(&q->lock);
	return busy;
}

static void *progress_thread(void *arg)
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
				vip_queue_progress(&vi->sq);
				busy = true;
			}
			if (outstanding(&vi->rq)) {
				vip_queue_progress(&vi->rq);
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

void vip_progress_start(struct vip_nic *nic)
{
	const char *env = getenv("VIPL_PROGRESS");

	pthread_mutex_init(&nic->vis_lock, NULL);
	nic->progress = env && *env && strcmp(env, "0") != 0;
	if (nic->progress &&
	    pthread_create(&nic->progress_thread, NULL, progress_thread, nic))
		nic->progress = false;
}

void vip_progress_stop(struct vip_nic *nic)
{
	if (nic->progress) {
		atomic_store(&nic->progress_stop, true);
		pthread_join(nic->progress_thread, NULL);
	}
	pthread_mutex_destroy(&nic->vis_lock);
}

void vip_progress_add(struct vip_vi *vi)
{
	struct vip_nic *nic = vi->nic;

	pthread_mutex_lock(&nic->vis_lock);
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
	pthread_mutex_lock(&vi->nic->vis_lock);
	if (vi->pprev) {
		*vi->pprev = vi->next;
		if (vi->next)
			vi->next->pprev = vi->pprev;
		vi->pprev = NULL;
	}
	pthread_mutex_unlock(&vi->nic->vis_lock);
}
