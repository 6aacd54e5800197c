/*
 * dialect_intel.c - written as Intel/M-VIA era code: CS/DS spelling, a
 * protection tag of its own with explicit memory and VI attributes, RDMA
 * writes with their address segment (DS[0].Remote), and descriptors
 * linked by CS.Next/NextHandle.
 *
 *   dialect_intel server HOST [DISCRIMINATOR]
 *   dialect_intel client HOST [DISCRIMINATOR]
 *
 * The server sends the client the address and memory handle of a buffer;
 * the client fills it with a chain of NUM_WRITES RDMA writes, the last with
 * immediate data, which consumes the server's receive descriptor and so
 * tells it the data is there. The server checks every byte and answers
 * with a message saying so, which the client checks. Each exits 0 only if
 * everything arrived intact; 1 a VIPL call failed, 2 wrong data, 64 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>
#include <time.h>
#include <unistd.h>

#define NUM_WRITES 3
#define CHUNK 4096
#define TIMEOUT 20000 /* ms */
#define DONE_MAGIC 0x1997

/* What the server tells the client about its buffer. */
struct target {
	VIP_UINT64 addr;
	VIP_MEM_HANDLE handle;
	VIP_UINT32 len;
};

struct endpoint {
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES nic_attrs;
	VIP_PROTECTION_HANDLE ptag;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	char *region;
	VIP_DESCRIPTOR *desc[NUM_WRITES + 2]; /* 64-byte slots */
	char *msg; /* small messages: the target, the answer */
	char *data; /* NUM_WRITES chunks */
};

#define CHECK(call)                                                            \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS) {                                       \
			fprintf(stderr, "intel: %s returned %d\n", #call,      \
				(int)r_);                                      \
			exit(1);                                               \
		}                                                              \
	} while (0)

static unsigned char pattern(unsigned int i)
{
	return (unsigned char)(i ^ (i >> 8) ^ 0x5a);
}

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	fprintf(stderr, "intel: async error %d\n", (int)e->ErrorCode);
}

static void build_rdma_write(VIP_DESCRIPTOR *desc, VIP_MEM_HANDLE local_mh,
			     void *local, VIP_MEM_HANDLE remote_mh,
			     VIP_UINT64 remote, VIP_UINT32 len)
{
	memset(desc, 0, sizeof(*desc));
	desc->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	desc->CS.SegCount = 2;
	desc->CS.Length = len;
	desc->CS.Next.Address = NULL;
	desc->DS[0].Remote.Data.AddressBits = remote;
	desc->DS[0].Remote.Handle = remote_mh;
	desc->DS[1].Local.Data.Address = local;
	desc->DS[1].Local.Handle = local_mh;
	desc->DS[1].Local.Length = len;
}

static void build_msg(VIP_DESCRIPTOR *desc, VIP_MEM_HANDLE mh, void *buf,
		      VIP_UINT32 len)
{
	memset(desc, 0, sizeof(*desc));
	desc->CS.Control = VIP_CONTROL_OP_SENDRECV;
	desc->CS.SegCount = 1;
	desc->CS.Length = len;
	desc->DS[0].Local.Data.Address = buf;
	desc->DS[0].Local.Handle = mh;
	desc->DS[0].Local.Length = len;
}

static void send_msg(struct endpoint *ep, VIP_UINT32 len)
{
	VIP_DESCRIPTOR *d = ep->desc[0], *done;

	build_msg(d, ep->mh, ep->msg, len);
	CHECK(VipPostSend(ep->vi, d, ep->mh));
	CHECK(VipSendWait(ep->vi, TIMEOUT, &done));
	if (done != d || (done->CS.Status & VIP_STATUS_ERROR_MASK)) {
		fprintf(stderr, "intel: send status 0x%x\n",
			(unsigned)done->CS.Status);
		exit(1);
	}
}

static VIP_NET_ADDRESS *make_address(struct endpoint *ep, char *host,
				     const char *disc)
{
	size_t dl = strlen(disc);
	VIP_NET_ADDRESS *a = malloc(sizeof(*a) + 16 + dl);

	if (!a)
		exit(1);
	CHECK(VipNSGetHostByName(ep->nic, host, a, 0));
	a->DiscriminatorLen = (VIP_UINT16)dl;
	memcpy(a->HostAddress + a->HostAddressLen, disc, dl);
	return a;
}

static void setup(struct endpoint *ep)
{
	VIP_MEM_ATTRIBUTES mattrs;
	VIP_VI_ATTRIBUTES vattrs;
	size_t size = 64 * (NUM_WRITES + 2) + 256 + CHUNK * NUM_WRITES;
	int i;

	CHECK(VipOpenNic(NULL, &ep->nic));
	CHECK(VipErrorCallback(ep->nic, NULL, on_error));
	CHECK(VipQueryNic(ep->nic, &ep->nic_attrs));
	CHECK(VipCreatePtag(ep->nic, &ep->ptag));
	ep->region = aligned_alloc(VIP_DESCRIPTOR_ALIGNMENT, size);
	if (!ep->region)
		exit(1);
	memset(ep->region, 0, size);
	mattrs.Ptag = ep->ptag;
	mattrs.EnableRdmaWrite = VIP_TRUE;
	mattrs.EnableRdmaRead = VIP_FALSE;
	CHECK(VipRegisterMem(ep->nic, ep->region, size, &mattrs, &ep->mh));
	for (i = 0; i < NUM_WRITES + 2; i++)
		ep->desc[i] = (VIP_DESCRIPTOR *)(ep->region + 64 * i);
	ep->msg = ep->region + 64 * (NUM_WRITES + 2);
	ep->data = ep->msg + 256;

	vattrs.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	vattrs.MaxTransferSize = CHUNK;
	vattrs.QoS = NULL;
	vattrs.Ptag = ep->ptag;
	vattrs.EnableRdmaWrite = VIP_TRUE;
	vattrs.EnableRdmaRead = VIP_FALSE;
	CHECK(VipCreateVi(ep->nic, &vattrs, NULL, NULL, &ep->vi));
}

static int server(struct endpoint *ep, char *host, const char *disc)
{
	VIP_NET_ADDRESS *local = make_address(ep, host, disc);
	VIP_NET_ADDRESS *remote = malloc(sizeof(*remote) + 16 + 64);
	VIP_DESCRIPTOR *note = ep->desc[1], *d;
	VIP_VI_ATTRIBUTES rattrs;
	VIP_CONN_HANDLE conn;
	struct target t;
	unsigned int i, bad = 0;

	/* The RDMA write with immediate data lands in this descriptor:
	 * no data segment, only the notification. */
	memset(note, 0, sizeof(*note));
	CHECK(VipPostRecv(ep->vi, note, ep->mh));
	CHECK(VipConnectWait(ep->nic, local, TIMEOUT, remote, &rattrs, &conn));
	if (!rattrs.EnableRdmaWrite)
		fprintf(stderr, "intel server: the client's VI has no RDMA write\n");
	CHECK(VipConnectAccept(conn, ep->vi));

	t.addr = (VIP_UINT64)(unsigned long)ep->data;
	t.handle = ep->mh;
	t.len = CHUNK * NUM_WRITES;
	memcpy(ep->msg, &t, sizeof(t));
	send_msg(ep, sizeof(t));

	CHECK(VipRecvWait(ep->vi, TIMEOUT, &d));
	if (d != note || (d->CS.Status & VIP_STATUS_ERROR_MASK) ||
	    (d->CS.Status & VIP_STATUS_OP_MASK) !=
		    VIP_STATUS_OP_REMOTE_RDMA_WRITE ||
	    !(d->CS.Status & VIP_STATUS_IMMEDIATE) ||
	    d->CS.ImmediateData != DONE_MAGIC) {
		fprintf(stderr, "intel server: notification status 0x%x "
				"immediate 0x%x\n",
			(unsigned)d->CS.Status, (unsigned)d->CS.ImmediateData);
		return 2;
	}
	for (i = 0; i < CHUNK * NUM_WRITES; i++)
		if ((unsigned char)ep->data[i] != pattern(i))
			bad++;
	snprintf(ep->msg, 256, "%u bytes written by RDMA, %u wrong",
		 CHUNK * NUM_WRITES, bad);
	send_msg(ep, (VIP_UINT32)strlen(ep->msg) + 1);
	printf("intel server: %s\n", ep->msg);
	free(local);
	free(remote);
	return bad ? 2 : 0;
}

static int client(struct endpoint *ep, char *host, const char *disc)
{
	VIP_NET_ADDRESS *local = make_address(ep, host, "");
	VIP_NET_ADDRESS *remote = make_address(ep, host, disc);
	VIP_DESCRIPTOR *reply = ep->desc[NUM_WRITES + 1], *head, *d, *next;
	VIP_VI_ATTRIBUTES rattrs;
	struct target t;
	char want[256];
	unsigned int i;
	VIP_RETURN rc;
	int tries;

	build_msg(reply, ep->mh, ep->msg, 256);
	CHECK(VipPostRecv(ep->vi, reply, ep->mh));
	/* The server may not wait yet: as VIA programs do, ask again
	 * while the answer is VIP_NO_MATCH (it comes at once). */
	for (tries = 0; tries < TIMEOUT / 10; tries++) {
		rc = VipConnectRequest(ep->vi, local, remote, 5000, &rattrs);
		if (rc != VIP_NO_MATCH)
			break;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	CHECK(rc);
	CHECK(VipRecvWait(ep->vi, TIMEOUT, &d));
	if (d != reply || (d->CS.Status & VIP_STATUS_ERROR_MASK) ||
	    d->CS.Length != sizeof(t)) {
		fprintf(stderr, "intel client: target status 0x%x length %u\n",
			(unsigned)d->CS.Status, (unsigned)d->CS.Length);
		return 2;
	}
	memcpy(&t, ep->msg, sizeof(t));
	/* The answer will land where the target description was. */
	build_msg(reply, ep->mh, ep->msg, 256);
	CHECK(VipPostRecv(ep->vi, reply, ep->mh));

	/* A chain of writes, one chunk each, linked as a VIA queue is; the
	 * last carries immediate data to wake the server. */
	for (i = 0; i < CHUNK * NUM_WRITES; i++)
		ep->data[i] = (char)pattern(i);
	for (i = 0; i < NUM_WRITES; i++) {
		d = ep->desc[i];
		build_rdma_write(d, ep->mh, ep->data + i * CHUNK, t.handle,
				 t.addr + i * CHUNK, CHUNK);
		if (i > 0) {
			ep->desc[i - 1]->CS.Next.Address = d;
			ep->desc[i - 1]->CS.NextHandle = ep->mh;
		}
	}
	d->CS.Control |= VIP_CONTROL_IMMEDIATE;
	d->CS.ImmediateData = DONE_MAGIC;
	head = ep->desc[0];
	/* Post down the chain (a post ends the queue at the descriptor, so
	 * take its successor first). */
	for (d = head; d; d = next) {
		next = d->CS.Next.Address;
		CHECK(VipPostSend(ep->vi, d, ep->mh));
	}
	/* While they are queued the chain is intact. */
	for (i = 0, d = head; d; d = d->CS.Next.Address, i++)
		if (d != ep->desc[i] || i >= NUM_WRITES)
			break;
	if (i != NUM_WRITES || d) {
		fprintf(stderr, "intel client: the queue links %u descriptors\n",
			i);
		return 2;
	}
	for (i = 0; i < NUM_WRITES; i++) {
		CHECK(VipSendWait(ep->vi, TIMEOUT, &d));
		if (d != ep->desc[i] || (d->CS.Status & VIP_STATUS_ERROR_MASK) ||
		    (d->CS.Status & VIP_STATUS_OP_MASK) !=
			    VIP_STATUS_OP_RDMA_WRITE) {
			fprintf(stderr, "intel client: write %u status 0x%x\n",
				i, (unsigned)d->CS.Status);
			return 2;
		}
	}
	CHECK(VipRecvWait(ep->vi, TIMEOUT, &d));
	snprintf(want, sizeof(want), "%u bytes written by RDMA, 0 wrong",
		 CHUNK * NUM_WRITES);
	if (d != reply || (d->CS.Status & VIP_STATUS_ERROR_MASK) ||
	    strcmp(ep->msg, want)) {
		fprintf(stderr, "intel client: server said '%.*s'\n", 256,
			ep->msg);
		return 2;
	}
	printf("intel client: %u RDMA writes chained by CS.Next, server: %s\n",
	       NUM_WRITES, ep->msg);
	free(local);
	free(remote);
	return 0;
}

int main(int argc, char **argv)
{
	struct endpoint ep;
	const char *disc = "intel";
	VIP_DESCRIPTOR *d;
	VIP_RETURN r;
	int rc;

	if (argc < 3 || argc > 4 ||
	    (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: %s server|client HOST [DISCRIMINATOR]\n",
			argv[0]);
		return 64;
	}
	if (argc == 4)
		disc = argv[3];
	memset(&ep, 0, sizeof(ep));
	setup(&ep);
	rc = !strcmp(argv[1], "server") ? server(&ep, argv[2], disc)
					: client(&ep, argv[2], disc);
	VipDisconnect(ep.vi);
	/* The storage benchmark's drain: flushed descriptors come back with
	 * VIP_DESCRIPTOR_ERROR and the pointer set. */
	do
		r = VipRecvDone(ep.vi, &d);
	while (r == VIP_SUCCESS || (r == VIP_DESCRIPTOR_ERROR && d));
	do
		r = VipSendDone(ep.vi, &d);
	while (r == VIP_SUCCESS || (r == VIP_DESCRIPTOR_ERROR && d));
	CHECK(VipDestroyVi(ep.vi));
	CHECK(VipDeregisterMem(ep.nic, ep.region, ep.mh));
	CHECK(VipDestroyPtag(ep.nic, ep.ptag));
	CHECK(VipCloseNic(ep.nic));
	free(ep.region);
	return rc;
}
