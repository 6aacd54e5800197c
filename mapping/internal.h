/* internal.h - the verbs objects behind the seam (mapping/ only). */
#ifndef VIPL_MAPPING_INTERNAL_H
#define VIPL_MAPPING_INTERNAL_H

#include <pthread.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "mapping.h"

/* Scatter/gather entries a post builds on its stack (hotpath.h). */
#define MAP_MAX_SGE 64

struct map_cm; /* cm.c: the connection manager thread and its state */
struct map_watch; /* events.c: the async event thread */

struct map_dev {
	/* Taken from rdma_get_devices() so that rdma_cm ids and our PDs,
	 * CQs and QPs share one device context. */
	struct ibv_context *ctx;
	struct ibv_context **list;
	uint8_t port;
	int gid_index; /* -1: the first IPv4 GID, else the first IPv6 one */
	int ip_version; /* 0, or 4 or 6: the address family asked for */
	pthread_mutex_t lock; /* guards cm creation */
	struct map_cm *cm;
	struct map_watch *watch;
};

struct map_pd {
	struct map_dev *dev;
	struct ibv_pd *pd;
};

struct map_mr {
	struct ibv_mr *mr;
	int access; /* MAP_ACCESS_* */
};

struct map_cq {
	struct ibv_cq *cq;
	struct ibv_comp_channel *channel;
	atomic_uint unacked; /* CQ events not yet acknowledged */
};

struct map_qp {
	struct map_dev *dev;
	struct ibv_qp *qp;
	int access; /* IBV_ACCESS_* the QP was initialised with */
	uint32_t max_inline;
	bool left_init; /* moved towards RTR since its last reset */
};

/* fork.c: fork() safety for registered memory, before any other verbs
 * call (each map_dev_open). 0, or EACCES in a child forked after the
 * parent's first open, which cannot use verbs before exec(). */
int map_fork_prepare(void);
/* cm.c */
void map_cm_stop(struct map_dev *dev);
/* qp.c: move qp to RTR then RTS with the attributes rdma_cm computed. */
int map_qp_connect(struct map_qp *qp, struct rdma_cm_id *id);

#endif
