/* twin.c - queue pair steps shared by the raw-verbs twins (see twin.h). */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "twin.h"

static void modify(struct ibv_qp *qp, struct ibv_qp_attr *a, int mask)
{
	int err = ibv_modify_qp(qp, a, mask);

	if (err)
		bench_die("ibv_modify_qp to state %d: %s", a->qp_state,
			  strerror(err));
}

static void cm_attr(struct rdma_cm_id *id, struct ibv_qp_attr *a, int *mask)
{
	if (rdma_init_qp_attr(id, a, mask))
		bench_die("rdma_init_qp_attr: %s", strerror(errno));
}

int twin_iwarp(const struct ibv_qp *qp)
{
	return qp->context->device->transport_type == IBV_TRANSPORT_IWARP;
}

struct ibv_qp *twin_qp_create(struct ibv_pd *pd, struct ibv_cq *send_cq,
			      struct ibv_cq *recv_cq, uint32_t *max_inline)
{
	struct ibv_device_attr da;
	struct ibv_qp_init_attr init = {
		.send_cq = send_cq,
		.recv_cq = recv_cq,
		.cap = {
			.max_send_wr = BENCH_QUEUE_DEPTH,
			.max_recv_wr = BENCH_QUEUE_DEPTH,
			.max_send_sge = BENCH_MAX_SGE,
			.max_recv_sge = BENCH_MAX_SGE,
			.max_inline_data = BENCH_MAX_INLINE,
		},
		.qp_type = IBV_QPT_RC,
	};
	struct ibv_qp *qp;

	/* No more segments than the device has (siw: 6). */
	if (!ibv_query_device(pd->context, &da) &&
	    da.max_sge < BENCH_MAX_SGE) {
		init.cap.max_send_sge = (uint32_t)da.max_sge;
		init.cap.max_recv_sge = (uint32_t)da.max_sge;
	}
	qp = ibv_create_qp(pd, &init);
	if (!qp) {
		/* siw takes 80 bytes inline; as libvipl, a device without
		 * inline support gets none. */
		init.cap.max_inline_data = 80;
		qp = ibv_create_qp(pd, &init);
	}
	if (!qp) {
		init.cap.max_inline_data = 0;
		qp = ibv_create_qp(pd, &init);
	}
	if (!qp)
		bench_die("ibv_create_qp: %s", strerror(errno));
	if (max_inline)
		*max_inline = init.cap.max_inline_data;
	return qp;
}

void twin_qp_init(struct ibv_qp *qp, int access)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };

	if (twin_iwarp(qp))
		return; /* the connection manager moves it */
	modify(qp, &a, IBV_QP_STATE);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = 1;
	a.qp_access_flags = access;
	modify(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT |
			       IBV_QP_ACCESS_FLAGS);
}

void twin_qp_rtr_rts(struct ibv_qp *qp, struct rdma_cm_id *id)
{
	struct ibv_qp_attr a;
	int mask;

	if (twin_iwarp(qp))
		return; /* rdma_cm moves it to RTS as the connection forms */
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	cm_attr(id, &a, &mask);
	a.min_rnr_timer = BENCH_MIN_RNR_TIMER;
	modify(qp, &a, mask | IBV_QP_MIN_RNR_TIMER);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	cm_attr(id, &a, &mask);
	a.rnr_retry = BENCH_RNR_RETRY;
	/* rdma_cm asks for 2.1 s per try on RoCE; libvipl caps it. */
	if (!a.timeout || a.timeout > BENCH_ACK_TIMEOUT_MAX)
		a.timeout = BENCH_ACK_TIMEOUT_MAX;
	modify(qp, &a, mask | IBV_QP_RNR_RETRY | IBV_QP_TIMEOUT);
}

void twin_conn_param(struct rdma_conn_param *p, const void *priv,
		     uint8_t len, uint8_t rd_atom, const struct ibv_qp *qp)
{
	memset(p, 0, sizeof(*p));
	p->private_data = priv;
	p->private_data_len = len;
	p->responder_resources = rd_atom;
	p->initiator_depth = rd_atom;
	p->retry_count = BENCH_RETRY_COUNT;
	p->rnr_retry_count = BENCH_RNR_RETRY;
	p->qp_num = qp->qp_num;
}
