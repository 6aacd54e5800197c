/*
 * peer.c - a full mesh of N processes connected peer to peer, as Global
 * Arrays' ARMCI built its VIA transport.
 *
 *   peer -r RANK -N COUNT -a ADDR   (one process per rank, any start order)
 *
 * Every rank opens one VI per other rank and calls VipConnectPeerRequest
 * naming the two ends ("rank-I-J" here, "rank-J-I" there); then each sends
 * its rank to every peer, checks what every peer sent, and prints one line.
 * All ranks run on one host address here; across hosts, give each rank its
 * own address.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>

#define MAX_RANKS 64
#define TIMEOUT_MS 30000

static void die(const char *what, VIP_RETURN ret)
{
	fprintf(stderr, "peer: %s failed: VIP_RETURN %d\n", what, (int)ret);
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

static VIP_NET_ADDRESS *mesh_addr(const unsigned char *host, int from, int to)
{
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 4 + 16);
	char disc[17];

	a->HostAddressLen = 4;
	memcpy(a->HostAddress, host, 4);
	a->DiscriminatorLen = snprintf(disc, sizeof(disc), "rank-%d-%d", from,
				       to);
	memcpy(a->HostAddress + 4, disc, a->DiscriminatorLen);
	return a;
}

int main(int argc, char **argv)
{
	VIP_VI_ATTRIBUTES va = { .ReliabilityLevel =
					 VIP_SERVICE_RELIABLE_DELIVERY,
				 .MaxTransferSize = 4096 };
	VIP_VI_HANDLE vi[MAX_RANKS];
	VIP_VI_ATTRIBUTES ra;
	VIP_NIC_HANDLE nic;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *d;
	unsigned char host[4];
	const char *addr = NULL;
	int rank = -1, n = 0, c, j;
	char *mem;

	while ((c = getopt(argc, argv, "r:N:a:")) != -1) {
		switch (c) {
		case 'r': rank = atoi(optarg); break;
		case 'N': n = atoi(optarg); break;
		case 'a': addr = optarg; break;
		default: goto usage;
		}
	}
	if (rank < 0 || n < 2 || n > MAX_RANKS || rank >= n || !addr ||
	    inet_pton(AF_INET, addr, host) != 1)
		goto usage;

	CHECK(VipOpenNic(NULL, &nic));
	/* Per peer: a receive and a send descriptor, 64 bytes of data each. */
	if (posix_memalign((void **)&mem, 4096, (size_t)n * 256))
		return 1;
	memset(mem, 0, (size_t)n * 256);
	CHECK(VipRegisterMem(nic, mem, (size_t)n * 256, NULL, &mh));
	for (j = 0; j < n; j++) {
		VIP_NET_ADDRESS *local, *remote;

		if (j == rank)
			continue;
		CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi[j]));
		d = (VIP_DESCRIPTOR *)(mem + j * 256);
		d->CS.SegCount = 1;
		d->DS[0].Local.Data.Address = mem + j * 256 + 128;
		d->DS[0].Local.Handle = mh;
		d->DS[0].Local.Length = 64;
		CHECK(VipPostRecv(vi[j], d, mh));
		local = mesh_addr(host, rank, j);
		remote = mesh_addr(host, j, rank);
		CHECK(VipConnectPeerRequest(vi[j], local, remote, TIMEOUT_MS));
		free(local);
		free(remote);
	}
	for (j = 0; j < n; j++)
		if (j != rank)
			CHECK(VipConnectPeerWait(vi[j], &ra));

	for (j = 0; j < n; j++) {
		if (j == rank)
			continue;
		d = (VIP_DESCRIPTOR *)(mem + j * 256 + 64);
		memset(d, 0, sizeof(*d));
		snprintf(mem + j * 256 + 192, 64, "hello from %d", rank);
		d->CS.SegCount = 1;
		d->CS.Length = 64;
		d->DS[0].Local.Data.Address = mem + j * 256 + 192;
		d->DS[0].Local.Handle = mh;
		d->DS[0].Local.Length = 64;
		CHECK(VipPostSend(vi[j], d, mh));
		CHECK_DONE(VipSendWait(vi[j], TIMEOUT_MS, &d));
		if (d->CS.Status != (VIP_STATUS_DONE | VIP_STATUS_OP_SEND))
			die("send status", (VIP_RETURN)d->CS.Status);
	}
	for (j = 0; j < n; j++) {
		char want[64];

		if (j == rank)
			continue;
		CHECK_DONE(VipRecvWait(vi[j], TIMEOUT_MS, &d));
		snprintf(want, sizeof(want), "hello from %d", j);
		if ((d->CS.Status & VIP_STATUS_ERROR_MASK) ||
		    strcmp(mem + j * 256 + 128, want)) {
			fprintf(stderr, "peer: rank %d: bad message from %d\n",
				rank, j);
			return 1;
		}
	}
	printf("rank %d: connected to %d peers, every message checked\n", rank,
	       n - 1);
	for (j = 0; j < n; j++) {
		if (j == rank)
			continue;
		VipDisconnect(vi[j]);
		CHECK(VipDestroyVi(vi[j]));
	}
	CHECK(VipDeregisterMem(nic, mem, mh));
	CHECK(VipCloseNic(nic));
	free(mem);
	return 0;

usage:
	fprintf(stderr, "usage: peer -r RANK -N COUNT -a ADDR\n");
	return 2;
}
