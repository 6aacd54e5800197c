/*
 * cm.c - connections on librdmacm.
 *
 * One thread per NIC reads the rdma_cm event channel, acknowledges each
 * event at once (so rdma_destroy_id never waits on us), and records what
 * happened in the map_conn or listener it belongs to; callers wait on a
 * condition variable for the state they need. VIs own their QPs from
 * creation, so QPs are moved to RTR/RTS by hand with rdma_init_qp_attr
 * (rdma_cm then reports CONNECT_RESPONSE and we finish with
 * rdma_establish).
 *
 * A discriminator picks the TCP-space port to listen on (map_disc_port);
 * the full discriminator travels in the request's private data (wire.h)
 * and is matched exactly. A request nobody waits for yet is held until
 * shortly before its requester stops waiting (at most HOLD_MS) and then
 * refused with MAP_REJECT_NO_MATCH, so the requester hears "no match", not
 * silence, and can try again (vipl-api.md section 5, "Connecting"). A
 * held request whose requester gives up first is dropped at once.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "wire.h"

#define PORT_BASE_DEFAULT 20000
#define PORT_SPAN 8192
#define HOLD_MS 10000
/* A held request is refused this long before its requester's patience
 * runs out (an eighth of it, within these bounds), so the refusal arrives
 * in time. */
#define REFUSE_EARLY_MIN_MS 50
#define REFUSE_EARLY_MAX_MS 1000
#define RESOLVE_MS 2000
#define ANSWER_GRACE_MS 250
#define RETRY_PAUSE_MS 20
#define SWEEP_MS 500
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
	 * read without it by map_conn_lost (on every receive post). */
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
}

static int remaining_ms(uint64_t deadline, int cap)
{
	uint64_t now = now_ms();

	if (deadline == UINT64_MAX)
		return cap;
	if (now >= deadline)
		return 0;
	return deadline - now < (uint64_t)cap ? (int)(deadline - now) : cap;
}

uint16_t map_disc_port(const uint8_t *disc, unsigned int len)
{
	const char *env = getenv("VIPL_PORT_BASE");
	uint32_t h = 2166136261u; /* FNV-1a */
	unsigned long base = PORT_BASE_DEFAULT;
	unsigned int i;

	if (env && *env) {
		base = strtoul(env, NULL, 10);
		if (base == 0 || base > 65535 - PORT_SPAN)
			base = PORT_BASE_DEFAULT;
	}
	for (i = 0; i < len; i++) {
		h ^= disc[i];
		h *= 16777619u;
	}
	return (uint16_t)(base + h % PORT_SPAN);
}

static int make_sockaddr(struct sockaddr_storage *ss, const uint8_t *addr,
			 unsigned int len, uint16_t port)
{
	memset(ss, 0, sizeof(*ss));
	if (len == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, addr, 4);
		return 0;
	}
	if (len == 16) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, addr, 16);
		return 0;
	}
	return EINVAL;
}

static void peer_address(struct rdma_cm_id *id, uint8_t *addr, uint16_t *len)
{
	struct sockaddr *sa = rdma_get_peer_addr(id);

	*len = 0;
	if (sa->sa_family == AF_INET) {
		memcpy(addr, &((struct sockaddr_in *)sa)->sin_addr, 4);
		*len = 4;
	} else if (sa->sa_family == AF_INET6) {
		memcpy(addr, &((struct sockaddr_in6 *)sa)->sin6_addr, 16);
		*len = 16;
	}
}

/* --------------------------------------------------------- the thread */

/* Unlinks c from the listener holding it or from the taken list;
 * cm->lock held. */
static void unhold(struct map_conn *c)
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

/* Frees a conn that no event can reach any more (its id is gone). */
static void conn_destroy(struct map_conn *conn)
{
	struct map_cm *cm = conn->cm;

	pthread_mutex_lock(&cm->lock);
	conn->dead = true;
	unhold(conn);
	/* Its on_lost callback may be running (on the CM thread, unlocked):
	 * the caller frees what the callback uses once we return. The
	 * callback itself may close conn: then there is nothing to wait for. */
	if (!pthread_equal(pthread_self(), cm->thread))
		while (cm->in_callback == conn)
			pthread_cond_wait(&cm->cond, &cm->lock);
	pthread_mutex_unlock(&cm->lock);
	if (conn->id)
		rdma_destroy_id(conn->id);
	/* The thread may still be finishing an event of this id. */
	pthread_mutex_lock(&cm->lock);
	pthread_mutex_unlock(&cm->lock);
	free(conn);
}

static void send_reject(struct map_conn *conn, uint8_t reason)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct map_conn_info none = { 0 };
	size_t len = wire_build(buf, WIRE_REJECT, reason, &none);

	rdma_reject(conn->id, buf, (uint8_t)len);
}

static void reject_conn(struct map_conn *conn, uint8_t reason)
{
	pthread_mutex_lock(&conn->cm->lock);
	if (conn->state == CONN_REQUESTED)
		send_reject(conn, reason);
	pthread_mutex_unlock(&conn->cm->lock);
	conn_destroy(conn);
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
static struct map_conn *on_request(struct map_cm *cm, struct rdma_cm_id *id,
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
	conn->arrived_ms = now_ms();
	/* A foreign or malformed request is never trusted. */
	if (!l || wire_parse(pdata, plen, &kind, &reason, &conn->peer) ||
	    kind != WIRE_REQUEST)
		return conn;
	conn->peer_valid = true;
	conn->expires_ms = conn->arrived_ms + hold_ms(conn->peer.patience_ms);
	conn->held_by = l;
	for (tail = &l->pending; *tail; tail = &(*tail)->next)
		;
	*tail = conn;
	return NULL;
}


static void on_conn_event(struct map_conn *conn, enum rdma_cm_event_type type,
			  int status, const void *pdata, size_t plen)
{
	enum wire_kind kind;
	uint8_t reason;

	switch (type) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		conn->state = CONN_ADDR_RESOLVED;
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		conn->state = CONN_ROUTE_RESOLVED;
		break;
	case RDMA_CM_EVENT_CONNECT_RESPONSE:
		if (!wire_parse(pdata, plen, &kind, &reason, &conn->peer) &&
		    kind == WIRE_ACCEPT)
			conn->peer_valid = true;
		conn->state = CONN_RESPONDED;
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		conn->state = CONN_ESTABLISHED;
		conn->established = true;
		break;
	case RDMA_CM_EVENT_REJECTED:
		/* Ours carry a reason; rdma_cm's own (no listener) do not. */
		if (status == 28 /* IB_CM_REJ_CONSUMER_DEFINED */ &&
		    !wire_parse(pdata, plen, &kind, &reason, &conn->peer) &&
		    kind == WIRE_REJECT) {
			conn->peer_valid = true;
			conn->reject_reason = reason;
		}
		conn->state = CONN_REJECTED;
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		/* Lost before the flush: a receive posted while it runs may
		 * miss it (rxe flushes its receive queue on the state change
		 * only), and its poster, seeing lost, flushes again. */
		conn->lost = true;
		if (conn->state == CONN_ESTABLISHED && conn->qp) {
			/* VIPL: a broken connection flushes every descriptor. */
			map_qp_flush(conn->qp);
			rdma_disconnect(conn->id);
		}
		conn->state = CONN_DISCONNECTED;
		break;
	case RDMA_CM_EVENT_TIMEWAIT_EXIT:
		break;
	default: /* address, route, connect errors; unreachable */
		conn->state = CONN_FAILED;
		conn->status = status;
		conn->lost = true;
		break;
	}
}

/* Held requests whose time is up are unlinked and returned to be
 * refused; *next_ms is lowered to when the next one's is. */
static struct map_conn *take_expired(struct map_cm *cm, uint64_t *next_ms)
{
	struct map_conn *expired = NULL, **pp, *c;
	uint64_t now = now_ms();
	struct listener *l;

	for (l = cm->listeners; l; l = l->next) {
		for (pp = &l->pending; (c = *pp);) {
			if (now >= c->expires_ms) {
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
static void close_idle_listeners(struct map_cm *cm)
{
	uint64_t now = now_ms();
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

static void handle_event(struct map_cm *cm, struct rdma_cm_event *ev)
{
	uint8_t pdata[256];
	size_t plen = ev->param.conn.private_data_len;
	enum rdma_cm_event_type type = ev->event;
	struct rdma_cm_id *id = ev->id, *listen_id = ev->listen_id;
	int status = ev->status;
	struct map_conn *refuse = NULL, *gone = NULL;
	void (*lost_fn)(void *) = NULL;
	void *lost_arg = NULL;

	if (plen > sizeof(pdata))
		plen = sizeof(pdata);
	if (plen && ev->param.conn.private_data)
		memcpy(pdata, ev->param.conn.private_data, plen);
	else
		plen = 0;

	pthread_mutex_lock(&cm->lock);
	/* Read the context before acking: acking may let the id be freed. */
	struct map_conn *conn = type == RDMA_CM_EVENT_CONNECT_REQUEST ?
					NULL : id->context;
	rdma_ack_cm_event(ev);
	if (type == RDMA_CM_EVENT_CONNECT_REQUEST)
		refuse = on_request(cm, id, listen_id, pdata, plen);
	else if (conn && !conn->dead) {
		bool was_lost = conn->lost;

		on_conn_event(conn, type, status, pdata, plen);
		if (conn->lost && !was_lost && conn->on_lost) {
			lost_fn = conn->on_lost;
			lost_arg = conn->on_lost_arg;
		}
		/* Its requester gave up (timed out, closed): no waiter may be
		 * handed a request that can no longer be accepted. */
		if (conn->held_by && conn->state != CONN_REQUESTED) {
			unhold(conn);
			gone = conn;
		} else if (conn->taken && conn->state != CONN_REQUESTED) {
			unhold(conn); /* its handle's owner learns on accept */
		}
	}
	if (lost_fn)
		cm->in_callback = conn;
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);

	/* Outside the lock: the handler may well disconnect. */
	if (lost_fn) {
		lost_fn(lost_arg);
		pthread_mutex_lock(&cm->lock);
		cm->in_callback = NULL;
		pthread_cond_broadcast(&cm->cond);
		pthread_mutex_unlock(&cm->lock);
	}
	if (refuse)
		reject_conn(refuse, MAP_REJECT_NO_MATCH);
	if (gone)
		conn_destroy(gone);
}

static void *cm_thread(void *arg)
{
	struct map_cm *cm = arg;
	struct pollfd pfd[2] = {
		{ .fd = cm->ch->fd, .events = POLLIN },
		{ .fd = cm->wake[0], .events = POLLIN },
	};
	struct rdma_cm_event *ev;
	struct map_conn *expired, *next;
	int wait_ms = SWEEP_MS;

	for (;;) {
		uint64_t next_ms;

		if (poll(pfd, 2, wait_ms) < 0 && errno != EINTR)
			break;
		if (pfd[1].revents)
			break;
		while (!rdma_get_cm_event(cm->ch, &ev))
			handle_event(cm, ev);

		pthread_mutex_lock(&cm->lock);
		next_ms = now_ms() + SWEEP_MS;
		expired = take_expired(cm, &next_ms);
		close_idle_listeners(cm);
		pthread_mutex_unlock(&cm->lock);
		/* Wake for the next held request's refusal on time: its
		 * requester is about to give up. */
		wait_ms = (int)remaining_ms(next_ms, SWEEP_MS);
		for (; expired; expired = next) {
			next = expired->next;
			reject_conn(expired, MAP_REJECT_NO_MATCH);
		}
	}
	return NULL;
}

static struct map_cm *cm_get(struct map_dev *dev)
{
	struct ibv_device_attr da;
	pthread_condattr_t ca;
	struct map_cm *cm;

	pthread_mutex_lock(&dev->lock);
	cm = dev->cm;
	if (cm)
		goto out;
	cm = calloc(1, sizeof(*cm));
	if (!cm)
		goto out;
	cm->dev = dev;
	cm->rd_atom = 1;
	if (!ibv_query_device(dev->ctx, &da) && da.max_qp_rd_atom > 0)
		cm->rd_atom = da.max_qp_rd_atom < 16 ? da.max_qp_rd_atom : 16;
	cm->ch = rdma_create_event_channel();
	if (!cm->ch)
		goto err_free;
	if (fcntl(cm->ch->fd, F_SETFL, fcntl(cm->ch->fd, F_GETFL) | O_NONBLOCK))
		goto err_channel;
	if (pipe(cm->wake))
		goto err_channel;
	pthread_mutex_init(&cm->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cm->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&cm->thread, NULL, cm_thread, cm))
		goto err_pipe;
	dev->cm = cm;
	goto out;

err_pipe:
	pthread_cond_destroy(&cm->cond);
	pthread_mutex_destroy(&cm->lock);
	close(cm->wake[0]);
	close(cm->wake[1]);
err_channel:
	rdma_destroy_event_channel(cm->ch);
err_free:
	free(cm);
	cm = NULL;
out:
	pthread_mutex_unlock(&dev->lock);
	return cm;
}

void map_cm_stop(struct map_dev *dev)
{
	struct map_cm *cm = dev->cm;
	struct listener *l;
	struct map_conn *c;
	char byte = 0;

	if (!cm)
		return;
	if (write(cm->wake[1], &byte, 1) != 1)
		pthread_cancel(cm->thread);
	pthread_join(cm->thread, NULL);
	while ((l = cm->listeners)) {
		cm->listeners = l->next;
		while ((c = l->pending)) {
			l->pending = c->next;
			reject_conn(c, MAP_REJECT_NO_MATCH);
		}
		rdma_destroy_id(l->id);
		free(l);
	}
	rdma_destroy_event_channel(cm->ch);
	close(cm->wake[0]);
	close(cm->wake[1]);
	pthread_cond_destroy(&cm->cond);
	pthread_mutex_destroy(&cm->lock);
	free(cm);
	dev->cm = NULL;
}

/* One wait on cm->cond, with cm->lock held: 0 (look again), ETIMEDOUT
 * once the deadline passed, ECANCELED once *cancel is set. */
static int wait_step(struct map_cm *cm, uint64_t deadline,
		     const atomic_bool *cancel)
{
	struct timespec ts;

	if (cancel && atomic_load(cancel))
		return ECANCELED;
	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&cm->cond, &cm->lock);
		return 0;
	}
	if (now_ms() >= deadline)
		return ETIMEDOUT;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_cond_timedwait(&cm->cond, &cm->lock, &ts);
	return 0;
}

/* Waits, with cm->lock held, until pred(conn), the deadline, or the
 * requester's cancel. */
static int wait_until(struct map_cm *cm, struct map_conn *conn,
		      bool (*pred)(struct map_conn *), uint64_t deadline)
{
	int err = 0;

	while (!err && !pred(conn))
		err = wait_step(cm, deadline, conn->cancel);
	return err;
}

/* ------------------------------------------------------- server side */

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
	err = make_sockaddr(&ss, addr, addr_len, port);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->port = port;
	l->idle_ms = now_ms();
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
			/* Until answered, it is refused in time (take_expired). */
			c->next = cm->taken;
			cm->taken = c;
			c->taken = true;
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
	uint64_t deadline = deadline_of(timeout_ms);
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
		err = wait_step(cm, deadline, cancel);
	if (l && !--l->waiters)
		l->idle_ms = now_ms();
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;
	*peer_info = c->peer;
	peer_address(c->id, peer_addr, peer_addr_len);
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
		unhold(conn);
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
		if (rdma_accept(conn->id, &param))
			err = errno ? errno : EIO;
	}
	pthread_mutex_lock(&cm->lock);
	if (!err)
		err = wait_until(cm, conn, accept_settled,
				 deadline_of(timeout_ms));
	else /* the id may have failed as its requester left: hear why */
		wait_until(cm, conn, accept_settled, deadline_of(RESOLVE_MS));
	/* Established then lost at once is still accepted: the VI reports
	 * the loss as VIPL says (Error state, flushed descriptors). */
	if (!err && !conn->established)
		err = ECONNABORTED;
	/* Whatever failed, a requester that left first is the reason. */
	if (err && requester_gone(conn))
		err = ETIMEDOUT;
	if (err)
		conn->qp = NULL;
	pthread_mutex_unlock(&cm->lock);
	return err;
}

void map_conn_reject(struct map_conn *conn, enum map_reject_reason why)
{
	reject_conn(conn, why);
}

/* ------------------------------------------------------- client side */

static bool addr_settled(struct map_conn *c)
{
	return c->state != CONN_NEW;
}

static bool route_settled(struct map_conn *c)
{
	return c->state != CONN_ADDR_RESOLVED;
}

static bool connect_settled(struct map_conn *c)
{
	return c->state != CONN_ROUTE_RESOLVED;
}

/* One attempt: 0, EAGAIN (nobody listens yet: try again), or an error. */
/* A resolution that timed out (a busy machine, or our own short timeout
 * near the deadline) is worth another try; anything else means no route. */
static int resolve_error(const struct map_conn *conn)
{
	return conn->status == -ETIMEDOUT ? EAGAIN : EHOSTUNREACH;
}

/* Resolves address then route for a reliable (RC) connection. */
static int resolve_rc(struct map_cm *cm, struct map_conn *conn,
		      struct sockaddr *src, struct sockaddr *dst,
		      uint64_t deadline)
{
	int err;

	if (rdma_create_id(cm->ch, &conn->id, conn, RDMA_PS_TCP))
		return errno ? errno : ENOMEM;
	if (rdma_resolve_addr(conn->id, src, dst,
			      remaining_ms(deadline, RESOLVE_MS)))
		return errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	err = wait_until(cm, conn, addr_settled, deadline);
	if (!err && conn->state != CONN_ADDR_RESOLVED)
		err = resolve_error(conn);
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;

	if (rdma_resolve_route(conn->id, remaining_ms(deadline, RESOLVE_MS)))
		return errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	err = wait_until(cm, conn, route_settled, deadline);
	if (!err && conn->state != CONN_ROUTE_RESOLVED)
		err = resolve_error(conn);
	pthread_mutex_unlock(&cm->lock);
	return err;
}

/*
 * The unreliable level runs on UC queue pairs. rdma_create_id() only makes
 * RC ids in the TCP port space; rdma_create_ep() takes the QP type from
 * rdma_getaddrinfo() hints (and resolves synchronously), after which the
 * id joins our event channel like any other.
 */
static int resolve_uc(struct map_cm *cm, struct map_conn *conn,
		      struct sockaddr *src, struct sockaddr *dst)
{
	struct rdma_addrinfo hints, *res;
	char host[INET6_ADDRSTRLEN], port[8];
	const void *ip = dst->sa_family == AF_INET
				 ? (const void *)&((struct sockaddr_in *)dst)->sin_addr
				 : (const void *)&((struct sockaddr_in6 *)dst)->sin6_addr;
	int ret;

	if (!inet_ntop(dst->sa_family, ip, host, sizeof(host)))
		return EINVAL;
	snprintf(port, sizeof(port), "%u",
		 ntohs(((struct sockaddr_in *)dst)->sin_port));
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = RAI_NUMERICHOST;
	hints.ai_port_space = RDMA_PS_TCP;
	hints.ai_qp_type = IBV_QPT_UC;
	if (src) {
		hints.ai_src_addr = src;
		hints.ai_src_len = src->sa_family == AF_INET
					   ? sizeof(struct sockaddr_in)
					   : sizeof(struct sockaddr_in6);
	}
	if (rdma_getaddrinfo(host, port, &hints, &res))
		return EHOSTUNREACH;
	ret = rdma_create_ep(&conn->id, res, NULL, NULL);
	rdma_freeaddrinfo(res);
	if (ret)
		return errno ? errno : EHOSTUNREACH;
	pthread_mutex_lock(&cm->lock);
	conn->id->context = conn;
	conn->state = CONN_ROUTE_RESOLVED;
	pthread_mutex_unlock(&cm->lock);
	if (rdma_migrate_id(conn->id, cm->ch))
		return errno ? errno : EIO;
	return 0;
}

/*
 * One attempt: 0, ECONNREFUSED with *why (MAP_REJECT_NO_MATCH also when
 * nobody listens on that port: rdma_cm's own refusal carries no reason of
 * ours), EAGAIN (no answer: try again), or an error.
 */
static int try_connect(struct map_cm *cm, struct map_conn *conn,
		       struct map_qp *qp, struct sockaddr *src,
		       struct sockaddr *dst, const struct map_conn_info *info,
		       uint64_t deadline, enum map_reject_reason *why)
{
	struct map_conn_info mine = *info;
	struct rdma_conn_param param;
	uint8_t buf[WIRE_MAX_LEN];
	int err;

	err = mine.level == VIP_SERVICE_UNRELIABLE
		      ? resolve_uc(cm, conn, src, dst)
		      : resolve_rc(cm, conn, src, dst, deadline);
	if (err)
		return err;

	/* The server holds the request about this long for a waiter. */
	mine.patience_ms = deadline == UINT64_MAX
				   ? -1
				   : remaining_ms(deadline, INT32_MAX);
	memset(&param, 0, sizeof(param));
	param.private_data = buf;
	param.private_data_len = wire_build(buf, WIRE_REQUEST, 0, &mine);
	param.responder_resources = cm->rd_atom;
	param.initiator_depth = cm->rd_atom;
	param.retry_count = CM_RETRY_COUNT;
	param.rnr_retry_count = CM_RNR_RETRY;
	param.qp_num = qp->qp->qp_num;
	if (rdma_connect(conn->id, &param))
		return errno ? errno : EIO;

	/* The answer may be on its way as our time runs out: a server
	 * refuses a request it cannot match shortly before that. */
	pthread_mutex_lock(&cm->lock);
	err = wait_until(cm, conn, connect_settled,
			 deadline == UINT64_MAX ? deadline
						: deadline + ANSWER_GRACE_MS);
	if (!err && conn->state == CONN_REJECTED) {
		*why = conn->peer_valid ? conn->reject_reason
					: MAP_REJECT_NO_MATCH;
		err = ECONNREFUSED;
	} else if (!err && conn->state != CONN_RESPONDED) {
		err = EAGAIN; /* unreachable: the CM gave up, try again */
	}
	if (!err)
		conn->qp = qp;
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;

	err = map_qp_connect(qp, conn->id);
	if (!err && rdma_establish(conn->id))
		err = errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	if (err)
		conn->qp = NULL;
	else if (conn->state == CONN_RESPONDED)
		conn->state = CONN_ESTABLISHED;
	if (!err)
		conn->established = true;
	pthread_mutex_unlock(&cm->lock);
	return err;
}

int map_conn_request(struct map_dev *dev, struct map_qp *qp,
		     const uint8_t *src, unsigned int src_len,
		     const uint8_t *dst, unsigned int dst_len,
		     const struct map_conn_info *mine, int timeout_ms,
		     bool until_matched, struct map_conn **out,
		     struct map_conn_info *peer_info,
		     enum map_reject_reason *why, const atomic_bool *cancel)
{
	uint64_t deadline = deadline_of(timeout_ms);
	struct sockaddr_storage sss, dss;
	struct map_cm *cm = cm_get(dev);
	struct map_conn *conn;
	bool answered = false;
	int err;

	if (!cm)
		return ENOMEM;
	err = make_sockaddr(&dss, dst, dst_len,
			    map_disc_port(mine->disc, mine->disc_len));
	if (!err && src_len)
		err = make_sockaddr(&sss, src, src_len, 0);
	if (err)
		return err;

	for (;;) {
		conn = calloc(1, sizeof(*conn));
		if (!conn)
			return ENOMEM;
		conn->cm = cm;
		conn->cancel = cancel;
		err = try_connect(cm, conn, qp,
				  src_len ? (struct sockaddr *)&sss : NULL,
				  (struct sockaddr *)&dss, mine, deadline, why);
		if (!err)
			break;
		conn_destroy(conn);
		/* No match is an answer: the caller hears it at once, or
		 * (until_matched) we try again until the time is up. */
		if (err == ECONNREFUSED && *why == MAP_REJECT_NO_MATCH &&
		    until_matched) {
			answered = true;
			err = EAGAIN;
		}
		if (err == ECONNREFUSED)
			return err;
		/* Whatever failed once the time was up: the host answered
		 * (nobody matched), or it said nothing at all. */
		if (remaining_ms(deadline, RETRY_PAUSE_MS) < RETRY_PAUSE_MS ||
		    err == ETIMEDOUT) {
			if (!answered)
				return ETIMEDOUT;
			*why = MAP_REJECT_NO_MATCH;
			return ECONNREFUSED;
		}
		if (err != EAGAIN)
			return err;
		usleep(RETRY_PAUSE_MS * 1000);
		if (cancel && atomic_load(cancel))
			return ECANCELED;
	}
	conn->cancel = NULL; /* the requester's flag may go away now */
	if (!conn->peer_valid) {
		map_conn_close(conn);
		return EPROTO;
	}
	*peer_info = conn->peer;
	*out = conn;
	return 0;
}

void map_conn_kick(struct map_dev *dev)
{
	struct map_cm *cm = dev->cm;

	if (!cm)
		return;
	pthread_mutex_lock(&cm->lock);
	pthread_cond_broadcast(&cm->cond);
	pthread_mutex_unlock(&cm->lock);
}

void map_conn_on_lost(struct map_conn *conn, void (*fn)(void *arg),
		      void *arg)
{
	bool already;

	pthread_mutex_lock(&conn->cm->lock);
	conn->on_lost = fn;
	conn->on_lost_arg = arg;
	already = conn->lost;
	pthread_mutex_unlock(&conn->cm->lock);
	/* Lost before anyone listened (peer left right after connecting). */
	if (already)
		fn(arg);
}

void map_conn_break(struct map_conn *conn)
{
	pthread_mutex_lock(&conn->cm->lock);
	if (!conn->dead && conn->state == CONN_ESTABLISHED)
		rdma_disconnect(conn->id);
	pthread_mutex_unlock(&conn->cm->lock);
}

bool map_conn_lost(struct map_conn *conn)
{
	return atomic_load(&conn->lost);
}

void map_conn_close(struct map_conn *conn)
{
	struct map_cm *cm = conn->cm;

	pthread_mutex_lock(&cm->lock);
	if (conn->state == CONN_ESTABLISHED)
		rdma_disconnect(conn->id);
	conn->qp = NULL;
	pthread_mutex_unlock(&cm->lock);
	conn_destroy(conn);
}
