/*
 * desc.h - what makes a descriptor well formed (vipl-api.md section 1,
 * "Descriptors") and the Status a completed one carries. Pure functions,
 * unit-tested; inline because every post and completion runs them.
 */
#ifndef VIPL_DESC_H
#define VIPL_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mapping.h"
#include "vipl.h"

/* Registered memory, as the checks below see it. */
struct vip_desc_region {
	uint32_t key;
	const uint8_t *start;
	size_t len;
};

/*
 * A send descriptor as read once (mapping.h, struct map_send): the program
 * and a peer that may RDMA-write the descriptor's memory can change it at
 * any moment, so checks and the work request look at this copy only.
 */
struct vip_send_copy {
	struct map_send s;
	uint16_t segcount; /* CS.SegCount, the address segment included */
	uint32_t length; /* CS.Length */
	struct map_seg seg[VIPL_MAX_SEGMENTS];
};

/*
 * Reads d (CS.SegCount read already: nseg) into c, each field once. False,
 * with nothing read past the control segment, for more than max_seg
 * segments (max_seg is at most VIPL_MAX_SEGMENTS).
 */
static inline bool vip_desc_read_send(const VIP_DESCRIPTOR *d,
				      unsigned int nseg, unsigned int max_seg,
				      struct vip_send_copy *c)
{
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	unsigned int i, first = 0;

	c->s.control = d->CS.Control;
	c->s.desc = d;
	c->s.seg = c->seg;
	c->s.nseg = 0;
	c->segcount = (uint16_t)nseg;
	c->length = d->CS.Length;
	if (nseg > max_seg || nseg > VIPL_MAX_SEGMENTS)
		return false;
	/* RDMA: the first segment is the peer's address (the post reads
	 * it: no check does). */
	if ((c->s.control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV &&
	    nseg)
		first = 1;
	for (i = first; i < nseg; i++) {
		c->seg[i - first].addr = seg[i].Local.Data.AddressBits;
		c->seg[i - first].key = seg[i].Local.Handle;
		c->seg[i - first].len = seg[i].Local.Length;
	}
	c->s.nseg = (uint16_t)(nseg - first);
	return true;
}

/*
 * Checks a send read into c. With r, it also tells (*inside) whether every
 * local segment lies in r, in the same pass: r is the descriptor's own
 * region, usually also the data's, and an inline send must know its data
 * is registered (the device does not check inline data).
 */
static inline VIP_RETURN vip_desc_check_copy(const struct vip_send_copy *c,
					     unsigned int max_seg,
					     uint32_t max_transfer,
					     const struct vip_desc_region *r,
					     bool *inside)
{
	uint16_t control = c->s.control;
	uint64_t total = 0;
	unsigned int i;
	bool in = true;

	if (control & VIP_CONTROL_RESERVED)
		return VIP_DESCRIPTOR_ERROR;
	if ((control & VIP_CONTROL_OP_MASK) == VIP_CONTROL_OP_RESERVED)
		return VIP_DESCRIPTOR_ERROR;
	if (c->segcount > max_seg)
		return VIP_DESCRIPTOR_ERROR;
	/* RDMA needs its address segment. */
	if ((control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV &&
	    c->segcount < 1)
		return VIP_DESCRIPTOR_ERROR;
	for (i = 0; i < c->s.nseg; i++) {
		const struct map_seg *l = &c->seg[i];

		total += l->len;
		if (r)
			in = in && l->key == r->key &&
			     l->addr >= (uintptr_t)r->start &&
			     l->addr - (uintptr_t)r->start <= r->len &&
			     l->len <= r->len - (l->addr - (uintptr_t)r->start);
	}
	if (total != c->length || total > max_transfer)
		return VIP_DESCRIPTOR_ERROR;
	if (inside)
		*inside = in;
	return VIP_SUCCESS;
}

/* The same for a descriptor (unit tests): read once, then checked. */
static inline VIP_RETURN vip_desc_check_send_in(const VIP_DESCRIPTOR *d,
						unsigned int max_seg,
						uint32_t max_transfer,
						const struct vip_desc_region *r,
						bool *inside)
{
	struct vip_send_copy c;

	if (!vip_desc_read_send(d, d->CS.SegCount, max_seg, &c))
		return VIP_DESCRIPTOR_ERROR;
	return vip_desc_check_copy(&c, max_seg, max_transfer, r, inside);
}

static inline VIP_RETURN vip_desc_check_send(const VIP_DESCRIPTOR *d,
					     unsigned int max_seg,
					     uint32_t max_transfer)
{
	return vip_desc_check_send_in(d, max_seg, max_transfer, NULL, NULL);
}

/* A receive's CS.Control and CS.SegCount, read once by the caller. */
static inline VIP_RETURN vip_recv_check(uint16_t control, unsigned int nseg,
					unsigned int max_seg)
{
	/* Only the operation can be wrong on a receive: it has none. */
	if (control & (VIP_CONTROL_RESERVED | VIP_CONTROL_OP_MASK))
		return VIP_DESCRIPTOR_ERROR;
	if (nseg > max_seg)
		return VIP_DESCRIPTOR_ERROR;
	return VIP_SUCCESS;
}

static inline VIP_RETURN vip_desc_check_recv(const VIP_DESCRIPTOR *d,
					     unsigned int max_seg)
{
	return vip_recv_check(d->CS.Control, d->CS.SegCount, max_seg);
}

/* The Status of a completed descriptor posted with CS.Control control
 * (checked when posted: its operation is not VIP_CONTROL_OP_RESERVED, so
 * the operation's status bits are its code shifted, as the header has
 * them). */
static inline uint32_t vip_status_of(uint16_t control, bool recv,
				     uint32_t map_status)
{
	_Static_assert(VIP_STATUS_OP_RDMA_WRITE ==
				       (uint32_t)VIP_CONTROL_OP_RDMAWRITE << 17 &&
			       VIP_STATUS_OP_RDMA_READ ==
				       (uint32_t)VIP_CONTROL_OP_RDMAREAD << 17 &&
			       VIP_STATUS_OP_SEND == 0,
		       "send status operations are control operations << 17");
	uint32_t op;

	if (recv)
		op = (map_status & VIP_STATUS_OP_MASK) ? 0 : VIP_STATUS_OP_RECEIVE;
	else
		op = (uint32_t)(control & VIP_CONTROL_OP_MASK) << 17;
	return VIP_STATUS_DONE | op | map_status;
}

/* The same for a descriptor as it is now (any operation). */
static inline uint32_t vip_desc_status(const VIP_DESCRIPTOR *d, bool recv,
				       uint32_t map_status)
{
	static const uint32_t send_op[] = {
		[VIP_CONTROL_OP_SENDRECV] = VIP_STATUS_OP_SEND,
		[VIP_CONTROL_OP_RDMAWRITE] = VIP_STATUS_OP_RDMA_WRITE,
		[VIP_CONTROL_OP_RDMAREAD] = VIP_STATUS_OP_RDMA_READ,
		[VIP_CONTROL_OP_RESERVED] = VIP_STATUS_OP_SEND,
	};
	uint32_t op;

	if (recv)
		op = (map_status & VIP_STATUS_OP_MASK) ? 0 : VIP_STATUS_OP_RECEIVE;
	else
		op = send_op[d->CS.Control & VIP_CONTROL_OP_MASK];
	return VIP_STATUS_DONE | op | map_status;
}

#endif
