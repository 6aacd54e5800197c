/*
 * cq.c - VIPL completion queues: VipCreateCQ, VipDestroyCQ, VipResizeCQ,
 * VipCQDone, VipCQWait.
 *
 * The work queues on a CQ share one verbs CQ. Polling it (under the CQ's
 * lock, then each target queue's lock) writes the completion into the
 * descriptor of the queue it belongs to and appends an entry (VI, queue)
 * for VipCQDone; the descriptor itself is still dequeued with
 * VipSendDone/VipRecvDone (vipl-api.md section 3, "Completion queues").
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* mapping's poll, inline */
#include "hotpath.h"

struct vip_cq *vip_cq_get(VIP_CQ_HANDLE h)
{
	return vip_handle_get(h, VIP_KIND_CQ);
}

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

/* Caller holds cq->lock. When nobody reads the entries (a program that
 * only uses VipRecvWait on its VIs), the oldest are dropped. */
static void push_entry(struct vip_cq *cq, void *vi_handle, bool recv)
{
	if (cq->tail - cq->head > cq->mask) {
		cq->head++;
		cq->overruns++;
	}
	cq->entries[cq->tail & cq->mask].vi_handle = vi_handle;
	cq->entries[cq->tail & cq->mask].recv = recv;
	cq->tail++;
}

/* A completion goes to its queue, and becomes an entry; cq->lock held. */
VIP_INLINE void entry_sink(void *arg, const struct map_completion *c)
{
	struct vip_cq *cq = arg;
	struct vip_queue *q = c->cookie;

	vip_spin_lock(&q->lock);
	vip_queue_complete(q, c);
	vip_spin_unlock(&q->lock);
	push_entry(cq, q->vi->handle, q->recv);
}

/* Caller holds cq->lock. */
static void progress_locked(struct vip_cq *cq)
{
	while (map_cq_poll(cq->mcq, MAP_POLL_BATCH, entry_sink, cq) ==
	       MAP_POLL_BATCH)
		;
}

void vip_cq_progress(struct vip_cq *cq)
{
	vip_spin_lock(&cq->lock);
	progress_locked(cq);
	vip_spin_unlock(&cq->lock);
}

VIP_RETURN VipCreateCQ(VIP_NIC_HANDLE NicHandle, VIP_ULONG EntryCount,
		       VIP_CQ_HANDLE *CQHandle)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_cq *cq;
	int err;

	if (!nic || !CQHandle || !EntryCount)
		return VIP_INVALID_PARAMETER;
	if (EntryCount > nic->attr.max_cqe)
		return VIP_ERROR_RESOURCE;
	cq = calloc(1, sizeof(*cq));
	if (!cq)
		return VIP_ERROR_RESOURCE;
	cq->nic = nic;
	cq->size = EntryCount;
	cq->mask = pow2_at_least(EntryCount) - 1;
	cq->entries = calloc(cq->mask + 1, sizeof(*cq->entries));
	if (!cq->entries) {
		free(cq);
		return VIP_ERROR_RESOURCE;
	}
	err = map_cq_create(nic->dev, (int)EntryCount, &cq->mcq);
	if (err) {
		free(cq->entries);
		free(cq);
		return vip_from_errno(err);
	}
	vip_spin_init(&cq->lock);
	vip_wake_init(&cq->wake);
	vip_notify_init(&cq->notify, nic);
	cq->handle = vip_handle_new(VIP_KIND_CQ, cq);
	if (!cq->handle) {
		map_cq_destroy(cq->mcq);
		free(cq->entries);
		free(cq);
		return VIP_ERROR_RESOURCE;
	}
	*CQHandle = cq->handle;
	return VIP_SUCCESS;
}

/* Frees a CQ no work queue uses (also from VipCloseNic). Threads in
 * VipCQWait on it return VIP_INVALID_PARAMETER first. */
void vip_cq_destroy(struct vip_cq *cq)
{
	vip_wake_close(&cq->wake);
	vip_notify_cancel(&cq->notify);
	vip_handle_free(cq->handle); /* waits for the waiters to leave */
	vip_notify_fini(&cq->notify);
	map_cq_destroy(cq->mcq);
	vip_wake_fini(&cq->wake);
	free(cq->entries);
	free(cq);
}

VIP_RETURN VipDestroyCQ(VIP_CQ_HANDLE CQHandle)
{
	struct vip_cq *cq = vip_cq_get(CQHandle);

	if (!cq)
		return VIP_INVALID_PARAMETER;
	if (atomic_load(&cq->users))
		return VIP_INVALID_STATE;
	vip_cq_destroy(cq);
	return VIP_SUCCESS;
}

VIP_RETURN VipResizeCQ(VIP_CQ_HANDLE CQHandle, VIP_ULONG EntryCount)
{
	struct vip_cq *cq = vip_cq_get(CQHandle);
	struct vip_cq_entry *entries;
	uint32_t mask, i, n;
	int err;

	if (!cq || !EntryCount)
		return VIP_INVALID_PARAMETER;
	if (EntryCount > cq->nic->attr.max_cqe)
		return VIP_ERROR_RESOURCE;
	mask = pow2_at_least(EntryCount) - 1;
	entries = calloc(mask + 1, sizeof(*entries));
	if (!entries)
		return VIP_ERROR_RESOURCE;
	vip_spin_lock(&cq->lock);
	n = cq->tail - cq->head;
	/* Entries not yet read must fit. */
	err = n > mask + 1 ? EINVAL : map_cq_resize(cq->mcq, (int)EntryCount);
	if (err) {
		vip_spin_unlock(&cq->lock);
		free(entries);
		return err == EINVAL ? VIP_INVALID_PARAMETER : vip_from_errno(err);
	}
	for (i = 0; i < n; i++)
		entries[i] = cq->entries[(cq->head + i) & cq->mask];
	free(cq->entries);
	cq->entries = entries;
	cq->mask = mask;
	cq->head = 0;
	cq->tail = n;
	cq->size = EntryCount;
	vip_spin_unlock(&cq->lock);
	return VIP_SUCCESS;
}

/* The next entry whose VI still exists; none sets *vi to NULL, as Done
 * does for a descriptor (vipl-api.md section 5). An entry carries no
 * error status: the descriptor's Done reports that. */
VIP_RETURN vip_cq_done(struct vip_cq *cq, VIP_VI_HANDLE *vi, VIP_BOOLEAN *recv)
{
	VIP_VI_HANDLE found = NULL;

	vip_spin_lock(&cq->lock);
	for (int pass = 0; pass < 2 && !found; pass++) {
		if (pass)
			progress_locked(cq);
		while (cq->head != cq->tail) {
			struct vip_cq_entry *e = &cq->entries[cq->head++ & cq->mask];

			if (vip_handle_get(e->vi_handle, VIP_KIND_VI)) {
				found = e->vi_handle;
				*recv = e->recv;
				break;
			}
		}
	}
	vip_spin_unlock(&cq->lock);
	*vi = found;
	return found ? VIP_SUCCESS : VIP_NOT_DONE;
}

/* A bad argument dequeues nothing either: a valid *vi becomes NULL. */
static struct vip_cq *cq_args(VIP_CQ_HANDLE h, VIP_VI_HANDLE *vi,
			      VIP_BOOLEAN *recv)
{
	struct vip_cq *cq = vip_cq_get(h);

	if (__builtin_expect(cq && vi && recv, 1))
		return cq;
	if (vi)
		*vi = NULL;
	return NULL;
}

VIP_RETURN VipCQDone(VIP_CQ_HANDLE CQHandle, VIP_VI_HANDLE *ViHandle,
		     VIP_BOOLEAN *RecvQueue)
{
	struct vip_cq *cq = cq_args(CQHandle, ViHandle, RecvQueue);

	if (!cq)
		return VIP_INVALID_PARAMETER;
	return vip_cq_done(cq, ViHandle, RecvQueue);
}

struct cq_wait_args {
	struct vip_cq *cq;
	VIP_VI_HANDLE *vi;
	VIP_BOOLEAN *recv;
};

static VIP_RETURN attempt_cq_done(void *arg)
{
	struct cq_wait_args *a = arg;

	return vip_cq_done(a->cq, a->vi, a->recv);
}

/* Every return of vip_wait other than an entry follows an attempt that
 * found none, so *ViHandle is NULL then. The CQ is held while the thread
 * sleeps, as VipRecvWait holds its VI (queue.c). */
VIP_RETURN VipCQWait(VIP_CQ_HANDLE CQHandle, VIP_ULONG Timeout,
		     VIP_VI_HANDLE *ViHandle, VIP_BOOLEAN *RecvQueue)
{
	struct vip_cq *cq = ViHandle && RecvQueue
				    ? vip_handle_hold(CQHandle, VIP_KIND_CQ)
				    : NULL;
	struct cq_wait_args a = { cq, ViHandle, RecvQueue };
	VIP_RETURN ret;

	if (!cq) {
		if (ViHandle)
			*ViHandle = NULL;
		return VIP_INVALID_PARAMETER;
	}
	ret = vip_wait(&cq->wake, cq->mcq, Timeout, attempt_cq_done, &a);
	vip_handle_release(CQHandle);
	return ret;
}
