/*
 * verbs_scale.c - the raw-verbs twin of vipl_scale.c: many connected queue
 * pairs through one completion queue, written directly on libibverbs and
 * librdmacm, sharing no code with libvipl.
 *
 *   server: verbs_scale -s -a ADDR -N QPS [options]
 *   client: verbs_scale -c ADDR -N QPS [options]
 *
 * The protocol is vipl_scale's: N RC queue pairs on each side, connected
 * pairwise; the client keeps one 64-byte message in flight on every one,
 * the server answers each on the queue pair it came on. Underneath it does
 * what libvipl does for vipl_scale, and nothing more:
 *   - the device is rdma_cm's own context (rdma_get_devices: $VIPL_DEVICE
 *     or the first), one protection domain, one region for all buffers;
 *   - one verbs CQ of 2N + 16 entries (vipl_scale's VipCreateCQ) with a
 *     completion channel, never armed: a VIPL CQ is one verbs CQ that
 *     every work queue on it feeds, here polled 16 completions at a time
 *     as libvipl's VipCQDone does; wr_id names the queue pair and queue;
 *   - each queue pair created before its connection with libvipl's
 *     defaults (1024 work requests per queue, 16 SGEs, 128 bytes inline
 *     asked for), moved to INIT, its receive posted, then RTR and RTS by
 *     hand with rdma_init_qp_attr (min RNR timer, RNR and transport
 *     retries and ACK timeout as libvipl sets them) and rdma_establish;
 *   - every send signalled, and inline (64 bytes); one send per queue pair
 *     outstanding, as vipl_scale reuses one descriptor: an answer due
 *     while the last send has not completed waits for that completion.
 * The connections are made one after the other on one listening id, as
 * vipl_scale's VipConnectWait/VipConnectRequest loop does; the client
 * tries again after 20 ms when nobody listens yet.
 *
 * The client prints vipl_scale's CSV line with impl "verbs": queue pairs,
 * messages per second (both directions), and the memory each queue pair
 * cost this process from before the first one to after the traffic,
 * divided by N (address space, resident set, malloc heap), measured as
 * vipl_scale measures it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "common.h"
#include "twin.h"

#define MSG 64
#define POLL_BATCH 16 /* libvipl polls its shared CQ 16 at a time */
/* What libvipl's private data carries here: its 16-byte header, and in a
 * request the two discriminators ("scale" and the port, 10 bytes each). */
#define REQ_PRIV_LEN 36
#define REP_PRIV_LEN 16
#define RETRY_PAUSE_US 20000

#define CHECK0(call)                                                           \
	do {                                                                   \
		if (call)                                                      \
			bench_die("%s: %s", #call, strerror(errno));          \
	} while (0)

struct slot {
	struct rdma_cm_id *id;
	struct ibv_qp *qp;
	struct ibv_send_wr swr;
	struct ibv_recv_wr rwr;
	struct ibv_sge ssge, rsge;
	int send_busy;	/* posted, its completion not yet polled */
	int reply_due;	/* a send to post once send_busy clears */
};

struct scale {
	int server;
	unsigned long nvi;
	struct sockaddr_storage addr;	/* the server's, with the port */
	struct ibv_context **devs;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	struct ibv_comp_channel *cchan;
	struct ibv_cq *cq;
	struct rdma_event_channel *ch;
	struct rdma_cm_id *listen_id;
	struct rdma_cm_id *pending;	/* server: a request that came early */
	uint8_t rd_atom;
	char *mem;
	struct slot *slots;
	unsigned long replies_due;
};

/* ------------------------------------------------------------ the NIC */

/* VipOpenNic(NULL) and what vipl_scale sets up before its first VI:
 * device, protection domain, registered memory, the CQ. */
static void open_nic(struct scale *sc)
{
	const char *name = getenv("VIPL_DEVICE");
	struct ibv_device_attr da;
	size_t len = (sc->nvi * 2 * MSG + 4095) & ~(size_t)4095;
	int i, n = 0;

	sc->devs = rdma_get_devices(&n);
	if (!sc->devs || !n)
		bench_die("no RDMA device");
	for (i = 0; i < n; i++)
		if (!name || !*name ||
		    !strcmp(ibv_get_device_name(sc->devs[i]->device), name))
			break;
	if (i == n)
		bench_die("no device %s", name);
	sc->ctx = sc->devs[i];
	CHECK0(ibv_query_device(sc->ctx, &da));
	sc->rd_atom = da.max_qp_rd_atom < 1 ? 1 :
		      da.max_qp_rd_atom < 16 ? da.max_qp_rd_atom : 16;
	sc->pd = ibv_alloc_pd(sc->ctx);
	if (!sc->pd)
		bench_die("ibv_alloc_pd: %s", strerror(errno));
	if (posix_memalign((void **)&sc->mem, 4096, len))
		bench_die("out of memory");
	memset(sc->mem, 0, len);
	sc->mr = ibv_reg_mr(sc->pd, sc->mem, len, IBV_ACCESS_LOCAL_WRITE);
	if (!sc->mr)
		bench_die("ibv_reg_mr: %s", strerror(errno));
	/* Every queue pair's two queues feed this CQ: room for all. */
	sc->cchan = ibv_create_comp_channel(sc->ctx);
	if (!sc->cchan ||
	    fcntl(sc->cchan->fd, F_SETFL,
		  fcntl(sc->cchan->fd, F_GETFL) | O_NONBLOCK))
		bench_die("completion channel: %s", strerror(errno));
	sc->cq = ibv_create_cq(sc->ctx, (int)(2 * sc->nvi + 16), NULL,
			       sc->cchan, 0);
	if (!sc->cq)
		bench_die("ibv_create_cq: %s", strerror(errno));
	sc->ch = rdma_create_event_channel();
	if (!sc->ch)
		bench_die("rdma_create_event_channel: %s", strerror(errno));
	sc->slots = calloc(sc->nvi, sizeof(*sc->slots));
	if (!sc->slots)
		bench_die("out of memory");
}

/* ------------------------------------------------------- queue pairs */

static void qp_create(struct scale *sc, unsigned long i)
{
	struct slot *s = &sc->slots[i];
	char *sbuf = sc->mem + i * 2 * MSG;
	uint32_t max_inline;

	s->qp = twin_qp_create(sc->pd, sc->cq, sc->cq, &max_inline);
	twin_qp_init(s->qp, IBV_ACCESS_LOCAL_WRITE);

	/* Each work request is built once and posted again as it is. */
	s->ssge.addr = (uintptr_t)sbuf;
	s->ssge.length = MSG;
	s->ssge.lkey = sc->mr->lkey;
	s->swr.wr_id = i << 1;
	s->swr.sg_list = &s->ssge;
	s->swr.num_sge = 1;
	s->swr.opcode = IBV_WR_SEND;
	s->swr.send_flags = IBV_SEND_SIGNALED;
	if (MSG <= max_inline)
		s->swr.send_flags |= IBV_SEND_INLINE;
	s->rsge.addr = (uintptr_t)(sbuf + MSG);
	s->rsge.length = MSG;
	s->rsge.lkey = sc->mr->lkey;
	s->rwr.wr_id = (i << 1) | 1;
	s->rwr.sg_list = &s->rsge;
	s->rwr.num_sge = 1;
}

static void post_recv(struct slot *s)
{
	struct ibv_recv_wr *bad;

	if (ibv_post_recv(s->qp, &s->rwr, &bad))
		bench_die("ibv_post_recv failed");
}

static void post_send(struct slot *s)
{
	struct ibv_send_wr *bad;

	s->send_busy = 1;
	if (ibv_post_send(s->qp, &s->swr, &bad))
		bench_die("ibv_post_send failed");
}

/* ------------------------------------------------------- connections */

static void conn_param(struct scale *sc, struct slot *s,
		       struct rdma_conn_param *p, uint8_t *priv, uint8_t len)
{
	memset(priv, 0, len);
	priv[0] = 0x56; /* a header, as libvipl's private data has */
	priv[1] = 0x49;
	priv[2] = 1;
	twin_conn_param(p, priv, len, sc->rd_atom, s->qp);
}

static struct rdma_cm_event *next_event(struct scale *sc)
{
	struct rdma_cm_event *ev;

	CHECK0(rdma_get_cm_event(sc->ch, &ev));
	return ev;
}

static void expect(struct scale *sc, enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev = next_event(sc);

	if (ev->event != want)
		bench_die("rdma_cm: %s (status %d), expected %s",
			  rdma_event_str(ev->event), ev->status,
			  rdma_event_str(want));
	rdma_ack_cm_event(ev);
}

/* VipConnectWait + VipConnectAccept: the next request, on s. The listening
 * id comes with the first, as libvipl's listener does. */
static void server_connect(struct scale *sc, struct slot *s)
{
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;
	uint8_t priv[REP_PRIV_LEN];

	if (!sc->listen_id) {
		CHECK0(rdma_create_id(sc->ch, &sc->listen_id, NULL,
				      RDMA_PS_TCP));
		CHECK0(rdma_bind_addr(sc->listen_id,
				      (struct sockaddr *)&sc->addr));
		CHECK0(rdma_listen(sc->listen_id, 64));
	}
	while (!sc->pending) {
		ev = next_event(sc);
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST)
			bench_die("rdma_cm: %s, expected a request",
				  rdma_event_str(ev->event));
		sc->pending = ev->id;
		rdma_ack_cm_event(ev);
	}
	s->id = sc->pending;
	sc->pending = NULL;
	twin_qp_rtr_rts(s->qp, s->id);
	conn_param(sc, s, &p, priv, REP_PRIV_LEN);
	CHECK0(rdma_accept(s->id, &p));
	/* The client's next request may come before this one's RTU. */
	for (;;) {
		ev = next_event(sc);
		if (ev->event == RDMA_CM_EVENT_ESTABLISHED && ev->id == s->id) {
			rdma_ack_cm_event(ev);
			return;
		}
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST || sc->pending)
			bench_die("rdma_cm: %s (status %d) while accepting",
				  rdma_event_str(ev->event), ev->status);
		sc->pending = ev->id;
		rdma_ack_cm_event(ev);
	}
}

/* VipConnectRequest: a request refused by rdma_cm (nobody listens yet)
 * or that finds no one is tried again after 20 ms, as libvipl does. */
static void client_connect(struct scale *sc, struct slot *s)
{
	struct rdma_conn_param p;
	struct rdma_cm_event *ev;
	uint8_t priv[REQ_PRIV_LEN];
	enum rdma_cm_event_type got;

	for (;;) {
		CHECK0(rdma_create_id(sc->ch, &s->id, NULL, RDMA_PS_TCP));
		CHECK0(rdma_resolve_addr(s->id, NULL,
					 (struct sockaddr *)&sc->addr, 2000));
		expect(sc, RDMA_CM_EVENT_ADDR_RESOLVED);
		if (s->id->verbs != sc->ctx)
			bench_die("the address is on another device");
		CHECK0(rdma_resolve_route(s->id, 2000));
		expect(sc, RDMA_CM_EVENT_ROUTE_RESOLVED);
		conn_param(sc, s, &p, priv, REQ_PRIV_LEN);
		if (rdma_connect(s->id, &p)) {
			/* iWARP connects TCP within the call. */
			if (errno != ECONNREFUSED)
				bench_die("rdma_connect: %s", strerror(errno));
			got = RDMA_CM_EVENT_REJECTED;
		} else {
			ev = next_event(sc);
			got = ev->event;
			rdma_ack_cm_event(ev);
		}
		if (got == RDMA_CM_EVENT_CONNECT_RESPONSE ||
		    (got == RDMA_CM_EVENT_ESTABLISHED && twin_iwarp(s->qp)))
			break;
		if (got != RDMA_CM_EVENT_REJECTED &&
		    got != RDMA_CM_EVENT_UNREACHABLE)
			bench_die("rdma_cm: %s", rdma_event_str(got));
		CHECK0(rdma_destroy_id(s->id));
		usleep(RETRY_PAUSE_US);
		bench_alive();
	}
	if (twin_iwarp(s->qp))
		return; /* connected, the QP in RTS */
	twin_qp_rtr_rts(s->qp, s->id);
	CHECK0(rdma_establish(s->id));
}

/* ------------------------------------------------------- the traffic */

/* One completion of the shared CQ: wr_id is the slot, and bit 0 the
 * receive queue. Returns 1 for a receive. */
static int complete(struct scale *sc, const struct ibv_wc *wc,
		    unsigned long got, unsigned long total)
{
	struct slot *s = &sc->slots[wc->wr_id >> 1];

	if (wc->status != IBV_WC_SUCCESS)
		bench_die("%s status: %s", wc->wr_id & 1 ? "receive" : "send",
			  ibv_wc_status_str(wc->status));
	if (!(wc->wr_id & 1)) {
		s->send_busy = 0;
		if (s->reply_due) {
			s->reply_due = 0;
			sc->replies_due--;
			post_send(s);
		}
		return 0;
	}
	post_recv(s);
	/* The client stops sending once the last messages are under way
	 * (got counts this one); the server answers everything it gets. */
	if (sc->server || got + 1 + sc->nvi <= total) {
		if (s->send_busy) {
			s->reply_due = 1;
			sc->replies_due++;
		} else {
			post_send(s);
		}
	}
	return 1;
}

static void traffic(struct scale *sc, unsigned long total)
{
	struct ibv_wc wc[POLL_BATCH];
	unsigned long got = 0, i;
	int n, j;

	if (!sc->server)
		for (i = 0; i < sc->nvi; i++)
			post_send(&sc->slots[i]);
	/* A server whose last answers wait for their send slot is not done
	 * until they are posted. */
	while (got < total || sc->replies_due) {
		n = ibv_poll_cq(sc->cq, POLL_BATCH, wc);
		if (n < 0)
			bench_die("ibv_poll_cq failed");
		for (j = 0; j < n; j++) {
			if (!complete(sc, &wc[j], got, total))
				continue;
			if (!(++got & 1023))
				bench_alive();
		}
	}
}

/* VipDisconnect, the flushed work drained, VipDestroyVi; then the rest. */
static void teardown(struct scale *sc)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_ERR };
	struct ibv_wc wc[POLL_BATCH];
	unsigned long i;

	for (i = 0; i < sc->nvi; i++) {
		struct slot *s = &sc->slots[i];

		rdma_disconnect(s->id);
		CHECK0(rdma_destroy_id(s->id));
		CHECK0(ibv_modify_qp(s->qp, &a, IBV_QP_STATE));
		while (ibv_poll_cq(sc->cq, POLL_BATCH, wc) > 0)
			;
		CHECK0(ibv_destroy_qp(s->qp));
	}
	if (sc->listen_id)
		rdma_destroy_id(sc->listen_id);
	CHECK0(ibv_destroy_cq(sc->cq));
	ibv_destroy_comp_channel(sc->cchan);
	CHECK0(ibv_dereg_mr(sc->mr));
	CHECK0(ibv_dealloc_pd(sc->pd));
	rdma_destroy_event_channel(sc->ch);
	rdma_free_devices(sc->devs);
	free(sc->slots);
	free(sc->mem);
}

int main(int argc, char **argv)
{
	static struct scale sc;
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST,
				  .ai_family = AF_INET }, *ai;
	unsigned long total = 20000, port = 18800, i;
	const char *addr = NULL;
	char portstr[16];
	long vsz0, rss0, vsz1, rss1;
	size_t heap0, heap1;
	uint64_t t0, t1;
	int c;

	sc.nvi = 1;
	while ((c = getopt(argc, argv, "sa:c:N:n:p:")) != -1) {
		switch (c) {
		case 's': sc.server = 1; break;
		case 'a': case 'c': addr = optarg; break;
		case 'N': sc.nvi = strtoul(optarg, NULL, 0); break;
		case 'n': total = strtoul(optarg, NULL, 0); break;
		case 'p': port = strtoul(optarg, NULL, 0); break;
		default: addr = NULL; optind = argc; break;
		}
	}
	snprintf(portstr, sizeof(portstr), "%lu", port);
	if (!addr || !sc.nvi || sc.nvi > 1024 || !port || port > 65535 ||
	    getaddrinfo(addr, portstr, &hints, &ai))
		bench_die("usage: verbs_scale -s -a ADDR | -c ADDR "
			  "[-N QPs] [-n messages] [-p port]");
	memcpy(&sc.addr, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (total < sc.nvi)
		total = sc.nvi;
	bench_alive();

	open_nic(&sc);
	bench_mem_kib(&vsz0, &rss0);
	heap0 = mallinfo2().uordblks;
	for (i = 0; i < sc.nvi; i++) {
		struct slot *s = &sc.slots[i];

		qp_create(&sc, i);
		post_recv(s);
		if (sc.server)
			server_connect(&sc, s);
		else
			client_connect(&sc, s);
		bench_alive();
	}

	t0 = bench_now_ns();
	traffic(&sc, total);
	t1 = bench_now_ns();
	bench_mem_kib(&vsz1, &rss1);
	heap1 = mallinfo2().uordblks;
	if (!sc.server)
		printf("verbs,scale,%lu,%lu,%.1f,%.1f,%.1f,%.1f\n", sc.nvi,
		       total, 2.0 * total / ((t1 - t0) / 1e9),
		       (double)(vsz1 - vsz0) / sc.nvi,
		       (double)(rss1 - rss0) / sc.nvi,
		       (double)(heap1 - heap0) / 1024.0 / sc.nvi);
	/* Leave the last sends to finish: the peer may still be reading. */
	usleep(100000);
	teardown(&sc);
	return 0;
}
