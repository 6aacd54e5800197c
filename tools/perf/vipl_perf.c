/*
 * vipl_perf.c - the benchmark protocol of common.h on libvipl, built as
 * the perftest-style tools (PERF_TOOL names the test; perftest_opts.c)
 * and as vipl_bench, which scripts/bench.sh runs:
 *
 *   vipl_send_lat [options]            server;  vipl_send_lat HOST  client
 *   vipl_bench -s -a ADDR -t TEST ...  server;  vipl_bench -c ADDR -t TEST
 *
 * tests/bench/verbs_bench.c runs the same protocol directly on
 * libibverbs/librdmacm:
 * same sizes, same polling, same operations in flight, every send
 * signalled (a VIPL descriptor always completes), so that the ratio of the
 * two is the cost of libvipl. A VIPL program builds each descriptor once
 * per size and posts it again as it is, as a VIA program would.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vipl.h>

#include "common.h"
#include "vipl_side.h"

#define TIMEOUT_MS (BENCH_TIMEOUT_S * 1000)

/* What each tool runs (tools/perf/CMakeLists.txt defines PERF_TOOL). */
#define PERF_SEND_LAT T_LAT_SEND
#define PERF_WRITE_LAT T_LAT_WRITE
#define PERF_SEND_BW T_BW_SEND
#define PERF_WRITE_BW T_BW_WRITE

struct ep {
	const struct bench_opts *o;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_MEM_HANDLE mh;
	char *mem;
	size_t len;
	VIP_DESCRIPTOR *sd; /* depth + 1 send descriptors */
	VIP_DESCRIPTOR *rd; /* rx_depth + 1 receive descriptors */
	char *sbuf, *rbuf; /* max_size each */
	uint64_t peer_addr;
	uint32_t peer_handle;
};

/* Peer to peer, fixed big-endian: where its receive buffer is, and the
 * schedule, which both sides must run alike (the server answers with
 * match 0 when its own differs). */
struct info_msg {
	uint64_t addr;
	uint32_t handle;
	uint32_t match;
	uint32_t test, factor;
	uint64_t min_size, max_size, iters;
};

static void setup(struct ep *ep, const struct bench_opts *o)
{
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = o->max_size < 64 ? 64 : o->max_size,
		.EnableRdmaWrite = VIP_TRUE,
	};
	VIP_MEM_ATTRIBUTES ma = { .EnableRdmaWrite = VIP_TRUE };
	/* sd: depth + 1; rd: rx_depth + 1, and a spare (peer_left). */
	size_t dlen = (o->depth + 1 + o->rx_depth + 2) * sizeof(VIP_DESCRIPTOR);
	size_t boff = (dlen + 4095) & ~(size_t)4095;
	size_t blen = (o->max_size + 4095) & ~(size_t)4095;

	memset(ep, 0, sizeof(*ep));
	ep->o = o;
	CHECK(VipOpenNic(o->device, &ep->nic));
	CHECK(VipErrorCallback(ep->nic, NULL, bench_vip_ignore_error));
	CHECK(VipQueryNic(ep->nic, &ep->attrs));
	ep->len = boff + 2 * blen;
	if (posix_memalign((void **)&ep->mem, 4096, ep->len))
		bench_die("out of memory");
	memset(ep->mem, 0, ep->len);
	CHECK(VipRegisterMem(ep->nic, ep->mem, ep->len, &ma, &ep->mh));
	ep->sd = (VIP_DESCRIPTOR *)ep->mem;
	ep->rd = ep->sd + o->depth + 1;
	ep->sbuf = ep->mem + boff;
	ep->rbuf = ep->sbuf + blen;
	CHECK(VipCreateVi(ep->nic, &va, NULL, NULL, &ep->vi));
}

static void teardown(struct ep *ep)
{
	CHECK(VipDisconnect(ep->vi));
	CHECK(VipDestroyVi(ep->vi));
	CHECK(VipDeregisterMem(ep->nic, ep->mem, ep->mh));
	CHECK(VipCloseNic(ep->nic));
	free(ep->mem);
}

static void parse_host(const char *addr, unsigned char *host,
		       unsigned int *len)
{
	*len = 4;
	if (inet_pton(AF_INET, addr, host) == 1)
		return;
	*len = 16;
	if (inet_pton(AF_INET6, addr, host) != 1)
		bench_die("bad address %s", addr);
}

static void connect_vi(struct ep *ep, VIP_VI_HANDLE vi)
{
	const struct bench_opts *o = ep->o;
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	unsigned char host[16];
	unsigned int hl;

	if (o->addr) {
		parse_host(o->addr, host, &hl);
	} else { /* a tool's server: the NIC's own address */
		hl = ep->attrs.NicAddressLen;
		memcpy(host, ep->attrs.LocalNicAddress, hl);
	}
	if (o->server) {
		local = bench_vip_addr(host, hl, "bench", o->port);
		remote = bench_vip_addr(host, 0, "bench", o->port);
		if (o->table) {
			/* Waits for a client as long as it takes. */
			alarm(0);
			printf("# %s: waiting for a client, port %u\n",
			       o->impl, o->port);
		}
		CHECK(VipConnectWait(ep->nic, local,
				     o->table ? VIP_INFINITE : TIMEOUT_MS,
				     remote, &ra, &conn));
		bench_alive();
		CHECK(VipConnectAccept(conn, vi));
	} else {
		local = bench_vip_addr(ep->attrs.LocalNicAddress,
				       ep->attrs.NicAddressLen, "bench",
				       o->port);
		remote = bench_vip_addr(host, hl, "bench", o->port);
		CHECK(bench_vip_connect(vi, local, remote, TIMEOUT_MS, &ra));
	}
	free(local);
	free(remote);
}

/* ------------------------------------------------------------ data path */

static void build_recv(struct ep *ep, VIP_DESCRIPTOR *d, void *buf,
		       unsigned long len)
{
	memset(d, 0, sizeof(*d));
	if (len) {
		d->CS.SegCount = 1;
		d->DS[0].Local.Data.Address = buf;
		d->DS[0].Local.Handle = ep->mh;
		d->DS[0].Local.Length = len;
	}
}

static void build_send(struct ep *ep, VIP_DESCRIPTOR *d, void *buf,
		       unsigned long len)
{
	build_recv(ep, d, buf, len);
	d->CS.Length = len;
}

/* An RDMA write of len bytes from sbuf to the start of the peer's rbuf. */
static void build_write(struct ep *ep, VIP_DESCRIPTOR *d, unsigned long len)
{
	memset(d, 0, sizeof(*d));
	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	d->CS.SegCount = 2;
	d->CS.Length = len;
	d->DS[0].Remote.Data.AddressBits = ep->peer_addr;
	d->DS[0].Remote.Handle = ep->peer_handle;
	d->DS[1].Local.Data.Address = ep->sbuf;
	d->DS[1].Local.Handle = ep->mh;
	d->DS[1].Local.Length = len;
}

static void check(const VIP_DESCRIPTOR *d)
{
	if (d->CS.Status & VIP_STATUS_ERROR_MASK)
		bench_die("descriptor status 0x%x", d->CS.Status);
}

/* Busy-polls, as perftest does; sleeps in Wait with -e. Inlined into
 * each caller, so that recv is a constant there. */
static inline __attribute__((always_inline)) VIP_DESCRIPTOR *
reap(struct ep *ep, int recv)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN r;

	if (ep->o->events)
		r = recv ? VipRecvWait(ep->vi, TIMEOUT_MS, &d)
			 : VipSendWait(ep->vi, TIMEOUT_MS, &d);
	else
		while ((r = recv ? VipRecvDone(ep->vi, &d)
				 : VipSendDone(ep->vi, &d)) == VIP_NOT_DONE)
			;
	if (r != VIP_SUCCESS && r != VIP_DESCRIPTOR_ERROR)
		bench_die("Vip%s%s: %d", recv ? "Recv" : "Send",
			  ep->o->events ? "Wait" : "Done", (int)r);
	check(d);
	return d;
}

static VIP_DESCRIPTOR *reap_send(struct ep *ep)
{
	return reap(ep, 0);
}

static VIP_DESCRIPTOR *reap_recv(struct ep *ep)
{
	return reap(ep, 1);
}

/* Whether the peer's schedule is ours. */
static int same_schedule(const struct bench_opts *o,
			 const struct info_msg *in)
{
	return be32toh(in->test) == (uint32_t)o->test &&
	       be32toh(in->factor) == o->factor &&
	       be64toh(in->min_size) == o->min_size &&
	       be64toh(in->max_size) == o->max_size &&
	       (o->test == T_BW_WRITE || be64toh(in->iters) == o->iters);
}

/* Reads the peer's info_msg from rbuf, then clears it: RDMA-write
 * ping-pongs poll rbuf, which must hold none of it. Returns whether the
 * schedules match (the server's verdict, on the client). */
static int take_info(struct ep *ep)
{
	struct info_msg in;

	memcpy(&in, ep->rbuf, sizeof(in));
	memset(ep->rbuf, 0, sizeof(in));
	ep->peer_addr = be64toh(in.addr);
	ep->peer_handle = be32toh(in.handle);
	return ep->o->server ? same_schedule(ep->o, &in) : !!in.match;
}

static void mismatch(const struct bench_opts *o)
{
	bench_die("the %s runs another test, sizes or iterations: give "
		  "both the same options",
		  o->server ? "client" : "server");
}

/* After connecting: each side learns where the other's rbuf is. rd[0]
 * was posted for this before connecting; the client sends first, and the
 * server answers once its receives for the test are posted. */
static void exchange(struct ep *ep, void (*post_test_recvs)(struct ep *))
{
	struct info_msg *out = (struct info_msg *)ep->sbuf;
	VIP_DESCRIPTOR *d = &ep->sd[0];

	const struct bench_opts *o = ep->o;
	int match = 1;

	out->addr = htobe64((uintptr_t)ep->rbuf);
	out->handle = htobe32(ep->mh);
	out->test = htobe32((uint32_t)o->test);
	out->factor = htobe32((uint32_t)o->factor);
	out->min_size = htobe64(o->min_size);
	out->max_size = htobe64(o->max_size);
	out->iters = htobe64(o->iters);
	build_send(ep, d, out, sizeof(*out));
	if (o->server) {
		reap_recv(ep);
		match = take_info(ep);
	}
	out->match = htobe32((uint32_t)match);
	if (match)
		post_test_recvs(ep);
	CHECK(VipPostSend(ep->vi, d, ep->mh));
	reap_send(ep);
	if (!o->server) {
		reap_recv(ep);
		match = take_info(ep);
	}
	if (!match)
		mismatch(o);
	memset(out, 0, sizeof(*out));
}

/* The server leaves after the client, which disconnects once all its
 * completions are in: a server that went first could flush the client's
 * last send before its acknowledgement was processed (seen once under
 * load, bw_write's "done" with status 0x21). A spare receive is flushed
 * when the client has gone. */
static void peer_left(struct ep *ep)
{
	VIP_DESCRIPTOR *spare = ep->rd + ep->o->rx_depth + 1, *d;

	bench_alive();
	build_recv(ep, spare, NULL, 0);
	CHECK(VipPostRecv(ep->vi, spare, ep->mh));
	do
		CHECK_DONE(VipRecvWait(ep->vi, TIMEOUT_MS, &d));
	while (d != spare);
}

static void post_one_recv(struct ep *ep)
{
	build_recv(ep, &ep->rd[1], ep->rbuf, ep->o->max_size);
	CHECK(VipPostRecv(ep->vi, &ep->rd[1], ep->mh));
}

static void post_rx_depth(struct ep *ep)
{
	unsigned int i;

	for (i = 0; i < ep->o->rx_depth; i++) {
		build_recv(ep, &ep->rd[1 + i], ep->rbuf, ep->o->max_size);
		CHECK(VipPostRecv(ep->vi, &ep->rd[1 + i], ep->mh));
	}
}

static void post_nothing(struct ep *ep)
{
	(void)ep;
}

static void lat_send(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	VIP_DESCRIPTOR *sd = &ep->sd[0], *rd;
	unsigned long size, i, n, w;
	uint64_t *ns = calloc(o->iters + o->min_iters, sizeof(*ns)), t0;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		w = bench_warmup(o, size);
		build_send(ep, sd, ep->sbuf, size);
		for (i = 0; i < w + n; i++) {
			t0 = bench_now_ns();
			if (o->server) {
				rd = reap_recv(ep);
				CHECK(VipPostRecv(ep->vi, rd, ep->mh));
				CHECK(VipPostSend(ep->vi, sd, ep->mh));
				reap_send(ep);
			} else {
				CHECK(VipPostSend(ep->vi, sd, ep->mh));
				rd = reap_recv(ep);
				CHECK(VipPostRecv(ep->vi, rd, ep->mh));
				reap_send(ep);
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
	VIP_DESCRIPTOR *sd = &ep->sd[0];
	unsigned long size, i, n, w, k = 0;
	uint64_t *ns = calloc(o->iters + o->min_iters, sizeof(*ns)), t0;
	volatile char *poll;
	char v;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		build_write(ep, sd, size);
		poll = ep->rbuf + size - 1;
		w = bench_warmup(o, size);
		for (i = 0; i < w + n; i++, k++) {
			v = (char)(1 + k % 255);
			t0 = bench_now_ns();
			if (o->server) {
				while (*poll != v)
					;
				ep->sbuf[size - 1] = v;
				CHECK(VipPostSend(ep->vi, sd, ep->mh));
				reap_send(ep);
			} else {
				ep->sbuf[size - 1] = v;
				CHECK(VipPostSend(ep->vi, sd, ep->mh));
				while (*poll != v)
					;
				reap_send(ep);
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

/* Client: n operations of one size, depth in flight, the descriptors
 * posted again as they complete. Returns the elapsed time. */
static uint64_t stream(struct ep *ep, unsigned long n)
{
	unsigned long posted = 0, done = 0;
	unsigned int depth = ep->o->depth;
	uint64_t t0 = bench_now_ns();

	while (done < n) {
		for (; posted < n && posted - done < depth; posted++)
			CHECK(VipPostSend(ep->vi, &ep->sd[posted % depth],
					  ep->mh));
		reap_send(ep);
		done++;
	}
	return bench_now_ns() - t0;
}

static void bw_client(struct ep *ep, int write)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, n;
	unsigned int i;
	uint64_t ns;

	for (size = o->min_size; size; size = bench_next_size(o, size)) {
		n = bench_iters(o, size);
		for (i = 0; i < o->depth; i++) {
			if (write)
				build_write(ep, &ep->sd[i], size);
			else
				build_send(ep, &ep->sd[i], ep->sbuf, size);
		}
		stream(ep, bench_warmup(o, size));
		ns = stream(ep, n);
		bench_alive();
		bench_report_bw(o, size, n, ns);
	}
	/* "done", for bw_write's idle server */
	if (write) {
		build_send(ep, &ep->sd[o->depth], NULL, 0);
		CHECK(VipPostSend(ep->vi, &ep->sd[o->depth], ep->mh));
		reap_send(ep);
	}
}

static void bw_send_server(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long size, total = 0, i;
	VIP_DESCRIPTOR *d;

	for (size = o->min_size; size; size = bench_next_size(o, size))
		total += bench_warmup(o, size) + bench_iters(o, size);
	for (i = 0; i < total; i++) {
		d = reap_recv(ep);
		CHECK(VipPostRecv(ep->vi, d, ep->mh));
		if (!(i & 1023))
			bench_alive();
	}
}

static void bw_write_server(struct ep *ep)
{
	VIP_DESCRIPTOR *d;

	/* Idle until "done": sleep, leave the CPUs to the client. */
	alarm(0);
	CHECK(VipRecvWait(ep->vi, VIP_INFINITE, &d));
	check(d);
}

/* ------------------------------------------------------------ connections */

static void conn_cycles(struct ep *ep)
{
	const struct bench_opts *o = ep->o;
	unsigned long n = o->iters, i;
	uint64_t *ns = calloc(n, sizeof(*ns)), t0, start = 0;
	VIP_DESCRIPTOR *d;

	for (i = 0; i < o->warmup + n; i++) {
		if (i == o->warmup)
			start = bench_now_ns();
		t0 = bench_now_ns();
		if (o->server) {
			/* Its flush tells that the client has gone. */
			build_recv(ep, &ep->rd[0], NULL, 0);
			CHECK(VipPostRecv(ep->vi, &ep->rd[0], ep->mh));
			connect_vi(ep, ep->vi);
			CHECK_DONE(VipRecvWait(ep->vi, TIMEOUT_MS, &d));
			CHECK(VipDisconnect(ep->vi));
		} else {
			connect_vi(ep, ep->vi);
			CHECK(VipDisconnect(ep->vi));
		}
		if (i >= o->warmup)
			ns[i - o->warmup] = bench_now_ns() - t0;
		bench_alive();
	}
	if (!o->server) {
		t0 = bench_now_ns() - start;
		bench_report_lat(o, 0, ns, n);
		fprintf(stderr, "%s: %lu cycles in %.3f s: %.1f/s\n", o->impl, n,
			t0 / 1e9, n / (t0 / 1e9));
	}
	free(ns);
}

/* The client's first lines: what runs where, then the column heads. */
static void announce(const struct ep *ep)
{
	static const char *const what[] = {
		[T_LAT_SEND] = "send latency", [T_LAT_WRITE] = "RDMA write latency",
		[T_BW_SEND] = "send bandwidth", [T_BW_WRITE] = "RDMA write bandwidth",
		[T_CONN] = "connection cycles",
	};
	const struct bench_opts *o = ep->o;

	if (o->table)
		printf("# %s: %s over libvipl, device %.*s, %s; every "
		       "descriptor signalled (perftest signals one send in "
		       "many)\n",
		       o->impl, what[o->test], (int)sizeof(ep->attrs.Name),
		       ep->attrs.Name,
		       o->events ? "waiting in Wait" : "polling with Done");
	bench_header(o);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct ep ep;

#ifdef PERF_TOOL
	perf_parse(&o, argc, argv, PERF_TOOL);
#else
	bench_parse(&o, argc, argv, "vipl");
#endif
	bench_alive();
	setup(&ep, &o);
	if (!o.server)
		announce(&ep);
	if (o.test == T_CONN) {
		conn_cycles(&ep);
		CHECK(VipDestroyVi(ep.vi));
		CHECK(VipDeregisterMem(ep.nic, ep.mem, ep.mh));
		CHECK(VipCloseNic(ep.nic));
		free(ep.mem);
		return 0;
	}
	/* VIA rule: a receive is posted before the peer may send. */
	build_recv(&ep, &ep.rd[0], ep.rbuf, sizeof(struct info_msg));
	CHECK(VipPostRecv(ep.vi, &ep.rd[0], ep.mh));
	connect_vi(&ep, ep.vi);
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
	if (o.server)
		peer_left(&ep);
	teardown(&ep);
	return 0;
}
