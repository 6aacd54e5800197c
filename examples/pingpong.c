/*
 * pingpong.c - VIPL send/receive latency between two processes.
 *
 *   server: pingpong -s [-a ADDR] [options]
 *   client: pingpong -c ADDR [options]
 *
 * A VIA program as one was written in 1998: open the NIC, register one
 * buffer holding descriptors and data, create a reliable VI, connect by
 * discriminator, then bounce messages of each size. The client prints one
 * line per size with the one-way latency (half the round trip), as
 * perftest's ib_send_lat does.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vipl.h>
#include <unistd.h>

#define DISC "pingpong"
#define TIMEOUT_MS 30000

struct opts {
	int server;
	const char *addr;
	const char *device;
	unsigned long min_size, max_size;
	unsigned int iters, warmup;
	int event; /* sleep in the Wait calls instead of polling Done */
};

struct endpoint {
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_MEM_HANDLE mh;
	char *mem;
	VIP_DESCRIPTOR *sdesc, *rdesc;
	char *sbuf, *rbuf;
};

static void die(const char *what, VIP_RETURN ret)
{
	fprintf(stderr, "pingpong: %s failed: VIP_RETURN %d\n", what, (int)ret);
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

/* Host address then discriminator, as VIP_NET_ADDRESS wants them. */
static VIP_NET_ADDRESS *make_addr(const void *host, unsigned int host_len)
{
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + sizeof(DISC));

	a->HostAddressLen = host_len;
	a->DiscriminatorLen = sizeof(DISC) - 1;
	memcpy(a->HostAddress, host, host_len);
	memcpy(a->HostAddress + host_len, DISC, sizeof(DISC) - 1);
	return a;
}

/* The peer leaving at the end is expected; a loss mid-run shows up as a
 * flushed descriptor, which the waits report. So errors are only noted. */
static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

static void setup(struct endpoint *ep, const struct opts *o)
{
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = o->max_size,
	};
	size_t len = 2 * 64 + 2 * o->max_size + 64;

	CHECK(VipOpenNic(o->device, &ep->nic));
	CHECK(VipErrorCallback(ep->nic, NULL, on_error));
	CHECK(VipQueryNic(ep->nic, &ep->attrs));
	if (o->max_size > ep->attrs.MaxTransferSize) {
		fprintf(stderr, "pingpong: max size above NIC's %lu\n",
			ep->attrs.MaxTransferSize);
		exit(1);
	}
	/* Descriptors must be 64-byte aligned and registered. */
	if (posix_memalign((void **)&ep->mem, 4096, len))
		exit(1);
	memset(ep->mem, 0, len);
	CHECK(VipRegisterMem(ep->nic, ep->mem, len, NULL, &ep->mh));
	ep->sdesc = (VIP_DESCRIPTOR *)ep->mem;
	ep->rdesc = (VIP_DESCRIPTOR *)(ep->mem + 64);
	ep->sbuf = ep->mem + 128;
	ep->rbuf = ep->sbuf + o->max_size;
	CHECK(VipCreateVi(ep->nic, &va, NULL, NULL, &ep->vi));
}

/*
 * A tuned VIPL program builds its descriptors once and posts them again as
 * they are: the library clears CS.Status and links CS.Next itself. Only a
 * new message size changes the send descriptor (outside the timed loop).
 */
static void build_recv(struct endpoint *ep, unsigned long size)
{
	VIP_DESCRIPTOR *d = ep->rdesc;

	memset(d, 0, sizeof(*d));
	d->CS.SegCount = 1;
	d->DS[0].Local.Data.Address = ep->rbuf;
	d->DS[0].Local.Handle = ep->mh;
	d->DS[0].Local.Length = size;
}

static void build_send(struct endpoint *ep, unsigned long size)
{
	VIP_DESCRIPTOR *d = ep->sdesc;

	memset(d, 0, sizeof(*d));
	d->CS.SegCount = 1;
	d->CS.Length = size;
	d->DS[0].Local.Data.Address = ep->sbuf;
	d->DS[0].Local.Handle = ep->mh;
	d->DS[0].Local.Length = size;
}

static void post_recv(struct endpoint *ep)
{
	CHECK(VipPostRecv(ep->vi, ep->rdesc, ep->mh));
}

static void send_msg(struct endpoint *ep)
{
	CHECK(VipPostSend(ep->vi, ep->sdesc, ep->mh));
}

/* Polls (as perftest does) unless asked to sleep in the Wait calls. */
static void wait_send(struct endpoint *ep, int event)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN ret;

	if (event) {
		CHECK_DONE(VipSendWait(ep->vi, TIMEOUT_MS, &d));
	} else {
		while ((ret = VipSendDone(ep->vi, &d)) == VIP_NOT_DONE)
			;
		if (ret != VIP_SUCCESS && ret != VIP_DESCRIPTOR_ERROR)
			die("VipSendDone", ret);
	}
	if (d->CS.Status & VIP_STATUS_ERROR_MASK) {
		fprintf(stderr, "pingpong: send status 0x%x\n", d->CS.Status);
		exit(1);
	}
}

static void wait_recv(struct endpoint *ep, unsigned long size, int event)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN ret;

	if (event) {
		CHECK_DONE(VipRecvWait(ep->vi, TIMEOUT_MS, &d));
	} else {
		while ((ret = VipRecvDone(ep->vi, &d)) == VIP_NOT_DONE)
			;
		if (ret != VIP_SUCCESS && ret != VIP_DESCRIPTOR_ERROR)
			die("VipRecvDone", ret);
	}
	if ((d->CS.Status & VIP_STATUS_ERROR_MASK) || d->CS.Length != size) {
		fprintf(stderr, "pingpong: receive status 0x%x length %u\n",
			d->CS.Status, d->CS.Length);
		exit(1);
	}
}

static void connect_vi(struct endpoint *ep, const struct opts *o)
{
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_RETURN rc;
	int tries;
	unsigned char host[16];
	unsigned int host_len = 4;

	if (o->addr && inet_pton(AF_INET, o->addr, host) != 1) {
		if (inet_pton(AF_INET6, o->addr, host) != 1) {
			fprintf(stderr, "pingpong: bad address %s\n", o->addr);
			exit(1);
		}
		host_len = 16;
	}
	if (o->server) {
		local = o->addr ? make_addr(host, host_len)
				: make_addr(ep->attrs.LocalNicAddress,
					    ep->attrs.NicAddressLen);
		remote = make_addr(host, 0);
		CHECK(VipConnectWait(ep->nic, local, TIMEOUT_MS, remote, &ra,
				     &conn));
		CHECK(VipConnectAccept(conn, ep->vi));
	} else {
		local = make_addr(ep->attrs.LocalNicAddress,
				  ep->attrs.NicAddressLen);
		remote = make_addr(host, host_len);
		/* The server may not wait yet: as VIA programs do, ask again
		 * while the answer is VIP_NO_MATCH (it comes at once). */
		for (tries = 0; tries < TIMEOUT_MS / 10; tries++) {
			rc = VipConnectRequest(ep->vi, local, remote, 5000, &ra);
			if (rc != VIP_NO_MATCH)
				break;
			usleep(10000);
		}
		CHECK(rc);
	}
	free(local);
	free(remote);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_client(struct endpoint *ep, const struct opts *o)
{
	double *lat = calloc(o->iters, sizeof(*lat));
	unsigned long size;
	unsigned int i;

	printf("#bytes  #iterations  t_min[us]  t_typical[us]  t_avg[us]\n");
	for (size = o->min_size; size <= o->max_size; size *= 2) {
		double sum = 0;

		memset(ep->sbuf, (int)(size & 0xff) + 1, size);
		build_send(ep, size);
		for (i = 0; i < o->warmup + o->iters; i++) {
			double t0 = now_us();

			send_msg(ep);
			wait_recv(ep, size, o->event);
			post_recv(ep);
			wait_send(ep, o->event);
			if (i >= o->warmup) {
				lat[i - o->warmup] = (now_us() - t0) / 2;
				sum += lat[i - o->warmup];
			}
		}
		/* Every byte made the round trip (checked outside timing). */
		if (memcmp(ep->rbuf, ep->sbuf, size)) {
			fprintf(stderr, "pingpong: data mismatch at %lu\n", size);
			exit(1);
		}
		qsort(lat, o->iters, sizeof(*lat), cmp_double);
		printf("%-7lu %-12u %-10.2f %-14.2f %-.2f\n", size, o->iters,
		       lat[0], lat[o->iters / 2], sum / o->iters);
		fflush(stdout);
		if (size == o->max_size)
			break;
	}
	free(lat);
}

/* Echoes every message back from the buffer it arrived in: the client
 * sends nothing more until it has the reply, so reposting the receive on
 * that buffer first is safe. */
static void run_server(struct endpoint *ep, const struct opts *o)
{
	unsigned long size;
	unsigned int i;

	ep->sbuf = ep->rbuf;
	for (size = o->min_size; size <= o->max_size; size *= 2) {
		build_send(ep, size);
		for (i = 0; i < o->warmup + o->iters; i++) {
			wait_recv(ep, size, o->event);
			post_recv(ep);
			send_msg(ep);
			wait_send(ep, o->event);
		}
		if (size == o->max_size)
			break;
	}
}

static void usage(void)
{
	fprintf(stderr,
		"usage: pingpong -s [-a ADDR] | -c ADDR\n"
		"  [-D device] [-S min_bytes] [-M max_bytes] [-n iters] "
		"[-w warmup] [-e]\n"
		"  -e  wait in VipRecvWait and VipSendWait (default: poll)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .min_size = 1, .max_size = 65536, .iters = 1000,
			  .warmup = 100 };
	struct endpoint ep;
	int c;

	while ((c = getopt(argc, argv, "sa:c:D:S:M:n:w:e")) != -1) {
		switch (c) {
		case 's': o.server = 1; break;
		case 'a': o.addr = optarg; break;
		case 'c': o.addr = optarg; break;
		case 'D': o.device = optarg; break;
		case 'S': o.min_size = strtoul(optarg, NULL, 0); break;
		case 'M': o.max_size = strtoul(optarg, NULL, 0); break;
		case 'n': o.iters = strtoul(optarg, NULL, 0); break;
		case 'w': o.warmup = strtoul(optarg, NULL, 0); break;
		case 'e': o.event = 1; break;
		default: usage();
		}
	}
	if ((!o.server && !o.addr) || !o.min_size || !o.iters ||
	    o.min_size > o.max_size)
		usage();

	setup(&ep, &o);
	/* VIA rule: a receive must be posted before the peer sends. */
	build_recv(&ep, o.max_size);
	post_recv(&ep);
	connect_vi(&ep, &o);
	if (!o.server)
		printf("# libvipl ping-pong over %s, VIPL send/receive, "
		       "reliable delivery, %s\n", ep.attrs.Name,
		       o.event ? "VipRecvWait" : "polling VipRecvDone");
	if (!o.server)
		printf("# method: descriptors built once per size and posted "
		       "again as they are; every send signaled and its "
		       "completion %s (VIPL completes every descriptor; "
		       "perftest need not); time taken per round trip with "
		       "clock_gettime, halved\n",
		       o.event ? "waited for" : "polled");
	if (o.server)
		run_server(&ep, &o);
	else
		run_client(&ep, &o);

	CHECK(VipDisconnect(ep.vi));
	CHECK(VipDestroyVi(ep.vi));
	CHECK(VipDeregisterMem(ep.nic, ep.mem, ep.mh));
	CHECK(VipCloseNic(ep.nic));
	free(ep.mem);
	return 0;
}
