/*
 * trace_cost.c - a fixed number of VipPostSend and VipSendDone calls on a
 * connected VI, for counting their instructions (tests/bench/trace_cost.sh
 * runs the client under callgrind).
 *
 *   trace_cost server ADDR [N]
 *   trace_cost client ADDR [N]
 *
 * The client posts N sends back to back, waits for the server's answer
 * (sent once all N arrived, so their completions are there too), then
 * dequeues the N with VipSendDone and says how many calls that took.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>
#include <unistd.h>

#define DISC "trace_cost"
#define TIMEOUT 30000
#define MSG 64
#define MAX_N 512

#define CHECK(call)                                                            \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS) {                                       \
			fprintf(stderr, "trace_cost: %s: %d\n", #call,         \
				(int)r_);                                      \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* The peer leaving at the end is expected. */
static void quiet(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

static VIP_NET_ADDRESS *make_addr(const char *host, const char *disc)
{
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + 32);

	if (!a || inet_pton(AF_INET, host, a->HostAddress) != 1)
		exit(2);
	a->HostAddressLen = 4;
	a->DiscriminatorLen = (VIP_UINT16)strlen(disc);
	memcpy(a->HostAddress + 4, disc, a->DiscriminatorLen);
	return a;
}

static void fill(VIP_DESCRIPTOR *d, void *buf, VIP_MEM_HANDLE mh,
		 VIP_UINT32 len)
{
	memset(d, 0, sizeof(*d));
	d->CS.SegCount = 1;
	d->CS.Length = len;
	d->DS[0].Local.Data.Address = buf;
	d->DS[0].Local.Handle = mh;
	d->DS[0].Local.Length = len;
}

int main(int argc, char **argv)
{
	VIP_VI_ATTRIBUTES va = { VIP_SERVICE_RELIABLE_DELIVERY, MSG, NULL,
				 NULL, VIP_FALSE, VIP_FALSE };
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *d;
	VIP_RETURN r, rc;
	char *mem, *data;
	int server, n = 256, i, got, idle = 0, tries;
	size_t len;

	if (argc < 3 || (strcmp(argv[1], "server") && strcmp(argv[1], "client")))
		return 2;
	server = !strcmp(argv[1], "server");
	if (argc > 3)
		n = atoi(argv[3]);
	if (n < 1 || n > MAX_N)
		return 2;
	len = 64 * (MAX_N + 1) + MSG * (MAX_N + 1);
	mem = aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
	if (!mem)
		return 1;
	memset(mem, 0, len);
	data = mem + 64 * (MAX_N + 1);
	CHECK(VipOpenNic(NULL, &nic));
	CHECK(VipErrorCallback(nic, NULL, quiet));
	CHECK(VipRegisterMem(nic, mem, len, NULL, &mh));
	CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi));
	local = make_addr(argv[2], server ? DISC : "");
	remote = make_addr(argv[2], DISC);
	if (server) {
		for (i = 0; i < n; i++) {
			fill((VIP_DESCRIPTOR *)(mem + 64 * i), data, mh, MSG);
			CHECK(VipPostRecv(vi, (VIP_DESCRIPTOR *)(mem + 64 * i),
					  mh));
		}
		CHECK(VipConnectWait(nic, local, TIMEOUT, remote, &ra, &conn));
		CHECK(VipConnectAccept(conn, vi));
		for (i = 0; i < n; i++)
			CHECK(VipRecvWait(vi, TIMEOUT, &d));
		d = (VIP_DESCRIPTOR *)(mem + 64 * MAX_N);
		fill(d, data, mh, MSG);
		CHECK(VipPostSend(vi, d, mh));
		CHECK(VipSendWait(vi, TIMEOUT, &d));
		/* Leave once the client has gone. */
		VipRecvWait(vi, TIMEOUT, &d);
	} else {
		d = (VIP_DESCRIPTOR *)(mem + 64 * MAX_N);
		fill(d, data, mh, MSG);
		CHECK(VipPostRecv(vi, d, mh));
		/* The server may not wait yet: as VIA programs do, ask again
		 * while the answer is VIP_NO_MATCH (it comes at once). */
		for (tries = 0; tries < TIMEOUT / 10; tries++) {
			rc = VipConnectRequest(vi, local, remote, 5000, &ra);
			if (rc != VIP_NO_MATCH)
				break;
			usleep(10000);
		}
		CHECK(rc);
		for (i = 0; i < n; i++) {
			fill((VIP_DESCRIPTOR *)(mem + 64 * i), data + MSG, mh,
			     MSG);
			CHECK(VipPostSend(vi, (VIP_DESCRIPTOR *)(mem + 64 * i),
					  mh));
		}
		CHECK(VipRecvWait(vi, TIMEOUT, &d));
		for (got = 0; got < n;) {
			r = VipSendDone(vi, &d);
			if (r == VIP_SUCCESS)
				got++;
			else if (r == VIP_NOT_DONE)
				idle++;
			else
				CHECK(r);
		}
		printf("trace_cost: %d VipPostSend, %d VipSendDone (%d "
		       "VIP_NOT_DONE)\n",
		       n, n + idle, idle);
	}
	VipDisconnect(vi);
	VipDestroyVi(vi);
	VipDeregisterMem(nic, mem, mh);
	VipCloseNic(nic);
	free(local);
	free(remote);
	free(mem);
	return 0;
}
