/*
 * post.c - the data path's way in: VipPostSend, VipPostRecv.
 *
 * A post takes the fast path when its descriptor is one programs post all
 * the time and lies, with its data, in the region cached on the queue
 * (every check made on that region, no table lookup); anything else takes
 * the general path: the region table, every check, fences and held
 * descriptors. Either appends to the queue's ring (queue.c) under its
 * lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

/* mapping's post, inline: the call of every message */
#include "hotpath.h"

VIP_INLINE bool aligned(const VIP_DESCRIPTOR *d)
{
	return ((uintptr_t)d & (VIP_DESCRIPTOR_ALIGNMENT - 1)) == 0;
}

/*
 * A descriptor is the program's memory: the program, or a peer allowed to
 * RDMA-write it, may change any field while we look. Every post reads
 * each field once, checks what it read, and builds the work request (and
 * what its completion will need, struct vip_posted) from that copy alone.
 */

/* The descriptor's control segment, and the *nseg segments after it
 * (CS.SegCount, read here once), lie in a region registered under handle,
 * in the VI's protection tag. */
VIP_INLINE const struct vip_mr *desc_memory(struct vip_vi *vi,
					    const VIP_DESCRIPTOR *d,
					    VIP_MEM_HANDLE handle,
					    unsigned int *nseg)
{
	const struct vip_mr *mr = vip_mr_find(vi->nic, handle);
	const uint8_t *p = (const uint8_t *)d;

	if (!mr || mr->ptag != vi->ptag || p < mr->start ||
	    p + sizeof(VIP_CONTROL_SEGMENT) > mr->start + mr->len)
		return NULL;
	*nseg = d->CS.SegCount;
	if (*nseg > (size_t)(mr->start + mr->len - p -
			     sizeof(VIP_CONTROL_SEGMENT)) /
			    sizeof(VIP_DESCRIPTOR_SEGMENT))
		return NULL;
	return mr;
}

/* Every local segment of a send lies in registered memory of the VI's
 * ptag (when they are not all in the descriptor's own region). */
static __attribute__((noinline)) bool segments_ok(struct vip_vi *vi,
						   const struct map_send *s)
{
	unsigned int i;

	for (i = 0; i < s->nseg; i++)
		if (!vip_range_ok(vi, s->seg[i].key, s->seg[i].addr,
				  s->seg[i].len))
			return false;
	return true;
}

/* Inline data is copied by the CPU, so the device would not catch a bad
 * handle: send inline only what our registry vouches for. inside: the
 * descriptor's check found every segment in the descriptor's own region. */
VIP_INLINE bool can_inline(struct vip_vi *vi, const struct vip_send_copy *c,
			   bool inside)
{
	if (c->length > vi->max_inline ||
	    (c->s.control & VIP_CONTROL_OP_MASK) == VIP_CONTROL_OP_RDMAREAD)
		return false;
	return __builtin_expect(inside, 1) || segments_ok(vi, &c->s);
}

/* VIP_CONTROL_QFENCE: the descriptor waits until every earlier one on its
 * queue has completed (verbs' own fence only waits for RDMA reads). */
VIP_INLINE bool fenced(const struct vip_queue *q, uint16_t control)
{
	return (control & VIP_CONTROL_QFENCE) && q->done != q->submitted;
}

#define HELD_CHANGED (-1) /* submit_one: the held send no longer checks */

/* A held send, checked when posted, is read and checked again now, as if
 * posted now: it may have changed meanwhile. Its segment count may not
 * (the post checked that many segments lie in registered memory). 0,
 * HELD_CHANGED, or the device's errno value. */
static VIP_COLD int submit_one(struct vip_queue *q, VIP_DESCRIPTOR *d,
			       struct vip_posted *p)
{
	struct vip_vi *vi = q->vi;
	struct vip_send_copy c;

	if (q->recv)
		return map_qp_post_recv(vi->qp, d, p->nseg, q, &p->cap);
	if (!vip_desc_read_send(d, p->nseg, vi->max_seg, &c) ||
	    c.s.control != p->control || d->CS.SegCount != p->nseg ||
	    vip_desc_check_copy(&c, vi->max_seg,
				(uint32_t)vi->attrs.MaxTransferSize, NULL,
				NULL) != VIP_SUCCESS)
		return HELD_CHANGED;
	return map_qp_post_send(vi->qp, &c.s, q, can_inline(vi, &c, false));
}

/* Hands held descriptors to the device once their fence has cleared;
 * q->lock held. One that the device refuses completes in error. */
VIP_COLD void vip_queue_submit_held(struct vip_queue *q)
{
	if (q->paused)
		return; /* the connection ended: vip_vi_renew flushes them */
	while (q->submitted != q->tail) {
		uint32_t i = q->submitted & q->mask;
		int err;

		if (fenced(q, q->posted[i].control))
			return;
		q->submitted++;
		err = submit_one(q, q->ring[i], &q->posted[i]);
		if (err && q->done != q->submitted - 1) {
			/* Its error is its own completion, in its turn: once
			 * those before it on the device complete (complete()
			 * calls us again then). */
			q->submitted--;
			return;
		}
		if (err) {
			struct map_completion c = {
				.status = err == HELD_CHANGED
						  ? VIP_STATUS_FORMAT_ERROR
						  : VIP_STATUS_TRANSPORT_ERROR,
				.qp_num = q->qp_num,
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

/*
 * After a receive was posted (q->lock held). On a broken connection the
 * descriptor must complete (flushed), but a provider may only flush its
 * receive queue on a state change (rxe does): ask again. The connection
 * manager marks a lost connection before its flush, so a receive that
 * raced that flush is seen here (the VI's state changes only later).
 * Under the lock, the connection and the QP are the VI's current ones; a
 * paused queue's QP is on its way out. Error path only.
 */
VIP_INLINE void recv_flush_if_broken(struct vip_vi *vi, struct vip_queue *q)
{
	if (__builtin_expect(atomic_load_explicit(&vi->state,
						  memory_order_relaxed) ==
					     VIP_STATE_ERROR ||
				     (vi->conn && map_conn_lost_now(vi->conn)),
			     0) &&
	    !q->paused)
		map_qp_flush(vi->qp);
}

/* A VI's state lets a send reach the device (q->lock held): connected,
 * or in error (the descriptor is flushed), never while its QP is being
 * replaced. */
VIP_INLINE bool send_allowed(const struct vip_vi *vi,
			     const struct vip_queue *q)
{
	int state = atomic_load_explicit(&vi->state, memory_order_relaxed);

	return (state == VIP_STATE_CONNECTED || state == VIP_STATE_ERROR) &&
	       !q->paused;
}

/* The general path's post: s is the checked send (NULL for a receive), p
 * what its completion needs. */
static VIP_RETURN post(struct vip_vi *vi, struct vip_queue *q,
		       VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
		       const struct map_send *s, struct vip_posted p,
		       bool inline_data, const struct vip_mr *mr,
		       uint32_t epoch)
{
	uint32_t slot;
	int err = 0;

	vip_spin_lock(&q->lock);
	/* Checked here, under the lock the disconnect takes to change it:
	 * a send refused is never handed to the device. */
	if (!q->recv && !send_allowed(vi, q)) {
		vip_spin_unlock(&q->lock);
		return VIP_INVALID_STATE;
	}
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
	slot = q->tail & q->mask;
	q->ring[slot] = d;
	q->posted[slot] = p;
	/* The device would never complete it (map_qp_flushes_once): it
	 * completes flushed now, in its turn. */
	if (__builtin_expect(q->stranded, 0)) {
		q->tail++;
		vip_spin_unlock(&q->lock);
		vip_queue_strand(q, NULL);
		return VIP_SUCCESS;
	}
	/* Behind a held descriptor, or fenced itself, or a receive while the
	 * QP is replaced (it goes to the new one): hold it too. */
	if (q->submitted != q->tail || q->paused ||
	    (!q->recv && fenced(q, p.control))) {
		q->tail++;
		vip_spin_unlock(&q->lock);
		return VIP_SUCCESS;
	}
	/* Not while paused: the fast path would use the cache. Nor where
	 * the device's posts need more than the fast path's (iWARP). */
	if (map_qp_plain_ok(vi->qp))
		cache_region(q, mr, epoch);
	err = q->recv ? map_qp_post_recv(vi->qp, d, p.nseg, q,
					 &q->posted[slot].cap)
		      : map_qp_post_send(vi->qp, s, q, inline_data);
	if (!err) {
		q->tail++;
		q->submitted++;
		if (q->recv)
			recv_flush_if_broken(vi, q);
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

/* The descriptor and its nseg segments lie in the region cached on q,
 * registered under handle, and that region is still what it was when it
 * was cached. */
VIP_INLINE bool desc_cached(const struct vip_vi *vi, const struct vip_queue *q,
			    const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
			    unsigned int nseg)
{
	return handle == q->mr_key &&
	       q->mr_epoch == atomic_load_explicit(&vi->nic->mr_epoch,
						   memory_order_relaxed) &&
	       in_cache(q, d, sizeof(VIP_CONTROL_SEGMENT) +
				      (size_t)nseg *
					      sizeof(VIP_DESCRIPTOR_SEGMENT));
}

/*
 * The fast path of a send (q->lock held): a send of at most one segment,
 * or an RDMA write of one, with or without immediate data, no fence, on a
 * connected VI with nothing held, descriptor and data in the region
 * cached on the queue. That is every check of the general path
 * (vip_desc_check_copy, desc_memory, can_inline), for the descriptors
 * programs post all the time; anything else takes the general path,
 * which refuses, holds or classifies as before. It fills in s (and l, its
 * one segment) as it reads: what it checked is what is posted.
 */
VIP_INLINE bool send_is_plain(const struct vip_vi *vi,
			      const struct vip_queue *q,
			      const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
			      struct map_send *s, struct map_seg *l,
			      unsigned int *segcount)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	uint16_t control = d->CS.Control;
	unsigned int nseg = d->CS.SegCount, op = control & VIP_CONTROL_OP_MASK;
	const VIP_DATA_SEGMENT *ds;

	if (control & ~(VIP_CONTROL_IMMEDIATE | VIP_CONTROL_OP_MASK))
		return false; /* fenced, or reserved bits */
	if (op == VIP_CONTROL_OP_SENDRECV && nseg <= 1)
		ds = nseg ? &seg[0].Local : NULL;
	else if (op == VIP_CONTROL_OP_RDMAWRITE && nseg == 2 &&
		 vi->attrs.EnableRdmaWrite)
		ds = &seg[1].Local;
	else
		return false;
	if (nseg > vi->max_seg || !desc_cached(vi, q, d, handle, nseg))
		return false;
	s->control = control;
	s->desc = d;
	s->seg = l;
	s->nseg = 0;
	l->len = 0;
	if (ds) {
		l->key = ds->Handle;
		l->addr = ds->Data.AddressBits;
		l->len = ds->Length;
		if (l->key != handle ||
		    !in_cache(q, (const void *)(uintptr_t)l->addr, l->len))
			return false;
		s->nseg = 1;
	}
	*segcount = nseg;
	return l->len == d->CS.Length && l->len <= vi->attrs.MaxTransferSize &&
	       atomic_load_explicit(&vi->state, memory_order_relaxed) ==
		       VIP_STATE_CONNECTED &&
	       q->tail - q->head <= q->mask && q->submitted == q->tail;
}

/* Ring bookkeeping for a descriptor a fast path checked; q->lock held.
 * The caller fills in the slot's struct vip_posted. */
VIP_INLINE uint32_t take_slot(struct vip_queue *q, VIP_DESCRIPTOR *d,
			      VIP_MEM_HANDLE handle)
{
	uint32_t slot = q->tail & q->mask;

	d->CS.Status = 0;
	link_desc(q, d, handle);
	q->ring[slot] = d;
	return slot;
}

VIP_INLINE VIP_RETURN posted(struct vip_queue *q, int err)
{
	if (__builtin_expect(err, 0))
		return vip_from_errno(err);
	q->tail++;
	q->submitted++;
	return VIP_SUCCESS;
}

/* The device's post for a send the fast path checked; q->lock held. */
VIP_INLINE VIP_RETURN post_plain_send(struct vip_vi *vi, struct vip_queue *q,
				      VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
				      const struct map_send *s,
				      unsigned int segcount)
{
	uint32_t slot = take_slot(q, d, handle);

	q->posted[slot].control = s->control;
	q->posted[slot].nseg = (uint16_t)segcount;
	/* The data lies in registered memory of the VI's ptag (the cached
	 * region), so it may go inline. */
	return posted(q, map_qp_post_plain(vi->qp, s, q,
					   s->seg[0].len <= vi->max_inline));
}

/* Every check, a region table lookup, and holding: what the fast path
 * does not take. */
static __attribute__((noinline)) VIP_RETURN
post_send_general(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	uint32_t epoch = atomic_load_explicit(&vi->nic->mr_epoch,
					      memory_order_acquire);
	struct vip_desc_region region;
	struct vip_send_copy c;
	const struct vip_mr *mr;
	unsigned int nseg;
	VIP_RETURN ret;
	bool inside = false;

	if (!(mr = desc_memory(vi, d, handle, &nseg)))
		return VIP_INVALID_PARAMETER;
	region.key = mr->key;
	region.start = mr->start;
	region.len = mr->len;
	ret = vip_desc_read_send(d, nseg, vi->max_seg, &c)
		      ? vip_desc_check_copy(&c, vi->max_seg,
					    (uint32_t)vi->attrs.MaxTransferSize,
					    &region, &inside)
		      : VIP_DESCRIPTOR_ERROR;
	if (ret != VIP_SUCCESS) {
		d->CS.Status = VIP_STATUS_FORMAT_ERROR;
		return ret;
	}
	/* RDMA is the VI's to allow (vipl-api.md section 3, "RDMA"). */
	switch (c.s.control & VIP_CONTROL_OP_MASK) {
	case VIP_CONTROL_OP_RDMAWRITE:
		if (!vi->attrs.EnableRdmaWrite)
			return VIP_INVALID_PARAMETER;
		break;
	case VIP_CONTROL_OP_RDMAREAD:
		if (!vi->attrs.EnableRdmaRead)
			return VIP_INVALID_RDMAREAD;
		break;
	}
	/* A VI in the error state takes the descriptor and flushes it; the
	 * state is checked under the queue's lock (post). */
	return post(vi, &vi->sq, d, handle, &c.s,
		    (struct vip_posted){ .control = c.s.control,
					 .nseg = c.segcount,
					 .cap = c.length },
		    can_inline(vi, &c, inside), mr, epoch);
}

VIP_RETURN VipPostSend(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR *d,
		       VIP_MEM_HANDLE MemoryHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_queue *q;
	struct map_send s;
	struct map_seg l;
	unsigned int segcount;
	VIP_RETURN ret;

	if (!vi || !d || !aligned(d))
		return VIP_INVALID_PARAMETER;
	q = &vi->sq;
	vip_spin_lock(&q->lock);
	if (__builtin_expect(send_is_plain(vi, q, d, MemoryHandle, &s, &l,
					   &segcount),
			     1)) {
		ret = post_plain_send(vi, q, d, MemoryHandle, &s, segcount);
		vip_spin_unlock(&q->lock);
		return ret;
	}
	vip_spin_unlock(&q->lock);
	return post_send_general(vi, d, MemoryHandle);
}

/* A receive's only format rules: no operation or reserved bits, at most
 * max_seg segments (vip_recv_check); the device checks the rest. control
 * and nseg: CS.Control and CS.SegCount, read once here. */
VIP_INLINE bool recv_is_plain(const struct vip_vi *vi,
			      const struct vip_queue *q,
			      const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
			      uint16_t *control, unsigned int *nseg)
{
	*control = d->CS.Control;
	*nseg = d->CS.SegCount;
	return !(*control & (VIP_CONTROL_RESERVED | VIP_CONTROL_OP_MASK)) &&
	       *nseg <= vi->max_seg && desc_cached(vi, q, d, handle, *nseg) &&
	       q->tail - q->head <= q->mask && q->submitted == q->tail;
}

static __attribute__((noinline)) VIP_RETURN
post_recv_general(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle)
{
	uint32_t epoch = atomic_load_explicit(&vi->nic->mr_epoch,
					      memory_order_acquire);
	const struct vip_mr *mr;
	unsigned int nseg;
	uint16_t control;
	VIP_RETURN ret;

	if (!(mr = desc_memory(vi, d, handle, &nseg)))
		return VIP_INVALID_PARAMETER;
	control = d->CS.Control;
	ret = vip_recv_check(control, nseg, vi->max_seg);
	if (ret != VIP_SUCCESS) {
		d->CS.Status = VIP_STATUS_FORMAT_ERROR;
		return ret;
	}
	return post(vi, &vi->rq, d, handle, NULL,
		    (struct vip_posted){ .control = control,
					 .nseg = (uint16_t)nseg },
		    false, mr, epoch);
}

VIP_RETURN VipPostRecv(VIP_VI_HANDLE ViHandle, VIP_DESCRIPTOR *d,
		       VIP_MEM_HANDLE MemoryHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_queue *q;
	unsigned int nseg;
	uint16_t control;
	VIP_RETURN ret;

	if (!vi || !d || !aligned(d))
		return VIP_INVALID_PARAMETER;
	/* Receives may be posted before the VI is connected. */
	q = &vi->rq;
	vip_spin_lock(&q->lock);
	if (__builtin_expect(recv_is_plain(vi, q, d, MemoryHandle, &control,
					   &nseg),
			     1)) {
		uint32_t slot = take_slot(q, d, MemoryHandle);

		/* A receive's control is no operation (checked): a completion
		 * looks only at its segments. */
		q->posted[slot].nseg = (uint16_t)nseg;
		ret = posted(q, map_qp_post_recv_plain(vi->qp, d, nseg, q,
						 &q->posted[slot].cap));
		if (ret == VIP_SUCCESS)
			recv_flush_if_broken(vi, q);
		vip_spin_unlock(&q->lock);
		return ret;
	}
	vip_spin_unlock(&q->lock);
	return post_recv_general(vi, d, MemoryHandle);
}


/* After the VI's QP was replaced or reset (which drops posted work
 * requests without a completion), receives from..tail go to the device
 * in their order, as many segments each as were checked when it was
 * posted; q->lock held. One the device refuses, and those after it, stay
 * held in our ring; the next disconnect completes them flushed. */
void vip_queue_repost(struct vip_queue *q, uint32_t from)
{
	for (q->submitted = from; q->submitted != q->tail; q->submitted++) {
		struct vip_posted *p = &q->posted[q->submitted & q->mask];

		if (map_qp_post_recv(q->vi->qp, q->ring[q->submitted & q->mask],
				     p->nseg, q, &p->cap))
			break;
	}
}
