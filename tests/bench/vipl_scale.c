/*
 * vipl_scale.c - many connected VIs through one completion queue.
 *
 *   server: vipl_scale -s -a ADDR -N VIS [options]
 *   client: vipl_scale -c ADDR -N VIS [options]
 *
 * Each side creates N reliable VIs whose send and receive queues all feed
 * one VIPL CQ, and connects them pairwise. The client keeps one message
 * in flight on every VI; the server answers each on the VI it came on.
 * Both serve their CQ with VipCQDone (polling), then VipRecvDone or
 * VipSendDone on the VI it names, as a VIA server with many clients
 * would; an answer due while the VI's last send is not back waits for
 * that send's CQ entry (one send descriptor per VI). The client prints
 * one CSV line: VIs, messages per second (both directions), and the
 * memory each VI cost this process, from before the first VI to after
 * the traffic, divided by N: address space (rxe's queues are kernel
 * memory mapped into the process, so this counts them whether touched or
 * not), resident set, and malloc heap (libvipl's own structures and
 * libibverbs').
 */
#include <arpa/inet.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vipl.h>

#include "common.h"
#include "vipl_side.h"

#define TIMEOUT_MS (BENCH_TIMEOUT_S * 1000)
#define MSG 64

struct slot {
	VIP_VI_HANDLE vi;
	VIP_DESCRIPTOR *sd, *rd;
	char *sbuf, *rbuf;
	int send_busy; /* sd posted, not yet dequeued */
	int reply_due; /* a reply to send once sd is back */
};

static void post_recv(struct slot *s, VIP_MEM_HANDLE mh)
{
	memset(s->rd, 0, sizeof(*s->rd));
	s->rd->CS.SegCount = 1;
	s->rd->DS[0].Local.Data.Address = s->rbuf;
	s->rd->DS[0].Local.Handle = mh;
	s->rd->DS[0].Local.Length = MSG;
	CHECK(VipPostRecv(s->vi, s->rd, mh));
}

/* Dequeues the slot's send, whose CQ entry has come: a descriptor is the
 * provider's until then. */
static void reap_send(struct slot *s)
{
	VIP_DESCRIPTOR *d;

	CHECK_DONE(VipSendDone(s->vi, &d));
	if (d->CS.Status & VIP_STATUS_ERROR_MASK)
		bench_die("send status 0x%x", d->CS.Status);
	s->send_busy = 0;
}

static void post_send(struct slot *s, VIP_MEM_HANDLE mh)
{
	s->send_busy = 1;
	memset(s->sd, 0, sizeof(*s->sd));
	s->sd->CS.SegCount = 1;
	s->sd->CS.Length = MSG;
	s->sd->DS[0].Local.Data.Address = s->sbuf;
	s->sd->DS[0].Local.Handle = mh;
	s->sd->DS[0].Local.Length = MSG;
	CHECK(VipPostSend(s->vi, s->sd, mh));
}

int main(int argc, char **argv)
{
	int server = 0, c;
	const char *addr = NULL;
	unsigned long nvi = 1, total = 20000, port = 18800, i, got = 0, due = 0;
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES na;
	VIP_CQ_HANDLE cq;
	VIP_MEM_HANDLE mh;
	VIP_VI_ATTRIBUTES va = {
		.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY,
		.MaxTransferSize = MSG,
	};
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_VI_HANDLE vi;
	VIP_BOOLEAN recvq;
	VIP_DESCRIPTOR *d;
	VIP_RETURN r;
	struct slot *slots;
	unsigned char host[4];
	char *mem;
	size_t per = 2 * sizeof(VIP_DESCRIPTOR) + 2 * MSG, len;
	long vsz0, rss0, vsz1, rss1;
	size_t heap0, heap1;
	uint64_t t0, t1;

	while ((c = getopt(argc, argv, "sa:c:N:n:p:")) != -1) {
		switch (c) {
		case 's': server = 1; break;
		case 'a': case 'c': addr = optarg; break;
		case 'N': nvi = strtoul(optarg, NULL, 0); break;
		case 'n': total = strtoul(optarg, NULL, 0); break;
		case 'p': port = strtoul(optarg, NULL, 0); break;
		default: addr = NULL; optind = argc; break;
		}
	}
	if (!addr || !nvi || nvi > 1024 || inet_pton(AF_INET, addr, host) != 1)
		bench_die("usage: vipl_scale -s -a ADDR | -c ADDR "
			  "[-N VIs] [-n messages] [-p port]");
	if (total < nvi)
		total = nvi;
	bench_alive();

	CHECK(VipOpenNic(NULL, &nic));
	CHECK(VipErrorCallback(nic, NULL, bench_vip_ignore_error));
	CHECK(VipQueryNic(nic, &na));
	len = (nvi * per + 4095) & ~(size_t)4095;
	if (posix_memalign((void **)&mem, 4096, len))
		bench_die("out of memory");
	memset(mem, 0, len);
	CHECK(VipRegisterMem(nic, mem, len, NULL, &mh));
	slots = calloc(nvi, sizeof(*slots));
	/* Every VI's two queues feed this CQ: room for all of them. */
	CHECK(VipCreateCQ(nic, 2 * nvi + 16, &cq));

	bench_mem_kib(&vsz0, &rss0);
	heap0 = mallinfo2().uordblks;
	for (i = 0; i < nvi; i++) {
		struct slot *s = &slots[i];
		char *p = mem + i * per;

		s->sd = (VIP_DESCRIPTOR *)p;
		s->rd = s->sd + 1;
		s->sbuf = p + 2 * sizeof(VIP_DESCRIPTOR);
		s->rbuf = s->sbuf + MSG;
		CHECK(VipCreateVi(nic, &va, cq, cq, &s->vi));
		post_recv(s, mh);
		if (server) {
			local = bench_vip_addr(host, 4, "scale", port);
			remote = bench_vip_addr(host, 0, "scale", port);
			CHECK(VipConnectWait(nic, local, TIMEOUT_MS, remote,
					     &ra, &conn));
			CHECK(VipConnectAccept(conn, s->vi));
		} else {
			local = bench_vip_addr(na.LocalNicAddress,
					       na.NicAddressLen, "scale",
					       port);
			remote = bench_vip_addr(host, 4, "scale", port);
			CHECK(bench_vip_connect(s->vi, local, remote,
						TIMEOUT_MS, &ra));
		}
		free(local);
		free(remote);
		VipSetUserData(s->vi, s);
		bench_alive();
	}

	/* The client starts one message per VI; the server's receives were
	 * posted before it accepted. Everything else is driven by the CQ. */
	t0 = bench_now_ns();
	if (!server)
		for (i = 0; i < nvi; i++)
			post_send(&slots[i], mh);
	/* A server whose last answers wait for their descriptor is not done
	 * until they are posted. */
	while (got < total || due) {
		struct slot *s;

		r = VipCQDone(cq, &vi, &recvq);
		if (r == VIP_NOT_DONE)
			continue;
		CHECK(r);
		s = VipGetUserData(vi);
		if (!recvq) {
			reap_send(s);
			if (s->reply_due) {
				s->reply_due = 0;
				due--;
				post_send(s, mh);
			}
			continue;
		}
		CHECK_DONE(VipRecvDone(vi, &d));
		if (d->CS.Status & VIP_STATUS_ERROR_MASK)
			bench_die("receive status 0x%x", d->CS.Status);
		got++;
		if (!(got & 1023))
			bench_alive();
		/* The client stops sending once the last messages are under
		 * way; the server answers everything it gets. */
		post_recv(s, mh);
		if (!server && got + nvi > total)
			continue;
		/* One send per VI at a time (one descriptor): an answer due
		 * before the last send is back waits for its CQ entry. */
		if (s->send_busy) {
			s->reply_due = 1;
			due++;
		} else {
			post_send(s, mh);
		}
	}
	t1 = bench_now_ns();
	bench_mem_kib(&vsz1, &rss1);
	heap1 = mallinfo2().uordblks;
	if (!server)
		printf("vipl,scale,%lu,%lu,%.1f,%.1f,%.1f,%.1f\n", nvi, total,
		       2.0 * total / ((t1 - t0) / 1e9),
		       (double)(vsz1 - vsz0) / nvi,
		       (double)(rss1 - rss0) / nvi,
		       (double)(heap1 - heap0) / 1024.0 / nvi);
	/* Leave the last sends to finish: the peer may still be reading. */
	usleep(100000);
	for (i = 0; i < nvi; i++) {
		VipDisconnect(slots[i].vi);
		/* Flushed descriptors come back with VIP_DESCRIPTOR_ERROR;
		 * an empty queue sets d to NULL. */
		do
			VipSendDone(slots[i].vi, &d);
		while (d);
		do
			VipRecvDone(slots[i].vi, &d);
		while (d);
		CHECK(VipDestroyVi(slots[i].vi));
	}
	CHECK(VipDestroyCQ(cq));
	CHECK(VipDeregisterMem(nic, mem, mh));
	CHECK(VipCloseNic(nic));
	free(slots);
	free(mem);
	return 0;
}
