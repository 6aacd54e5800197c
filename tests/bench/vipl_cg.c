/*
 * vipl_cg.c - libvipl's instructions per message, under callgrind.
 *
 *   server: vipl_cg -s -a ADDR          (natively: an echo server)
 *   client: valgrind --tool=callgrind --collect-atstart=no \
 *             vipl_cg -c ADDR [-n MESSAGES]
 *
 * The client measures one path at a time and dumps callgrind's counters
 * after each (CALLGRIND_DUMP_STATS_AT names the dump after the path):
 *   send   VipPostSend + VipSendDone of a 64-byte send
 *   recv   VipPostRecv + VipRecvDone of a 64-byte receive
 *   write  VipPostSend + VipSendDone of a 64-byte RDMA write
 *   empty  one VipRecvDone that finds nothing (the cost of a busy-poll turn)
 * Only the VIPL calls themselves are collected (CALLGRIND_TOGGLE_COLLECT
 * around each); between post and completion the client sleeps so that the
 * completion is there when it asks, and each Done costs exactly one call.
 * Warm-up iterations run first, uncollected, so that lazy symbol binding
 * and first touches are not counted. tests/bench/cg_cost.py splits each
 * dump into libvipl's own instructions and those of libibverbs, the rxe
 * provider and libc below it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <valgrind/callgrind.h>
#include <vipl.h>

#include "common.h"
#include "vipl_side.h"

#define TIMEOUT_MS 60000
#define MSG 64
#define WARMUP 20
#define SLEEP_US 3000

/* Collect exactly this call. */
#define MEASURED(call)                                                         \
	({                                                                     \
		VIP_RETURN r_;                                                 \
		CALLGRIND_TOGGLE_COLLECT;                                      \
		r_ = (call);                                                   \
		CALLGRIND_TOGGLE_COLLECT;                                      \
		r_;                                                            \
	})

static VIP_NIC_HANDLE nic;
static VIP_VI_HANDLE vi;
static VIP_MEM_HANDLE mh;
static VIP_DESCRIPTOR *sd, *rd, *wd;
static char *sbuf, *rbuf;
static unsigned long misses; /* Done calls that found nothing yet */

static void build(VIP_DESCRIPTOR *d, void *buf, unsigned int len, int send)
{
	memset(d, 0, sizeof(*d));
	if (len) {
		d->CS.SegCount = 1;
		d->DS[0].Local.Data.Address = buf;
		d->DS[0].Local.Handle = mh;
		d->DS[0].Local.Length = len;
	}
	if (send)
		d->CS.Length = len;
}

static void check(const VIP_DESCRIPTOR *d)
{
	if (d->CS.Status & VIP_STATUS_ERROR_MASK)
		bench_die("descriptor status 0x%x", d->CS.Status);
}

/* How long one empty VipRecvDone takes natively (the server is not under
 * valgrind): with its instruction count from the client's "empty" dump,
 * this gives the time of one instruction on this machine. */
static void calibrate(void)
{
	enum { N = 50000 };
	VIP_DESCRIPTOR *d;
	uint64_t t0 = bench_now_ns(), t1;
	int i;

	/* The client leaves soon (its disconnect flushes the receive):
	 * stop there if it comes first. */
	for (i = 0; i < N; i++)
		if (VipRecvDone(vi, &d) != VIP_NOT_DONE)
			break;
	t1 = bench_now_ns();
	if (i > 1000)
		printf("vipl_cg: calibration: %.1f ns per empty VipRecvDone "
		       "(%d calls)\n", (double)(t1 - t0) / i, i);
	fflush(stdout);
}

static void server(void)
{
	VIP_DESCRIPTOR *d;

	for (;;) {
		CHECK(VipRecvWait(vi, VIP_INFINITE, &d));
		check(d);
		if (!d->CS.Length) {
			/* "bye": the client is done; the receive posted
			 * below stays empty while we time it. */
			CHECK(VipPostRecv(vi, rd, mh));
			calibrate();
			return;
		}
		memcpy(sbuf, rbuf, MSG);
		CHECK(VipPostRecv(vi, rd, mh));
		CHECK(VipPostSend(vi, sd, mh));
		CHECK(VipSendWait(vi, TIMEOUT_MS, &d));
		check(d);
	}
}

/* Dequeues with VipSendDone/VipRecvDone, collected or not; a call that
 * finds nothing is a miss (also collected, and reported). */
static void done(int recv, int collect)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN r;

	for (;;) {
		if (collect)
			r = recv ? MEASURED(VipRecvDone(vi, &d))
				 : MEASURED(VipSendDone(vi, &d));
		else
			r = recv ? VipRecvDone(vi, &d) : VipSendDone(vi, &d);
		if (r == VIP_SUCCESS)
			break;
		if (r != VIP_NOT_DONE)
			bench_die("Done: %d", (int)r);
		misses += collect;
		usleep(SLEEP_US);
	}
	check(d);
}

enum path { P_SEND, P_RECV, P_WRITE, P_EMPTY };

/* One message on a path; collect says whether its VIPL calls count. */
static void one(enum path p, int collect)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN r;

	switch (p) {
	case P_SEND: /* the echo's receive is not this path's */
		CHECK(VipPostRecv(vi, rd, mh));
		r = collect ? MEASURED(VipPostSend(vi, sd, mh))
			    : VipPostSend(vi, sd, mh);
		CHECK(r);
		usleep(SLEEP_US);
		done(0, collect);
		done(1, 0);
		break;
	case P_RECV:
		r = collect ? MEASURED(VipPostRecv(vi, rd, mh))
			    : VipPostRecv(vi, rd, mh);
		CHECK(r);
		CHECK(VipPostSend(vi, sd, mh));
		usleep(SLEEP_US);
		done(0, 0);
		done(1, collect);
		break;
	case P_WRITE:
		r = collect ? MEASURED(VipPostSend(vi, wd, mh))
			    : VipPostSend(vi, wd, mh);
		CHECK(r);
		usleep(SLEEP_US);
		done(0, collect);
		break;
	case P_EMPTY:
		r = collect ? MEASURED(VipRecvDone(vi, &d))
			    : VipRecvDone(vi, &d);
		if (r != VIP_NOT_DONE)
			bench_die("empty poll found %d", (int)r);
		break;
	}
}

int main(int argc, char **argv)
{
	static const char *const names[] = { "send", "recv", "write",
					      "empty" };
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = 4096,
		.EnableRdmaWrite = VIP_TRUE,
	};
	VIP_MEM_ATTRIBUTES ma = { .EnableRdmaWrite = VIP_TRUE };
	VIP_NIC_ATTRIBUTES na;
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	unsigned char host[4];
	unsigned long n = 200, i;
	const char *addr = NULL;
	int is_server = 0, c, p;
	char *mem;
	uint64_t peer_addr;
	uint32_t peer_handle;
	VIP_DESCRIPTOR *d;

	while ((c = getopt(argc, argv, "sa:c:n:")) != -1) {
		switch (c) {
		case 's': is_server = 1; break;
		case 'a': case 'c': addr = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 0); break;
		default: addr = NULL; optind = argc; break;
		}
	}
	if (!addr || !n || inet_pton(AF_INET, addr, host) != 1)
		bench_die("usage: vipl_cg -s -a ADDR | -c ADDR [-n messages]");

	CHECK(VipOpenNic(NULL, &nic));
	CHECK(VipErrorCallback(nic, NULL, bench_vip_ignore_error));
	CHECK(VipQueryNic(nic, &na));
	if (posix_memalign((void **)&mem, 4096, 8192))
		bench_die("out of memory");
	memset(mem, 0, 8192);
	CHECK(VipRegisterMem(nic, mem, 8192, &ma, &mh));
	sd = (VIP_DESCRIPTOR *)mem;
	rd = sd + 1;
	wd = sd + 2;
	sbuf = mem + 4096;
	rbuf = sbuf + 1024;
	CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi));
	build(rd, rbuf, MSG, 0);
	CHECK(VipPostRecv(vi, rd, mh));
	if (is_server) {
		local = bench_vip_addr(host, 4, "cg", 0);
		remote = bench_vip_addr(host, 0, "cg", 0);
		CHECK(VipConnectWait(nic, local, TIMEOUT_MS, remote, &ra,
				     &conn));
		CHECK(VipConnectAccept(conn, vi));
	} else {
		local = bench_vip_addr(na.LocalNicAddress, na.NicAddressLen,
				       "cg", 0);
		remote = bench_vip_addr(host, 4, "cg", 0);
		CHECK(bench_vip_connect(vi, local, remote, TIMEOUT_MS, &ra));
	}
	free(local);
	free(remote);

	/* Where each side's rbuf is, for the RDMA write path. */
	memcpy(sbuf, &(uint64_t){ (uintptr_t)rbuf + 512 }, 8);
	memcpy(sbuf + 8, &mh, 4);
	build(sd, sbuf, 12, 1);
	CHECK(VipPostSend(vi, sd, mh));
	CHECK(VipSendWait(vi, TIMEOUT_MS, &d));
	CHECK(VipRecvWait(vi, TIMEOUT_MS, &d));
	memcpy(&peer_addr, rbuf, 8);
	memcpy(&peer_handle, rbuf + 8, 4);
	build(rd, rbuf, MSG, 0);
	build(sd, sbuf, MSG, 1);
	if (is_server) {
		CHECK(VipPostRecv(vi, rd, mh));
		server();
	} else {
		memset(wd, 0, sizeof(*wd));
		wd->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
		wd->CS.SegCount = 2;
		wd->CS.Length = MSG;
		wd->DS[0].Remote.Data.AddressBits = peer_addr;
		wd->DS[0].Remote.Handle = peer_handle;
		wd->DS[1].Local.Data.Address = sbuf;
		wd->DS[1].Local.Handle = mh;
		wd->DS[1].Local.Length = MSG;
		for (p = P_SEND; p <= P_EMPTY; p++) {
			for (i = 0; i < WARMUP; i++)
				one(p, 0);
			misses = 0;
			CALLGRIND_ZERO_STATS;
			for (i = 0; i < n; i++)
				one(p, 1);
			CALLGRIND_DUMP_STATS_AT(names[p]);
			printf("vipl_cg: %s: %lu messages, %lu Done calls found "
			       "nothing\n", names[p], n, misses);
		}
		build(sd, NULL, 0, 1); /* "bye" */
		CHECK(VipPostSend(vi, sd, mh));
		CHECK(VipSendWait(vi, TIMEOUT_MS, &d));
		usleep(100000);
	}
	VipDisconnect(vi);
	CHECK(VipDestroyVi(vi));
	CHECK(VipDeregisterMem(nic, mem, mh));
	CHECK(VipCloseNic(nic));
	free(mem);
	return 0;
}
