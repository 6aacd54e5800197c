/*
 * cq_server.c - one thread serving several clients through one completion
 * queue.
 *
 *   server: cq_server -s [-a ADDR] [-N clients] [options]
 *   client: cq_server -c ADDR [-n messages] [options]
 *
 * The server creates one CQ and N VIs whose send and receive queues are
 * both on it, accepts N connections on one discriminator, and from then on
 * waits on the CQ alone: an entry names a VI and a queue, and the
 * descriptor is dequeued from that VI with VipRecvDone or VipSendDone.
 * Every request is echoed back from the buffer it arrived in, until each
 * client has said "bye" (or left). A client sends n requests with distinct
 * contents, checks every echo byte for byte and prints the round trips'
 * latency, as pingpong does.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vipl.h>

#define DISC "cq_server"
#define TIMEOUT_MS 30000
#define SLOTS 4 /* receives per client; each is also its echo's buffer */
#define BYE "bye"
#define MIN_REQUEST 8 /* tag and sequence number: never "bye" */
/* VIA connects only VIs of equal max transfer size: both roles use this,
 * whatever -l says. */
#define MAX_TRANSFER 65536

struct opts {
	int server;
	const char *addr;
	const char *device;
	const char *disc;
	unsigned int clients; /* server */
	unsigned int messages; /* client */
	unsigned long len; /* server: largest request; client: request */
};

static void die(const char *what, VIP_RETURN ret)
{
	fprintf(stderr, "cq_server: %s failed: VIP_RETURN %d\n", what,
		(int)ret);
	exit(1);
}

#define CHECK(call)                                                            \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS)                                         \
			die(#call, r_);                                        \
	} while (0)

/* Done and Wait hand the descriptor back with VIP_SUCCESS, or with
 * VIP_DESCRIPTOR_ERROR when it completed in error: its Status says how. */
#define CHECK_DONE(call)                                                       \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS && r_ != VIP_DESCRIPTOR_ERROR)           \
			die(#call, r_);                                        \
	} while (0)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* A peer leaving shows up on the data path too, as flushed receives
 * (one is always posted while we wait for it), and that is where we judge
 * it: the server serves on, a client fails unless it was done. Everything
 * else is worth saying. */
static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	if (e->ErrorCode == VIP_ERROR_CONN_LOST)
		return;
	fprintf(stderr, "cq_server: asynchronous error %d on VI %p\n",
		(int)e->ErrorCode, e->ViHandle);
}

static VIP_NET_ADDRESS *make_addr(const void *host, unsigned int host_len,
				  const char *disc)
{
	size_t dl = strlen(disc);
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + 256);

	if (!a || dl > 255)
		exit(1);
	a->HostAddressLen = host_len;
	a->DiscriminatorLen = dl;
	memcpy(a->HostAddress, host, host_len);
	memcpy(a->HostAddress + host_len, disc, dl);
	return a;
}

static unsigned int parse_host(const char *addr, unsigned char host[16])
{
	if (inet_pton(AF_INET, addr, host) == 1)
		return 4;
	if (inet_pton(AF_INET6, addr, host) == 1)
		return 16;
	fprintf(stderr, "cq_server: bad address %s\n", addr);
	exit(1);
}

static int failed_status(const VIP_DESCRIPTOR *d)
{
	return !(d->CS.Status & VIP_STATUS_DONE) ||
	       (d->CS.Status & VIP_STATUS_ERROR_MASK);
}

/* One segment over buf, or none for an empty message. */
static void fill(VIP_DESCRIPTOR *d, VIP_MEM_HANDLE mh, void *buf,
		 unsigned long len, int send)
{
	memset(d, 0, sizeof(*d));
	if (!len)
		return;
	d->CS.SegCount = 1;
	d->CS.Length = send ? len : 0;
	d->DS[0].Local.Data.Address = buf;
	d->DS[0].Local.Handle = mh;
	d->DS[0].Local.Length = len;
}

/* ------------------------------------------------------------ server */

enum peer_state { ACTIVE, SAID_BYE, LEFT };

struct peer {
	VIP_VI_HANDLE vi;
	VIP_DESCRIPTOR *recv[SLOTS], *send[SLOTS];
	char *buf[SLOTS];
	unsigned int in_flight; /* echoes posted, not yet dequeued */
	enum peer_state state;
	unsigned long served;
};

struct server {
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_CQ_HANDLE cq;
	VIP_MEM_HANDLE mh;
	char *mem;
	struct peer *peers;
	unsigned int n, errors;
	unsigned long len;
};

/* All descriptors first (64-byte aligned), then every client's buffers. */
static void server_memory(struct server *s)
{
	size_t descs = (size_t)s->n * 2 * SLOTS * sizeof(VIP_DESCRIPTOR);
	size_t buf_len = (s->len + 63) & ~(size_t)63;
	size_t len = descs + (size_t)s->n * SLOTS * buf_len;
	VIP_DESCRIPTOR *d;
	char *data;
	unsigned int i, k;

	if (posix_memalign((void **)&s->mem, 4096, len))
		exit(1);
	memset(s->mem, 0, len);
	CHECK(VipRegisterMem(s->nic, s->mem, len, NULL, &s->mh));
	d = (VIP_DESCRIPTOR *)s->mem;
	data = s->mem + descs;
	for (i = 0; i < s->n; i++) {
		for (k = 0; k < SLOTS; k++) {
			s->peers[i].recv[k] = d++;
			s->peers[i].send[k] = d++;
			s->peers[i].buf[k] = data;
			data += buf_len;
		}
	}
}

static void post_request_slot(struct server *s, struct peer *p, unsigned int k)
{
	fill(p->recv[k], s->mh, p->buf[k], s->len, 0);
	CHECK(VipPostRecv(p->vi, p->recv[k], s->mh));
}

/* One CQ for every queue of every VI: an entry per descriptor, so it must
 * hold all of them at once. Receives go up before the connection exists,
 * as VIA requires. */
static void server_setup(struct server *s, const struct opts *o)
{
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = MAX_TRANSFER,
	};
	unsigned long entries = (unsigned long)o->clients * 2 * SLOTS;
	unsigned int i, k;

	memset(s, 0, sizeof(*s));
	s->n = o->clients;
	s->len = o->len;
	CHECK(VipOpenNic(o->device, &s->nic));
	CHECK(VipQueryNic(s->nic, &s->attrs));
	CHECK(VipErrorCallback(s->nic, NULL, on_error));
	if (s->n > s->attrs.MaxVI || entries > s->attrs.MaxCQEntries ||
	    MAX_TRANSFER > s->attrs.MaxTransferSize) {
		fprintf(stderr, "cq_server: NIC allows %lu VIs, %lu CQ entries,"
			" %lu-byte transfers\n", s->attrs.MaxVI,
			s->attrs.MaxCQEntries, s->attrs.MaxTransferSize);
		exit(1);
	}
	s->peers = calloc(s->n, sizeof(*s->peers));
	if (!s->peers)
		exit(1);
	server_memory(s);
	CHECK(VipCreateCQ(s->nic, entries, &s->cq));
	for (i = 0; i < s->n; i++) {
		CHECK(VipCreateVi(s->nic, &va, s->cq, s->cq, &s->peers[i].vi));
		for (k = 0; k < SLOTS; k++)
			post_request_slot(s, &s->peers[i], k);
	}
}

/* N requests on one discriminator, each accepted onto the next VI. */
static void server_accept(struct server *s, const struct opts *o)
{
	unsigned char host[16] = { 0 };
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	unsigned int i;

	local = o->addr ? make_addr(host, parse_host(o->addr, host), o->disc)
			: make_addr(s->attrs.LocalNicAddress,
				    s->attrs.NicAddressLen, o->disc);
	remote = make_addr(host, 0, "");
	for (i = 0; i < s->n; i++) {
		CHECK(VipConnectWait(s->nic, local, TIMEOUT_MS, remote, &ra,
				     &conn));
		CHECK(VipConnectAccept(conn, s->peers[i].vi));
	}
	free(local);
	free(remote);
}

static struct peer *peer_of(struct server *s, VIP_VI_HANDLE vi)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->peers[i].vi == vi)
			return &s->peers[i];
	fprintf(stderr, "cq_server: CQ names a VI we do not have\n");
	exit(1);
}

static unsigned int slot_of(VIP_DESCRIPTOR *const ring[SLOTS],
			    const VIP_DESCRIPTOR *d)
{
	unsigned int k;

	for (k = 0; k < SLOTS; k++)
		if (ring[k] == d)
			return k;
	fprintf(stderr, "cq_server: dequeued a descriptor not ours\n");
	exit(1);
}

/* Its connection is gone; that is only news if it had not said bye. */
static void peer_gone(struct server *s, struct peer *p, const char *why,
		      VIP_UINT32 status)
{
	if (p->state == ACTIVE) {
		fprintf(stderr, "cq_server: client %u %s (status 0x%x)\n",
			(unsigned int)(p - s->peers), why, status);
		s->errors++;
	}
	p->state = LEFT;
}

/* Zero copy: the echo goes out of the buffer the request came into, so
 * that receive is posted again only once the echo is dequeued. */
static void on_request(struct server *s, struct peer *p)
{
	VIP_DESCRIPTOR *d;
	unsigned int k;
	VIP_UINT32 len;

	CHECK_DONE(VipRecvDone(p->vi, &d));
	k = slot_of(p->recv, d);
	if (d->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR) {
		peer_gone(s, p, "left without saying bye", d->CS.Status);
		return;
	}
	if (failed_status(d)) {
		peer_gone(s, p, "sent a bad request", d->CS.Status);
		return;
	}
	if (p->state != ACTIVE) {
		fprintf(stderr, "cq_server: client %u spoke after bye\n",
			(unsigned int)(p - s->peers));
		s->errors++;
		return;
	}
	len = d->CS.Length;
	if (len == strlen(BYE) && !memcmp(p->buf[k], BYE, len))
		p->state = SAID_BYE;
	else
		p->served++;
	fill(p->send[k], s->mh, p->buf[k], len, 1);
	CHECK(VipPostSend(p->vi, p->send[k], s->mh));
	p->in_flight++;
}

static void on_echo_sent(struct server *s, struct peer *p)
{
	VIP_DESCRIPTOR *d;
	unsigned int k;

	CHECK_DONE(VipSendDone(p->vi, &d));
	k = slot_of(p->send, d);
	p->in_flight--;
	if (failed_status(d))
		peer_gone(s, p, "lost an echo", d->CS.Status);
	else if (p->state == ACTIVE)
		post_request_slot(s, p, k);
}

/* Done when every client has said bye or left, and no echo is still on
 * its way (leaving earlier would flush it). */
static int serving(const struct server *s)
{
	unsigned int i;

	for (i = 0; i < s->n; i++)
		if (s->peers[i].state == ACTIVE || s->peers[i].in_flight)
			return 1;
	return 0;
}

static void serve(struct server *s)
{
	VIP_VI_HANDLE vi;
	VIP_BOOLEAN recv;

	while (serving(s)) {
		CHECK(VipCQWait(s->cq, TIMEOUT_MS, &vi, &recv));
		if (recv)
			on_request(s, peer_of(s, vi));
		else
			on_echo_sent(s, peer_of(s, vi));
	}
}

static int run_server(const struct opts *o)
{
	struct server s;
	unsigned long total = 0;
	unsigned int i;

	server_setup(&s, o);
	server_accept(&s, o);
	serve(&s);
	for (i = 0; i < s.n; i++) {
		total += s.peers[i].served;
		CHECK(VipDisconnect(s.peers[i].vi));
		CHECK(VipDestroyVi(s.peers[i].vi));
	}
	CHECK(VipDestroyCQ(s.cq));
	CHECK(VipDeregisterMem(s.nic, s.mem, s.mh));
	CHECK(VipCloseNic(s.nic));
	printf("cq_server: served %u clients, %lu requests, through one CQ; "
	       "%u errors\n", s.n, total, s.errors);
	free(s.mem);
	free(s.peers);
	return s.errors ? 1 : 0;
}

/* ------------------------------------------------------------ client */

struct client {
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	char *mem;
	VIP_DESCRIPTOR *sdesc, *rdesc;
	char *sbuf, *rbuf;
};

static void client_setup(struct client *c, const struct opts *o)
{
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = MAX_TRANSFER,
	};
	size_t buf_len = (o->len + 63) & ~(size_t)63;
	size_t len = 2 * sizeof(VIP_DESCRIPTOR) + 2 * buf_len;

	memset(c, 0, sizeof(*c));
	CHECK(VipOpenNic(o->device, &c->nic));
	CHECK(VipQueryNic(c->nic, &c->attrs));
	CHECK(VipErrorCallback(c->nic, NULL, on_error));
	if (posix_memalign((void **)&c->mem, 4096, len))
		exit(1);
	memset(c->mem, 0, len);
	CHECK(VipRegisterMem(c->nic, c->mem, len, NULL, &c->mh));
	c->sdesc = (VIP_DESCRIPTOR *)c->mem;
	c->rdesc = c->sdesc + 1;
	c->sbuf = (char *)(c->rdesc + 1);
	c->rbuf = c->sbuf + buf_len;
	CHECK(VipCreateVi(c->nic, &va, NULL, NULL, &c->vi));
}

static void client_post_recv(struct client *c, const struct opts *o)
{
	fill(c->rdesc, c->mh, c->rbuf, o->len, 0);
	CHECK(VipPostRecv(c->vi, c->rdesc, c->mh));
}

static void client_connect(struct client *c, const struct opts *o)
{
	unsigned char host[16];
	unsigned int host_len = parse_host(o->addr, host);
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN rc;
	int tries;

	local = make_addr(c->attrs.LocalNicAddress, c->attrs.NicAddressLen,
			  o->disc);
	remote = make_addr(host, host_len, o->disc);
	/* The server may not wait yet: as VIA programs do, ask again
	 * while the answer is VIP_NO_MATCH (it comes at once). */
	for (tries = 0; tries < TIMEOUT_MS / 10; tries++) {
		rc = VipConnectRequest(c->vi, local, remote, 5000, &ra);
		if (rc != VIP_NO_MATCH)
			break;
		usleep(10000);
	}
	CHECK(rc);
	free(local);
	free(remote);
}

/* Request i of this client: its tag and i, then bytes that depend on
 * both, so no two requests (of any client) look alike. */
static void make_request(char *p, unsigned long len, uint32_t tag, uint32_t i)
{
	uint32_t be_tag = htobe32(tag), be_i = htobe32(i);
	unsigned long j;

	memcpy(p, &be_tag, 4);
	memcpy(p + 4, &be_i, 4);
	for (j = 8; j < len; j++)
		p[j] = (char)(tag * 31 + i * 131 + j * 7 + (j >> 8));
}

/* Send len bytes of sbuf and wait until the same bytes come back. */
static void round_trip(struct client *c, const struct opts *o,
		       unsigned long len)
{
	VIP_DESCRIPTOR *d;

	fill(c->sdesc, c->mh, c->sbuf, len, 1);
	CHECK(VipPostSend(c->vi, c->sdesc, c->mh));
	CHECK_DONE(VipRecvWait(c->vi, TIMEOUT_MS, &d));
	if (failed_status(d) || d->CS.Length != len ||
	    memcmp(c->rbuf, c->sbuf, len)) {
		fprintf(stderr, "cq_server: bad echo: status 0x%x, %u bytes "
			"for %lu\n", d->CS.Status, d->CS.Length, len);
		exit(1);
	}
	client_post_recv(c, o);
	CHECK_DONE(VipSendWait(c->vi, TIMEOUT_MS, &d));
	if (failed_status(d)) {
		fprintf(stderr, "cq_server: send status 0x%x\n", d->CS.Status);
		exit(1);
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void print_latency(const struct client *c, const struct opts *o,
			  double *rtt)
{
	double sum = 0;
	unsigned int i;

	for (i = 0; i < o->messages; i++)
		sum += rtt[i];
	qsort(rtt, o->messages, sizeof(*rtt), cmp_double);
	printf("# cq_server client %d over %s: round trips through the "
	       "server's one CQ\n", (int)getpid(), c->attrs.Name);
	printf("#bytes  #iterations  rtt_min[us]  rtt_typical[us]  "
	       "rtt_avg[us]\n");
	printf("%-7lu %-12u %-12.2f %-16.2f %-.2f\n", o->len, o->messages,
	       rtt[0], rtt[o->messages / 2], sum / o->messages);
}

static int run_client(const struct opts *o)
{
	double *rtt = calloc(o->messages, sizeof(*rtt));
	uint32_t tag = (uint32_t)getpid();
	struct client c;
	unsigned int i;
	double t0;

	if (!rtt)
		exit(1);
	client_setup(&c, o);
	client_post_recv(&c, o); /* before the server can send */
	client_connect(&c, o);
	for (i = 0; i < o->messages; i++) {
		make_request(c.sbuf, o->len, tag, i);
		t0 = now_us();
		round_trip(&c, o, o->len);
		rtt[i] = now_us() - t0;
	}
	/* The echo of bye says the server is done with us: leave then. */
	memcpy(c.sbuf, BYE, strlen(BYE));
	round_trip(&c, o, strlen(BYE));
	print_latency(&c, o, rtt);
	CHECK(VipDisconnect(c.vi));
	CHECK(VipDestroyVi(c.vi));
	CHECK(VipDeregisterMem(c.nic, c.mem, c.mh));
	CHECK(VipCloseNic(c.nic));
	free(c.mem);
	free(rtt);
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cq_server -s [-a ADDR] [-N clients] [-l max_bytes]\n"
		"       cq_server -c ADDR [-n messages] [-l bytes]\n"
		"  [-D device] [-x discriminator]\n"
		"  server -l: largest request (default 4096)\n"
		"  client -l: request size (default 64, at least %d)\n",
		MIN_REQUEST);
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .clients = 4, .messages = 1000, .disc = DISC };
	int c;

	while ((c = getopt(argc, argv, "sa:c:N:n:l:D:x:")) != -1) {
		switch (c) {
		case 's': o.server = 1; break;
		case 'a': o.addr = optarg; break;
		case 'c': o.addr = optarg; break;
		case 'N': o.clients = strtoul(optarg, NULL, 0); break;
		case 'n': o.messages = strtoul(optarg, NULL, 0); break;
		case 'l': o.len = strtoul(optarg, NULL, 0); break;
		case 'D': o.device = optarg; break;
		case 'x': o.disc = optarg; break;
		default: usage();
		}
	}
	if (!o.len)
		o.len = o.server ? 4096 : 64;
	if ((!o.server && !o.addr) || !o.clients || !o.messages ||
	    o.len > MAX_TRANSFER || (!o.server && o.len < MIN_REQUEST))
		usage();
	return o.server ? run_server(&o) : run_client(&o);
}
