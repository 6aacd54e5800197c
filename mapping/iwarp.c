/*
 * iwarp.c - immediate data where the transport has none (iWARP).
 *
 * iWARP (siw, and the NICs it stands for) sends neither immediate data
 * nor an RDMA write with immediate data. On such a device every send
 * carries an 8-byte header of ours in front of the program's segments,
 * and every receive takes it into a slot of ours in front of the
 * program's: the program's data still goes straight from and into its
 * own buffers. The header says whether the message has immediate data,
 * and whether it stands for an RDMA write with immediate data: that is
 * posted as the write (which completes the descriptor) followed by an
 * unsignaled send of the header alone, which consumes the peer's receive
 * once the write's data is placed (iWARP delivers a send only after the
 * writes before it). Both ends of a connection are on one transport, so
 * both speak this.
 *
 * Work request ids: bit 0 marks that companion send (its completion, which
 * only an error makes, is dropped: the write's completes the descriptor);
 * bits 48-63 hold a receive's slot + 1. The rest is the caller's cookie.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hotpath.h"

#define IW_MAGIC 0x56490000u /* "VI" */
#define IW_IMM 0x1u /* imm holds the sender's ImmediateData */
#define IW_WRITE 0x2u /* the message stands for an RDMA write's data */
#define IW_COMPANION 1u
#define IW_SLOT_SHIFT 48
#define IW_COOKIE_MASK ((UINT64_C(1) << IW_SLOT_SHIFT) - 2)

struct map_iw_hdr {
	uint32_t flags; /* IW_MAGIC | IW_*, network order */
	uint32_t imm; /* network order */
};

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static unsigned int bucket(uint32_t qp_num)
{
	return qp_num % MAP_IW_BUCKETS;
}

int map_iw_attach(struct map_qp *qp, struct map_pd *pd, uint32_t send_wr,
		  uint32_t recv_wr)
{
	struct map_dev *dev = pd->dev;
	struct map_iw *iw = calloc(1, sizeof(*iw));
	size_t ns = pow2_at_least(send_wr), nr = pow2_at_least(recv_wr);
	size_t len = (ns + nr) * sizeof(struct map_iw_hdr);
	int err;

	if (!iw)
		return ENOMEM;
	if (nr >= (UINT64_C(1) << (64 - IW_SLOT_SHIFT)) - 1 ||
	    posix_memalign(&iw->mem, 4096, len)) {
		free(iw);
		return ENOMEM;
	}
	memset(iw->mem, 0, len);
	iw->mr = ibv_reg_mr(pd->pd, iw->mem, len, IBV_ACCESS_LOCAL_WRITE);
	if (!iw->mr) {
		err = errno ? errno : ENOMEM;
		free(iw->mem);
		free(iw);
		return err;
	}
	iw->send = iw->mem;
	iw->recv = iw->send + ns;
	iw->send_mask = (uint32_t)ns - 1;
	iw->recv_mask = (uint32_t)nr - 1;
	iw->qp_num = qp->qp->qp_num;
	iw->dev = dev;
	pthread_mutex_lock(&dev->iw_lock);
	iw->next = dev->iw_table[bucket(iw->qp_num)];
	dev->iw_table[bucket(iw->qp_num)] = iw;
	pthread_mutex_unlock(&dev->iw_lock);
	qp->iw = iw;
	return 0;
}

/* After the QP is destroyed: a completion of it still in a CQ finds no
 * slot and is dropped (it belongs to no descriptor posted since). */
void map_iw_detach(struct map_iw *iw)
{
	struct map_dev *dev = iw->dev;
	struct map_iw **pp;

	pthread_mutex_lock(&dev->iw_lock);
	for (pp = &dev->iw_table[bucket(iw->qp_num)]; *pp; pp = &(*pp)->next)
		if (*pp == iw) {
			*pp = iw->next;
			break;
		}
	pthread_mutex_unlock(&dev->iw_lock);
	ibv_dereg_mr(iw->mr);
	free(iw->mem);
	free(iw);
}

/* The next send header (the queue's lock held: one poster at a time). It
 * is reused only once the device has sent it: the ring has a slot for
 * every work request the send queue can hold. */
static struct ibv_sge header(struct map_iw *iw, uint32_t flags, uint32_t imm)
{
	struct map_iw_hdr *h = &iw->send[iw->send_next++ & iw->send_mask];
	struct ibv_sge sge = { (uintptr_t)h, sizeof(*h), iw->mr->lkey };

	h->flags = htonl(IW_MAGIC | flags);
	h->imm = htonl(imm);
	return sge;
}

/*
 * Copies the segments that hold data into out; returns how many. A
 * zero-length segment carries nothing, and siw (6.1 at least) cannot send
 * one that has data after it: its transmit loop reads the memory of a
 * segment it never looked up (the key of an empty one is not checked),
 * a NULL pointer in the kernel, and the machine's RDMA stops.
 */
static int nonempty_segs(struct ibv_sge *out, const struct map_seg *seg,
			 unsigned int nseg)
{
	unsigned int i;
	int n = 0;

	for (i = 0; i < nseg; i++)
		if (seg[i].len)
			out[n++] = (struct ibv_sge){ seg[i].addr, seg[i].len,
						     seg[i].key };
	return n;
}

int map_iw_post_send(struct map_qp *qp, const struct map_send *s, void *cookie,
		     bool inline_data)
{
	const VIP_DESCRIPTOR_SEGMENT *ds = map_desc_segs(s->desc);
	struct ibv_sge sge[MAP_MAX_SGE + 1], companion_sge;
	struct ibv_send_wr wr[2], *bad;
	uint16_t control = s->control;
	bool imm = control & VIP_CONTROL_IMMEDIATE;
	uint32_t data = imm ? s->desc->CS.ImmediateData : 0;

	memset(wr, 0, sizeof(wr));
	wr[0].wr_id = (uintptr_t)cookie;
	wr[0].send_flags = IBV_SEND_SIGNALED;
	if (control & VIP_CONTROL_QFENCE)
		wr[0].send_flags |= IBV_SEND_FENCE;
	if (inline_data)
		wr[0].send_flags |= IBV_SEND_INLINE;
	switch (control & VIP_CONTROL_OP_MASK) {
	case VIP_CONTROL_OP_RDMAWRITE:
	case VIP_CONTROL_OP_RDMAREAD:
		break;
	default:
		if (s->nseg > MAP_MAX_SGE)
			return EINVAL;
		sge[0] = header(qp->iw, imm ? IW_IMM : 0, data);
		wr[0].sg_list = sge;
		wr[0].num_sge = 1 + nonempty_segs(&sge[1], s->seg, s->nseg);
		wr[0].opcode = IBV_WR_SEND;
		return ibv_post_send(qp->qp, wr, &bad);
	}
	if (s->nseg > MAP_MAX_SGE)
		return EINVAL;
	wr[0].sg_list = sge;
	wr[0].num_sge = nonempty_segs(sge, s->seg, s->nseg);
	wr[0].wr.rdma.remote_addr = ds[0].Remote.Data.AddressBits;
	wr[0].wr.rdma.rkey = ds[0].Remote.Handle;
	if ((control & VIP_CONTROL_OP_MASK) == VIP_CONTROL_OP_RDMAREAD) {
		wr[0].opcode = IBV_WR_RDMA_READ;
		wr[0].send_flags &= ~IBV_SEND_INLINE;
		return ibv_post_send(qp->qp, wr, &bad);
	}
	wr[0].opcode = IBV_WR_RDMA_WRITE;
	if (imm) {
		companion_sge = header(qp->iw, IW_IMM | IW_WRITE, data);
		wr[0].next = &wr[1];
		wr[1].wr_id = (uintptr_t)cookie | IW_COMPANION;
		wr[1].sg_list = &companion_sge;
		wr[1].num_sge = 1;
		wr[1].opcode = IBV_WR_SEND;
		if (qp->max_inline >= sizeof(struct map_iw_hdr))
			wr[1].send_flags = IBV_SEND_INLINE;
	}
	return ibv_post_send(qp->qp, wr, &bad);
}

int map_iw_post_recv(struct map_qp *qp, const VIP_DESCRIPTOR *desc,
		     unsigned int nseg, void *cookie, uint64_t *cap)
{
	const VIP_DESCRIPTOR_SEGMENT *ds = map_desc_segs(desc);
	struct map_iw *iw = qp->iw;
	uint32_t slot = iw->recv_next++ & iw->recv_mask;
	struct ibv_sge sge[MAP_MAX_SGE + 1];
	struct ibv_recv_wr wr, *bad;
	uint64_t total = 0;
	unsigned int i;

	if (nseg > MAP_MAX_SGE)
		return EINVAL;
	sge[0].addr = (uintptr_t)&iw->recv[slot];
	sge[0].length = sizeof(struct map_iw_hdr);
	sge[0].lkey = iw->mr->lkey;
	for (i = 0; i < nseg; i++) {
		sge[i + 1].addr = ds[i].Local.Data.AddressBits;
		sge[i + 1].length = ds[i].Local.Length;
		sge[i + 1].lkey = ds[i].Local.Handle;
		total += ds[i].Local.Length;
	}
	*cap = total;
	wr.wr_id = (uintptr_t)cookie | (uint64_t)(slot + 1) << IW_SLOT_SHIFT;
	wr.next = NULL;
	wr.sg_list = sge;
	wr.num_sge = (int)nseg + 1;
	return ibv_post_recv(qp->qp, &wr, &bad);
}

void map_iw_attempting(struct map_qp *qp, bool on)
{
	if (qp->iw)
		atomic_store(&qp->iw->attempting, on);
	/* Failed or not, the attempt took the QP out of INIT. */
	if (qp->iw && on)
		qp->left_init = true;
}

/* Whether a completion in error is a flush of a failed attempt's QP
 * (map_iw_attempting): the error path only, so the table lock is fine. */
static bool attempt_flush(struct map_dev *dev, const struct ibv_wc *wc)
{
	struct map_iw *iw;
	bool drop = false;

	if (wc->status != IBV_WC_WR_FLUSH_ERR)
		return false;
	pthread_mutex_lock(&dev->iw_lock);
	for (iw = dev->iw_table[bucket(wc->qp_num)]; iw; iw = iw->next)
		if (iw->qp_num == wc->qp_num) {
			drop = atomic_load(&iw->attempting);
			break;
		}
	pthread_mutex_unlock(&dev->iw_lock);
	return drop;
}

/* A receive that completed: its header, read from the slot it named. False
 * when its QP is gone (a completion of a QP the VI had before). */
static bool read_header(struct map_dev *dev, const struct ibv_wc *wc,
			struct map_completion *c)
{
	uint32_t slot = (uint32_t)(wc->wr_id >> IW_SLOT_SHIFT);
	struct map_iw_hdr h = { 0, 0 };
	struct map_iw *iw;
	bool found = false;

	pthread_mutex_lock(&dev->iw_lock);
	for (iw = dev->iw_table[bucket(wc->qp_num)]; iw; iw = iw->next)
		if (iw->qp_num == wc->qp_num) {
			if (slot && slot - 1 <= iw->recv_mask) {
				h = iw->recv[slot - 1];
				found = true;
			}
			break;
		}
	pthread_mutex_unlock(&dev->iw_lock);
	if (!iw)
		return false;
	h.flags = ntohl(h.flags);
	/* Not our header: a peer that does not speak it. */
	if (!found || wc->byte_len < sizeof(h) ||
	    (h.flags & 0xffff0000u) != IW_MAGIC) {
		c->status = VIP_STATUS_TRANSPORT_ERROR;
		c->length = 0;
		return true;
	}
	c->length = wc->byte_len - (uint32_t)sizeof(h);
	if (h.flags & IW_IMM) {
		c->status |= VIP_STATUS_IMMEDIATE;
		c->imm = ntohl(h.imm);
	}
	/* As verbs' receive of an RDMA write with immediate data: none of
	 * its bytes went into the receive's segments. */
	if (h.flags & IW_WRITE) {
		c->status |= VIP_STATUS_OP_REMOTE_RDMA_WRITE;
		c->length = 0;
	}
	return true;
}

int map_iw_cq_poll(struct map_cq *cq, int max,
		   void (*sink)(void *arg, const struct map_completion *c),
		   void *arg)
{
	struct ibv_wc wc[MAP_POLL_BATCH];
	int i, n;

	if (max > MAP_POLL_BATCH)
		max = MAP_POLL_BATCH;
	n = ibv_poll_cq(cq->cq, max, wc);
	if (n < 0)
		return -EIO;
	for (i = 0; i < n; i++) {
		struct map_completion c = {
			.cookie = (void *)(uintptr_t)(wc[i].wr_id &
						      IW_COOKIE_MASK),
			.length = wc[i].byte_len,
			.qp_num = wc[i].qp_num,
		};

		if (wc[i].wr_id & IW_COMPANION)
			continue;
		if (wc[i].status != IBV_WC_SUCCESS) {
			if (attempt_flush(cq->dev, &wc[i]))
				continue;
			c.status = map_wc_status_to_vip(wc[i].status);
		} else if ((wc[i].opcode & IBV_WC_RECV) &&
			 !read_header(cq->dev, &wc[i], &c))
			continue;
		sink(arg, &c);
	}
	return n;
}
