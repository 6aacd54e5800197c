/*
 * dialect_giganet.c - written as Giganet cLAN era code (MPICH's NT VIA
 * device, 1998): Control/Data spelling, volatile segments, NULL memory
 * attributes and ptag (the NIC's default), the extra typedefs, and a
 * per-VI context kept with VipSetUserData/VipGetUserData.
 *
 *   dialect_giganet server HOST [DISCRIMINATOR]
 *   dialect_giganet client HOST [DISCRIMINATOR]
 *
 * The client sends NUM_MSGS messages of different lengths, each carrying
 * its sequence number as immediate data; the server checks every byte and
 * answers with one message saying what it found, which the client checks.
 * Each exits 0 only if everything arrived intact; 1 a VIPL call failed,
 * 2 wrong data, 64 usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>
#include <time.h>
#include <unistd.h>

#define NUM_MSGS 8
#define MSG_MAX 8192
#define REPLY_MAX 128
#define TIMEOUT 20000 /* ms */

static VIP_VI_ATTRIBUTES default_vi_attribs = {
	VIP_SERVICE_RELIABLE_DELIVERY, 32768, NULL, NULL, VIP_FALSE, VIP_FALSE
};

/* One per VI, found again through VipGetUserData as MPICH did. */
typedef struct _VI_CONTEXT {
	VIP_NIC_HANDLE Nic;
	VIP_MEM_HANDLE MemHandle;
	char *Region;
	VIP_DESCRIPTOR *SendDesc;
	VIP_DESCRIPTOR *RecvDesc[NUM_MSGS];
	char *SendBuf;
	char *RecvBuf[NUM_MSGS];
	VIP_LONG BytesChecked;
	VIP_SHORT MsgsChecked;
} VI_CONTEXT;

static VIP_LONG async_errors;

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *err)
{
	(void)ctx;
	async_errors++;
	fprintf(stderr, "giganet: async error %d on VI %p\n",
		(int)err->ErrorCode, err->ViHandle);
}

#define VIPL_CALL(call)                                                        \
	do {                                                                   \
		VIP_RETURN status_ = (call);                                   \
		if (status_ != VIP_SUCCESS) {                                  \
			fprintf(stderr, "giganet: %s returned %d\n", #call,    \
				(int)status_);                                 \
			exit(1);                                               \
		}                                                              \
	} while (0)

static VIP_UINT32 msg_len(int i)
{
	return 1000 + 937 * (VIP_UINT32)i; /* 1000 .. 7559 */
}

static VIP_UCHAR msg_byte(int i, VIP_UINT32 j)
{
	return (VIP_UCHAR)(i * 31 + j * 7 + (j >> 8));
}

static void post_recv(VIP_VI_HANDLE vi, VIP_DESCRIPTOR *d, char *buf,
		      VIP_ULONG len)
{
	VI_CONTEXT *c = (VI_CONTEXT *)VipGetUserData(vi);
	volatile VIP_DATA_SEGMENT *seg = &d->Data[0];

	memset(d, 0, sizeof(*d));
	d->Control.Control = VIP_CONTROL_OP_SENDRECV;
	d->Control.SegCount = 1;
	d->Control.Length = 0;
	seg->Data.Address = buf;
	seg->Handle = c->MemHandle;
	seg->Length = (VIP_UINT32)len;
	VIPL_CALL(VipPostRecv(vi, d, c->MemHandle));
}

static void send_and_wait(VIP_VI_HANDLE vi, VIP_UINT32 len, VIP_UINT32 imm)
{
	VI_CONTEXT *c = (VI_CONTEXT *)VipGetUserData(vi);
	VIP_DESCRIPTOR *d = c->SendDesc, *done;
	volatile VIP_DATA_SEGMENT *seg = &d->Data[0];

	memset(d, 0, sizeof(*d));
	d->Control.Control = VIP_CONTROL_OP_SENDRECV | VIP_CONTROL_IMMEDIATE;
	d->Control.ImmediateData = imm;
	d->Control.SegCount = 1;
	d->Control.Length = len;
	seg->Data.Address = c->SendBuf;
	seg->Handle = c->MemHandle;
	seg->Length = len;
	VIPL_CALL(VipPostSend(vi, d, c->MemHandle));
	VIPL_CALL(VipSendWait(vi, TIMEOUT, &done));
	if (done != d || (done->Control.Status & VIP_STATUS_ERROR_MASK)) {
		fprintf(stderr, "giganet: send completed with status 0x%x\n",
			(unsigned)done->Control.Status);
		exit(1);
	}
}

/* HOST's address from the name service, then the discriminator. */
static VIP_NET_ADDRESS *make_address(VIP_NIC_HANDLE nic, char *host,
				     const char *disc)
{
	size_t dl = strlen(disc);
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + dl);

	if (!a)
		exit(1);
	VIPL_CALL(VipNSGetHostByName(nic, host, a, 0));
	a->DiscriminatorLen = (VIP_UINT16)dl;
	memcpy(a->HostAddress + a->HostAddressLen, disc, dl);
	return a;
}

static int server(VIP_VI_HANDLE vi, char *host, const char *disc)
{
	VI_CONTEXT *c = (VI_CONTEXT *)VipGetUserData(vi);
	VIP_NET_ADDRESS *local = make_address(c->Nic, host, disc);
	VIP_NET_ADDRESS *remote = calloc(1, sizeof(*remote) + 16 + 64);
	VIP_VI_ATTRIBUTES remote_attribs;
	VIP_CONN_HANDLE conn;
	VIP_DESCRIPTOR *d;
	int i, bad = 0;
	VIP_UINT32 j;

	/* Every receive is posted before the client may send. */
	for (i = 0; i < NUM_MSGS; i++)
		post_recv(vi, c->RecvDesc[i], c->RecvBuf[i], MSG_MAX);
	VIPL_CALL(VipConnectWait(c->Nic, local, TIMEOUT, remote,
				 &remote_attribs, &conn));
	VIPL_CALL(VipConnectAccept(conn, vi));
	for (i = 0; i < NUM_MSGS; i++) {
		VIPL_CALL(VipRecvWait(vi, TIMEOUT, &d));
		c = (VI_CONTEXT *)VipGetUserData(vi);
		if (d != c->RecvDesc[i] ||
		    (d->Control.Status & VIP_STATUS_ERROR_MASK) ||
		    !(d->Control.Status & VIP_STATUS_IMMEDIATE) ||
		    d->Control.ImmediateData != (VIP_UINT32)i ||
		    d->Control.Length != msg_len(i)) {
			fprintf(stderr,
				"giganet server: message %d: status 0x%x "
				"immediate %u length %u\n",
				i, (unsigned)d->Control.Status,
				(unsigned)d->Control.ImmediateData,
				(unsigned)d->Control.Length);
			bad++;
			continue;
		}
		for (j = 0; j < msg_len(i); j++)
			if ((VIP_UCHAR)c->RecvBuf[i][j] != msg_byte(i, j))
				break;
		if (j != msg_len(i)) {
			fprintf(stderr, "giganet server: message %d: byte %u\n",
				i, (unsigned)j);
			bad++;
			continue;
		}
		c->MsgsChecked++;
		c->BytesChecked += (VIP_LONG)msg_len(i);
	}
	snprintf(c->SendBuf, REPLY_MAX, "%d messages, %ld bytes checked",
		 (int)c->MsgsChecked, (long)c->BytesChecked);
	send_and_wait(vi, (VIP_UINT32)strlen(c->SendBuf) + 1, 0xC1A4);
	printf("giganet server: %s, %d bad\n", c->SendBuf, bad);
	free(local);
	free(remote);
	return bad ? 2 : 0;
}

static int client(VIP_VI_HANDLE vi, char *host, const char *disc)
{
	VI_CONTEXT *c = (VI_CONTEXT *)VipGetUserData(vi);
	VIP_NET_ADDRESS *local = make_address(c->Nic, host, "");
	VIP_NET_ADDRESS *remote = make_address(c->Nic, host, disc);
	VIP_VI_ATTRIBUTES remote_attribs;
	VIP_DESCRIPTOR *d;
	char want[REPLY_MAX];
	long total = 0;
	VIP_UINT32 j;
	VIP_RETURN rc;
	int i, tries;

	/* The server's answer may come at any time after the last send. */
	post_recv(vi, c->RecvDesc[0], c->RecvBuf[0], REPLY_MAX);
	/* The server may not wait yet: as VIA programs do, ask again
	 * while the answer is VIP_NO_MATCH (it comes at once). */
	for (tries = 0; tries < TIMEOUT / 10; tries++) {
		rc = VipConnectRequest(vi, local, remote, 5000, &remote_attribs);
		if (rc != VIP_NO_MATCH)
			break;
		nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	VIPL_CALL(rc);
	for (i = 0; i < NUM_MSGS; i++) {
		for (j = 0; j < msg_len(i); j++)
			c->SendBuf[j] = (char)msg_byte(i, j);
		send_and_wait(vi, msg_len(i), (VIP_UINT32)i);
		total += (long)msg_len(i);
	}
	VIPL_CALL(VipRecvWait(vi, TIMEOUT, &d));
	snprintf(want, sizeof(want), "%d messages, %ld bytes checked",
		 NUM_MSGS, total);
	if ((d->Control.Status & VIP_STATUS_ERROR_MASK) ||
	    d->Control.ImmediateData != 0xC1A4 ||
	    strcmp(c->RecvBuf[0], want) != 0) {
		fprintf(stderr, "giganet client: server said '%.*s' (0x%x)\n",
			REPLY_MAX, c->RecvBuf[0], (unsigned)d->Control.Status);
		return 2;
	}
	printf("giganet client: sent %d messages, server: %s\n", NUM_MSGS,
	       c->RecvBuf[0]);
	free(local);
	free(remote);
	return 0;
}

int main(int argc, char **argv)
{
	VIP_ERROR_HANDLER handler = on_error;
	VIP_VI_CALLBACK vi_cb = NULL;
	VIP_CQ_CALLBACK cq_cb = NULL;
	VIP_EVENT_HANDLE ev = NULL;
	VIP_WCHAR w = L'v';
	VIP_VI_STATE state;
	VIP_BOOLEAN sq_empty, rq_empty;
	VIP_VI_ATTRIBUTES attribs;
	const char *disc = "giganet";
	VI_CONTEXT ctx;
	VIP_VI_HANDLE vi;
	size_t size;
	int i, rc, is_server;

	(void)vi_cb, (void)cq_cb, (void)ev, (void)w;
	if (argc < 3 || argc > 4 ||
	    (strcmp(argv[1], "server") && strcmp(argv[1], "client"))) {
		fprintf(stderr, "usage: %s server|client HOST [DISCRIMINATOR]\n",
			argv[0]);
		return 64;
	}
	is_server = !strcmp(argv[1], "server");
	if (argc == 4)
		disc = argv[3];

	memset(&ctx, 0, sizeof(ctx));
	VIPL_CALL(VipOpenNic(NULL, &ctx.Nic));
	VIPL_CALL(VipErrorCallback(ctx.Nic, NULL, handler));
	VIPL_CALL(VipNSInit(ctx.Nic, NULL));
	/* Descriptors (64-byte slots) first, then the buffers. */
	size = 64 * (1 + NUM_MSGS) + MSG_MAX * (1 + NUM_MSGS);
	ctx.Region = aligned_alloc(64, size);
	if (!ctx.Region)
		return 1;
	memset(ctx.Region, 0, size);
	VIPL_CALL(VipRegisterMem(ctx.Nic, ctx.Region, size, NULL,
				 &ctx.MemHandle));
	ctx.SendDesc = (VIP_DESCRIPTOR *)ctx.Region;
	ctx.SendBuf = ctx.Region + 64 * (1 + NUM_MSGS);
	for (i = 0; i < NUM_MSGS; i++) {
		ctx.RecvDesc[i] = (VIP_DESCRIPTOR *)(ctx.Region + 64 * (1 + i));
		ctx.RecvBuf[i] = ctx.SendBuf + MSG_MAX * (1 + i);
	}
	VIPL_CALL(VipCreateVi(ctx.Nic, &default_vi_attribs, NULL, NULL, &vi));
	VipSetUserData(vi, &ctx);
	if (VipGetUserData(vi) != &ctx)
		return 1;

	rc = is_server ? server(vi, argv[2], disc) : client(vi, argv[2], disc);

	VIPL_CALL(VipQueryVi(vi, &state, &attribs, &sq_empty, &rq_empty));
	if (!rc && (attribs.Ptag != NULL || !sq_empty)) {
		fprintf(stderr, "giganet: VI ptag %p, send queue %s\n",
			attribs.Ptag, sq_empty ? "empty" : "not empty");
		rc = 2;
	}
	VipDisconnect(vi);
	/* Whatever is left completed flushed (VIP_DESCRIPTOR_ERROR, the
	 * descriptor handed back); the MPI device's drain stops at NULL. */
	{
		VIP_DESCRIPTOR *d;

		do
			VipRecvDone(vi, &d);
		while (d != 0);
	}
	VIPL_CALL(VipDestroyVi(vi));
	VIPL_CALL(VipDeregisterMem(ctx.Nic, ctx.Region, ctx.MemHandle));
	VIPL_CALL(VipNSShutdown(ctx.Nic));
	VIPL_CALL(VipCloseNic(ctx.Nic));
	free(ctx.Region);
	return rc;
}
