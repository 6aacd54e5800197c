/*
 * twin.h - what both raw-verbs twins (verbs_bench, verbs_scale) do to a
 * queue pair, as libvipl does it (mapping/qp.c): no libvipl code here.
 */
#ifndef VIPL_BENCH_TWIN_H
#define VIPL_BENCH_TWIN_H

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

/* An RC queue pair of libvipl's default shape (1024 work requests per
 * queue, 16 SGEs, 128 bytes inline asked for; without inline if the
 * device refuses it); *max_inline gets what the device granted. */
/* Whether qp is on an iWARP device: there rdma_cm moves the QP through
 * its states itself (twin_qp_init and twin_qp_rtr_rts do nothing), the
 * active side hears ESTABLISHED with no CONNECT_RESPONSE, and a QP whose
 * connection ended stays in its error state (take a new one). */
int twin_iwarp(const struct ibv_qp *qp);
struct ibv_qp *twin_qp_create(struct ibv_pd *pd, struct ibv_cq *send_cq,
			      struct ibv_cq *recv_cq, uint32_t *max_inline);
/* RESET then INIT on port 1 with these access flags: ready for receives
 * before any connection, as VipCreateVi leaves a VI. */
void twin_qp_init(struct ibv_qp *qp, int access);
/* RTR then RTS with the attributes rdma_cm computed for id, and libvipl's
 * RNR timer, RNR retries and ACK timeout cap. */
void twin_qp_rtr_rts(struct ibv_qp *qp, struct rdma_cm_id *id);

/* Connection parameters as libvipl's connection manager gives them: the
 * caller's private data, read resources both ways, its retry counts. */
void twin_conn_param(struct rdma_conn_param *p, const void *priv,
		     uint8_t len, uint8_t rd_atom, const struct ibv_qp *qp);

#endif
