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

/*
 * The entries are full (cq->lock held). They have room for every
 * descriptor the queues on the CQ can have outstanding, so some entry is
 * one the program no longer needs: a VI's that is gone, or one of a queue
 * with more entries than completed descriptors waiting to be dequeued (the
 * program dequeued them without reading the CQ, with VipRecvWait or
 * VipRecvDone alone, which programs may do on a CQ's queues). Drops the
 * oldest such; false if there is none, which would be an overrun.
 */
static VIP_COLD bool drop_needless(struct vip_cq *cq)
{
	uint32_t i, j;

	for (i = cq->head; i != cq->tail; i++) {
		struct vip_cq_entry *e = &cq->entries[i & cq->mask];
		struct vip_vi *vi = vip_handle_get(e->vi_handle, VIP_KIND_VI);
		bool needless = !vi;

		if (vi) {
			struct vip_queue *q = e->recv ? &vi->rq : &vi->sq;

			vip_spin_lock(&q->lock);
			needless = q->cq_unread > q->done - q->head;
			vip_spin_unlock(&q->lock);
			if (needless)
				q->cq_unread--;
		}
		if (needless) {
			/* The older entries move up one, in their order. */
			for (j = i; j != cq->head; j--)
				cq->entries[j & cq->mask] =
					cq->entries[(j - 1) & cq->mask];
			cq->head++;
			return true;
		}
	}
	return false;
}

/* Caller holds cq->lock. */
static void push_entry(struct vip_cq *cq, struct vip_queue *q)
{
	struct vip_cq_entry *e;

	if (cq->tail - cq->head > cq->mask && !drop_needless(cq)) {
		/* Cannot happen while the sizes hold (see vip_cq_attach); if it
		 * does, the error callback hears of it, as VIA would have it. */
		struct vip_vi *vi = vip_handle_get(
			cq->entries[cq->head & cq->mask].vi_handle, VIP_KIND_VI);

		if (vi)
			(cq->entries[cq->head & cq->mask].recv ? &vi->rq
							       : &vi->sq)
				->cq_unread--;
		cq->head++;
		cq->overran = true;
	}
	e = &cq->entries[cq->tail++ & cq->mask];
	e->vi_handle = q->vi->handle;
	e->recv = q->recv;
	q->cq_unread++;
}

void vip_cq_push(struct vip_cq *cq, struct vip_queue *q)
{
	push_entry(cq, q);
}

static VIP_COLD void report_overrun(struct vip_cq *cq)
{
	vip_report_error(cq->nic, NULL, NULL, VIP_RESOURCE_CQ,
			 VIP_ERROR_CATASTROPHIC);
}

/* Takes the overrun to report, if any; cq->lock held. */
VIP_INLINE bool take_overrun(struct vip_cq *cq)
{
	bool overran = cq->overran;

	cq->overran = false;
	return overran;
}

/* A completion goes to its queue, and becomes an entry; cq->lock held. */
VIP_INLINE void entry_sink(void *arg, const struct map_completion *c)
{
	struct vip_cq *cq = arg;
	struct vip_queue *q = c->cookie;
	bool applied;

	vip_spin_lock(&q->lock);
	applied = vip_queue_complete(q, c);
	vip_spin_unlock(&q->lock);
	if (applied)
		push_entry(cq, q);
}

/* Caller holds cq->lock. */
static void progress_locked(struct vip_cq *cq)
{
	while (map_cq_poll(cq->mcq, MAP_POLL_BATCH, MAP_POLL_ANY, entry_sink,
			   cq) == MAP_POLL_BATCH)
		;
}

/* Polls cq and unlocks cq->lock, which the caller took. */
static void progress_and_unlock(struct vip_cq *cq)
{
	bool overran;

	progress_locked(cq);
	overran = take_overrun(cq);
	vip_spin_unlock(&cq->lock);
	if (__builtin_expect(overran, 0))
		report_overrun(cq);
}

void vip_cq_progress(struct vip_cq *cq)
{
	vip_spin_lock(&cq->lock);
	progress_and_unlock(cq);
}

bool vip_cq_try_progress(struct vip_cq *cq)
{
	if (!vip_spin_trylock(&cq->lock))
		return false;
	progress_and_unlock(cq);
	return true;
}

/* Room for n entries (cq->lock held), the unread ones kept in order;
 * shrink: also fewer. */
static int entries_resize(struct vip_cq *cq, uint32_t n, bool shrink)
{
	uint32_t mask = pow2_at_least(n) - 1, unread = cq->tail - cq->head, i;
	struct vip_cq_entry *e;

	if (mask == cq->mask || (mask < cq->mask && !shrink))
		return 0;
	if (unread > mask + 1)
		return EINVAL;
	e = calloc(mask + 1, sizeof(*e));
	if (!e)
		return ENOMEM;
	for (i = 0; i < unread; i++)
		e[i] = cq->entries[(cq->head + i) & cq->mask];
	free(cq->entries);
	cq->entries = e;
	cq->mask = mask;
	cq->head = 0;
	cq->tail = unread;
	return 0;
}

/* The verbs CQ holds n completions, or as many as the device allows
 * (beyond that, the device itself reports an overrun: VipErrorCallback's
 * VIP_RESOURCE_CQ); cq->lock held. A provider that cannot resize keeps
 * its size, and reports an overrun the same way. */
static int device_resize(struct vip_cq *cq, uint32_t n)
{
	int err;

	if (n > cq->nic->attr.max_cqe)
		n = cq->nic->attr.max_cqe;
	if (n == cq->dev_entries)
		return 0;
	err = map_cq_resize(cq->mcq, (int)n);
	if (err == EOPNOTSUPP || err == ENOSYS)
		return 0;
	if (!err)
		cq->dev_entries = n;
	return err;
}

/*
 * Completions in the verbs CQ and entries not yet read are both bounded
 * by the descriptors the queues on the CQ can have outstanding, whatever
 * EntryCount says (a program that sized its CQ by its VIs' receives, or
 * too small, loses nothing): each queue that joins adds its ring's size.
 */
int vip_cq_attach(struct vip_cq *cq, struct vip_queue *q)
{
	uint32_t want;
	int err;

	vip_spin_lock(&cq->lock);
	want = cq->size + cq->depth + q->mask + 1;
	err = entries_resize(cq, want, false);
	if (!err && want > cq->dev_entries)
		err = device_resize(cq, want);
	if (!err) {
		cq->depth += q->mask + 1;
		atomic_fetch_add(&cq->users, 1);
	}
	vip_spin_unlock(&cq->lock);
	return err;
}

/* The sizes stay: the queue's entries may still be unread. */
void vip_cq_detach(struct vip_cq *cq, struct vip_queue *q)
{
	vip_spin_lock(&cq->lock);
	cq->depth -= q->mask + 1;
	atomic_fetch_sub(&cq->users, 1);
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
	cq->dev_entries = EntryCount;
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
	uint32_t want;
	int err;

	if (!cq || !EntryCount)
		return VIP_INVALID_PARAMETER;
	if (EntryCount > cq->nic->attr.max_cqe)
		return VIP_ERROR_RESOURCE;
	vip_spin_lock(&cq->lock);
	/* Still room for what the queues on it can have outstanding;
	 * entries not yet read must fit. */
	want = (uint32_t)EntryCount + cq->depth;
	err = entries_resize(cq, want, true);
	if (!err)
		err = device_resize(cq, want);
	if (!err)
		cq->size = EntryCount;
	vip_spin_unlock(&cq->lock);
	if (err)
		return err == EINVAL ? VIP_INVALID_PARAMETER : vip_from_errno(err);
	return VIP_SUCCESS;
}

/* The next entry whose VI still exists; none sets *vi to NULL, as Done
 * does for a descriptor (vipl-api.md section 5). An entry carries no
 * error status: the descriptor's Done reports that. */
VIP_RETURN vip_cq_done(struct vip_cq *cq, VIP_VI_HANDLE *vi, VIP_BOOLEAN *recv)
{
	VIP_VI_HANDLE found = NULL;
	bool overran;

	vip_spin_lock(&cq->lock);
	for (int pass = 0; pass < 2 && !found; pass++) {
		if (pass)
			progress_locked(cq);
		while (cq->head != cq->tail) {
			struct vip_cq_entry *e = &cq->entries[cq->head++ & cq->mask];
			struct vip_vi *v = vip_handle_get(e->vi_handle,
							  VIP_KIND_VI);

			if (v) {
				(e->recv ? &v->rq : &v->sq)->cq_unread--;
				found = e->vi_handle;
				*recv = e->recv;
				break;
			}
		}
	}
	overran = take_overrun(cq);
	vip_spin_unlock(&cq->lock);
	if (overran)
		report_overrun(cq);
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

/* The program polls cq (the watcher only needs to see the count move: a
 * plain store, no atomic read-modify-write on the poll path). */
static void cq_polled(struct vip_cq *cq)
{
	atomic_store_explicit(&cq->polls,
			      atomic_load_explicit(&cq->polls,
						   memory_order_relaxed) +
				      1,
			      memory_order_relaxed);
}

VIP_RETURN VipCQDone(VIP_CQ_HANDLE CQHandle, VIP_VI_HANDLE *ViHandle,
		     VIP_BOOLEAN *RecvQueue)
{
	struct vip_cq *cq = cq_args(CQHandle, ViHandle, RecvQueue);

	if (!cq)
		return VIP_INVALID_PARAMETER;
	cq_polled(cq);
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
	cq_polled(cq);
	ret = vip_wait(&cq->wake, cq->mcq, Timeout, attempt_cq_done, &a);
	vip_handle_release(CQHandle);
	return ret;
}
