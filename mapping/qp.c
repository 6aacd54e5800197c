/* qp.c - VIs as queue pairs: creation, state changes, posting. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/*
 * VIA has a strict "receive before send" rule; verbs retries a send that
 * finds no receive (RNR). We keep a short grace (receiver asks for
 * MIN_RNR_TIMER, about 20 ms, sender retries RNR_RETRY times) so that a
 * receive posted a moment late still works, and a missing one breaks the
 * connection within a bounded time instead of hanging.
 */
#define MIN_RNR_TIMER 22 /* 20.48 ms, IB encoding */
#define RNR_RETRY 6
#define ACK_TIMEOUT_MAX 18

/* Small sends go inline (copied into the WQE): lower latency, and the
 * program may reuse its buffer at once either way. */
#define MAX_INLINE 128

/* RESET then INIT: receives may be posted from INIT on, before a
 * connection exists, as VIPL allows. */
static int to_init(struct map_qp *qp)
{
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_RESET };
	int ret;

	ret = ibv_modify_qp(qp->qp, &attr, IBV_QP_STATE);
	if (ret)
		return ret;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_INIT;
	attr.pkey_index = 0;
	attr.port_num = qp->dev->port;
	attr.qp_access_flags = qp->access;
	ret = ibv_modify_qp(qp->qp, &attr,
			    IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
				    IBV_QP_ACCESS_FLAGS);
	if (!ret)
		qp->left_init = false;
	return ret;
}

int map_qp_create(struct map_pd *pd, struct map_cq *send_cq,
		  struct map_cq *recv_cq, const struct map_qp_cfg *cfg,
		  struct map_qp **out)
{
	struct ibv_qp_init_attr init = {
		.send_cq = send_cq->cq,
		.recv_cq = recv_cq->cq,
		.cap = {
			.max_send_wr = cfg->depth,
			.max_recv_wr = cfg->depth,
			.max_send_sge = cfg->max_sge,
			.max_recv_sge = cfg->max_sge,
		},
	};
	static const uint32_t inline_sizes[] = { MAX_INLINE, 80, 64, 0 };
	struct map_qp *qp;
	size_t i;
	int err;

	/* iWARP has RC only: an unreliable VI runs reliably there, which
	 * VIA allows (it loses nothing it need not), see porting.md. */
	init.qp_type = cfg->level == VIP_SERVICE_UNRELIABLE &&
				       !map_dev_is_iwarp(pd->dev)
			       ? IBV_QPT_UC
			       : IBV_QPT_RC;
	if (cfg->max_sge > MAP_MAX_SGE)
		return EINVAL;
	/* iWARP: our header is a segment of each message, and an RDMA write
	 * with immediate data two work requests (iwarp.c). */
	if (pd->dev->iwarp) {
		init.cap.max_send_wr *= 2;
		init.cap.max_send_sge++;
		init.cap.max_recv_sge++;
	}
	qp = calloc(1, sizeof(*qp));
	if (!qp)
		return ENOMEM;
	qp->dev = pd->dev;
	qp->access = IBV_ACCESS_LOCAL_WRITE;
	if (cfg->rdma_write)
		qp->access |= IBV_ACCESS_REMOTE_WRITE;
	if (cfg->rdma_read)
		qp->access |= IBV_ACCESS_REMOTE_READ;
	/* A device refuses more inline data than it takes (siw: 80 bytes),
	 * or any: ask for less. */
	for (i = 0; i < sizeof(inline_sizes) / sizeof(inline_sizes[0]); i++) {
		init.cap.max_inline_data = inline_sizes[i];
		qp->qp = ibv_create_qp(pd->pd, &init);
		if (qp->qp)
			break;
	}
	if (!qp->qp) {
		err = errno ? errno : ENOMEM;
		free(qp);
		return err;
	}
	qp->max_inline = init.cap.max_inline_data;
	err = pd->dev->iwarp ? map_iw_attach(qp, pd, init.cap.max_send_wr,
					     init.cap.max_recv_wr)
			     : 0;
	if (!err)
		err = to_init(qp);
	if (err) {
		ibv_destroy_qp(qp->qp);
		if (qp->iw)
			map_iw_detach(qp->iw);
		free(qp);
		return err;
	}
	*out = qp;
	return 0;
}

int map_qp_destroy(struct map_qp *qp)
{
	int ret = ibv_destroy_qp(qp->qp);

	if (ret)
		return ret;
	if (qp->iw)
		map_iw_detach(qp->iw);
	free(qp);
	return 0;
}

/* A QP still in INIT keeps its posted receives: nothing to do (a
 * connection attempt refused before it touched the QP, say). */
int map_qp_reset(struct map_qp *qp)
{
	return qp->left_init ? to_init(qp) : 0;
}

bool map_qp_left_init(const struct map_qp *qp)
{
	return qp->left_init;
}

bool map_qp_flushes_once(const struct map_qp *qp)
{
	return qp->iw != NULL;
}

int map_qp_set_access(struct map_qp *qp, bool rdma_write, bool rdma_read)
{
	struct ibv_qp_attr attr = { 0 };
	int access = IBV_ACCESS_LOCAL_WRITE, ret;

	if (rdma_write)
		access |= IBV_ACCESS_REMOTE_WRITE;
	if (rdma_read)
		access |= IBV_ACCESS_REMOTE_READ;
	attr.qp_access_flags = access;
	ret = ibv_modify_qp(qp->qp, &attr, IBV_QP_ACCESS_FLAGS);
	if (!ret)
		qp->access = access;
	return ret;
}

int map_qp_flush(struct map_qp *qp)
{
	struct ibv_qp_attr attr = { .qp_state = IBV_QPS_ERR };

	qp->left_init = true;
	return ibv_modify_qp(qp->qp, &attr, IBV_QP_STATE);
}

/*
 * What a UC queue pair accepts on the way to RTR and RTS. The passive
 * side's rdma_cm id is RC-typed whatever the request said, so the
 * attributes it computes are trimmed to these.
 */
#define UC_RTR_MASK                                                            \
	(IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |        \
	 IBV_QP_RQ_PSN | IBV_QP_ACCESS_FLAGS | IBV_QP_PKEY_INDEX)
#define UC_RTS_MASK (IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_CUR_STATE)

/*
 * The local ACK timeout exponent (4.096 us << t per try). rdma_cm picks
 * 19 on RoCE (2.1 s a try, ~15 s before a send to a vanished host fails);
 * we cap it at ACK_TIMEOUT_MAX (1.07 s a try, ~7.5 s in all), or use
 * VIPL_ACK_TIMEOUT (1-31) for fabrics whose packets live longer.
 */
static uint8_t ack_timeout(uint8_t from_cm)
{
	const char *env = getenv("VIPL_ACK_TIMEOUT");
	long t = env ? strtol(env, NULL, 10) : 0;

	if (t >= 1 && t <= 31)
		return (uint8_t)t;
	return from_cm && from_cm < ACK_TIMEOUT_MAX ? from_cm : ACK_TIMEOUT_MAX;
}

int map_qp_connect(struct map_qp *qp, struct rdma_cm_id *id)
{
	bool uc = qp->qp->qp_type == IBV_QPT_UC;
	struct ibv_qp_attr attr;
	int mask, ret;

	qp->left_init = true;
	/* iWARP's connection manager moves the QP to RTS itself, as the
	 * connection is made (and refuses RTR/RTS from us). */
	if (map_dev_is_iwarp(qp->dev))
		return 0;
	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTR;
	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return errno ? errno : EINVAL;
	/* RNR exists on RC only: UC drops a message with no receive. */
	if (uc) {
		mask &= UC_RTR_MASK;
	} else {
		attr.min_rnr_timer = MIN_RNR_TIMER;
		mask |= IBV_QP_MIN_RNR_TIMER;
	}
	ret = ibv_modify_qp(qp->qp, &attr, mask);
	if (ret)
		return ret;

	memset(&attr, 0, sizeof(attr));
	attr.qp_state = IBV_QPS_RTS;
	ret = rdma_init_qp_attr(id, &attr, &mask);
	if (ret)
		return errno ? errno : EINVAL;
	if (uc) {
		mask &= UC_RTS_MASK;
	} else {
		attr.rnr_retry = RNR_RETRY;
		mask |= IBV_QP_RNR_RETRY;
		attr.timeout = ack_timeout(attr.timeout);
		mask |= IBV_QP_TIMEOUT;
	}

	return ibv_modify_qp(qp->qp, &attr, mask);
}

uint32_t map_qp_num(const struct map_qp *qp)
{
	return qp->qp->qp_num;
}

uint32_t map_qp_max_inline(const struct map_qp *qp)
{
	/* iWARP: our header goes inline with the program's data. */
	if (qp->iw)
		return qp->max_inline > 8 ? qp->max_inline - 8 : 0;
	return qp->max_inline;
}

