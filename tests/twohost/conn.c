/*
 * conn.c - connection cases between two hosts (tests/harness/two-host-conn.sh
 * runs it in two qemu guests joined by an Ethernet link, see rxe-run2).
 *
 *   twohost_conn server|client PEER_ADDRESS
 *
 * Both roles run the same cases in the same order; each case has its own
 * discriminator, so the two sides meet case by case:
 *   accept    a request accepted, a message each way, the client
 *             disconnects and the server sees the connection lost
 *   reject    VipConnectReject: the requester gets VIP_REJECT
 *   mismatch  reliability levels differ: both sides get
 *             VIP_INVALID_RELIABILITY_LEVEL
 *   peer      VipConnectPeerRequest on both sides, a message each way
 *   killed    a child of the client streams sends (bursts of STREAM,
 *             each once the server says its receives are posted again:
 *             VIA's rule, which iWARP enforces by ending the connection)
 *             and is killed with SIGKILL; the server's posted receives
 *             complete in error, and the time from the last message to
 *             the error is printed
 *   after     the server's VI from "killed" disconnects, accepts a new
 *             connection and goes on
 *   vanished  the client host takes its link down after a message each
 *             way (no disconnect can reach the server): the server, with
 *             only a receive posted, hears nothing; its next send fails
 *             after the transport's retries, and the time is printed
 *             (over iWARP the send completes once TCP has it, and the
 *             connection ends when TCP gives up).
 *             Last, since the client host is cut off afterwards.
 * One line per case ("case NAME: ok ..." or "case NAME: FAILED ..."); the
 * exit status is 0 only if every case passed.
 */
#define _GNU_SOURCE
#include <ifaddrs.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vipl.h>

#define TIMEOUT_MS 30000
#define BUF 4096
#define SLOTS 16 /* descriptors (and buffers) in the arena */
#define STREAM 8 /* receives kept posted while the doomed child streams */

struct host {
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_NET_ADDRESS *peer; /* the other host, discriminator appended */
	VIP_MEM_HANDLE mh;
	char *mem; /* SLOTS descriptors, then SLOTS buffers */
	int server;
};

#define FAIL(...)                                                              \
	do {                                                                   \
		printf("case %s: FAILED at line %d: ", name, __LINE__);        \
		printf(__VA_ARGS__);                                           \
		printf("\n");                                                  \
		return 1;                                                      \
	} while (0)
#define EXPECT(call, want)                                                     \
	do {                                                                   \
		VIP_RETURN got_ = (call);                                      \
		if (got_ != (want))                                            \
			FAIL("%s returned %d, wanted %d", #call, got_,         \
			     (int)(want));                                     \
	} while (0)

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static VIP_DESCRIPTOR *desc(struct host *h, int i)
{
	return (VIP_DESCRIPTOR *)(h->mem + i * 128);
}

static char *buf(struct host *h, int i)
{
	return h->mem + SLOTS * 128 + i * BUF;
}

/* Descriptor i over buffer i, len bytes (a receive takes up to BUF). */
static VIP_DESCRIPTOR *fill(struct host *h, int i, unsigned len)
{
	VIP_DESCRIPTOR *d = desc(h, i);

	memset(d, 0, 128);
	d->CS.SegCount = 1;
	d->CS.Length = len;
	d->DS[0].Local.Data.Address = buf(h, i);
	d->DS[0].Local.Handle = h->mh;
	d->DS[0].Local.Length = len;
	return d;
}

/* An address of the given host bytes with discriminator disc; free() it. */
static VIP_NET_ADDRESS *address(const VIP_NET_ADDRESS *host, const char *disc)
{
	size_t dl = strlen(disc);
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + host->HostAddressLen + dl);

	if (!a)
		abort();
	a->HostAddressLen = host->HostAddressLen;
	a->DiscriminatorLen = (VIP_UINT16)dl;
	memcpy(a->HostAddress, host->HostAddress, host->HostAddressLen);
	memcpy(a->HostAddress + host->HostAddressLen, disc, dl);
	return a;
}

static VIP_NET_ADDRESS *local_address(struct host *h, const char *disc)
{
	VIP_NET_ADDRESS self = { .HostAddressLen = 0 };
	VIP_NET_ADDRESS *a = address(&self, disc);

	(void)h;
	return a;
}

static VIP_VI_ATTRIBUTES vi_attrs(VIP_RELIABILITY_LEVEL level)
{
	VIP_VI_ATTRIBUTES va = { .ReliabilityLevel = level,
				 .MaxTransferSize = BUF };

	return va;
}

/* Server: wait on disc and answer with accept (or reject when vi is NULL). */
static VIP_RETURN serve(struct host *h, const char *disc, VIP_VI_HANDLE vi,
			VIP_RETURN *wait_ret)
{
	VIP_NET_ADDRESS *local = local_address(h, disc);
	VIP_NET_ADDRESS *remote = calloc(1, sizeof(*remote) + 64);
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_RETURN ret;

	*wait_ret = VipConnectWait(h->nic, local, TIMEOUT_MS, remote, &ra,
				   &conn);
	ret = *wait_ret;
	if (ret == VIP_SUCCESS) {
		/* The requester must be the other host. */
		if (remote->HostAddressLen != h->peer->HostAddressLen ||
		    memcmp(remote->HostAddress, h->peer->HostAddress,
			   remote->HostAddressLen))
			ret = VIP_ERROR;
		else
			ret = vi ? VipConnectAccept(conn, vi)
				 : VipConnectReject(conn);
	}
	free(local);
	free(remote);
	return ret;
}

static VIP_RETURN request(struct host *h, const char *disc, VIP_VI_HANDLE vi)
{
	VIP_NET_ADDRESS *remote = address(h->peer, disc);
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN ret = VIP_NO_MATCH;
	int tries;

	/* The other host's server may not wait yet: ask again while the
	 * answer is VIP_NO_MATCH, as VIA programs do. */
	for (tries = 0; tries < TIMEOUT_MS / 10 && ret == VIP_NO_MATCH; tries++) {
		ret = VipConnectRequest(vi, NULL, remote, 5000, &ra);
		if (ret == VIP_NO_MATCH)
			usleep(10000);
	}

	free(remote);
	return ret;
}

/* One message each way on a connected VI: the client speaks first. */
static int exchange(struct host *h, VIP_VI_HANDLE vi, const char *name)
{
	VIP_DESCRIPTOR *out, *s;
	char want[32];

	snprintf(buf(h, 1), 32, "%s from %s", name,
		 h->server ? "server" : "client");
	snprintf(want, sizeof(want), "%s from %s", name,
		 h->server ? "client" : "server");
	s = fill(h, 1, (unsigned)strlen(buf(h, 1)) + 1);
	if (!h->server)
		EXPECT(VipPostSend(vi, s, h->mh), VIP_SUCCESS);
	EXPECT(VipRecvWait(vi, TIMEOUT_MS, &out), VIP_SUCCESS);
	if (out->CS.Status != (VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE) ||
	    strcmp(buf(h, 0), want))
		FAIL("received status 0x%x \"%.31s\"", out->CS.Status,
		     buf(h, 0));
	if (h->server)
		EXPECT(VipPostSend(vi, s, h->mh), VIP_SUCCESS);
	EXPECT(VipSendWait(vi, TIMEOUT_MS, &out), VIP_SUCCESS);
	if (out->CS.Status != (VIP_STATUS_DONE | VIP_STATUS_OP_SEND))
		FAIL("send status 0x%x", out->CS.Status);
	return 0;
}

static int case_accept(struct host *h)
{
	const char *name = "accept";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *out;
	VIP_VI_HANDLE vi;
	VIP_RETURN w;

	EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
	if (h->server)
		EXPECT(serve(h, "th-accept", vi, &w), VIP_SUCCESS);
	else
		EXPECT(request(h, "th-accept", vi), VIP_SUCCESS);
	if (exchange(h, vi, name))
		return 1;
	if (h->server) {
		/* The client hangs up: a posted receive comes back flushed. */
		EXPECT(VipPostRecv(vi, fill(h, 2, BUF), h->mh), VIP_SUCCESS);
		EXPECT(VipRecvWait(vi, TIMEOUT_MS, &out), VIP_DESCRIPTOR_ERROR);
		if (!(out->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR))
			FAIL("status 0x%x after the peer left", out->CS.Status);
	}
	EXPECT(VipDisconnect(vi), VIP_SUCCESS);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	printf("case %s: ok\n", name);
	return 0;
}

static int case_reject(struct host *h)
{
	const char *name = "reject";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_VI_HANDLE vi;
	VIP_RETURN w;

	if (h->server) {
		EXPECT(serve(h, "th-reject", NULL, &w), VIP_SUCCESS);
	} else {
		EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
		EXPECT(request(h, "th-reject", vi), VIP_REJECT);
		EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	}
	printf("case %s: ok\n", name);
	return 0;
}

static int case_mismatch(struct host *h)
{
	const char *name = "mismatch";
	VIP_VI_ATTRIBUTES va = vi_attrs(h->server
						? VIP_SERVICE_RELIABLE_RECEPTION
						: VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_VI_HANDLE vi;
	VIP_RETURN w;

	EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	if (h->server)
		EXPECT(serve(h, "th-mismatch", vi, &w),
		       VIP_INVALID_RELIABILITY_LEVEL);
	else
		EXPECT(request(h, "th-mismatch", vi),
		       VIP_INVALID_RELIABILITY_LEVEL);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	printf("case %s: ok\n", name);
	return 0;
}

static int case_peer(struct host *h)
{
	const char *name = "peer";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_HANDLE vi;

	local = local_address(h, h->server ? "th-peer-a" : "th-peer-b");
	remote = address(h->peer, h->server ? "th-peer-b" : "th-peer-a");
	EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
	EXPECT(VipConnectPeerRequest(vi, local, remote, TIMEOUT_MS),
	       VIP_SUCCESS);
	EXPECT(VipConnectPeerWait(vi, &ra), VIP_SUCCESS);
	free(local);
	free(remote);
	if (exchange(h, vi, name))
		return 1;
	EXPECT(VipDisconnect(vi), VIP_SUCCESS);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	printf("case %s: ok\n", name);
	return 0;
}

/* The client's child: connect and send until killed. */
static int doomed(const char *peer_text, int go)
{
	const char *name = "killed (child)";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct host h = { 0 };
	VIP_DESCRIPTOR *out;
	VIP_VI_HANDLE vi;
	char byte;
	int i, n = 0;

	if (read(go, &byte, 1) != 1)
		return 1;
	EXPECT(VipOpenNic(NULL, &h.nic), VIP_SUCCESS);
	h.peer = calloc(1, sizeof(*h.peer) + 16);
	EXPECT(VipNSGetHostByName(h.nic, (VIP_CHAR *)peer_text, h.peer, 0),
	       VIP_SUCCESS);
	h.mem = aligned_alloc(4096, SLOTS * (128 + BUF));
	EXPECT(VipRegisterMem(h.nic, h.mem, SLOTS * (128 + BUF), NULL, &h.mh),
	       VIP_SUCCESS);
	EXPECT(VipCreateVi(h.nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	/* For the server's word that its receives are posted again. */
	EXPECT(VipPostRecv(vi, fill(&h, STREAM, 64), h.mh), VIP_SUCCESS);
	EXPECT(request(&h, "th-killed", vi), VIP_SUCCESS);
	/* Bursts of STREAM sends for ever; the parent kills us. */
	for (;;) {
		for (i = 0; i < STREAM; i++)
			EXPECT(VipPostSend(vi, fill(&h, i, BUF), h.mh),
			       VIP_SUCCESS);
		for (i = 0; i < STREAM; i++) {
			EXPECT(VipSendWait(vi, TIMEOUT_MS, &out), VIP_SUCCESS);
			if (out->CS.Status !=
			    (VIP_STATUS_DONE | VIP_STATUS_OP_SEND))
				FAIL("send status 0x%x", out->CS.Status);
			n++;
		}
		EXPECT(VipRecvWait(vi, TIMEOUT_MS, &out), VIP_SUCCESS);
		EXPECT(VipPostRecv(vi, out, h.mh), VIP_SUCCESS);
	}
}

static int case_killed(struct host *h, VIP_VI_HANDLE *keep, pid_t child,
		       int go)
{
	const char *name = "killed";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	double last = 0, detected;
	VIP_DESCRIPTOR *out;
	VIP_VI_HANDLE vi;
	VIP_RETURN r;
	int i, got = 0, flushed = 1, status;
	VIP_RETURN w;

	if (!h->server) {
		/* Start the child, let it stream a while, then kill it. */
		if (write(go, "g", 1) != 1)
			FAIL("cannot start the child");
		sleep(3);
		if (waitpid(child, &status, WNOHANG) != 0)
			FAIL("the child ended before it was killed");
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		printf("case %s: ok (child killed while streaming)\n", name);
		return 0;
	}
	EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	for (i = 0; i < STREAM; i++)
		EXPECT(VipPostRecv(vi, fill(h, i, BUF), h->mh), VIP_SUCCESS);
	EXPECT(serve(h, "th-killed", vi, &w), VIP_SUCCESS);
	for (;;) {
		r = VipRecvWait(vi, TIMEOUT_MS, &out);
		if (r == VIP_DESCRIPTOR_ERROR)
			break; /* the first receive in error */
		EXPECT(r, VIP_SUCCESS);
		if (out->CS.Status != (VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE))
			FAIL("receive status 0x%x with VIP_SUCCESS",
			     out->CS.Status);
		got++;
		last = now_ms();
		EXPECT(VipPostRecv(vi, out, h->mh), VIP_SUCCESS);
		if (got % STREAM)
			continue;
		/* All STREAM posted again: the child's next burst may come. */
		EXPECT(VipPostSend(vi, fill(h, STREAM, 4), h->mh), VIP_SUCCESS);
		r = VipSendWait(vi, TIMEOUT_MS, &out);
		if (r == VIP_DESCRIPTOR_ERROR) {
			flushed = 0; /* lost before any receive came back */
			break;
		}
		EXPECT(r, VIP_SUCCESS);
	}
	detected = now_ms() - last;
	/* Every other receive still posted comes back in error too. */
	for (; flushed < STREAM; flushed++) {
		EXPECT(VipRecvWait(vi, TIMEOUT_MS, &out), VIP_DESCRIPTOR_ERROR);
		if (!(out->CS.Status & VIP_STATUS_ERROR_MASK))
			FAIL("receive completed without error: 0x%x",
			     out->CS.Status);
	}
	if (!got)
		FAIL("no message arrived before the peer died");
	printf("case %s: ok (%d messages received, loss detected %.0f ms "
	       "after the last one, %d receives completed in error)\n",
	       name, got, detected, flushed);
	*keep = vi;
	return 0;
}

static int case_after(struct host *h, VIP_VI_HANDLE vi)
{
	const char *name = "after";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_RETURN w;

	if (h->server) {
		/* The survivor's VI is in the error state: reset and reuse. */
		EXPECT(VipDisconnect(vi), VIP_SUCCESS);
		EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
		EXPECT(serve(h, "th-after", vi, &w), VIP_SUCCESS);
	} else {
		EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
		EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
		EXPECT(request(h, "th-after", vi), VIP_SUCCESS);
	}
	if (exchange(h, vi, name))
		return 1;
	if (h->server) {
		EXPECT(VipPostRecv(vi, fill(h, 2, BUF), h->mh), VIP_SUCCESS);
		/* Flushed when the client hangs up. */
		EXPECT(VipRecvWait(vi, TIMEOUT_MS, &(VIP_DESCRIPTOR *){ 0 }),
		       VIP_DESCRIPTOR_ERROR);
	}
	EXPECT(VipDisconnect(vi), VIP_SUCCESS);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	printf("case %s: ok\n", name);
	return 0;
}

/* The network interface holding the NIC's address: rxe's netdev, or the
 * one siw runs on (iWARP names no netdev beside its GID). */
static int netdev_of(const struct host *h, char *out, size_t len)
{
	const VIP_NIC_ATTRIBUTES *a = &h->attrs;
	struct ifaddrs *ifs, *ifa;
	int ok = 0;

	if (a->NicAddressLen != 4 || getifaddrs(&ifs))
		return 0;
	for (ifa = ifs; ifa && !ok; ifa = ifa->ifa_next) {
		const struct sockaddr_in *in = (void *)ifa->ifa_addr;

		if (in && in->sin_family == AF_INET &&
		    !memcmp(&in->sin_addr, a->LocalNicAddress, 4)) {
			snprintf(out, len, "%s", ifa->ifa_name);
			ok = 1;
		}
	}
	freeifaddrs(ifs);
	return ok;
}

/* The harness's transport (rxe-run sets VIPL_TEST_TRANSPORT). */
static int iwarp(void)
{
	const char *t = getenv("VIPL_TEST_TRANSPORT");

	return t && !strcmp(t, "siw");
}

static int case_vanished(struct host *h)
{
	const char *name = "vanished";
	VIP_VI_ATTRIBUTES va = vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	char netdev[64], cmd[128];
	VIP_DESCRIPTOR *out, *s;
	VIP_VI_HANDLE vi;
	double t0, ms;
	VIP_RETURN w;

	EXPECT(VipCreateVi(h->nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
	if (h->server)
		EXPECT(serve(h, "th-vanish", vi, &w), VIP_SUCCESS);
	else
		EXPECT(request(h, "th-vanish", vi), VIP_SUCCESS);
	if (exchange(h, vi, name))
		return 1;
	if (!h->server) {
		if (!netdev_of(h, netdev, sizeof(netdev)))
			FAIL("no network interface under the device");
		snprintf(cmd, sizeof(cmd), "ip link set dev %s down", netdev);
		if (system(cmd))
			FAIL("%s failed", cmd);
		printf("case %s: ok (link %s down, host cut off)\n", name,
		       netdev);
		return 0;
	}
	EXPECT(VipPostRecv(vi, fill(h, 0, BUF), h->mh), VIP_SUCCESS);
	/* Give the client time to cut its link: nothing can tell us. */
	EXPECT(VipRecvWait(vi, 3000, &out), VIP_TIMEOUT);
	s = fill(h, 1, 64);
	t0 = now_ms();
	EXPECT(VipPostSend(vi, s, h->mh), VIP_SUCCESS);
	if (iwarp()) {
		/* TCP took it: the send is done. The connection ends when TCP
		 * gives up retransmitting (net.ipv4.tcp_retries2, which
		 * two-host-conn.sh lowers), flushing the receive. */
		EXPECT(VipSendWait(vi, 60000, &out), VIP_SUCCESS);
		EXPECT(VipRecvWait(vi, 120000, &out), VIP_DESCRIPTOR_ERROR);
		ms = now_ms() - t0;
		if (!(out->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR))
			FAIL("receive status 0x%x", out->CS.Status);
		EXPECT(VipDisconnect(vi), VIP_SUCCESS);
		EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
		printf("case %s: ok (iWARP: the send completed once TCP had "
		       "it; the connection ended %.0f ms later, when TCP gave "
		       "up)\n", name, ms);
		return 0;
	}
	EXPECT(VipSendWait(vi, 60000, &out), VIP_DESCRIPTOR_ERROR);
	ms = now_ms() - t0;
	if (!(out->CS.Status & VIP_STATUS_ERROR_MASK))
		FAIL("a send to a vanished host succeeded: 0x%x",
		     out->CS.Status);
	EXPECT(VipRecvWait(vi, TIMEOUT_MS, &out), VIP_DESCRIPTOR_ERROR);
	if (!(out->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR))
		FAIL("receive status 0x%x", out->CS.Status);
	EXPECT(VipDisconnect(vi), VIP_SUCCESS);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	printf("case %s: ok (a receive alone heard nothing for 3 s; the "
	       "next send failed after %.0f ms, status 0x%x)\n", name, ms,
	       s->CS.Status);
	return 0;
}

static int setup(struct host *h, const char *peer_text)
{
	const char *name = "setup";
	size_t len = SLOTS * (128 + BUF);

	EXPECT(VipOpenNic(NULL, &h->nic), VIP_SUCCESS);
	EXPECT(VipQueryNic(h->nic, &h->attrs), VIP_SUCCESS);
	h->peer = calloc(1, sizeof(*h->peer) + 16);
	/* The name service resolves the peer as a VIA program would. */
	EXPECT(VipNSInit(h->nic, NULL), VIP_SUCCESS);
	EXPECT(VipNSGetHostByName(h->nic, (VIP_CHAR *)peer_text, h->peer, 0),
	       VIP_SUCCESS);
	h->mem = aligned_alloc(4096, len);
	if (!h->peer || !h->mem)
		FAIL("out of memory");
	EXPECT(VipRegisterMem(h->nic, h->mem, len, NULL, &h->mh),
	       VIP_SUCCESS);
	return 0;
}

int main(int argc, char **argv)
{
	struct host h = { 0 };
	VIP_VI_HANDLE survivor = NULL;
	pid_t child = 0;
	int go[2] = { -1, -1 }, failed = 0;
	double t0 = now_ms();

	if (argc != 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: twohost_conn server|client PEER_ADDRESS\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	h.server = !strcmp(argv[1], "server");
	if (!h.server) {
		/* Fork before opening a NIC: verbs state does not survive it. */
		if (pipe(go))
			return 1;
		child = fork();
		if (child < 0)
			return 1;
		if (child == 0) {
			close(go[1]);
			_exit(doomed(argv[2], go[0]));
		}
		close(go[0]);
	}
	if (setup(&h, argv[2]))
		return 1;
	failed |= case_accept(&h);
	failed |= case_reject(&h);
	failed |= case_mismatch(&h);
	failed |= case_peer(&h);
	if (case_killed(&h, &survivor, child, go[1]))
		return 1; /* "after" needs the survivor */
	failed |= case_after(&h, survivor);
	failed |= case_vanished(&h);
	VipDeregisterMem(h.nic, h.mem, h.mh);
	VipNSShutdown(h.nic);
	VipCloseNic(h.nic);
	free(h.mem);
	free(h.peer);
	printf("%s: %s in %.1f s\n", argv[1], failed ? "FAILED" : "all cases passed",
	       (now_ms() - t0) / 1e3);
	return failed;
}
