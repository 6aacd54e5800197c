/*
 * cm_server.c - the server side of connections (cm.c describes the
 * design): listeners, one per TCP-space port a discriminator picks,
 * closed once idle; requests held for a VipConnectWait and refused
 * (MAP_REJECT_NO_MATCH) shortly before their requester gives up;
 * map_conn_wait, map_conn_accept and map_conn_reject.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cm.h"
#include "wire.h"

#define HOLD_MS 10000
/* A held request is refused this long before its requester's patience
 * runs out (an eighth of it, within these bounds), so the refusal arrives
 * in time. */
#define REFUSE_EARLY_MIN_MS 100
#define REFUSE_EARLY_MAX_MS 1000

/* Unlinks c from the listener holding it or from the taken list;
 * cm->lock held. */
void cm_unhold(struct map_conn *c)
{
	struct map_conn **pp;

	if (c->held_by)
		pp = &c->held_by->pending;
	else if (c->taken)
		pp = &c->cm->taken;
	else
		return;
	for (; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	c->next = NULL;
	c->held_by = NULL;
	c->taken = false;
}

static void send_reject(struct map_conn *conn, uint8_t reason)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct map_conn_info none = { 0 };
	size_t len = wire_build(buf, WIRE_REJECT, reason, &none);

	rdma_reject(conn->id, buf, (uint8_t)len);
}

void cm_reject_conn(struct map_conn *conn, uint8_t reason)
{
	pthread_mutex_lock(&conn->cm->lock);
	if (conn->state == CONN_REQUESTED)
		send_reject(conn, reason);
	pthread_mutex_unlock(&conn->cm->lock);
	cm_conn_destroy(conn);
}

/* Refuses a request that stays allocated (a program holds its handle);
 * cm->lock held, so that an accept cannot start meanwhile. */
static void refuse_in_place(struct map_conn *conn, uint8_t reason)
{
	if (conn->state != CONN_REQUESTED)
		return;
	send_reject(conn, reason);
	conn->state = CONN_REJECTED;
}

static struct listener *find_listener(struct map_cm *cm,
				      struct rdma_cm_id *listen_id)
{
	struct listener *l;

	for (l = cm->listeners; l; l = l->next)
		if (l->id == listen_id)
			return l;
	return NULL;
}

/* How long a request is held for a waiter: until shortly before its
 * requester gives up, and no longer than HOLD_MS. */
static uint64_t hold_ms(int32_t patience_ms)
{
	int32_t early;

	if (patience_ms < 0 || patience_ms > HOLD_MS)
		return HOLD_MS; /* for ever, more than we hold, or not said */
	early = patience_ms / 8;
	if (early < REFUSE_EARLY_MIN_MS)
		early = REFUSE_EARLY_MIN_MS;
	if (early > REFUSE_EARLY_MAX_MS)
		early = REFUSE_EARLY_MAX_MS;
	return patience_ms > early ? (uint64_t)(patience_ms - early) : 0;
}

/* A new request: keep it for a waiter, or return it to be refused. */
struct map_conn *cm_on_request(struct map_cm *cm, struct rdma_cm_id *id,
			       struct rdma_cm_id *listen_id,
			       const void *pdata, size_t plen)
{
	struct listener *l = find_listener(cm, listen_id);
	struct map_conn *conn, **tail;
	enum wire_kind kind;
	uint8_t reason;

	conn = calloc(1, sizeof(*conn));
	if (!conn) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return NULL;
	}
	conn->cm = cm;
	conn->id = id;
	id->context = conn;
	conn->state = CONN_REQUESTED;
	conn->arrived_ms = cm_now_ms();
	/* A foreign or malformed request is never trusted. */
	if (!l || wire_parse(pdata, plen, &kind, &reason, &conn->peer) ||
	    kind != WIRE_REQUEST) {
		CM_TRACE("request %p: not ours, refused", (void *)id);
		return conn;
	}
	conn->peer_valid = true;
	conn->expires_ms = conn->arrived_ms + hold_ms(conn->peer.patience_ms);
	if (cm_tracing()) {
		char d[40];

		cm_trace("request %p on port %u for \"%s\" (patience %d ms): "
			 "held %llu ms", (void *)id, l->port,
			 cm_trace_disc(conn->peer.disc, conn->peer.disc_len, d,
				       sizeof(d)),
			 (int)conn->peer.patience_ms,
			 (unsigned long long)(conn->expires_ms -
					      conn->arrived_ms));
	}
	conn->held_by = l;
	for (tail = &l->pending; *tail; tail = &(*tail)->next)
		;
	*tail = conn;
	return NULL;
}

/* Held requests whose time is up are unlinked and returned to be
 * refused; *next_ms is lowered to when the next one's is. */
struct map_conn *cm_take_expired(struct map_cm *cm, uint64_t *next_ms)
{
	struct map_conn *expired = NULL, **pp, *c;
	uint64_t now = cm_now_ms();
	struct listener *l;

	for (l = cm->listeners; l; l = l->next) {
		for (pp = &l->pending; (c = *pp);) {
			if (now >= c->expires_ms) {
				CM_TRACE("held request %p: nobody took it in "
					 "time, refused", (void *)c->id);
				*pp = c->next;
				c->held_by = NULL;
				c->next = expired;
				expired = c;
			} else {
				if (c->expires_ms < *next_ms)
					*next_ms = c->expires_ms;
				pp = &c->next;
			}
		}
	}
	/* Handed out but not accepted in time: refused now, so that the
	 * requester hears "no match" before it gives up; its handle stays
	 * the program's, and accepting it says the requester is gone. */
	for (pp = &cm->taken; (c = *pp);) {
		if (now >= c->expires_ms) {
			CM_TRACE("taken request %p: not answered in time, "
				 "refused", (void *)c->id);
			*pp = c->next;
			c->next = NULL;
			c->taken = false;
			refuse_in_place(c, MAP_REJECT_NO_MATCH);
		} else {
			if (c->expires_ms < *next_ms)
				*next_ms = c->expires_ms;
			pp = &c->next;
		}
	}
	return expired;
}

/*
 * Listeners nobody waited on for HOLD_MS, with nothing held, are closed so
 * that the port is free again (for another process on this host, say). On
 * the CM thread, between events, with cm->lock held: every event of ours
 * is acknowledged, so rdma_destroy_id does not wait.
 */
void cm_close_idle_listeners(struct map_cm *cm)
{
	uint64_t now = cm_now_ms();
	struct listener **pp, *l;

	for (pp = &cm->listeners; (l = *pp);) {
		if (!l->waiters && !l->pending && now - l->idle_ms > HOLD_MS) {
			*pp = l->next;
			rdma_destroy_id(l->id);
			free(l);
		} else {
			pp = &l->next;
		}
	}
}

static int listener_get(struct map_cm *cm, const uint8_t *addr,
			unsigned int addr_len, uint16_t port,
			struct listener **out)
{
	struct sockaddr_storage ss;
	struct listener *l;
	int err;

	for (l = cm->listeners; l; l = l->next) {
		if (l->port == port) {
			*out = l;
			return 0;
		}
	}
	err = cm_make_sockaddr(&ss, addr, addr_len, port);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->port = port;
	l->idle_ms = cm_now_ms();
	if (rdma_create_id(cm->ch, &l->id, l, RDMA_PS_TCP))
		goto err_free;
	if (rdma_bind_addr(l->id, (struct sockaddr *)&ss) ||
	    rdma_listen(l->id, 64))
		goto err_id;
	l->next = cm->listeners;
	cm->listeners = l;
	*out = l;
	return 0;

err_id:
	err = errno;
	rdma_destroy_id(l->id);
	errno = err;
err_free:
	err = errno ? errno : ENOMEM;
	free(l);
	return err;
}

static struct map_conn *take_pending(struct map_cm *cm, struct listener *l,
				     const uint8_t *disc, unsigned int disc_len)
{
	struct map_conn **pp, *c;

	for (pp = &l->pending; (c = *pp); pp = &c->next) {
		if (c->peer.disc_len == disc_len &&
		    !memcmp(c->peer.disc, disc, disc_len)) {
			*pp = c->next;
			c->held_by = NULL;
			/* Until answered, it is refused in time (cm_take_expired). */
			c->next = cm->taken;
			cm->taken = c;
			c->taken = true;
			CM_TRACE("request %p taken by a waiter", (void *)c->id);
			return c;
		}
	}
	return NULL;
}

int map_conn_wait(struct map_dev *dev, const uint8_t *addr,
		  unsigned int addr_len, const uint8_t *disc,
		  unsigned int disc_len, int timeout_ms, struct map_conn **out,
		  struct map_conn_info *peer_info, uint8_t *peer_addr,
		  uint16_t *peer_addr_len, const atomic_bool *cancel)
{
	uint64_t deadline = cm_deadline_of(timeout_ms);
	struct map_cm *cm = cm_get(dev);
	struct map_dev_attr attr;
	struct listener *l = NULL;
	struct map_conn *c = NULL;
	int err;

	if (!cm)
		return ENOMEM;
	if (!addr_len) {
		err = map_dev_query(dev, &attr);
		if (err)
			return err;
		if (!attr.addr_len)
			return EADDRNOTAVAIL;
		addr = attr.addr;
		addr_len = attr.addr_len;
	}
	pthread_mutex_lock(&cm->lock);
	err = listener_get(cm, addr, addr_len,
			   map_disc_port(disc, disc_len), &l);
	if (!err)
		l->waiters++;
	while (!err && !(c = take_pending(cm, l, disc, disc_len)))
		err = cm_wait_step(cm, deadline, cancel);
	if (l && !--l->waiters)
		l->idle_ms = cm_now_ms();
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;
	*peer_info = c->peer;
	cm_peer_address(c->id, peer_addr, peer_addr_len);
	*out = c;
	return 0;
}

static bool accept_settled(struct map_conn *c)
{
	return c->state != CONN_ACCEPTING;
}

/* The requester is no longer there to be accepted: it gave up (its
 * timeout, a close) before or while we answered; cm->lock held. */
static bool requester_gone(const struct map_conn *c)
{
	return c->state == CONN_REJECTED || c->state == CONN_FAILED ||
	       (c->state == CONN_DISCONNECTED && !c->established);
}

int map_conn_accept(struct map_conn *conn, struct map_qp *qp,
		    const struct map_conn_info *mine, int timeout_ms)
{
	struct map_cm *cm = conn->cm;
	struct rdma_conn_param param;
	uint8_t buf[WIRE_MAX_LEN];
	bool gone;
	int err;

	/* From here on the request is no longer refused when its time is up:
	 * the requester hears our answer, or gives up and we hear that. */
	pthread_mutex_lock(&cm->lock);
	gone = requester_gone(conn);
	if (!gone) {
		cm_unhold(conn);
		conn->state = CONN_ACCEPTING;
	}
	pthread_mutex_unlock(&cm->lock);
	if (gone)
		return ETIMEDOUT;
	err = map_qp_connect(qp, conn->id);
	if (!err) {
		memset(&param, 0, sizeof(param));
		param.private_data = buf;
		param.private_data_len = wire_build(buf, WIRE_ACCEPT, 0, mine);
		param.responder_resources = cm->rd_atom;
		param.initiator_depth = cm->rd_atom;
		param.retry_count = CM_RETRY_COUNT;
		param.rnr_retry_count = CM_RNR_RETRY;
		param.qp_num = qp->qp->qp_num;

		pthread_mutex_lock(&cm->lock);
		conn->qp = qp;
		pthread_mutex_unlock(&cm->lock);
		map_iw_attempting(qp, true);
		/* iWARP: a requester that closed its stream first leaves a
		 * request that is reset (siw: no longer awaiting our reply). */
		if (rdma_accept(conn->id, &param))
			err = errno == ECONNRESET ? ETIMEDOUT
						  : errno ? errno : EIO;
	}
	pthread_mutex_lock(&cm->lock);
	if (!err)
		err = cm_wait_until(cm, conn, accept_settled,
				    cm_deadline_of(timeout_ms));
	else /* the id may have failed as its requester left: hear why */
		cm_wait_until(cm, conn, accept_settled,
			      cm_deadline_of(RESOLVE_MS));
	/* Established then lost at once is still accepted: the VI reports
	 * the loss as VIPL says (Error state, flushed descriptors). */
	if (!err && !conn->established)
		err = ECONNABORTED;
	/* Whatever failed, a requester that left first is the reason. */
	if (err && requester_gone(conn))
		err = ETIMEDOUT;
	if (err)
		conn->qp = NULL;
	else
		map_iw_attempting(qp, false);
	CM_TRACE("accept of %p: error %d (state %d)", (void *)conn->id, err,
		 (int)conn->state);
	pthread_mutex_unlock(&cm->lock);
	return err;
}

void map_conn_reject(struct map_conn *conn, enum map_reject_reason why)
{
	cm_reject_conn(conn, why);
}
