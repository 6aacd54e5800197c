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
 *
 * This file holds the thread, its event dispatch and the connections'
 * life (closing, breaking, losing, the wait helpers); the server side
 * (listeners, held requests, accepting) is in cm_server.c, the client side
 * (resolving, requesting) in cm_client.c, what they share in cm.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cm.h"
#include "wire.h"

#define PORT_BASE_DEFAULT 20000
#define PORT_SPAN 8192
#define SWEEP_MS 500

uint64_t cm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cm_deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? UINT64_MAX : cm_now_ms() + (uint64_t)timeout_ms;
}

int cm_remaining_ms(uint64_t deadline, int cap)
{
	uint64_t now = cm_now_ms();

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

int cm_make_sockaddr(struct sockaddr_storage *ss, const uint8_t *addr,
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

void cm_peer_address(struct rdma_cm_id *id, uint8_t *addr, uint16_t *len)
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

/* Frees a conn that no event can reach any more (its id is gone). */
void cm_conn_destroy(struct map_conn *conn)
{
	struct map_cm *cm = conn->cm;

	pthread_mutex_lock(&cm->lock);
	conn->dead = true;
	cm_unhold(conn);
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
		/* iWARP's active side hears the server's answer here: there
		 * is no CONNECT_RESPONSE, the kernel moved the QP to RTS. */
		if (conn->state == CONN_ROUTE_RESOLVED && plen &&
		    !wire_parse(pdata, plen, &kind, &reason, &conn->peer) &&
		    kind == WIRE_ACCEPT)
			conn->peer_valid = true;
		conn->state = CONN_ESTABLISHED;
		conn->established = true;
		break;
	case RDMA_CM_EVENT_REJECTED:
		/* Ours carry a reason; rdma_cm's own (no listener) do not.
		 * IB CM says "consumer defined" (28); iWARP gives an errno
		 * (an MPA reject is refused, a reset connection reset). */
		if ((status == 28 /* IB_CM_REJ_CONSUMER_DEFINED */ ||
		     status == -ECONNREFUSED || status == -ECONNRESET) &&
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
	CM_TRACE("%s (status %d) on %p", rdma_event_str(type), status,
		 (void *)id);
	if (type == RDMA_CM_EVENT_CONNECT_REQUEST)
		refuse = cm_on_request(cm, id, listen_id, pdata, plen);
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
			CM_TRACE("held request %p: its requester left",
				 (void *)id);
			cm_unhold(conn);
			gone = conn;
		} else if (conn->taken && conn->state != CONN_REQUESTED) {
			/* its handle's owner learns on accept */
			cm_unhold(conn);
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
		cm_reject_conn(refuse, MAP_REJECT_NO_MATCH);
	if (gone)
		cm_conn_destroy(gone);
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
		next_ms = cm_now_ms() + SWEEP_MS;
		expired = cm_take_expired(cm, &next_ms);
		cm_close_idle_listeners(cm);
		pthread_mutex_unlock(&cm->lock);
		/* Wake for the next held request's refusal on time: its
		 * requester is about to give up. */
		wait_ms = (int)cm_remaining_ms(next_ms, SWEEP_MS);
		for (; expired; expired = next) {
			next = expired->next;
			cm_reject_conn(expired, MAP_REJECT_NO_MATCH);
		}
	}
	return NULL;
}

struct map_cm *cm_get(struct map_dev *dev)
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
			cm_reject_conn(c, MAP_REJECT_NO_MATCH);
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
int cm_wait_step(struct map_cm *cm, uint64_t deadline,
		 const atomic_bool *cancel)
{
	struct timespec ts;

	if (cancel && atomic_load(cancel))
		return ECANCELED;
	if (deadline == UINT64_MAX) {
		pthread_cond_wait(&cm->cond, &cm->lock);
		return 0;
	}
	if (cm_now_ms() >= deadline)
		return ETIMEDOUT;
	ts.tv_sec = deadline / 1000;
	ts.tv_nsec = (deadline % 1000) * 1000000;
	pthread_cond_timedwait(&cm->cond, &cm->lock, &ts);
	return 0;
}

/* Waits, with cm->lock held, until pred(conn), the deadline, or the
 * requester's cancel. */
int cm_wait_until(struct map_cm *cm, struct map_conn *conn,
		  bool (*pred)(struct map_conn *), uint64_t deadline)
{
	int err = 0;

	while (!err && !pred(conn))
		err = cm_wait_step(cm, deadline, conn->cancel);
	return err;
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
	cm_conn_destroy(conn);
}
