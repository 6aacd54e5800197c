/*
 * verbs_bench.c - the raw-verbs twin of vipl_bench.c: the same protocol
 * (common.h) written directly on libibverbs and librdmacm, sharing no
 * code with libvipl.
 *
 *   server: verbs_bench -s -a ADDR -t TEST [options]
 *   client: verbs_bench -c ADDR -t TEST [options]
 *
 * It does what libvipl does on verbs and nothing more: one RC queue pair
 * with a send and a receive CQ of its own (1024 entries each, a completion
 * channel each), 16 SGEs and 128 bytes inline asked for, the same RNR
 * timer, retries and ACK timeout (6 transport retries, 1.07 s per try at
 * most); every send signalled; sends up to the inline limit go inline;
 * the queue pair is created before the connection and moved through
 * INIT/RTR/RTS by hand with rdma_init_qp_attr, then
 * rdma_establish, as libvipl's connection manager does. So vipl_bench /
 * verbs_bench is the cost of libvipl.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "common.h"
#include "twin.h"

/* Its queue pair takes RDMA writes, as vipl_bench's VI does. */
#define QP_ACCESS (IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE)

#define POLL_BATCH 16
#define PRIV_LEN 56 /* about what libvipl's connection request carries */

struct ep {
	const struct bench_opts *o;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen_id, *id;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_comp_channel *schan, *rchan;
	struct ibv_cq *scq, *rcq;
	struct ibv_qp *qp;
	struct ibv_mr *mr;
	uint32_t max_inline;
	uint8_t rd_atom;
	char *mem;
	size_t len;
	char *sbuf, *rbuf;
	uint64_t peer_addr;
	uint32_t peer_rkey;
	struct ibv_send_wr swr[BENCH_QUEUE_DEPTH / 2 + 1];
	struct ibv_sge ssge[BENCH_QUEUE_DEPTH / 2 + 1];
};

struct info_msg {
	uint64_t addr;
	uint32_t rkey;
	uint32_t pad;
};

#define CHECK0(call)                                                           \
	do {                                                                   \
		if (call)                                                      \
			bench_die("%s: %s", #call, strerror(errno));          \
	} while (0)

static struct rdma_cm_event *get_event(struct ep *ep,
				       enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;

	CHECK0(rdma_get_cm_event(ep->ch, &ev));
	if (ev->event != want)
		bench_die("rdma_cm: %s (status %d), expected %s",
			  rdma_event_str(ev->event), ev->status,
			  rdma_event_str(want));
	return ev;
}

static void wait_event(struct ep *ep, enum rdma_cm_event_type want)
{
	rdma_ack_cm_event(get_event(ep, want));
}

static void addr_of(const struct bench_opts *o, struct sockaddr_storage *ss)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *ai;
	char port[16];

	snprintf(port, sizeof(port), "%u", o->port);
	if (getaddrinfo(o->addr, port, &hints, &ai))
		bench_die("bad address %s", o->addr);
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
}

/* Everything but the connection, once ctx is known. */
static void resources(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	struct ibv_device_attr da;
	size_t blen = (o->max_size + 4095) & ~(size_t)4095;

	if (ep->pd)
		return;
	CHECK0(ibv_query_device(ep->ctx, &da));
	ep->rd_atom = da.max_qp_rd_atom < 16 ? da.max_qp_rd_atom : 16;
	ep->pd = ibv_alloc_pd(ep->ctx);
	ep->schan = ibv_create_comp_channel(ep->ctx);
	ep->rchan = ibv_create_comp_channel(ep->ctx);
	if (!ep->pd || !ep->schan || !ep->rchan)
		bench_die("pd/channel: %s", strerror(errno));
	ep->scq = ibv_create_cq(ep->ctx, BENCH_QUEUE_DEPTH, NULL, ep->schan, 0);
	ep->rcq = ibv_create_cq(ep->ctx, BENCH_QUEUE_DEPTH, NULL, ep->rchan, 0);
	if (!ep->scq || !ep->rcq)
		bench_die("ibv_create_cq: %s", strerror(errno));
	ep->qp = twin_qp_create(ep->pd, ep->scq, ep->rcq, &ep->max_inline);
	ep->len = 2 * blen;
	if (posix_memalign((void **)&ep->mem, 4096, ep->len))
		bench_die("out of memory");
	memset(ep->mem, 0, ep->len);
	ep->mr = ibv_reg_mr(ep->pd, ep->mem, ep->len,
			    IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE);
	if (!ep->mr)
		bench_die("ibv_reg_mr: %s", strerror(errno));
	ep->sbuf = ep->mem;
	ep->rbuf = ep->mem + blen;
}

static void conn_param(struct ep *ep, struct rdma_conn_param *p,
		       uint8_t *priv)
{
	memset(priv, 0, PRIV_LEN);
	priv[0] = 1; /* a version byte, as a real protocol would carry */
	twin_conn_param(p, priv, PRIV_LEN, ep->rd_atom, ep->qp);
}

static void listen_on(struct ep *ep)
{
	struct sockaddr_storage ss;

	addr_of(ep->o, &ss);
	CHECK0(rdma_create_id(ep->ch, &ep->listen_id, NULL, RDMA_PS_TCP));
	CHECK0(rdma_bind_addr(ep->listen_id, (struct sockaddr *)&ss));
	CHECK0(rdma_listen(ep->listen_id, 64));
	ep->ctx = ep->listen_id->verbs;
	if (!ep->ctx)
		bench_die("no device behind %s", ep->o->addr);
	resources(ep);
}

/* Server: accept the request ev names on our queue pair. */
static void accept_req(struct ep *ep, struct rdma_cm_id *id)
{
	struct rdma_conn_param p;
	uint8_t priv[PRIV_LEN];

	ep->id = id;
	twin_qp_rtr_rts(ep->qp, id);
	conn_param(ep, &p, priv);
	CHECK0(rdma_accept(id, &p));
}

static void server_connect(struct ep *ep)
{
	struct rdma_cm_event *ev = get_event(ep, RDMA_CM_EVENT_CONNECT_REQUEST);
	struct rdma_cm_id *id = ev->id;

	rdma_ack_cm_event(ev);
	accept_req(ep, id);
	wait_event(ep, RDMA_CM_EVENT_ESTABLISHED);
}

static unsigned long cm_rejects; /* by rdma_cm itself: tried again */

/* As libvipl: a reject that is rdma_cm's own (e.g. a
 * stale connection while the queue pair's last one is in time-wait) is
 * tried again after 20 ms. (Over RoCE such a reject still carries the
 * REJ message's private data field, zeroed; libvipl tells them apart by
 * its own wire header.) */
static void client_connect(struct ep *ep)
{
	struct sockaddr_storage ss;
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;
	uint8_t priv[PRIV_LEN];
	int rejected;

	addr_of(ep->o, &ss);
	for (;;) {
		CHECK0(rdma_create_id(ep->ch, &ep->id, NULL, RDMA_PS_TCP));
		CHECK0(rdma_resolve_addr(ep->id, NULL, (struct sockaddr *)&ss,
					 2000));
		wait_event(ep, RDMA_CM_EVENT_ADDR_RESOLVED);
		if (!ep->ctx) {
			ep->ctx = ep->id->verbs;
			resources(ep);
			twin_qp_init(ep->qp, QP_ACCESS);
		}
		CHECK0(rdma_resolve_route(ep->id, 2000));
		wait_event(ep, RDMA_CM_EVENT_ROUTE_RESOLVED);
		conn_param(ep, &p, priv);
		if (rdma_connect(ep->id, &p)) {
			/* iWARP connects TCP within the call: not yet. */
			if (errno != ECONNREFUSED)
				bench_die("rdma_connect: %s", strerror(errno));
			cm_rejects++;
			CHECK0(rdma_destroy_id(ep->id));
			usleep(20000);
			continue;
		}
		CHECK0(rdma_get_cm_event(ep->ch, &ev));
		/* Our server never refuses: a reject is rdma_cm's. */
		rejected = ev->event == RDMA_CM_EVENT_REJECTED;
		if (!rejected && ev->event != RDMA_CM_EVENT_CONNECT_RESPONSE &&
		    !(ev->event == RDMA_CM_EVENT_ESTABLISHED &&
		      twin_iwarp(ep->qp)))
			bench_die("rdma_cm: %s (status %d)",
				  rdma_event_str(ev->event), ev->status);
		rdma_ack_cm_event(ev);
		if (!rejected)
			break;
		cm_rejects++;
		CHECK0(rdma_destroy_id(ep->id));
		usleep(20000);
	}
	if (twin_iwarp(ep->qp))
		return; /* connected, the QP in RTS */
	twin_qp_rtr_rts(ep->qp, ep->id);
	CHECK0(rdma_establish(ep->id));
}

/* The QP ready for the next connection: back to INIT, or (iWARP, whose
 * error state is final) a new one, as libvipl takes. TWIN_NEW_QP=1: a
 * new one on every device, to measure what that costs. */
static void qp_renew(struct ep *ep)
{
	static int fresh = -1;

	if (fresh < 0) {
		const char *v = getenv("TWIN_NEW_QP");

		fresh = v && *v == '1';
	}
	if (!twin_iwarp(ep->qp) && !fresh) {
		twin_qp_init(ep->qp, QP_ACCESS);
		return;
	}
	CHECK0(ibv_destroy_qp(ep->qp));
	ep->qp = twin_qp_create(ep->pd, ep->scq, ep->rcq, &ep->max_inline);
	if (!twin_iwarp(ep->qp))
		twin_qp_init(ep->qp, QP_ACCESS);
}

/* Ends the connection as libvipl's VipDisconnect does: disconnect, drop
 * the id, flush the queue pair, drain, and back to INIT. */
static void disconnect(struct ep *ep)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct ibv_wc wc[POLL_BATCH];

	rdma_disconnect(ep->id);
	CHECK0(rdma_destroy_id(ep->id));
	ep->id = NULL;
	if (!twin_iwarp(ep->qp)) /* there the id's end moved it already */
		CHECK0(ibv_modify_qp(ep->qp, &a, IBV_QP_STATE));
	while (ibv_poll_cq(ep->scq, POLL_BATCH, wc) > 0)
		;
	while (ibv_poll_cq(ep->rcq, POLL_BATCH, wc) > 0)
		;
	qp_renew(ep);
}

/* ------------------------------------------------------------ data path */

static void post_recv(struct ep *ep, void *buf, unsigned long len)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)buf,
		.length = (uint32_t)len,
		.lkey = ep->mr->lkey,
	};
	struct ibv_recv_wr wr = {
		.sg_list = &sge,
		.num_sge = len ? 1 : 0,
	}, *bad;

	if (ibv_post_recv(ep->qp, &wr, &bad))
		bench_die("ibv_post_recv failed");
}

/* Send work request i: a send (or RDMA write to the peer's rbuf) of len
 * bytes from sbuf, signalled, inline when small enough. */
static void build_wr(struct ep *ep, unsigned int i, void *buf,
		     unsigned long len, int write)
{
	struct ibv_send_wr *wr = &ep->swr[i];
	struct ibv_sge *sge = &ep->ssge[i];

	memset(wr, 0, sizeof(*wr));
	sge->addr = (uintptr_t)buf;
	sge->length = (uint32_t)len;
	sge->lkey = ep->mr->lkey;
	wr->wr_id = i;
	wr->sg_list = sge;
	wr->num_sge = len ? 1 : 0;
	wr->send_flags = IBV_SEND_SIGNALED;
	if (len <= ep->max_inline)
		wr->send_flags |= IBV_SEND_INLINE;
	wr->opcode = write ? IBV_WR_RDMA_WRITE : IBV_WR_SEND;
	if (write) {
		wr->wr.rdma.remote_addr = ep->peer_addr;
		wr->wr.rdma.rkey = ep->peer_rkey;
	}
}

static void post_wr(struct ep *ep, unsigned int i)
{
	struct ibv_send_wr *bad;

	if (ibv_post_send(ep->qp, &ep->swr[i], &bad))
		bench_die("ibv_post_send failed");
}

static void check_wc(const struct ibv_wc *wc)
{
	if (wc->status != IBV_WC_SUCCESS)
		bench_die("completion: %s", ibv_wc_status_str(wc->status));
}

/* Busy-polls for one completion. */
static void reap_one(struct ibv_cq *cq, struct ibv_wc *wc)
{
	int n;

	while ((n = ibv_poll_cq(cq, 1, wc)) == 0)
		;
	if (n < 0)
		bench_die("ibv_poll_cq failed");
	check_wc(wc);
}

static void take_info(struct ep *ep)
{
	struct info_msg in;

	memcpy(&in, ep->rbuf, sizeof(in));
	memset(ep->rbuf, 0, sizeof(in));
	ep->peer_addr = be64toh(in.addr);
	ep->peer_rkey = be32toh(in.rkey);
}

/* As vipl_bench.c's exchange(). */
static void exchange(struct ep *ep, void (*post_test_recvs)(struct ep *))
{
	struct info_msg *out = (struct info_msg *)ep->sbuf;
	struct ibv_wc wc;

	out->addr = htobe64((uintptr_t)ep->rbuf);
	out->rkey = htobe32(ep->mr->rkey);
	out->pad = 0;
	build_wr(ep, 0, out, sizeof(*out), 0);
	if (ep->o->server) {
		reap_one(ep->rcq, &wc);
		take_info(ep);
	}
	post_test_recvs(ep);
	post_wr(ep, 0);
	reap_one(ep->scq, &wc);
	if (!ep->o->server) {
		reap_one(ep->rcq, &wc);
		take_info(ep);
	}
	memset(out, 0, sizeof(*out));
}

static void post_one_recv(struct ep *ep)
{
	post_recv(ep, ep->rbuf, ep->o->max_size);
}

static void post_rx_depth(struct ep *ep)
{
	unsigned int i;

	for (i = 0; i < ep->o->rx_depth; i++)
		post_recv(ep, ep->rbuf, ep->o->max_size);
}

static void post_nothing(struct ep *ep)
{
	(void)ep;
}

static void lat_send(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, i, n, w;
	uint64_t *ns = calloc(o->iters + o->min_iters, sizeof(*ns)), t0;
	struct ibv_wc wc;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		w = bench_warmup(o, size);
		build_wr(ep, 0, ep->sbuf, size, 0);
		for (i = 0; i < w + n; i++) {
			t0 = bench_now_ns();
			if (o->server) {
				reap_one(ep->rcq, &wc);
				post_recv(ep, ep->rbuf, o->max_size);
				post_wr(ep, 0);
				reap_one(ep->scq, &wc);
			} else {
				post_wr(ep, 0);
				reap_one(ep->rcq, &wc);
				post_recv(ep, ep->rbuf, o->max_size);
				reap_one(ep->scq, &wc);
			}
			if (i >= w)
				ns[i - w] = (bench_now_ns() - t0) / 2;
		}
		bench_alive();
		if (!o->server)
			bench_report_lat(o, size, ns, n);
	}
	free(ns);
}

static void lat_write(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, i, n, w, k = 0;
	uint64_t *ns = calloc(o->iters + o->min_iters, sizeof(*ns)), t0;
	volatile char *poll;
	struct ibv_wc wc;
	char v;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		build_wr(ep, 0, ep->sbuf, size, 1);
		poll = ep->rbuf + size - 1;
		w = bench_warmup(o, size);
		for (i = 0; i < w + n; i++, k++) {
			v = (char)(1 + k % 255);
			t0 = bench_now_ns();
			if (o->server) {
				while (*poll != v)
					;
				ep->sbuf[size - 1] = v;
				post_wr(ep, 0);
				reap_one(ep->scq, &wc);
			} else {
				ep->sbuf[size - 1] = v;
				post_wr(ep, 0);
				while (*poll != v)
					;
				reap_one(ep->scq, &wc);
			}
			if (i >= w)
				ns[i - w] = (bench_now_ns() - t0) / 2;
		}
		bench_alive();
		if (!o->server)
			bench_report_lat(o, size, ns, n);
	}
	free(ns);
}

/* As vipl_bench.c's stream(): n operations, depth in flight, each slot
 * posted again when the oldest completes. Completions are polled in
 * batches of -b (16, as perftest does). */
static uint64_t stream(struct ep *ep, unsigned long n)
{
	unsigned long posted = 0, done = 0;
	unsigned int depth = ep->o->depth;
	uint64_t t0 = bench_now_ns();
	struct ibv_wc wc[POLL_BATCH];
	int got, j;

	while (done < n) {
		for (; posted < n && posted - done < depth; posted++)
			post_wr(ep, posted % depth);
		while ((got = ibv_poll_cq(ep->scq, (int)ep->o->batch, wc)) == 0)
			;
		if (got < 0)
			bench_die("ibv_poll_cq failed");
		for (j = 0; j < got; j++)
			check_wc(&wc[j]);
		done += got;
	}
	return bench_now_ns() - t0;
}

static void bw_client(struct ep *ep, int write)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, n;
	unsigned int i;
	uint64_t ns;
	struct ibv_wc wc;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		for (i = 0; i < o->depth; i++)
			build_wr(ep, i, ep->sbuf, size, write);
		stream(ep, bench_warmup(o, size));
		ns = stream(ep, n);
		bench_alive();
		bench_report_bw(o, size, n, ns);
	}
	if (write) {
		build_wr(ep, o->depth, NULL, 0, 0);
		post_wr(ep, o->depth);
		reap_one(ep->scq, &wc);
	}
}

static void bw_send_server(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, total = 0, i = 0;
	struct ibv_wc wc[POLL_BATCH];
	int got, j;

	for (size = o->min_size; size; size = bench_next_size(o, size))
		total += bench_warmup(o, size) + bench_iters(o, size);
	while (i < total) {
		while ((got = ibv_poll_cq(ep->rcq, POLL_BATCH, wc)) == 0)
			;
		if (got < 0)
			bench_die("ibv_poll_cq failed");
		for (j = 0; j < got; j++) {
			check_wc(&wc[j]);
			post_recv(ep, ep->rbuf, o->max_size);
		}
		if ((i & ~1023ul) != ((i + got) & ~1023ul))
			bench_alive();
		i += got;
	}
}

/* Idle until "done": sleep on the receive CQ's channel. */
static void bw_write_server(struct ep *ep)
{
	struct ibv_cq *cq;
	void *cq_ctx;
	struct ibv_wc wc;
	int n;

	alarm(0);
	for (;;) {
		CHECK0(ibv_req_notify_cq(ep->rcq, 0));
		n = ibv_poll_cq(ep->rcq, 1, &wc);
		if (n > 0)
			break;
		CHECK0(ibv_get_cq_event(ep->rchan, &cq, &cq_ctx));
		ibv_ack_cq_events(cq, 1);
	}
	check_wc(&wc);
}

/* ------------------------------------------------------------ connections */

static void conn_cycles(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long n = o->iters, i;
	uint64_t *ns = calloc(n, sizeof(*ns)), t0, start = 0;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *pending = NULL;
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct ibv_wc wc[POLL_BATCH];

	for (i = 0; i < o->warmup + n; i++) {
		if (i == o->warmup)
			start = bench_now_ns();
		t0 = bench_now_ns();
		if (!o->server) {
			client_connect(ep);
			disconnect(ep);
		} else {
			/* Accept, then wait for the client to leave; a new
			 * request may come first (the events are one
			 * stream): it waits its turn. */
			if (!pending) {
				ev = get_event(ep,
					RDMA_CM_EVENT_CONNECT_REQUEST);
				pending = ev->id;
				rdma_ack_cm_event(ev);
			}
			accept_req(ep, pending);
			pending = NULL;
			for (;;) {
				CHECK0(rdma_get_cm_event(ep->ch, &ev));
				if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
					pending = ev->id;
				} else if (ev->event ==
					   RDMA_CM_EVENT_DISCONNECTED) {
					rdma_ack_cm_event(ev);
					break;
				} else if (ev->event !=
					   RDMA_CM_EVENT_ESTABLISHED) {
					bench_die("rdma_cm: %s",
						  rdma_event_str(ev->event));
				}
				rdma_ack_cm_event(ev);
			}
			rdma_disconnect(ep->id);
			CHECK0(rdma_destroy_id(ep->id));
			ep->id = NULL;
			if (!twin_iwarp(ep->qp)) /* there the id's end moved it already */
		CHECK0(ibv_modify_qp(ep->qp, &a, IBV_QP_STATE));
			while (ibv_poll_cq(ep->scq, POLL_BATCH, wc) > 0)
				;
			while (ibv_poll_cq(ep->rcq, POLL_BATCH, wc) > 0)
				;
			qp_renew(ep);
		}
		if (i >= o->warmup)
			ns[i - o->warmup] = bench_now_ns() - t0;
		bench_alive();
	}
	if (!o->server) {
		t0 = bench_now_ns() - start;
		bench_report_lat(o, 0, ns, n);
		fprintf(stderr, "%s: %lu cycles in %.3f s: %.1f/s, %lu "
			"rejected by rdma_cm and tried again\n", o->impl, n,
			t0 / 1e9, n / (t0 / 1e9), cm_rejects);
	}
	free(ns);
}

static void teardown(struct ep *ep)
{
	if (ep->id) {
		rdma_disconnect(ep->id);
		rdma_destroy_id(ep->id);
	}
	if (ep->listen_id)
		rdma_destroy_id(ep->listen_id);
	ibv_destroy_qp(ep->qp);
	ibv_dereg_mr(ep->mr);
	ibv_destroy_cq(ep->scq);
	ibv_destroy_cq(ep->rcq);
	ibv_destroy_comp_channel(ep->schan);
	ibv_destroy_comp_channel(ep->rchan);
	ibv_dealloc_pd(ep->pd);
	rdma_destroy_event_channel(ep->ch);
	free(ep->mem);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	static struct ep ep;

	bench_parse(&o, argc, argv, "verbs");
	bench_alive();
	ep.o = &o;
	ep.ch = rdma_create_event_channel();
	if (!ep.ch)
		bench_die("rdma_create_event_channel: %s", strerror(errno));
	if (o.server) {
		listen_on(&ep);
		twin_qp_init(ep.qp, QP_ACCESS);
	}
	if (!o.server)
		bench_header(&o);
	if (o.test == T_CONN) {
		conn_cycles(&ep);
		teardown(&ep);
		return 0;
	}
	if (o.server) {
		post_recv(&ep, ep.rbuf, sizeof(struct info_msg));
		server_connect(&ep);
	} else {
		/* The device is known once the address resolves: the
		 * receive goes up between that and the connection. */
		struct sockaddr_storage ss;

		addr_of(&o, &ss);
		CHECK0(rdma_create_id(ep.ch, &ep.id, NULL, RDMA_PS_TCP));
		CHECK0(rdma_resolve_addr(ep.id, NULL, (struct sockaddr *)&ss,
					 2000));
		wait_event(&ep, RDMA_CM_EVENT_ADDR_RESOLVED);
		ep.ctx = ep.id->verbs;
		resources(&ep);
		twin_qp_init(ep.qp, QP_ACCESS);
		post_recv(&ep, ep.rbuf, sizeof(struct info_msg));
		CHECK0(rdma_destroy_id(ep.id));
		ep.id = NULL;
		client_connect(&ep);
	}
	switch (o.test) {
	case T_LAT_SEND:
		exchange(&ep, post_one_recv);
		lat_send(&ep);
		break;
	case T_LAT_WRITE:
		exchange(&ep, post_nothing);
		lat_write(&ep);
		break;
	case T_BW_SEND:
		exchange(&ep, o.server ? post_rx_depth : post_nothing);
		if (o.server)
			bw_send_server(&ep);
		else
			bw_client(&ep, 0);
		break;
	case T_BW_WRITE:
		exchange(&ep, o.server ? post_one_recv : post_nothing);
		if (o.server)
			bw_write_server(&ep);
		else
			bw_client(&ep, 1);
		break;
	default:
		break;
	}
	/* The server leaves after the client, which disconnects once all
	 * its completions are in: a server that went first could flush the
	 * client's last send before its acknowledgement was processed. */
	if (o.server) {
		bench_alive();
		wait_event(&ep, RDMA_CM_EVENT_DISCONNECTED);
	}
	teardown(&ep);
	return 0;
}
