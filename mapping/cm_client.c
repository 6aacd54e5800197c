/*
 * cm_client.c - the client side of connections (cm.c describes the
 * design): resolving address and route (RC) or an endpoint (UC), one
 * connect attempt, and map_conn_request, which tries again until matched
 * or out of time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cm.h"
#include "wire.h"

#define ANSWER_GRACE_MS 250
#define RETRY_PAUSE_MS 20

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
			      cm_remaining_ms(deadline, RESOLVE_MS)))
		return errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	err = cm_wait_until(cm, conn, addr_settled, deadline);
	if (!err && conn->state != CONN_ADDR_RESOLVED)
		err = resolve_error(conn);
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;

	if (rdma_resolve_route(conn->id, cm_remaining_ms(deadline, RESOLVE_MS)))
		return errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	err = cm_wait_until(cm, conn, route_settled, deadline);
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
	bool by_cm = false;
	int err;

	err = qp->qp->qp_type == IBV_QPT_UC
		      ? resolve_uc(cm, conn, src, dst)
		      : resolve_rc(cm, conn, src, dst, deadline);
	if (err)
		return err;

	/* The server holds the request about this long for a waiter. */
	mine.patience_ms = deadline == UINT64_MAX
				   ? -1
				   : cm_remaining_ms(deadline, INT32_MAX);
	memset(&param, 0, sizeof(param));
	param.private_data = buf;
	param.private_data_len = wire_build(buf, WIRE_REQUEST, 0, &mine);
	param.responder_resources = cm->rd_atom;
	param.initiator_depth = cm->rd_atom;
	param.retry_count = CM_RETRY_COUNT;
	param.rnr_retry_count = CM_RNR_RETRY;
	param.qp_num = qp->qp->qp_num;
	if (rdma_connect(conn->id, &param)) {
		err = errno ? errno : EIO;
		CM_TRACE("connect %p: rdma_connect error %d",
			 (void *)conn->id, err);
		/* iWARP connects TCP within the call: nobody listens. */
		if (err == ECONNREFUSED)
			*why = MAP_REJECT_NO_MATCH;
		return err;
	}
	/* iWARP: the request went out with the QP; from now on a failure
	 * spends it (map_conn_request asks for another). */
	map_iw_attempting(qp, true);

	/* The answer may be on its way as our time runs out: a server
	 * refuses a request it cannot match shortly before that. */
	pthread_mutex_lock(&cm->lock);
	err = cm_wait_until(cm, conn, connect_settled,
			    deadline == UINT64_MAX ? deadline
						   : deadline + ANSWER_GRACE_MS);
	if (!err && conn->state == CONN_REJECTED) {
		*why = conn->peer_valid ? conn->reject_reason
					: MAP_REJECT_NO_MATCH;
		err = ECONNREFUSED;
	} else if (!err && conn->state == CONN_ESTABLISHED) {
		by_cm = true; /* iWARP: connected, the QP in RTS */
	} else if (!err && conn->state != CONN_RESPONDED) {
		err = EAGAIN; /* unreachable: the CM gave up, try again */
	}
	if (!err)
		conn->qp = qp;
	CM_TRACE("connect %p: answer error %d (state %d, patience %d ms)",
		 (void *)conn->id, err, (int)conn->state,
		 (int)mine.patience_ms);
	pthread_mutex_unlock(&cm->lock);
	if (err)
		return err;

	err = map_qp_connect(qp, conn->id);
	if (!err && !by_cm && rdma_establish(conn->id))
		err = errno ? errno : EIO;
	pthread_mutex_lock(&cm->lock);
	if (err)
		conn->qp = NULL;
	else if (conn->state == CONN_RESPONDED)
		conn->state = CONN_ESTABLISHED;
	if (!err)
		conn->established = true;
	pthread_mutex_unlock(&cm->lock);
	if (!err)
		map_iw_attempting(qp, false);
	return err;
}

int map_conn_request(struct map_dev *dev, struct map_qp *qp,
		     const uint8_t *src, unsigned int src_len,
		     const uint8_t *dst, unsigned int dst_len,
		     const struct map_conn_info *mine, int timeout_ms,
		     bool until_matched, struct map_conn **out,
		     struct map_conn_info *peer_info,
		     enum map_reject_reason *why, const atomic_bool *cancel,
		     struct map_qp *(*renew)(void *arg), void *renew_arg)
{
	uint64_t deadline = cm_deadline_of(timeout_ms);
	struct sockaddr_storage sss, dss;
	struct map_cm *cm = cm_get(dev);
	struct map_conn *conn;
	bool answered = false;
	int err;

	if (!cm)
		return ENOMEM;
	err = cm_make_sockaddr(&dss, dst, dst_len,
			       map_disc_port(mine->disc, mine->disc_len));
	if (!err && src_len)
		err = cm_make_sockaddr(&sss, src, src_len, 0);
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
		cm_conn_destroy(conn);
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
		if (cm_remaining_ms(deadline, RETRY_PAUSE_MS) <
			    RETRY_PAUSE_MS ||
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
		/* An attempt that got as far as the QP's transition (or, on
		 * iWARP, as the request) leaves it unfit for the next. */
		if (map_qp_left_init(qp)) {
			if (!renew || !(qp = renew(renew_arg)))
				return EIO;
		}
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
