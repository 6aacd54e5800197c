/*
 * hotpath.h - posting and polling, the calls made for every message.
 *
 * They are inline so that a VipPostSend or a VipSendDone is one call into
 * the provider and nothing more: under emulation (qemu TCG) every call and
 * return between our own layers costs more than the work it does
 * (docs/performance.md). Only the VIPL layer's queue code includes this;
 * it still sees map_* functions, not verbs.
 */
#ifndef VIPL_MAPPING_HOTPATH_H
#define VIPL_MAPPING_HOTPATH_H

#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>

#include "cm.h"
#include "internal.h"

#define MAP_POLL_BATCH 16

_Static_assert(IBV_WR_RDMA_WRITE + 1 == IBV_WR_RDMA_WRITE_WITH_IMM &&
		       IBV_WR_SEND + 1 == IBV_WR_SEND_WITH_IMM,
	       "map_qp_post_plain adds the immediate bit to the opcode");

#define MAP_INLINE static inline __attribute__((always_inline))

/* The VIPL layer's checked copy of the local segments is what the device
 * reads: no second copy. */
_Static_assert(sizeof(struct map_seg) == sizeof(struct ibv_sge) &&
		       offsetof(struct map_seg, addr) ==
			       offsetof(struct ibv_sge, addr) &&
		       offsetof(struct map_seg, len) ==
			       offsetof(struct ibv_sge, length) &&
		       offsetof(struct map_seg, key) ==
			       offsetof(struct ibv_sge, lkey),
	       "struct map_seg is a struct ibv_sge");

MAP_INLINE struct ibv_sge *map_sge(struct map_seg *seg)
{
	return (struct ibv_sge *)(void *)seg;
}

MAP_INLINE int map_qp_post_send(struct map_qp *qp, const struct map_send *s,
				void *cookie, bool inline_data)
{
	const VIP_DESCRIPTOR_SEGMENT *ds = map_desc_segs(s->desc);
	struct ibv_send_wr wr, *bad;
	uint16_t control = s->control;
	int imm = control & VIP_CONTROL_IMMEDIATE;

	if (qp->iw)
		return map_iw_post_send(qp, s, cookie, inline_data);
	/* Only the fields an RC/UC post reads (no memset: this is the hot
	 * path, and wr is 100-odd bytes). */
	wr.wr_id = (uintptr_t)cookie;
	wr.next = NULL;
	wr.sg_list = map_sge(s->seg);
	wr.num_sge = s->nseg;
	wr.imm_data = 0;
	wr.send_flags = IBV_SEND_SIGNALED;
	if (control & VIP_CONTROL_QFENCE)
		wr.send_flags |= IBV_SEND_FENCE;
	if (inline_data)
		wr.send_flags |= IBV_SEND_INLINE;
	if (imm)
		wr.imm_data = htonl(s->desc->CS.ImmediateData);

	switch (control & VIP_CONTROL_OP_MASK) {
	case VIP_CONTROL_OP_RDMAWRITE:
		wr.opcode = imm ? IBV_WR_RDMA_WRITE_WITH_IMM : IBV_WR_RDMA_WRITE;
		break;
	case VIP_CONTROL_OP_RDMAREAD:
		wr.opcode = IBV_WR_RDMA_READ;
		break;
	default:
		wr.opcode = imm ? IBV_WR_SEND_WITH_IMM : IBV_WR_SEND;
		break;
	}
	if (wr.opcode != IBV_WR_SEND && wr.opcode != IBV_WR_SEND_WITH_IMM) {
		/* The address segment names the peer's memory. */
		wr.wr.rdma.remote_addr = ds[0].Remote.Data.AddressBits;
		wr.wr.rdma.rkey = ds[0].Remote.Handle;
	}
	return ibv_post_send(qp->qp, &wr, &bad);
}

/* Whether qp takes map_qp_post_plain and map_qp_post_recv_plain: not on
 * iWARP, whose messages carry our header (iwarp.c). */
MAP_INLINE bool map_qp_plain_ok(const struct map_qp *qp)
{
	return !qp->iw;
}

/*
 * The common send, for the VIPL layer's fast path (map_qp_plain_ok): a
 * send of at most one segment or an RDMA write of one (the caller checked
 * which), no fence.
 * The verbs opcodes of these four are 0 to 3: write, write with
 * immediate data, send, send with immediate data.
 */
MAP_INLINE int map_qp_post_plain(struct map_qp *qp, const struct map_send *s,
				 void *cookie, bool inline_data)
{
	uint16_t control = s->control;
	unsigned int imm = !!(control & VIP_CONTROL_IMMEDIATE);
	unsigned int write = control & VIP_CONTROL_OP_RDMAWRITE;
	struct ibv_send_wr wr, *bad;

	wr.wr_id = (uintptr_t)cookie;
	wr.next = NULL;
	wr.sg_list = map_sge(s->seg);
	wr.num_sge = s->nseg;
	wr.send_flags = IBV_SEND_SIGNALED | (inline_data ? IBV_SEND_INLINE : 0);
	wr.imm_data = imm ? htonl(s->desc->CS.ImmediateData) : 0;
	wr.opcode = (enum ibv_wr_opcode)((write ? IBV_WR_RDMA_WRITE
						: IBV_WR_SEND) + imm);
	if (write) {
		const VIP_DESCRIPTOR_SEGMENT *ds = map_desc_segs(s->desc);

		wr.wr.rdma.remote_addr = ds[0].Remote.Data.AddressBits;
		wr.wr.rdma.rkey = ds[0].Remote.Handle;
	}
	return ibv_post_send(qp->qp, &wr, &bad);
}

/* map_conn_lost, inline: every receive post asks it. */
MAP_INLINE bool map_conn_lost_now(struct map_conn *conn)
{
	return atomic_load(&conn->lost);
}

/* nseg: the count the caller checked (at most the QP's max_sge); each
 * segment is read once, into what the device gets, and *cap is what
 * those hold (the bound of the completion's length). For the VIPL layer's
 * fast path (map_qp_plain_ok); map_qp_post_recv takes any QP. */
MAP_INLINE int map_qp_post_recv_plain(struct map_qp *qp,
				      const VIP_DESCRIPTOR *desc,
				      unsigned int nseg, void *cookie,
				      uint64_t *cap)
{
	const VIP_DESCRIPTOR_SEGMENT *ds = map_desc_segs(desc);
	struct ibv_sge sge[MAP_MAX_SGE];
	struct ibv_recv_wr wr, *bad;
	uint64_t total = 0;
	unsigned int i;

	/* Programs receive into one segment nearly always: no loop then. */
	if (__builtin_expect(nseg == 1, 1)) {
		sge[0].addr = ds[0].Local.Data.AddressBits;
		sge[0].length = ds[0].Local.Length;
		sge[0].lkey = ds[0].Local.Handle;
		total = sge[0].length;
	} else {
		for (i = 0; i < nseg; i++) {
			sge[i].addr = ds[i].Local.Data.AddressBits;
			sge[i].length = ds[i].Local.Length;
			sge[i].lkey = ds[i].Local.Handle;
			total += sge[i].length;
		}
	}
	*cap = total;
	wr.wr_id = (uintptr_t)cookie;
	wr.next = NULL;
	wr.sg_list = sge;
	wr.num_sge = (int)nseg;
	return ibv_post_recv(qp->qp, &wr, &bad);
}

MAP_INLINE int map_qp_post_recv(struct map_qp *qp, const VIP_DESCRIPTOR *desc,
				unsigned int nseg, void *cookie, uint64_t *cap)
{
	if (qp->iw)
		return map_iw_post_recv(qp, desc, nseg, cookie, cap);
	return map_qp_post_recv_plain(qp, desc, nseg, cookie, cap);
}

/* What a CQ polled by map_cq_poll can hold: a queue's CQ of its own holds
 * one kind, and a send's completion needs none of a receive's checks. */
enum map_poll_kinds {
	MAP_POLL_SENDS = 1,
	MAP_POLL_RECVS = 2,
	MAP_POLL_ANY = 3,
};

/*
 * Polls up to max (at most MAP_POLL_BATCH) completions and hands each,
 * translated, to sink(arg, c) in order. Inlined with a constant sink and
 * kinds, the two fuse: no array of translated completions. Returns how
 * many, or -EIO.
 */
MAP_INLINE int map_cq_poll(struct map_cq *cq, int max,
			   enum map_poll_kinds kinds,
			   void (*sink)(void *arg,
					const struct map_completion *c),
			   void *arg)
{
	struct ibv_wc wc[MAP_POLL_BATCH];
	int i, n;

	if (__builtin_expect(cq->iwarp, 0))
		return map_iw_cq_poll(cq, max, sink, arg);
	if (max > MAP_POLL_BATCH)
		max = MAP_POLL_BATCH;
	n = ibv_poll_cq(cq->cq, max, wc);
	if (n < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		struct map_completion c = {
			.cookie = (void *)(uintptr_t)wc[i].wr_id,
			.length = wc[i].byte_len,
			.qp_num = wc[i].qp_num,
		};

		if (wc[i].status != IBV_WC_SUCCESS) {
			c.status = map_wc_status_to_vip(wc[i].status);
		} else if (kinds & MAP_POLL_RECVS) {
			/* Only receives carry immediate data in (some
			 * providers flag the sender's completion too). */
			if ((wc[i].opcode & IBV_WC_RECV) &&
			    (wc[i].wc_flags & IBV_WC_WITH_IMM)) {
				c.status |= VIP_STATUS_IMMEDIATE;
				c.imm = ntohl(wc[i].imm_data);
			}
			/* An RDMA write with immediate data consumed a
			 * receive: verbs reports the write's length, but
			 * none of its bytes went into the receive's
			 * segments. */
			if (wc[i].opcode == IBV_WC_RECV_RDMA_WITH_IMM) {
				c.status |= VIP_STATUS_OP_REMOTE_RDMA_WRITE;
				c.length = 0;
			}
		}
		sink(arg, &c);
	}
	return n;
}

#endif
