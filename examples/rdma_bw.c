/*
 * rdma_bw.c - VIPL RDMA write bandwidth between two processes.
 *
 *   server: rdma_bw -s [-a ADDR] [options]
 *   client: rdma_bw -c ADDR [options]
 *
 * The server registers a target buffer with RDMA write enabled and tells
 * the client its address and memory handle in an ordinary message. The
 * client RDMA-writes each size into it, keeping -d descriptors in flight,
 * and prints one line per size as perftest's ib_write_bw does. Each size
 * ends with one RDMA write with immediate data (the size): it consumes a
 * receive at the server, which checks the bytes that landed and answers
 * before the next size may overwrite them. A zero-length send says "done",
 * and both sides leave.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <vipl.h>
#include <unistd.h>

#define DISC "rdma_bw"
#define TIMEOUT_MS 30000
#define MSG_LEN 64 /* the region and check messages */
#define MB (1024.0 * 1024.0) /* perftest's MB/sec is 2^20 bytes/s */

struct opts {
	int server;
	const char *addr;
	const char *device;
	const char *disc;
	unsigned long min_size, max_size;
	unsigned int iters, depth;
	int event; /* sleep in VipSendWait instead of polling VipSendDone */
};

/* Server to client, fixed big-endian: where to write. */
struct region_msg {
	uint64_t addr;
	uint32_t handle;
	uint32_t len;
};

struct endpoint {
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_MEM_HANDLE mh; /* descriptors, messages, the client's source */
	char *mem;
	size_t mem_len;
	VIP_DESCRIPTOR *desc; /* nr_desc of them at the start of mem */
	unsigned int nr_desc;
	char *msg; /* two MSG_LEN buffers: in, out */
	char *data; /* client: the source of the writes */
	VIP_MEM_HANDLE target_mh; /* server: the RDMA target */
	char *target;
	unsigned long target_len;
	struct region_msg region; /* client: the server's target */
};

static void die(const char *what, VIP_RETURN ret)
{
	fprintf(stderr, "rdma_bw: %s failed: VIP_RETURN %d\n", what, (int)ret);
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

/* A lost connection shows up on the data path too (a receive is always
 * posted while we wait for the peer; it completes flushed), and that is
 * where we judge it: at the end it is just the peer leaving first.
 * Everything else is worth saying. */
static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	if (e->ErrorCode == VIP_ERROR_CONN_LOST)
		return;
	fprintf(stderr, "rdma_bw: asynchronous error %d on VI %p\n",
		(int)e->ErrorCode, e->ViHandle);
}

/* What the client writes for a given size, so the server can check it. */
static char pattern(unsigned long i, unsigned long size)
{
	return (char)(i * 7 + (i >> 8) + size * 13 + 1);
}

static void check_status(const VIP_DESCRIPTOR *d, VIP_UINT32 op,
			 const char *what)
{
	VIP_UINT32 st = d->CS.Status;

	if (!(st & VIP_STATUS_DONE) || (st & VIP_STATUS_ERROR_MASK) ||
	    (st & VIP_STATUS_OP_MASK) != op) {
		fprintf(stderr, "rdma_bw: %s completed with status 0x%x\n",
			what, st);
		exit(1);
	}
}

/* Host address then discriminator, as VIP_NET_ADDRESS wants them. */
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

/*
 * One registration holds the descriptors (64-byte aligned, as VIA wants),
 * the two message buffers and, on the client, the source data. The
 * server's target is registered on its own, with RDMA write enabled: that
 * is the only memory a peer may write into.
 */
static void setup_memory(struct endpoint *ep, const struct opts *o)
{
	size_t desc_len = ep->nr_desc * sizeof(VIP_DESCRIPTOR);
	size_t data_off = (desc_len + 2 * MSG_LEN + 4095) & ~(size_t)4095;
	VIP_MEM_ATTRIBUTES ma = { .EnableRdmaWrite = VIP_TRUE };

	ep->mem_len = data_off + (o->server ? 0 : o->max_size);
	if (posix_memalign((void **)&ep->mem, 4096, ep->mem_len))
		exit(1);
	memset(ep->mem, 0, ep->mem_len);
	CHECK(VipRegisterMem(ep->nic, ep->mem, ep->mem_len, NULL, &ep->mh));
	ep->desc = (VIP_DESCRIPTOR *)ep->mem;
	ep->msg = ep->mem + desc_len;
	ep->data = ep->mem + data_off;
	if (!o->server)
		return;
	ep->target_len = o->max_size;
	if (posix_memalign((void **)&ep->target, 4096, ep->target_len))
		exit(1);
	memset(ep->target, 0, ep->target_len);
	CHECK(VipRegisterMem(ep->nic, ep->target, ep->target_len, &ma,
			     &ep->target_mh));
}

static void setup(struct endpoint *ep, const struct opts *o)
{
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = o->max_size,
		.EnableRdmaWrite = VIP_TRUE,
	};

	memset(ep, 0, sizeof(*ep));
	CHECK(VipOpenNic(o->device, &ep->nic));
	CHECK(VipQueryNic(ep->nic, &ep->attrs));
	CHECK(VipErrorCallback(ep->nic, NULL, on_error));
	if (o->max_size > ep->attrs.MaxTransferSize) {
		fprintf(stderr, "rdma_bw: max size above NIC's %lu\n",
			ep->attrs.MaxTransferSize);
		exit(1);
	}
	/* Server: one receive (the client waits for our answer before it
	 * writes again) and one send. Client: the writes in flight, the
	 * immediate, "done", and two receives (region, answers). */
	ep->nr_desc = o->server ? 2 : o->depth + 4;
	if (ep->nr_desc > ep->attrs.MaxDescriptorsPerQueue) {
		fprintf(stderr, "rdma_bw: depth above NIC's %lu descriptors\n",
			ep->attrs.MaxDescriptorsPerQueue);
		exit(1);
	}
	setup_memory(ep, o);
	CHECK(VipCreateVi(ep->nic, &va, NULL, NULL, &ep->vi));
}

static void teardown(struct endpoint *ep)
{
	CHECK(VipDisconnect(ep->vi));
	CHECK(VipDestroyVi(ep->vi));
	if (ep->target) {
		CHECK(VipDeregisterMem(ep->nic, ep->target, ep->target_mh));
		free(ep->target);
	}
	CHECK(VipDeregisterMem(ep->nic, ep->mem, ep->mh));
	CHECK(VipCloseNic(ep->nic));
	free(ep->mem);
}

/* A receive into buf (len bytes; 0: no data segment at all). */
static void post_recv(struct endpoint *ep, VIP_DESCRIPTOR *d, void *buf,
		      unsigned int len)
{
	memset(d, 0, sizeof(*d));
	if (len) {
		d->CS.SegCount = 1;
		d->DS[0].Local.Data.Address = buf;
		d->DS[0].Local.Handle = ep->mh;
		d->DS[0].Local.Length = len;
	}
	CHECK(VipPostRecv(ep->vi, d, ep->mh));
}

/* An ordinary send of len bytes from buf (0: no data), reaped at once. */
static void send_msg(struct endpoint *ep, VIP_DESCRIPTOR *d, void *buf,
		     unsigned int len)
{
	VIP_DESCRIPTOR *done;

	memset(d, 0, sizeof(*d));
	if (len) {
		d->CS.SegCount = 1;
		d->CS.Length = len;
		d->DS[0].Local.Data.Address = buf;
		d->DS[0].Local.Handle = ep->mh;
		d->DS[0].Local.Length = len;
	}
	CHECK(VipPostSend(ep->vi, d, ep->mh));
	CHECK_DONE(VipSendWait(ep->vi, TIMEOUT_MS, &done));
	if (done != d) {
		fprintf(stderr, "rdma_bw: sends completed out of order\n");
		exit(1);
	}
	check_status(d, VIP_STATUS_OP_SEND, "send");
}

static VIP_DESCRIPTOR *wait_recv(struct endpoint *ep)
{
	VIP_DESCRIPTOR *d;

	CHECK_DONE(VipRecvWait(ep->vi, TIMEOUT_MS, &d));
	if (!(d->CS.Status & VIP_STATUS_DONE) ||
	    (d->CS.Status & VIP_STATUS_ERROR_MASK)) {
		fprintf(stderr, "rdma_bw: receive completed with status 0x%x\n",
			d->CS.Status);
		exit(1);
	}
	return d;
}

static void connect_vi(struct endpoint *ep, const struct opts *o)
{
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_RETURN rc;
	int tries;
	unsigned char host[16] = { 0 };
	unsigned int host_len = 4;

	if (o->addr && inet_pton(AF_INET, o->addr, host) != 1) {
		if (inet_pton(AF_INET6, o->addr, host) != 1) {
			fprintf(stderr, "rdma_bw: bad address %s\n", o->addr);
			exit(1);
		}
		host_len = 16;
	}
	if (o->server) {
		local = o->addr ? make_addr(host, host_len, o->disc)
				: make_addr(ep->attrs.LocalNicAddress,
					    ep->attrs.NicAddressLen, o->disc);
		remote = make_addr(host, 0, "");
		CHECK(VipConnectWait(ep->nic, local, TIMEOUT_MS, remote, &ra,
				     &conn));
		/* The writes need the client's VI to allow them too. */
		if (!ra.EnableRdmaWrite) {
			CHECK(VipConnectReject(conn));
			fprintf(stderr, "rdma_bw: client lacks RDMA write\n");
			exit(1);
		}
		CHECK(VipConnectAccept(conn, ep->vi));
	} else {
		local = make_addr(ep->attrs.LocalNicAddress,
				  ep->attrs.NicAddressLen, o->disc);
		remote = make_addr(host, host_len, o->disc);
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

/* ------------------------------------------------------------ server */

/* Every byte of [0, size) holds what the client wrote for size. */
static int target_holds(const struct endpoint *ep, unsigned long size)
{
	unsigned long i;

	for (i = 0; i < size; i++)
		if (ep->target[i] != pattern(i, size))
			return 0;
	return 1;
}

/* The answer to one size: 0 when its bytes are right. */
static void answer(struct endpoint *ep, uint32_t bad)
{
	uint32_t be = htobe32(bad);

	memcpy(ep->msg + MSG_LEN, &be, sizeof(be));
	send_msg(ep, &ep->desc[1], ep->msg + MSG_LEN, sizeof(be));
}

static int run_server(struct endpoint *ep)
{
	struct region_msg *rm = (struct region_msg *)(ep->msg + MSG_LEN);
	unsigned int sizes = 0, bad = 0, ok;
	VIP_UINT32 st, size;
	VIP_DESCRIPTOR *d;

	rm->addr = htobe64((uintptr_t)ep->target);
	rm->handle = htobe32(ep->target_mh);
	rm->len = htobe32((uint32_t)ep->target_len);
	send_msg(ep, &ep->desc[1], rm, sizeof(*rm));

	for (;;) {
		d = wait_recv(ep);
		st = d->CS.Status;
		size = d->CS.ImmediateData;
		if ((st & VIP_STATUS_OP_MASK) == VIP_STATUS_OP_RECEIVE)
			break; /* "done": the client leaves now */
		/* Posted again before we answer, the only moment at which
		 * the client may write again. */
		post_recv(ep, d, NULL, 0);
		if ((st & (VIP_STATUS_OP_MASK | VIP_STATUS_IMMEDIATE)) !=
			    (VIP_STATUS_OP_REMOTE_RDMA_WRITE |
			     VIP_STATUS_IMMEDIATE) ||
		    size > ep->target_len) {
			fprintf(stderr, "rdma_bw: unexpected receive 0x%x, "
				"immediate %u\n", st, size);
			return 1;
		}
		sizes++;
		ok = target_holds(ep, size);
		if (!ok) {
			fprintf(stderr, "rdma_bw: data mismatch at size %u\n",
				size);
			bad++;
		}
		answer(ep, !ok);
	}
	printf("rdma_bw: server checked %u sizes, %u bad\n", sizes, bad);
	return bad ? 1 : 0;
}

/* ------------------------------------------------------------ client */

/* An RDMA write of size bytes to the start of the server's target. */
static void build_write(struct endpoint *ep, VIP_DESCRIPTOR *d,
			unsigned long size)
{
	memset(d, 0, sizeof(*d));
	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	d->CS.SegCount = 2;
	d->CS.Length = size;
	d->DS[0].Remote.Data.AddressBits = ep->region.addr;
	d->DS[0].Remote.Handle = ep->region.handle;
	d->DS[1].Local.Data.Address = ep->data;
	d->DS[1].Local.Handle = ep->mh;
	d->DS[1].Local.Length = size;
}

/* The oldest write in flight; it must be the descriptor posted first. */
static void reap_write(struct endpoint *ep, VIP_DESCRIPTOR *expect, int event)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN ret;
	double deadline;

	if (event) {
		CHECK_DONE(VipSendWait(ep->vi, TIMEOUT_MS, &d));
	} else {
		/* Busy-poll, as perftest does; a broken connection flushes
		 * the queue, so this ends either way. */
		deadline = now_us() + TIMEOUT_MS * 1e3;
		while ((ret = VipSendDone(ep->vi, &d)) == VIP_NOT_DONE)
			if (now_us() > deadline)
				die("VipSendDone (timed out)", ret);
		if (ret != VIP_SUCCESS && ret != VIP_DESCRIPTOR_ERROR)
			die("VipSendDone", ret);
	}
	if (d != expect) {
		fprintf(stderr, "rdma_bw: writes completed out of order\n");
		exit(1);
	}
	check_status(d, VIP_STATUS_OP_RDMA_WRITE, "RDMA write");
}

/* iters writes of size bytes, depth of them in flight; returns the time
 * from the first post to the last completion, in microseconds. */
static double write_burst(struct endpoint *ep, const struct opts *o,
			  unsigned long size)
{
	unsigned int posted = 0, done = 0, i;
	double t0;

	/* Built once: a completed descriptor is posted again as it is. */
	for (i = 0; i < o->depth; i++)
		build_write(ep, &ep->desc[i], size);
	t0 = now_us();
	while (done < o->iters) {
		for (; posted < o->iters && posted - done < o->depth; posted++)
			CHECK(VipPostSend(ep->vi, &ep->desc[posted % o->depth],
					  ep->mh));
		reap_write(ep, &ep->desc[done++ % o->depth], o->event);
	}
	return now_us() - t0;
}

/* The size's last write carries it as immediate data: the server learns
 * the size is over, and RC ordering means every earlier write landed. */
static void write_immediate(struct endpoint *ep, const struct opts *o,
			    unsigned long size)
{
	VIP_DESCRIPTOR *d = &ep->desc[o->depth];

	build_write(ep, d, size);
	d->CS.Control |= VIP_CONTROL_IMMEDIATE;
	d->CS.ImmediateData = (VIP_UINT32)size;
	CHECK(VipPostSend(ep->vi, d, ep->mh));
	reap_write(ep, d, 1);
}

/* The server's word on the size just written; its receive goes up again
 * before the next size can make the server answer. */
static int server_agrees(struct endpoint *ep, unsigned long size)
{
	VIP_DESCRIPTOR *d = wait_recv(ep);
	uint32_t bad;

	if (d->CS.Length != sizeof(bad)) {
		fprintf(stderr, "rdma_bw: bad answer (%u bytes)\n",
			d->CS.Length);
		return 0;
	}
	memcpy(&bad, ep->msg + MSG_LEN, sizeof(bad));
	post_recv(ep, d, ep->msg + MSG_LEN, MSG_LEN);
	if (be32toh(bad)) {
		fprintf(stderr, "rdma_bw: server saw wrong data at size %lu\n",
			size);
		return 0;
	}
	return 1;
}

static void get_region(struct endpoint *ep, const struct opts *o)
{
	VIP_DESCRIPTOR *d = wait_recv(ep);
	const struct region_msg *rm = (const struct region_msg *)ep->msg;

	if (d->CS.Length != sizeof(*rm)) {
		fprintf(stderr, "rdma_bw: bad region message (%u bytes)\n",
			d->CS.Length);
		exit(1);
	}
	ep->region.addr = be64toh(rm->addr);
	ep->region.handle = be32toh(rm->handle);
	ep->region.len = be32toh(rm->len);
	if (o->max_size > ep->region.len) {
		fprintf(stderr, "rdma_bw: server's buffer holds %u bytes, "
			"fewer than -M %lu\n", ep->region.len, o->max_size);
		exit(1);
	}
}

static int run_client(struct endpoint *ep, const struct opts *o)
{
	unsigned long size, i;
	double us;

	get_region(ep, o);
	printf("# libvipl RDMA write bandwidth over %s, reliable delivery, "
	       "%u writes in flight, %s\n", ep->attrs.Name, o->depth,
	       o->event ? "VipSendWait" : "polling VipSendDone");
	printf(" #bytes     #iterations    BW average[MB/sec]   "
	       "MsgRate[msg/sec]\n");
	for (size = o->min_size; size <= o->max_size; size *= 2) {
		for (i = 0; i < size; i++)
			ep->data[i] = pattern(i, size);
		us = write_burst(ep, o, size);
		write_immediate(ep, o, size);
		if (!server_agrees(ep, size))
			return 1;
		printf(" %-10lu %-14u %-20.2f %.0f\n", size, o->iters,
		       (double)size * o->iters / us * 1e6 / MB,
		       o->iters / us * 1e6);
		fflush(stdout);
		if (size == o->max_size)
			break;
	}
	send_msg(ep, &ep->desc[o->depth + 1], NULL, 0); /* "done" */
	return 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rdma_bw -s [-a ADDR] | -c ADDR\n"
		"  [-D device] [-S min_bytes] [-M max_bytes] [-n iters] "
		"[-d depth] [-x discriminator] [-e]\n"
		"  -d  RDMA writes in flight (default 16)\n"
		"  -e  wait for completions in VipSendWait (default: poll)\n"
		"  the server needs -M at least as large as the client's\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .min_size = 1, .max_size = 1 << 20, .iters = 1000,
			  .depth = 16, .disc = DISC };
	struct endpoint ep;
	int c, ret;

	while ((c = getopt(argc, argv, "sa:c:D:S:M:n:d:x:e")) != -1) {
		switch (c) {
		case 's': o.server = 1; break;
		case 'a': o.addr = optarg; break;
		case 'c': o.addr = optarg; break;
		case 'D': o.device = optarg; break;
		case 'S': o.min_size = strtoul(optarg, NULL, 0); break;
		case 'M': o.max_size = strtoul(optarg, NULL, 0); break;
		case 'n': o.iters = strtoul(optarg, NULL, 0); break;
		case 'd': o.depth = strtoul(optarg, NULL, 0); break;
		case 'x': o.disc = optarg; break;
		case 'e': o.event = 1; break;
		default: usage();
		}
	}
	/* The size travels as 32-bit immediate data. */
	if ((!o.server && !o.addr) || !o.min_size || !o.iters || !o.depth ||
	    o.min_size > o.max_size || o.max_size > UINT32_MAX)
		usage();

	setup(&ep, &o);
	/* VIA rule: a receive must be posted before the peer sends. */
	if (o.server) {
		post_recv(&ep, &ep.desc[0], NULL, 0);
	} else {
		post_recv(&ep, &ep.desc[o.depth + 2], ep.msg, MSG_LEN);
		post_recv(&ep, &ep.desc[o.depth + 3], ep.msg + MSG_LEN,
			  MSG_LEN);
	}
	connect_vi(&ep, &o);
	ret = o.server ? run_server(&ep) : run_client(&ep, &o);
	teardown(&ep);
	return ret;
}
