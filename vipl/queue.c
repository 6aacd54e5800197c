/*
 * queue.c - the data path: VipPostSend/Recv, VipSendDone/RecvDone,
 * VipSendWait/RecvWait.
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
	if (!q->ring)
		return ENOMEM;
	q->mask = n - 1;
	q->head = q->done = q->submitted = q->tail = 0;
	q->cq = cq;
	q->vcq = vcq;
	q->vi = vi;
	q->recv = recv;
	vip_spin_init(&q->lock);
	vip_notify_init(&q->notify);
	return 0;
}

void vip_queue_fini(struct vip_queue *q)
{
	vip_notify_cancel(&q->notify);
	pthread_mutex_destroy(&q->notify.lock);
	free(q->ring);
	q->ring = NULL;
}

static VIP_COLD void submit_held(struct vip_queue *q);

/* seg lies in registered memory of the VI's ptag. */
static bool segment_ok(struct vip_vi *vi, const VIP_DATA_SEGMENT *seg)
{
	const struct vip_mr *mr = vip_mr_find(vi->nic, seg->Handle);
	const uint8_t *p = seg->Data.Address;

	return mr && mr->ptag == vi->ptag && p >= mr->start &&
	       (size_t)(p - mr->start) + seg->Length <= mr->len;
}

/*
 * Providers differ in how precisely they name a local failure (rxe reports
 * a receive too small and a bad memory handle alike, as a local QP
 * operation error). Our own registry tells which it was: a segment outside
 * registered memory of the VI's ptag is a protection error; otherwise a
 * receive that failed locally was too small. Error path only.
 */
static VIP_COLD uint32_t refine_local_error(struct vip_queue *q,
					    const VIP_DESCRIPTOR *d,
					    uint32_t status)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	const uint32_t local = VIP_STATUS_FORMAT_ERROR |
			       VIP_STATUS_PROTECTION_ERROR |
			       VIP_STATUS_LENGTH_ERROR;
	unsigned int i, first = 0;

	if (!(status & local))
		return status;
	if (!q->recv &&
	    (d->CS.Control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV)
		first = 1; /* the address segment names remote memory */
	status &= ~local;
	for (i = first; i < d->CS.SegCount; i++)
		if (!segment_ok(q->vi, &seg[i].Local))
			return status | VIP_STATUS_PROTECTION_ERROR;
	return status | (q->recv ? VIP_STATUS_LENGTH_ERROR
				 : VIP_STATUS_FORMAT_ERROR);
}

/* Fills in the oldest incomplete descriptor. Status goes last so that a
 * program spinning on VIP_STATUS_DONE sees Length and ImmediateData. */
VIP_INLINE void complete(struct vip_queue *q, const struct map_completion *c)
{
	uint32_t status = c->status, errors = status & VIP_STATUS_ERROR_MASK;
	VIP_DESCRIPTOR *d;

	if (q->done == q->submitted)
		return; /* nothing on the device: a stray completion */
	d = q->ring[q->done & q->mask];
	if (errors)
		status = refine_local_error(q, d, status);
	/* An error breaks the connection (the QP is in its error state now;
	 * flushes are the consequence, not a cause): tell the peer, and the
	 * error callback once the connection manager confirms. */
	if (errors && errors != VIP_STATUS_DESC_FLUSHED_ERROR)
		vip_vi_broken(q->vi, d, vip_error_code(d, q->recv, status));
	if (q->recv)
		d->CS.Length = errors ? 0 : c->length;
	if (c->status & VIP_STATUS_IMMEDIATE)
		d->CS.ImmediateData = c->imm;
	__atomic_store_n(&d->CS.Status, vip_desc_status(d, q->recv, status),
			 __ATOMIC_RELEASE);
	q->done++;
	if (q->submitted != q->tail && q->done == q->submitted)
		submit_held(q);
}

void vip_queue_complete(struct vip_queue *q, const struct map_completion *c)
{
	complete(q, c);
}

VIP_INLINE void complete_sink(void *q, const struct map_completion *c)
{
	complete(q, c);
}

/* A queue with a CQ of its own: poll it with q->lock held. */
VIP_INLINE void progress_private(struct vip_queue *q)
{
	while (map_cq_poll(q->cq, MAP_POLL_BATCH, complete_sink, q) ==
	       MAP_POLL_BATCH)
		;
}

void vip_queue_progress(struct vip_queue *q)
{
	if (q->vcq) {
		vip_cq_progress(q->vcq);
		return;
	}
	vip_spin_lock(&q->lock);
	progress_private(q);
	vip_spin_unlock(&q->lock);
}

VIP_INLINE bool aligned(const VIP_DESCRIPTOR *d)
{
	return ((uintptr_t)d & (VIP_DESCRIPTOR_ALIGNMENT - 1)) == 0;
}

/* The descriptor, its control segment and the SegCount segments after
 * it (the post reads them all), must lie in a region registered under
 * handle, in the VI's protection tag. */
VIP_INLINE const struct vip_mr *desc_memory(struct vip_vi *vi,
					    const VIP_DESCRIPTOR *d,
					    VIP_MEM_HANDLE handle)
{
	const struct vip_mr *mr = vip_mr_find(vi->nic, handle);
	const uint8_t *p = (const uint8_t *)d;

	if (mr && mr->ptag == vi->ptag && p >= mr->start &&
	    p + sizeof(VIP_CONTROL_SEGMENT) <= mr->start + mr->len &&
	    d->CS.SegCount <= (size_t)(mr->start + mr->len - p -
				       sizeof(VIP_CONTROL_SEGMENT)) /
				      sizeof(VIP_DESCRIPTOR_SEGMENT))
		return mr;
	return NULL;
}

/* Every local segment of a send lies in registered memory of the VI's
 * ptag (when they are not all in the descriptor's own region). */
static __attribute__((noinline)) bool segments_ok(struct vip_vi *vi,
						   const VIP_DESCRIPTOR *d)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	unsigned int i, first = 0;

	if ((d->CS.Control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV)
		first = 1; /* the address segment names remote memory */
	for (i = first; i < d->CS.SegCount; i++)
		if (!segment_ok(vi, &seg[i].Local))
			return false;
	return true;
}

/* Inline data is copied by the CPU, so the device would not catch a bad
 * handle: send inline only what our registry vouches for. inside: the
 * descriptor's check found every segment in the descriptor's own region. */
VIP_INLINE bool can_inline(struct vip_vi *vi, const VIP_DESCRIPTOR *d,
			   bool inside)
{
	if (d->CS.Length > vi->max_inline ||
	    (d->CS.Control & VIP_CONTROL_OP_MASK) == VIP_CONTROL_OP_RDMAREAD)
		return false;
	return __builtin_expect(inside, 1) || segments_ok(vi, d);
}

/* VIP_CONTROL_QFENCE: the descriptor waits until every earlier one on its
 * queue has completed (verbs' own fence only waits for RDMA reads). */
VIP_INLINE bool fenced(const struct vip_queue *q, const VIP_DESCRIPTOR *d)
{
	return (d->CS.Control & VIP_CONTROL_QFENCE) && q->done != q->submitted;
}

/* Hands held descriptors to the device once their fence has cleared;
 * q->lock held. One that the device refuses completes in error. */
static VIP_COLD void submit_held(struct vip_queue *q)
{
	while (q->submitted != q->tail) {
		VIP_DESCRIPTOR *d = q->ring[q->submitted & q->mask];

		if (fenced(q, d))
			return;
		q->submitted++;
		if (map_qp_post_send(q->vi->qp, d, q,
				     can_inline(q->vi, d, false))) {
			struct map_completion c = {
				.status = VIP_STATUS_TRANSPORT_ERROR,
			};

			vip_queue_complete(q, &c);
		}
	}
}

/* As a VIA NIC's queue did: the previous descriptor still on the queue
 * points at this one (programs may walk CS.Next), and this one ends it. */
VIP_INLINE void link_desc(struct vip_queue *q, VIP_DESCRIPTOR *d,
			  VIP_MEM_HANDLE handle)
{
	if (q->tail != q->head) {
		VIP_DESCRIPTOR *prev = q->ring[(q->tail - 1) & q->mask];

		prev->CS.Next.Address = d;
		prev->CS.NextHandle = handle;
	}
	d->CS.Next.AddressBits = 0;
	d->CS.NextHandle = 0;
}

/* The general path found d in mr (read under epoch): later posts in
 * that region take the fast path. q->lock held. */
VIP_INLINE void cache_region(struct vip_queue *q, const struct vip_mr *mr,
			     uint32_t epoch)
{
	q->mr_key = mr->key;
	q->mr_start = mr->start;
	q->mr_end = mr->start + mr->len;
	q->mr_epoch = epoch;
}

static VIP_RETURN post(struct vip_vi *vi, struct vip_queue *q,
		       VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
		       bool inline_data, const struct vip_mr *mr,
		       uint32_t epoch)
{
	int err = 0;

	vip_spin_lock(&q->lock);
	cache_region(q, mr, epoch);
	/* Programs that spin on Status (progress mode, or a queue the
	 * watcher found unpolled) may never dequeue: make room by dropping
	 * what they already saw complete. */
	if (q->tail - q->head > q->mask && q->head != q->done &&
	    (vi->nic->progress || __atomic_load_n(&q->spun, __ATOMIC_RELAXED)))
		q->head++;
	if (q->tail - q->head > q->mask) {
		vip_spin_unlock(&q->lock);
		return VIP_ERROR_RESOURCE;
	}
	d->CS.Status = 0;
	link_desc(q, d, handle);
	q->ring[q->tail & q->mask] = d;
	/* Behind a held descriptor, or fenced itself: hold it too. */
	if (q->submitted != q->tail || (!q->recv && fenced(q, d))) {
		q->tail++;
		vip_spin_unlock(&q->lock);
		return VIP_SUCCESS;
	}
	err = q->recv ? map_qp_post_recv(vi->qp, d, q)
		      : map_qp_post_send(vi->qp, d, q, inline_data);
	if (!err) {
		q->tail++;
		q->submitted++;
	}
	vip_spin_unlock(&q->lock);
	return err ? vip_from_errno(err) : VIP_SUCCESS;
}

/* [p, p + len) lies in the region cached on q. */
VIP_INLINE bool in_cache(const struct vip_queue *q, const void *p, size_t len)
{
	const uint8_t *b = p;

	return b >= q->mr_start && b <= q->mr_end &&
	       (size_t)(q->mr_end - b) >= len;
}

/* The descriptor lies in the region cached on q, registered under
 * handle, and that region is still what it was when it was cached. */
VIP_INLINE bool desc_cached(const struct vip_vi *vi, const struct vip_queue *q,
			    const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	return handle == q->mr_key &&
	       q->mr_epoch == atomic_load_explicit(&vi->nic->mr_epoch,
						   memory_order_relaxed) &&
	       in_cache(q, d, sizeof(VIP_CONTROL_SEGMENT) +
				      (size_t)d->CS.SegCount *
					      sizeof(VIP_DESCRIPTOR_SEGMENT));
}

/*
 * The fast path of a send (q->lock held): a send of at most one segment,
 * or an RDMA write of one, with or without immediate data, no fence, on a
 * connected VI with nothing held, descriptor and data in the region
 * cached on the queue. That is every check of the general path
 * (vip_desc_check_send_in, desc_memory, can_inline), for the descriptors
 * programs post all the time; anything else takes the general path,
 * which refuses, holds or classifies as before.
 */
VIP_INLINE bool send_is_plain(const struct vip_vi *vi,
			      const struct vip_queue *q,
			      const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	uint16_t control = d->CS.Control;
	unsigned int nseg = d->CS.SegCount, op = control & VIP_CONTROL_OP_MASK;
	const VIP_DATA_SEGMENT *l;
	uint32_t len = 0;

	if (control & ~(VIP_CONTROL_IMMEDIATE | VIP_CONTROL_OP_MASK))
		return false; /* fenced, or reserved bits */
	if (op == VIP_CONTROL_OP_SENDRECV && nseg <= 1)
		l = nseg ? &seg[0].Local : NULL;
	else if (op == VIP_CONTROL_OP_RDMAWRITE && nseg == 2 &&
		 vi->attrs.EnableRdmaWrite)
		l = &seg[1].Local;
	else
		return false;
	if (nseg > vi->max_seg || !desc_cached(vi, q, d, handle))
		return false;
	if (l) {
		if (l->Handle != handle || !in_cache(q, l->Data.Address,
						     l->Length))
			return false;
		len = l->Length;
	}
	return len == d->CS.Length && len <= vi->attrs.MaxTransferSize &&
	       atomic_load_explicit(&vi->state, memory_order_relaxed) ==
		       VIP_STATE_CONNECTED &&
	       q->tail - q->head <= q->mask && q->submitted == q->tail;
}

/* Ring bookkeeping and the device's post for a descriptor the fast path
 * checked; q->lock held. */
VIP_INLINE VIP_RETURN post_plain(struct vip_vi *vi, struct vip_queue *q,
				  VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	int err;

	d->CS.Status = 0;
	link_desc(q, d, handle);
	q->ring[q->tail & q->mask] = d;
	/* The data lies in registered memory of the VI's ptag (the cached
	 * region), so it may go inline. */
	err = q->recv ? map_qp_post_recv(vi->qp, d, q)
		      : map_qp_post_plain(vi->qp, d, q,
					  d->CS.Length <= vi->max_inline);
	if (__builtin_expect(err, 0))
		return vip_from_errno(err);
	q->tail++;
	q->submitted++;
	return VIP_SUCCESS;
}

/* Every check, a region table lookup, and holding: what the fast path
 * does not take. */
static __attribute__((noinline)) VIP_RETURN
post_send_general(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	uint32_t epoch = atomic_load_explicit(&vi->nic->mr_epoch,
					      memory_order_acquire);
	struct vip_desc_region region;
	const struct vip_mr *mr;
	VIP_VI_STATE state;
	VIP_RETURN ret;
	bool inside;

	if (!(mr = desc_memory(vi, d, handle)))
		return VIP_INVALID_PARAMETER;
	region.key = mr->key;
	region.start = mr->start;
	region.len = mr->len;
	ret = vip_desc_check_send_in(d, vi->max_seg,
				     (uint32_t)vi->attrs.MaxTransferSize,
				     &region, &inside);
	if (ret != VIP_SUCCESS) {
		d->CS.Status = VIP_STATUS_FORMAT_ERROR;
		return ret;
	}
	/* RDMA is the VI's to allow (vipl-api.md section 3, "RDMA"). */
	switch (d->CS.Control & VIP_CONTROL_OP_MASK) {
	case VIP_CONTROL_OP_RDMAWRITE:
		if (!vi->attrs.EnableRdmaWrite)
			return VIP_INVALID_PARAMETER;
		break;
	case VIP_CONTROL_OP_RDMAREAD:
		if (!vi->attrs.EnableRdmaRead)
			return VIP_INVALID_RDMAREAD;
		break;
	}
	/* A VI in the error state takes the descriptor and flushes it. */
	state = atomic_load_explicit(&vi->state, memory_order_relaxed);
	if (state != VIP_STATE_CONNECTED && state != VIP_STATE_ERROR)
		return VIP_INVALID_STATE;
	return post(vi, &vi->sq, d, handle, can_inline(vi, d, inside), mr,
		    epoch);
}

VIP_RETURN VipPostSend(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR *d,
		       VIP_MEM_HANDLE MemoryHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_queue *q;
	VIP_RETURN ret;

	if (!vi || !d || !aligned(d))
		return VIP_INVALID_PARAMETER;
	q = &vi->sq;
	vip_spin_lock(&q->lock);
	if (__builtin_expect(send_is_plain(vi, q, d, MemoryHandle), 1)) {
		ret = post_plain(vi, q, d, MemoryHandle);
		vip_spin_unlock(&q->lock);
		return ret;
	}
	vip_spin_unlock(&q->lock);
	return post_send_general(vi, d, MemoryHandle);
}

/* A receive's only format rules: no operation or reserved bits, at most
 * max_seg segments (vip_desc_check_recv); the device checks the rest. */
VIP_INLINE bool recv_is_plain(const struct vip_vi *vi,
			      const struct vip_queue *q,
			      const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	return !(d->CS.Control & (VIP_CONTROL_RESERVED | VIP_CONTROL_OP_MASK)) &&
	       d->CS.SegCount <= vi->max_seg && desc_cached(vi, q, d, handle) &&
	       q->tail - q->head <= q->mask && q->submitted == q->tail;
}

static __attribute__((noinline)) VIP_RETURN
post_recv_general(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	uint32_t epoch = atomic_load_explicit(&vi->nic->mr_epoch,
					      memory_order_acquire);
	const struct vip_mr *mr;
	VIP_RETURN ret;

	if (!(mr = desc_memory(vi, d, handle)))
		return VIP_INVALID_PARAMETER;
	ret = vip_desc_check_recv(d, vi->max_seg);
	if (ret != VIP_SUCCESS) {
		d->CS.Status = VIP_STATUS_FORMAT_ERROR;
		return ret;
	}
	return post(vi, &vi->rq, d, handle, false, mr, epoch);
}

VIP_RETURN VipPostRecv(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR *d,
		       VIP_MEM_HANDLE MemoryHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_queue *q;
	VIP_RETURN ret;

	if (!vi || !d || !aligned(d))
		return VIP_INVALID_PARAMETER;
	/* Receives may be posted before the VI is connected. */
	q = &vi->rq;
	vip_spin_lock(&q->lock);
	if (__builtin_expect(recv_is_plain(vi, q, d, MemoryHandle), 1)) {
		ret = post_plain(vi, q, d, MemoryHandle);
		vip_spin_unlock(&q->lock);
	} else {
		vip_spin_unlock(&q->lock);
		ret = post_recv_general(vi, d, MemoryHandle);
	}
	/* On a broken connection the descriptor must complete (flushed), but
	 * a provider may only flush its receive queue on a state change (rxe
	 * does): ask again. The connection manager marks a lost connection
	 * before its flush, so a receive that raced that flush is seen here
	 * (the VI's state changes only later). Error path only. */
	if (ret == VIP_SUCCESS &&
	    (atomic_load_explicit(&vi->state, memory_order_relaxed) ==
		     VIP_STATE_ERROR ||
	     (vi->conn && map_conn_lost(vi->conn))))
		map_qp_flush(vi->qp);
	return ret;
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

VIP_INLINE VIP_RETURN queue_done(struct vip_queue *q, VIP_DESCRIPTOR **out)
{
	VIP_DESCRIPTOR *d = NULL;
	bool got;

	vip_spin_lock(&q->lock);
	got = pop(q, &d);
	if (!got && !q->vcq) {
		progress_private(q);
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
	return queue_done(q, out);
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
 * found nothing, so *out is NULL then (VIP_TIMEOUT included). */
static VIP_RETURN wait(struct vip_queue *q, VIP_ULONG timeout,
		       VIP_DESCRIPTOR **out)
{
	struct done_args a = { q, out };

	return vip_wait(q->cq, timeout, attempt_done, &a);
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

	return ret == VIP_SUCCESS ? queue_done(&vi->sq, out) : ret;
}

VIP_RETURN VipRecvDone(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi;
	VIP_RETURN ret = get_vi(ViHandle, out, &vi);

	return ret == VIP_SUCCESS ? queue_done(&vi->rq, out) : ret;
}

VIP_RETURN VipSendWait(VIP_VI_HANDLE ViHandle, VIP_ULONG Timeout,
		       VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi;
	VIP_RETURN ret = get_vi(ViHandle, out, &vi);

	return ret == VIP_SUCCESS ? wait(&vi->sq, Timeout, out) : ret;
}

VIP_RETURN VipRecvWait(VIP_VI_HANDLE ViHandle, VIP_ULONG Timeout,
		       VIP_DESCRIPTOR **out)
{
	struct vip_vi *vi;
	VIP_RETURN ret = get_vi(ViHandle, out, &vi);

	return ret == VIP_SUCCESS ? wait(&vi->rq, Timeout, out) : ret;
}

/* After a reset of its QP (which drops posted work requests without a
 * completion), the receives still outstanding go back to the device in
 * their order. One the device refuses stays posted in our ring only; the
 * next drain completes it flushed. */
void vip_queue_repost(struct vip_queue *q)
{
	uint32_t i;

	vip_spin_lock(&q->lock);
	for (i = q->done; i != q->submitted; i++)
		if (map_qp_post_recv(q->vi->qp, q->ring[i & q->mask], q))
			break;
	vip_spin_unlock(&q->lock);
}
