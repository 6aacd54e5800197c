/*
 * cm.h - the connection manager's objects, shared by cm.c (the event
 * thread, connection life), cm_server.c (listeners, held requests,
 * accepting) and cm_client.c (resolving, requesting). Private to mapping/:
 * the design is described at the top of cm.c.
 */
#ifndef VIPL_MAPPING_CM_H
#define VIPL_MAPPING_CM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "internal.h"

#define RESOLVE_MS 2000
/* 7 is the largest count, but rxe takes 7 to mean "for ever" (as RNR
 * retries do), and a peer host that vanished would then never be noticed. */
#define CM_RETRY_COUNT 6
#define CM_RNR_RETRY 6

enum conn_state {
	CONN_NEW,
	CONN_ADDR_RESOLVED,
	CONN_ROUTE_RESOLVED,
	CONN_REQUESTED, /* server: request received, not yet accepted */
	CONN_ACCEPTING, /* server: accepted, waiting for the requester */
	CONN_RESPONDED, /* client: the server accepted */
	CONN_ESTABLISHED,
	CONN_REJECTED,
	CONN_FAILED,
	CONN_DISCONNECTED,
};

struct map_conn {
	struct map_conn *next; /* in a listener's pending list */
	struct map_cm *cm;
	struct rdma_cm_id *id;
	enum conn_state state;
	bool dead; /* being destroyed: the thread must not touch it */
	/* The connection broke or the peer left. Written under cm->lock,
	 * read without it by map_conn_lost and, on every receive post,
	 * map_conn_lost_now (hotpath.h). */
	atomic_bool lost;
	bool established; /* it was, even if it broke since */
	int status; /* of the event that failed it */
	bool peer_valid; /* private data parsed into peer */
	uint8_t reject_reason; /* ours, when peer_valid on a reject */
	struct map_conn_info peer;
	struct map_qp *qp;
	uint64_t arrived_ms;
	/* Server side: a request is held (in a listener's pending list) and
	 * then taken (in cm->taken, handed to a VipConnectWait) until it is
	 * accepted or refused. Either way, at expires_ms it is refused. */
	uint64_t expires_ms;
	struct listener *held_by; /* held by this listener */
	bool taken;
	const atomic_bool *cancel; /* the requester's, while it waits */
	void (*on_lost)(void *arg);
	void *on_lost_arg;
};

struct listener {
	struct listener *next;
	struct rdma_cm_id *id;
	uint16_t port;
	struct map_conn *pending; /* oldest first */
	int waiters; /* in map_conn_wait on this port */
	uint64_t idle_ms; /* when the last waiter left */
};

struct map_cm {
	struct map_dev *dev;
	struct rdma_event_channel *ch;
	pthread_t thread;
	int wake[2]; /* a byte here stops the thread */
	/* The connection whose on_lost callback the thread is running. */
	struct map_conn *in_callback;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct listener *listeners;
	struct map_conn *taken; /* requests handed out, not yet answered */
	uint32_t rd_atom; /* RDMA reads in flight per QP */
};

/* cm_trace.c: VIPL_TRACE_CM */
bool cm_tracing(void);
void cm_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A discriminator as text (unprintable bytes as '.'), into buf. */
const char *cm_trace_disc(const uint8_t *disc, unsigned int len, char *buf,
			  size_t size);
#define CM_TRACE(...)                                                          \
	do {                                                                   \
		if (cm_tracing())                                              \
			cm_trace(__VA_ARGS__);                                 \
	} while (0)

/* cm.c */
uint64_t cm_now_ms(void);
uint64_t cm_deadline_of(int timeout_ms);
int cm_remaining_ms(uint64_t deadline, int cap);
int cm_make_sockaddr(struct sockaddr_storage *ss, const uint8_t *addr,
		     unsigned int len, uint16_t port);
void cm_peer_address(struct rdma_cm_id *id, uint8_t *addr, uint16_t *len);
void cm_conn_destroy(struct map_conn *conn);
struct map_cm *cm_get(struct map_dev *dev);
int cm_wait_step(struct map_cm *cm, uint64_t deadline,
		 const atomic_bool *cancel);
int cm_wait_until(struct map_cm *cm, struct map_conn *conn,
		  bool (*pred)(struct map_conn *), uint64_t deadline);

/* cm_server.c: what the thread does with requests and listeners */
void cm_unhold(struct map_conn *c);
void cm_reject_conn(struct map_conn *conn, uint8_t reason);
struct map_conn *cm_on_request(struct map_cm *cm, struct rdma_cm_id *id,
			       struct rdma_cm_id *listen_id,
			       const void *pdata, size_t plen);
struct map_conn *cm_take_expired(struct map_cm *cm, uint64_t *next_ms);
void cm_close_idle_listeners(struct map_cm *cm);

#endif
