/*
 * queue.c - a work queue's ring and its completions: VipSendDone/RecvDone,
 * VipSendWait/RecvWait (posting is post.c).
 *
 * Each work queue keeps the program's descriptors in posting order in a
 * ring. A completion from the device is written into the oldest incomplete
 * descriptor (verbs completes one work queue in order, as VIPL requires);
 * Done dequeues from the head once it is complete. Post and poll take one
 * uncontended spinlock and make no allocation and no system call of ours.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* mapping's post and poll, inline: the calls of every message */
#include "hotpath.h"

int vip_queue_init(struct vip_queue *q, struct vip_vi *vi, uint32_t depth,
		   struct map_cq *cq, struct vip_cq *vcq, bool recv)
{
	uint32_t n = 1;

	while (n < depth)
		n <<= 1;
	q->ring = calloc(n, sizeof(*q->ring));
	q->posted = calloc(n, sizeof(*q->posted));
	if (!q->ring || !q->posted) {
		free(q->ring);
		free(q->posted);
		return ENOMEM;
	}
	q->mask = n - 1;
	q->head = q->done = q->submitted = q->tail = 0;
	q->cq = cq;
	q->vcq = vcq;
	q->vi = vi;
	q->recv = recv;
	vip_spin_init(&q->lock);
	vip_notify_init(&q->notify, vi->nic);
	return 0;
}

void vip_queue_fini(struct vip_queue *q)
{
	vip_notify_fini(&q->notify);
	free(q->ring);
	free(q->posted);
	q->ring = NULL;
	q->posted = NULL;
}



/*
 * Providers differ in how precisely they name a local failure (rxe reports
 * a receive too small and a bad memory handle alike, as a local QP
 * operation error). Our own registry tells which it was: a segment outside
 * registered memory of the VI's ptag is a protection error; otherwise a
 * receive that failed locally was too small. Linux 6.12's rxe reports a
 * send its requester refused (a bad key) as flushed, with all behind it:
 * it moves the QP to its error state before the completer sees the error
 * (rxe_req.c), so a flushed send whose memory our registry refuses is
 * that send, and says so. Only the segments the post checked are read
 * (p), whatever the descriptor says now. Error path only.
 */
static VIP_COLD uint32_t refine_local_error(struct vip_queue *q,
					    const VIP_DESCRIPTOR *d,
					    const struct vip_posted *p,
					    uint32_t status)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	const uint32_t local = VIP_STATUS_FORMAT_ERROR |
			       VIP_STATUS_PROTECTION_ERROR |
			       VIP_STATUS_LENGTH_ERROR;
	bool flushed_send = !q->recv &&
			    (status & VIP_STATUS_DESC_FLUSHED_ERROR);
	unsigned int i, first = 0;

	if (!(status & local) && !flushed_send)
		return status;
	if (!q->recv &&
	    (p->control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV)
		first = 1; /* the address segment names remote memory */
	for (i = first; i < p->nseg; i++)
		if (!vip_segment_ok(q->vi, &seg[i].Local))
			return (status & ~(local | VIP_STATUS_DESC_FLUSHED_ERROR)) |
			       VIP_STATUS_PROTECTION_ERROR;
	if (!(status & local))
		return status; /* flushed, and its memory was good */
	return (status & ~local) | (q->recv ? VIP_STATUS_LENGTH_ERROR
					    : VIP_STATUS_FORMAT_ERROR);
}

/* A receive reported more bytes than its posted segments hold: the
 * completion cannot be this descriptor's. An error, as any other that
 * breaks the connection, rather than a length no buffer holds. */
static VIP_COLD uint32_t overlong(struct vip_queue *q, VIP_DESCRIPTOR *d,
				  uint32_t status)
{
	status |= VIP_STATUS_LENGTH_ERROR;
	vip_vi_broken(q->vi, d, vip_error_code(d, q->recv, status));
	return status;
}

/* Fills in the oldest incomplete descriptor. Status goes last so that a
 * program spinning on VIP_STATUS_DONE sees Length and ImmediateData. What
 * the post checked (q->posted) says what the descriptor is, not the
 * descriptor, which the program or a peer may have written since. */
VIP_INLINE bool complete(struct vip_queue *q, const struct map_completion *c,
			 bool recv)
{
	uint32_t status = c->status, errors = status & VIP_STATUS_ERROR_MASK;
	const struct vip_posted *p;
	VIP_DESCRIPTOR *d;
	uint32_t slot;

	if (q->done == q->submitted)
		return false; /* nothing on the device: a stray completion */
	/* A completion of the QP this VI had before (vip_vi_renew replaced
	 * it, and completed what it held itself) belongs to none of the
	 * descriptors posted since. */
	if (__builtin_expect(c->qp_num != q->qp_num, 0))
		return false;
	slot = q->done & q->mask;
	d = q->ring[slot];
	p = &q->posted[slot];
	if (errors) {
		status = refine_local_error(q, d, p, status);
		errors = status & VIP_STATUS_ERROR_MASK;
	}
	/* An error breaks the connection (the QP is in its error state now;
	 * flushes are the consequence, not a cause): tell the peer, and the
	 * error callback once the connection manager confirms. */
	if (errors && errors != VIP_STATUS_DESC_FLUSHED_ERROR)
		vip_vi_broken(q->vi, d, vip_error_code(d, recv, status));
	else if (errors)
		vip_vi_flushed(q->vi);
	if (recv) {
		/* Never more than the posted segments hold (an RDMA write
		 * with immediate data that consumed it reports 0, mapping.h). */
		if (__builtin_expect(c->length > p->cap, 0) && !errors) {
			status = overlong(q, d, status);
			errors = status;
		}
		d->CS.Length = errors ? 0 : c->length;
	}
	if (c->status & VIP_STATUS_IMMEDIATE)
		d->CS.ImmediateData = c->imm;
	__atomic_store_n(&d->CS.Status,
			 vip_status_of(p->control, recv, status),
			 __ATOMIC_RELEASE);
	q->done++;
	if (q->submitted != q->tail && q->done == q->submitted)
		vip_queue_submit_held(q);
	return true;
}

bool vip_queue_complete(struct vip_queue *q, const struct map_completion *c)
{
	return complete(q, c, q->recv);
}

/* One sink per kind of queue: the kind is a constant in each, and what
 * only the other kind needs folds away. */
VIP_INLINE void complete_send_sink(void *q, const struct map_completion *c)
{
	complete(q, c, false);
}

VIP_INLINE void complete_recv_sink(void *q, const struct map_completion *c)
{
	complete(q, c, true);
}

/* A queue with a CQ of its own: poll it with q->lock held. recv: q->recv,
 * as a constant. */
VIP_INLINE void progress_private(struct vip_queue *q, bool recv)
{
	while (map_cq_poll(q->cq, MAP_POLL_BATCH,
			   recv ? MAP_POLL_RECVS : MAP_POLL_SENDS,
			   recv ? complete_recv_sink : complete_send_sink,
			   q) == MAP_POLL_BATCH)
		;
}

/* Polls q's own CQ and unlocks q->lock, which the caller took. */
static void progress_and_unlock(struct vip_queue *q)
{
	if (q->recv)
		progress_private(q, true);
	else
		progress_private(q, false);
	vip_spin_unlock(&q->lock);
}

void vip_queue_progress(struct vip_queue *q)
{
	if (q->vcq) {
		vip_cq_progress(q->vcq);
		return;
	}
	vip_spin_lock(&q->lock);
	progress_and_unlock(q);
}

bool vip_queue_try_progress(struct vip_queue *q)
{
	if (q->vcq)
		return vip_cq_try_progress(q->vcq);
	if (!vip_spin_trylock(&q->lock))
		return false;
	progress_and_unlock(q);
	return true;
}

/* Completes q's descriptors from done to tail, held ones too, as the
 * device's flush would have; q->lock held. How many. */
static VIP_COLD uint32_t flush_all(struct vip_queue *q)
{
	const struct map_completion c = {
		.cookie = q,
		.status = VIP_STATUS_DESC_FLUSHED_ERROR,
		.qp_num = q->qp_num,
	};
	uint32_t n = 0;

	q->submitted = q->tail;
	while (q->done != q->tail && complete(q, &c, q->recv))
		n++;
	return n;
}

/* The device's own flush is in the CQ (map_qp_flushes_once): take it
 * first, so that what is left is what the device will never complete.
 * mc NULL: q is stranded already (a post since). */
VIP_COLD void vip_queue_strand(struct vip_queue *q, const struct map_conn *mc)
{
	struct vip_cq *cq = q->vcq;
	uint32_t n = 0;

	vip_queue_progress(q);
	if (cq)
		vip_spin_lock(&cq->lock);
	vip_spin_lock(&q->lock);
	if (!q->paused && (mc ? q->vi->conn == mc : q->stranded)) {
		q->stranded = true;
		n = flush_all(q);
	}
	vip_spin_unlock(&q->lock);
	if (cq) {
		while (n--)
			vip_cq_push(cq, q);
		vip_spin_unlock(&cq->lock);
	}
}

/* Dequeues the oldest completed descriptor into *out; q->lock held. */
VIP_INLINE bool pop(struct vip_queue *q, VIP_DESCRIPTOR **out)
{
	if (q->head == q->done)
		return false;
	*out = q->ring[q->head & q->mask];
	q->head++;
	return true;
}

/*
 * What Done and Wait return (vipl-api.md section 5, "Done/Wait with an
 * errored descriptor"): programs drain with `while (d != 0)` and with
 * `r == VIP_SUCCESS || (r == VIP_DESCRIPTOR_ERROR && d)`, so a descriptor
 * that completed with an error bit (flushed included) is dequeued with
 * VIP_DESCRIPTOR_ERROR, and nothing dequeued sets the pointer to NULL.
 * The status was written under q->lock, which pop held. Computed without
 * a branch (VIP_SUCCESS is 0): the error case must not cost a mispredict
 * on the success path, nor the reverse when a program drains a flush.
 */
VIP_INLINE VIP_RETURN returned(bool got, VIP_DESCRIPTOR *d,
			       VIP_DESCRIPTOR **out)
{
	if (!got) {
		*out = NULL;
		return VIP_NOT_DONE;
	}
	*out = d;
	return (VIP_RETURN)(-(uint32_t)!!(d->CS.Status &
					  VIP_STATUS_ERROR_MASK) &
			    VIP_DESCRIPTOR_ERROR);
}

VIP_INLINE VIP_RETURN queue_done(struct vip_queue *q, VIP_DESCRIPTOR **out,
				  bool recv)
{
	VIP_DESCRIPTOR *d = NULL;
	bool got;

	vip_spin_lock(&q->lock);
	got = pop(q, &d);
	if (!got && !q->vcq) {
		progress_private(q, recv);
		got = pop(q, &d);
	}
	vip_spin_unlock(&q->lock);
	if (got || !q->vcq)
		return returned(got, d, out);

	/* On a shared CQ: poll it (CQ lock before queue lock), look again. */
	vip_cq_progress(q->vcq);
	vip_spin_lock(&q->lock);
	got = pop(q, &d);
	vip_spin_unlock(&q->lock);
	return returned(got, d, out);
}

VIP_RETURN vip_queue_done(struct vip_queue *q, VIP_DESCRIPTOR **out)
{
	return q->recv ? queue_done(q, out, true) : queue_done(q, out, false);
}

struct done_args {
	struct vip_queue *q;
	VIP_DESCRIPTOR **out;
};

static VIP_RETURN attempt_done(void *arg)
{
	struct done_args *a = arg;

	return vip_queue_done(a->q, a->out);
}

/* Every return of vip_wait other than a dequeue follows an attempt that
 * found nothing, so *out is NULL then (VIP_TIMEOUT included). The VI is
 * held while its thread sleeps: VipDestroyVi (or VipCloseNic) on another
 * thread wakes it with VIP_INVALID_PARAMETER, and frees the VI only once
 * it has left. */
static VIP_RETURN wait(VIP_VI_HANDLE h, bool recv, VIP_ULONG timeout,
		       VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi = out ? vip_handle_hold(h, VIP_KIND_VI) : NULL;
	struct done_args a = { NULL, out };
	VIP_RETURN ret;

	if (!vi) {
		if (out)
			*out = NULL;
		return VIP_INVALID_PARAMETER;
	}
	a.q = recv ? &vi->rq : &vi->sq;
	ret = vip_wait(&vi->wake, a.q->cq, timeout, attempt_done, &a);
	vip_handle_release(h);
	return ret;
}

/* Whatever is returned, a valid *out is the dequeued descriptor or NULL:
 * a bad handle dequeues nothing. */
VIP_INLINE VIP_RETURN get_vi(VIP_VI_HANDLE h, VIP_DESCRIPTOR **out,
			     struct vip_vi **vi)
{
	*vi = vip_handle_get(h, VIP_KIND_VI);
	if (__builtin_expect(*vi && out, 1))
		return VIP_SUCCESS;
	if (out)
		*out = NULL;
	return VIP_INVALID_PARAMETER;
}

VIP_RETURN VipSendDone(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi;
	VIP_RETURN ret = get_vi(ViHandle, out, &vi);

	return ret == VIP_SUCCESS ? queue_done(&vi->sq, out, false) : ret;
}

VIP_RETURN VipRecvDone(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi;
	VIP_RETURN ret = get_vi(ViHandle, out, &vi);

	return ret == VIP_SUCCESS ? queue_done(&vi->rq, out, true) : ret;
}

VIP_RETURN VipSendWait(VIP_VI_HANDLE ViHandle, VIP_ULONG Timeout,
		       VIP_DESCRIPTOR **out)
{
	return wait(ViHandle, false, Timeout, out);
}

VIP_RETURN VipRecvWait(VIP_VI_HANDLE ViHandle, VIP_ULONG Timeout,
		       VIP_DESCRIPTOR **out)
{
	return wait(ViHandle, true, Timeout, out);
}
