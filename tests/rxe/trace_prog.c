/*
 * trace_prog.c - a few VIPL calls, some meant to fail, for the tracer's
 * tests (test_trace.c runs it with VIPL_TRACE set or not). One process, no
 * peer: it posts a receive, then a send on the idle VI (VIP_INVALID_STATE)
 * and deregisters a handle that does not exist (VIP_INVALID_PARAMETER),
 * and polls for a receive that cannot come (VIP_NOT_DONE).
 * "trace_prog drain ADDR" instead: connects to a peer process of its own
 * on ADDR with two receives posted, disconnects and dequeues them flushed
 * (VIP_DESCRIPTOR_ERROR) until the queue is empty (NULL); waits on an empty
 * queue (VIP_TIMEOUT) and polls an empty CQ.
 * Exits 0 if every call returned what it should.
 *
 * "vipl_trace_prog open NAME" only opens (and closes) the NIC NAME names,
 * for the device name tests (tests/legacy/device_names.c); it prints the
 * return code and exits 0 whatever it was.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vipl.h>

#define EXPECT(call, want)                                                     \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != (want)) {                                            \
			fprintf(stderr, "trace_prog: %s returned %d\n", #call, \
				(int)r_);                                      \
			return 1;                                              \
		}                                                              \
	} while (0)

static int open_only(const char *name)
{
	VIP_NIC_HANDLE nic;
	VIP_RETURN r = VipOpenNic(name, &nic);

	printf("trace_prog: VipOpenNic(%s) returned %d\n", name, (int)r);
	if (r == VIP_SUCCESS)
		VipCloseNic(nic);
	return 0;
}

static VIP_NET_ADDRESS *addr(const unsigned char host[4], const char *disc)
{
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 4 + 64);

	if (!a)
		exit(1);
	a->HostAddressLen = 4;
	memcpy(a->HostAddress, host, 4);
	a->DiscriminatorLen = (VIP_UINT16)strlen(disc);
	memcpy(a->HostAddress + 4, disc, strlen(disc));
	return a;
}

static void quiet(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

/* Common to both sides: a NIC, 8 KiB registered, a VI, a receive posted
 * in slot i (of 64 bytes) with its buffer at 4096 + 1024 * i. */
struct side {
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	char *mem;
};

static int open_side(struct side *s, VIP_CQ_HANDLE *cq)
{
	VIP_VI_ATTRIBUTES va;

	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	va.MaxTransferSize = 1024;
	s->mem = aligned_alloc(4096, 8192);
	if (!s->mem)
		return 1;
	memset(s->mem, 0, 8192);
	EXPECT(VipOpenNic(NULL, &s->nic), VIP_SUCCESS);
	EXPECT(VipErrorCallback(s->nic, NULL, quiet), VIP_SUCCESS);
	EXPECT(VipRegisterMem(s->nic, s->mem, 8192, NULL, &s->mh), VIP_SUCCESS);
	if (cq)
		EXPECT(VipCreateCQ(s->nic, 4, cq), VIP_SUCCESS);
	EXPECT(VipCreateVi(s->nic, &va, NULL, NULL, &s->vi), VIP_SUCCESS);
	return 0;
}

static int post_recv(struct side *s, int i)
{
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)(s->mem + 64 * i);

	memset(d, 0, sizeof(*d));
	d->CS.SegCount = 1;
	d->DS[0].Local.Data.Address = s->mem + 4096 + 1024 * i;
	d->DS[0].Local.Handle = s->mh;
	d->DS[0].Local.Length = 1024;
	EXPECT(VipPostRecv(s->vi, d, s->mh), VIP_SUCCESS);
	return 0;
}

static int close_side(struct side *s)
{
	EXPECT(VipDestroyVi(s->vi), VIP_SUCCESS);
	EXPECT(VipDeregisterMem(s->nic, s->mem, s->mh), VIP_SUCCESS);
	EXPECT(VipCloseNic(s->nic), VIP_SUCCESS);
	free(s->mem);
	return 0;
}

/* The peer: accepts, waits for its receive to be flushed, leaves. */
static int drain_peer(const unsigned char host[4])
{
	VIP_NET_ADDRESS *local = addr(host, "tdrain"), *remote = addr(host, "");
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_DESCRIPTOR *d;
	struct side s;

	if (open_side(&s, NULL) || post_recv(&s, 0))
		return 1;
	EXPECT(VipConnectWait(s.nic, local, 30000, remote, &ra, &conn),
	       VIP_SUCCESS);
	EXPECT(VipConnectAccept(conn, s.vi), VIP_SUCCESS);
	EXPECT(VipRecvWait(s.vi, 30000, &d), VIP_DESCRIPTOR_ERROR);
	EXPECT(VipDisconnect(s.vi), VIP_SUCCESS);
	free(local);
	free(remote);
	return close_side(&s);
}

static int drain(const char *host_text)
{
	unsigned char host[4];
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_DESCRIPTOR *d;
	VIP_VI_HANDLE cvi;
	VIP_BOOLEAN recvq;
	VIP_CQ_HANDLE cq;
	VIP_RETURN r;
	struct side s;
	int status, tries;
	pid_t peer;

	if (inet_pton(AF_INET, host_text, host) != 1)
		return 1;
	fflush(NULL);
	peer = fork(); /* before any VIPL call: each side opens its own NIC */
	if (peer < 0)
		return 1;
	if (peer == 0)
		_exit(drain_peer(host));
	if (open_side(&s, &cq) || post_recv(&s, 0) || post_recv(&s, 1))
		return 1;
	local = addr(host, "tdrain-c");
	remote = addr(host, "tdrain");
	/* "No match" comes back at once while the peer is still starting
	 * (slow under ASan): ask again for up to 30 s, as VIA programs do. */
	for (tries = 0; tries < 3000; tries++) {
		r = VipConnectRequest(s.vi, local, remote, 5000, &ra);
		if (r != VIP_NO_MATCH)
			break;
		usleep(10000);
	}
	EXPECT(r, VIP_SUCCESS);
	EXPECT(VipRecvWait(s.vi, 20, &d), VIP_TIMEOUT);
	EXPECT(VipCQDone(cq, &cvi, &recvq), VIP_NOT_DONE);
	EXPECT(VipDisconnect(s.vi), VIP_SUCCESS);
	EXPECT(VipRecvDone(s.vi, &d), VIP_DESCRIPTOR_ERROR);
	EXPECT(VipRecvDone(s.vi, &d), VIP_DESCRIPTOR_ERROR);
	EXPECT(VipRecvDone(s.vi, &d), VIP_NOT_DONE);
	free(local);
	free(remote);
	EXPECT(VipDestroyCQ(cq), VIP_SUCCESS);
	if (close_side(&s))
		return 1;
	if (waitpid(peer, &status, 0) != peer || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return 1;
	printf("trace_prog: every call returned what it should\n");
	return 0;
}

int main(int argc, char **argv)
{
	VIP_VI_ATTRIBUTES va;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *rd, *sd;
	char *mem;

	if (argc == 3 && !strcmp(argv[1], "open"))
		return open_only(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "drain"))
		return drain(argv[2]);
	mem = aligned_alloc(4096, 8192);
	if (!mem)
		return 1;
	memset(mem, 0, 8192);
	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	va.MaxTransferSize = 4096;
	EXPECT(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	EXPECT(VipRegisterMem(nic, mem, 8192, NULL, &mh), VIP_SUCCESS);
	EXPECT(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);

	rd = (VIP_DESCRIPTOR *)mem;
	rd->CS.SegCount = 1;
	rd->DS[0].Local.Data.Address = mem + 4096;
	rd->DS[0].Local.Handle = mh;
	rd->DS[0].Local.Length = 2048;
	EXPECT(VipPostRecv(vi, rd, mh), VIP_SUCCESS);

	sd = (VIP_DESCRIPTOR *)(mem + 64);
	sd->CS.Control = VIP_CONTROL_OP_SENDRECV | VIP_CONTROL_IMMEDIATE;
	sd->CS.ImmediateData = 0xbeef;
	sd->CS.SegCount = 1;
	sd->CS.Length = 100;
	sd->DS[0].Local.Data.Address = mem + 6144;
	sd->DS[0].Local.Handle = mh;
	sd->DS[0].Local.Length = 100;
	EXPECT(VipPostSend(vi, sd, mh), VIP_INVALID_STATE);
	EXPECT(VipDeregisterMem(nic, mem, mh ^ 0x5a5a0000), VIP_INVALID_PARAMETER);

	/* Nothing arrives on an idle VI (five polls: the trace logs one and
	 * counts the rest); destroying it drops the receive. */
	for (int i = 0; i < 5; i++)
		EXPECT(VipRecvDone(vi, &rd), VIP_NOT_DONE);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	EXPECT(VipDeregisterMem(nic, mem, mh), VIP_SUCCESS);
	EXPECT(VipCloseNic(nic), VIP_SUCCESS);
	free(mem);
	printf("trace_prog: every call returned what it should\n");
	return 0;
}
