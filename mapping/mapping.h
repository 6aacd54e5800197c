/*
 * mapping.h - the seam between VIPL semantics (vipl/) and verbs (mapping/).
 *
 * The VIPL layer validates arguments and decides what to do; the functions
 * here do it on libibverbs/librdmacm. They return 0 or an errno value (or
 * NULL with errno set), never VIP_* codes: vipl/errors.c maps errno to
 * VIP_RETURN in one table.
 *
 * VI objects and what they become:
 *   NIC -> struct map_dev (device context from librdmacm's list, port 1)
 *   protection tag -> struct map_pd (ibv_pd)
 *   memory region -> struct map_mr (ibv_mr); the VIP_MEM_HANDLE is its lkey
 *   VI -> struct map_qp (ibv_qp, RC or UC)
 *   work queue completions -> struct map_cq (ibv_cq + completion channel)
 *   connection -> struct map_conn (rdma_cm_id)
 */
#ifndef VIPL_MAPPING_H
#define VIPL_MAPPING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vipl.h"

/*
 * The segments after a descriptor's control segment. Programs allocate
 * more than the two that VIP_DESCRIPTOR declares, so indexing DS[] past 1
 * would be undefined behaviour an optimiser may exploit (it can assume the
 * loop stops at 2). Going through an integer keeps the compiler from
 * bounding the access by the declared array.
 */
static inline VIP_DESCRIPTOR_SEGMENT *map_desc_segs(const VIP_DESCRIPTOR *d)
{
	return (VIP_DESCRIPTOR_SEGMENT *)((uintptr_t)d +
					  sizeof(VIP_CONTROL_SEGMENT));
}

struct map_dev;
struct map_pd;
struct map_mr;
struct map_cq;
struct map_qp;
struct map_conn;

/* ---------------------------------------------------------------- device */

#define MAP_ADDR_MAX 16 /* an IPv6 address */

struct map_dev_attr {
	char name[64];
	uint32_t hw_ver;
	uint64_t fw_ver_num; /* first number of the firmware version string */
	uint8_t addr[MAP_ADDR_MAX]; /* IP address of the port's netdev */
	uint16_t addr_len; /* 4, 16, or 0 when the port has no IP yet */
	uint64_t max_mr_size;
	uint32_t max_mr;
	uint32_t max_qp;
	uint32_t max_qp_wr;
	uint32_t max_sge;
	uint32_t max_cq;
	uint32_t max_cqe;
	uint32_t max_pd;
	uint32_t max_msg_sz; /* largest message the port carries */
	uint32_t mtu; /* active path MTU in bytes */
	uint32_t max_qp_rd_atom;
};

/* Which device to open, in librdmacm's (and libibverbs') list order. */
enum map_dev_by {
	MAP_DEV_FIRST,
	MAP_DEV_NAME, /* name: the verbs device name */
	MAP_DEV_NETDEV, /* name: a port of it is bound to this interface */
	MAP_DEV_INDEX, /* index: the index-th device, from 0 */
};

struct map_dev_sel {
	enum map_dev_by by;
	const char *name;
	unsigned int index;
	/* Settings (VIPL_PORT, VIPL_GID_INDEX, VIPL_IP_VERSION): 0, -1 and
	 * 0 leave the choice to us (port 1, or the one on the netdev; the
	 * first IPv4 GID, else the first global IPv6 one). */
	unsigned int port;
	int gid_index;
	int ip_version; /* 4 or 6: only that family's GIDs */
};

/*
 * Opens the device sel picks, on port 1 (MAP_DEV_NETDEV: on the port bound
 * to the interface; sel->port: that one). ENODEV when no device matches,
 * ENOENT when the network interface sel names does not exist, EINVAL when
 * the device has no such port or GID.
 */
int map_dev_open(const struct map_dev_sel *sel, struct map_dev **out);
/* "rxe0 (vipl0), mlx5_0 (ens1f0)": every device in list order with the
 * interfaces its ports are bound to, or "none"; truncated to fit. */
void map_dev_list(char *buf, size_t len);
void map_dev_close(struct map_dev *dev);
int map_dev_query(struct map_dev *dev, struct map_dev_attr *attr);
/* iWARP (siw, iWARP NICs): RC only, the connection manager drives the
 * QP's states, no immediate data. */
bool map_dev_is_iwarp(const struct map_dev *dev);

/* Asynchronous device events, in words the VIPL layer can map. */
enum map_dev_event {
	MAP_EV_IGNORED, /* informational: nothing to report */
	MAP_EV_PORT_DOWN, /* the port lost its link */
	MAP_EV_PORT_UP, /* the port is active again */
	MAP_EV_DEVICE_FATAL, /* the device is gone or broken for good */
	MAP_EV_CQ_ERROR, /* a completion queue overran: completions lost */
};
typedef void (*map_dev_event_fn)(void *arg, enum map_dev_event ev);

/* Pure: which of the above a verbs async event type (an int holding an
 * enum ibv_event_type) is. */
enum map_dev_event map_event_kind(int ibv_event_type);
/* Starts a thread that hands each device event to fn(arg, ev); fn runs
 * on that thread. */
int map_dev_watch(struct map_dev *dev, map_dev_event_fn fn, void *arg);
/* Stops that thread (map_dev_close does too); no fn call after it. */
void map_dev_unwatch(struct map_dev *dev);

/* ------------------------------------------------------------ pd and mr */

#define MAP_ACCESS_REMOTE_WRITE 0x1
#define MAP_ACCESS_REMOTE_READ 0x2

int map_pd_alloc(struct map_dev *dev, struct map_pd **out);
int map_pd_free(struct map_pd *pd); /* EBUSY while anything uses it */

/* *key is the handle programs use, locally (lkey) and remotely (rkey). */
int map_mr_reg(struct map_pd *pd, void *addr, size_t len, int access,
	       struct map_mr **out, uint32_t *key);
int map_mr_dereg(struct map_mr *mr);
/* New ptag and access for a region, keeping its key. ENOTSUP when the
 * device cannot (nothing changed); EIO if it changed the key and could not
 * give it back: the key no longer reaches the region. */
int map_mr_modify(struct map_mr *mr, struct map_pd *pd, int access);

/* ------------------------------------------------------------------- cq */

/*
 * A completion translated for the VIPL layer: cookie is what the post gave,
 * status holds VIP_STATUS_* error bits (0 on success) plus
 * VIP_STATUS_IMMEDIATE and, for a receive consumed by an RDMA write with
 * immediate data, VIP_STATUS_OP_REMOTE_RDMA_WRITE (length 0 then: the
 * write's bytes went where the writer aimed them, none into the receive's
 * segments). The operation bits of other completions are the poster's to
 * add (verbs leaves wc.opcode undefined on errors).
 */
struct map_completion {
	void *cookie;
	uint32_t status;
	uint32_t length;
	uint32_t imm;
	uint32_t qp_num; /* the QP it came from */
};

int map_cq_create(struct map_dev *dev, int entries, struct map_cq **out);
int map_cq_destroy(struct map_cq *cq);
int map_cq_resize(struct map_cq *cq, int entries);
/* map_cq_poll (hotpath.h) hands completions to a callback, inline. */
/* Ask for an event on the next completion; poll again after arming. */
int map_cq_arm(struct map_cq *cq);
/* Sleep until the armed CQ has an event, wake_fd (-1: none) is readable
 * or timeout_ms passes (-1: forever). Returns 0 on an event or a wake-up,
 * ETIMEDOUT, or an errno value. */
int map_cq_block(struct map_cq *cq, int wake_fd, int timeout_ms);
#define MAP_BLOCK_ANY_MAX 64
/* The same for n (at most MAP_BLOCK_ANY_MAX) armed CQs at once, and a file descriptor (-1: none)
 * whose readability also ends the sleep; every event found is consumed.
 * Returns 0 (something happened), ETIMEDOUT, or an errno value. */
int map_cq_block_any(struct map_cq *const *cqs, unsigned int n, int wake_fd,
		     int timeout_ms);

/* Pure translation of one verbs completion status (unit-tested). */
uint32_t map_wc_status_to_vip(int ibv_wc_status);

/* ------------------------------------------------------------------- qp */

struct map_qp_cfg {
	VIP_RELIABILITY_LEVEL level;
	uint32_t depth; /* descriptors per work queue */
	uint32_t max_sge; /* segments per descriptor */
	bool rdma_write;
	bool rdma_read;
};

int map_qp_create(struct map_pd *pd, struct map_cq *send_cq,
		  struct map_cq *recv_cq, const struct map_qp_cfg *cfg,
		  struct map_qp **out);
int map_qp_destroy(struct map_qp *qp);
/* Largest send the device copies into the work request itself. */
uint32_t map_qp_max_inline(const struct map_qp *qp);
uint32_t map_qp_num(const struct map_qp *qp);
/* Names no QP (verbs QP numbers have 24 bits): a queue that checks its
 * completions against it takes none. */
#define MAP_QP_NUM_NONE UINT32_MAX

/*
 * A send as the VIPL layer checked it. A descriptor is the program's memory,
 * which the program, or a peer allowed to RDMA-write it, may change while
 * we read it: the VIPL layer reads each field once into this copy, checks
 * the copy, and the work request is built from the copy alone.
 */
struct map_seg { /* laid out as the device reads it (hotpath.h) */
	uint64_t addr;
	uint32_t len;
	uint32_t key; /* the VIP_MEM_HANDLE */
};

struct map_send {
	uint16_t control; /* CS.Control */
	uint16_t nseg; /* local segments in seg (RDMA: the address one apart) */
	struct map_seg *seg;
	/* What no check looks at, ImmediateData and an RDMA's address
	 * segment, the post reads from here, once. */
	const VIP_DESCRIPTOR *desc;
};

/* map_qp_post_send and map_qp_post_plain (hotpath.h) take a checked copy;
 * cookie comes back in its completion. inline_data: the caller checked
 * that every local segment is registered memory of the VI's ptag (the
 * device does not check inline data). map_qp_post_recv takes the
 * descriptor and the segment count the caller checked, reads each segment
 * once, and returns in *cap the bytes the posted segments hold. */
/* New remote access rights for an idle (INIT) queue pair. */
int map_qp_set_access(struct map_qp *qp, bool rdma_write, bool rdma_read);
/* Move to the error state: every posted descriptor completes flushed. */
int map_qp_flush(struct map_qp *qp);
/* The device flushes once, as its QP enters the error state (siw: that
 * state is final, and its user-mapped queues are read only while
 * connected): a work request posted later never completes, and the
 * caller completes it. The flush's own completions are in the CQ once
 * map_qp_flush returns. */
bool map_qp_flushes_once(const struct map_qp *qp);
/* Back to a fresh, connectable state (INIT). A QP that left INIT drops
 * every posted work request without a completion: the caller posts its
 * receives again (it asks map_qp_left_init first). A QP still in INIT is
 * left as it is, receives and all. */
int map_qp_reset(struct map_qp *qp);
bool map_qp_left_init(const struct map_qp *qp);

/* ------------------------------------------------------------ connections */

/* Connection parameters that travel between the two ends (see wire.h). */
struct map_conn_info {
	uint8_t disc[32]; /* discriminator the request is addressed to */
	uint8_t disc_len;
	uint8_t src_disc[32]; /* requester's own discriminator */
	uint8_t src_disc_len;
	VIP_RELIABILITY_LEVEL level;
	uint32_t max_transfer;
	bool rdma_write;
	bool rdma_read;
	/* Requests: how long the requester waits for an answer, in ms; -1
	 * for ever; MAP_PATIENCE_UNKNOWN when a peer did not say. */
	int32_t patience_ms;
};

#define MAP_PATIENCE_UNKNOWN (-2)

enum map_reject_reason {
	MAP_REJECT_BY_PEER = 1, /* VipConnectReject */
	MAP_REJECT_NO_MATCH = 2, /* nobody waits for that discriminator */
	MAP_REJECT_LEVEL = 3, /* reliability levels differ */
	MAP_REJECT_MTU = 4, /* max transfer sizes differ */
	MAP_REJECT_RDMA_READ = 5, /* RDMA read enabled on one side only */
};

/* Port on which a discriminator listens (pure, unit-tested). */
uint16_t map_disc_port(const uint8_t *disc, unsigned len);

/*
 * Server side. map_conn_wait returns a request addressed to info->disc on
 * the given local address (the NIC's address if addr_len is 0): 0,
 * ETIMEDOUT, or an errno value. *peer receives the requester's IP address.
 */
int map_conn_wait(struct map_dev *dev, const uint8_t *addr, unsigned addr_len,
		  const uint8_t *disc, unsigned disc_len, int timeout_ms,
		  struct map_conn **out, struct map_conn_info *peer_info,
		  uint8_t *peer_addr, uint16_t *peer_addr_len,
		  const atomic_bool *cancel);
int map_conn_accept(struct map_conn *conn, struct map_qp *qp,
		    const struct map_conn_info *mine, int timeout_ms);
/* Refuses the request and frees conn. */
void map_conn_reject(struct map_conn *conn, enum map_reject_reason why);

/*
 * Client side: connects qp to (addr, info->disc) and returns the accepted
 * connection. Returns 0, ECONNREFUSED (*why says who refused; NO_MATCH
 * when nobody listens there or no waiter took the request in time),
 * ETIMEDOUT (the remote host never answered) or an errno value.
 * until_matched: a NO_MATCH is tried again until the time is up, and is
 * the answer only then (peer-to-peer, where the other side may start
 * later). An attempt that failed after it took qp out of INIT (on iWARP:
 * once the request went out, as the kernel then owns the QP and puts it
 * in its error state on failure) leaves qp unfit for the next: before
 * that one, renew(renew_arg) returns the QP to use instead (the caller
 * replaces the VI's, map_qp_left_init), or NULL to give up with EIO.
 */
int map_conn_request(struct map_dev *dev, struct map_qp *qp,
		     const uint8_t *src, unsigned src_len, const uint8_t *dst,
		     unsigned dst_len, const struct map_conn_info *mine,
		     int timeout_ms, bool until_matched, struct map_conn **out,
		     struct map_conn_info *peer_info,
		     enum map_reject_reason *why, const atomic_bool *cancel,
		     struct map_qp *(*renew)(void *arg), void *renew_arg);
/* Both waits give up with ECANCELED once *cancel (may be NULL) is set and
 * map_conn_kick(dev) is called. */
void map_conn_kick(struct map_dev *dev);

/* Calls fn(arg) on the connection manager's thread when the peer leaves
 * or the connection breaks (never for a local map_conn_close). */
void map_conn_on_lost(struct map_conn *conn, void (*fn)(void *arg),
		      void *arg);
/* Ends the connection from this side after an error: the peer sees it
 * lost, and our own on_lost callback runs once the CM confirms. */
void map_conn_break(struct map_conn *conn);
/* True once the peer disconnected or the connection broke. Lock-free; set
 * before the queue pair is flushed, so a receive posted and then found
 * not lost is caught by that flush. */
bool map_conn_lost(struct map_conn *conn);
/* Disconnects (if still connected) and frees conn. */
void map_conn_close(struct map_conn *conn);

#endif /* VIPL_MAPPING_H */
