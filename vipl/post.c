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
		if (!vip_segment_ok(vi, &seg[i].Local))
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
VIP_COLD void vip_queue_submit_held(struct vip_queue *q)
{
	if (q->paused)
		return; /* the connection ended: vip_vi_renew flushes them */
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
				     (vi->conn && map_conn_lost(vi->conn)),
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

static VIP_RETURN post(struct vip_vi *vi, struct vip_queue *q,
		       VIP_DESCRIPTOR *d, VIP_MEM_HANDLE handle,
		       bool inline_data, const struct vip_mr *mr,
		       uint32_t epoch)
{
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
	q->ring[q->tail & q->mask] = d;
	/* Behind a held descriptor, or fenced itself, or a receive while the
	 * QP is replaced (it goes to the new one): hold it too. */
	if (q->submitted != q->tail || q->paused ||
	    (!q->recv && fenced(q, d))) {
		q->tail++;
		vip_spin_unlock(&q->lock);
		return VIP_SUCCESS;
	}
	/* Not while paused: the fast path would use the cache. */
	cache_region(q, mr, epoch);
	err = q->recv ? map_qp_post_recv(vi->qp, d, q)
		      : map_qp_post_send(vi->qp, d, q, inline_data);
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
	/* A VI in the error state takes the descriptor and flushes it; the
	 * state is checked under the queue's lock (post). */
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
 * in their order; q->lock held. One the device refuses, and those after
 * it, stay held in our ring; the next disconnect completes them
 * flushed. */
void vip_queue_repost(struct vip_queue *q, uint32_t from)
{
	for (q->submitted = from; q->submitted != q->tail; q->submitted++)
		if (map_qp_post_recv(q->vi->qp, q->ring[q->submitted & q->mask],
				     q))
			break;
}
