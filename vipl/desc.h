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
 * Checks a send. With r, it also tells (*inside) whether every local
 * segment lies in r, in the same pass: r is the descriptor's own region,
 * usually also the data's, and an inline send must know its data is
 * registered (the device does not check inline data).
 */
static inline VIP_RETURN vip_desc_check_send_in(const VIP_DESCRIPTOR *d,
						unsigned int max_seg,
						uint32_t max_transfer,
						const struct vip_desc_region *r,
						bool *inside)
{
	unsigned int nseg = d->CS.SegCount, i, first = 0;
	const VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	uint16_t control = d->CS.Control;
	uint64_t total = 0;
	bool in = true;

	if (control & VIP_CONTROL_RESERVED)
		return VIP_DESCRIPTOR_ERROR;
	if ((control & VIP_CONTROL_OP_MASK) == VIP_CONTROL_OP_RESERVED)
		return VIP_DESCRIPTOR_ERROR;
	if (nseg > max_seg)
		return VIP_DESCRIPTOR_ERROR;
	if ((control & VIP_CONTROL_OP_MASK) != VIP_CONTROL_OP_SENDRECV) {
		/* RDMA: the first segment is the peer's address. */
		if (nseg < 1)
			return VIP_DESCRIPTOR_ERROR;
		first = 1;
	}
	for (i = first; i < nseg; i++) {
		const VIP_DATA_SEGMENT *l = &seg[i].Local;
		const uint8_t *p = l->Data.Address;

		total += l->Length;
		if (r)
			in = in && l->Handle == r->key && p >= r->start &&
			     (size_t)(p - r->start) + l->Length <= r->len;
	}
	if (total != d->CS.Length || total > max_transfer)
		return VIP_DESCRIPTOR_ERROR;
	if (inside)
		*inside = in;
	return VIP_SUCCESS;
}

static inline VIP_RETURN vip_desc_check_send(const VIP_DESCRIPTOR *d,
					     unsigned int max_seg,
					     uint32_t max_transfer)
{
	return vip_desc_check_send_in(d, max_seg, max_transfer, NULL, NULL);
}

static inline VIP_RETURN vip_desc_check_recv(const VIP_DESCRIPTOR *d,
					     unsigned int max_seg)
{
	uint16_t control = d->CS.Control;

	/* Only the operation can be wrong on a receive: it has none. */
	if (control & (VIP_CONTROL_RESERVED | VIP_CONTROL_OP_MASK))
		return VIP_DESCRIPTOR_ERROR;
	if (d->CS.SegCount > max_seg)
		return VIP_DESCRIPTOR_ERROR;
	return VIP_SUCCESS;
}

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
