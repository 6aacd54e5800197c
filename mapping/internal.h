/* internal.h - the verbs objects behind the seam (mapping/ only). */
#ifndef VIPL_MAPPING_INTERNAL_H
#define VIPL_MAPPING_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "mapping.h"

/* Scatter/gather entries a post builds on its stack (hotpath.h). */
#define MAP_MAX_SGE 64

/* iWARP's QPs by number (iwarp.c), for their receives' headers. */
#define MAP_IW_BUCKETS 64

struct map_cm; /* cm.c: the connection manager thread and its state */
struct map_iw; /* iwarp.c: a QP's header slots, on a device without
		* immediate data */
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
	bool iwarp; /* no immediate data: iwarp.c's headers */
	pthread_mutex_t iw_lock; /* iw_table */
	struct map_iw *iw_table[MAP_IW_BUCKETS];
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
	struct map_dev *dev;
	bool iwarp; /* its completions are iwarp.c's to translate */
	struct ibv_comp_channel *channel;
	atomic_uint unacked; /* CQ events not yet acknowledged */
};

struct map_qp {
	struct map_dev *dev;
	struct ibv_qp *qp;
	int access; /* IBV_ACCESS_* the QP was initialised with */
	uint32_t max_inline;
	bool left_init; /* moved towards RTR since its last reset */
	struct map_iw *iw; /* on iWARP: the headers' slots, else NULL */
};

struct map_iw {
	struct map_iw *next; /* in its device's iw_table */
	struct map_dev *dev;
	uint32_t qp_num;
	struct ibv_mr *mr; /* over mem: the slots */
	void *mem;
	struct map_iw_hdr *send, *recv;
	uint32_t send_mask, recv_mask;
	/* The next slot to use: under the VIPL queue's lock, as posts are. */
	uint32_t send_next, recv_next;
	/* The kernel has the QP for a connection not (yet) made: should the
	 * attempt fail, siw moves the QP to its error state and flushes what
	 * it holds. Those flushes are dropped (map_iw_cq_poll): the VIPL
	 * layer gives the receives to the QP that replaces this one. */
	atomic_bool attempting;
};

/* iwarp.c: qp (on iWARP; a no-op elsewhere) is handed to the kernel for a
 * connection (on) or the connection was made (off). */
void map_iw_attempting(struct map_qp *qp, bool on);

/* fork.c: fork() safety for registered memory, before any other verbs
 * call (each map_dev_open). 0, or EACCES in a child forked after the
 * parent's first open, which cannot use verbs before exec(). */
int map_fork_prepare(void);
/* cm.c */
void map_cm_stop(struct map_dev *dev);
/* qp.c: move qp to RTR then RTS with the attributes rdma_cm computed. */
int map_qp_connect(struct map_qp *qp, struct rdma_cm_id *id);
/* iwarp.c: slots for qp's headers (send_wr and recv_wr: its queues'
 * depths), registered in pd; freed, after the QP, by map_iw_detach. The
 * posts and the poll are hotpath.h's on such a QP or CQ. */
int map_iw_attach(struct map_qp *qp, struct map_pd *pd, uint32_t send_wr,
		  uint32_t recv_wr);
void map_iw_detach(struct map_iw *iw);
struct map_send;
struct map_completion;
int map_iw_post_send(struct map_qp *qp, const struct map_send *s, void *cookie,
		     bool inline_data);
int map_iw_post_recv(struct map_qp *qp, const VIP_DESCRIPTOR *desc,
		     unsigned int nseg, void *cookie, uint64_t *cap);
int map_iw_cq_poll(struct map_cq *cq, int max,
		   void (*sink)(void *arg, const struct map_completion *c),
		   void *arg);

#endif
