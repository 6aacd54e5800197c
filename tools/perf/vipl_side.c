/* vipl_side.c - helpers of the benchmarks on libvipl (see vipl_side.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vipl_side.h"

void bench_vip_ignore_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

VIP_NET_ADDRESS *bench_vip_addr(const void *host, unsigned int host_len,
				const char *name, unsigned int n)
{
	/* 16 bytes of host (IPv6), 16 of discriminator (libvipl's most) */
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + 16);
	char disc[17];
	int len = snprintf(disc, sizeof(disc), "%s%u", name, n);

	if (!a || host_len > 16 || len < 0 || len > 16)
		bench_die("bench_vip_addr: no room");
	a->HostAddressLen = host_len;
	a->DiscriminatorLen = len;
	memcpy(a->HostAddress, host, host_len);
	memcpy(a->HostAddress + host_len, disc, len);
	return a;
}

VIP_RETURN bench_vip_connect(VIP_VI_HANDLE vi, VIP_NET_ADDRESS *local,
			     VIP_NET_ADDRESS *remote, VIP_ULONG timeout_ms,
			     VIP_VI_ATTRIBUTES *ra)
{
	VIP_ULONG waited;
	VIP_RETURN r;

	/* A refusal for want of a waiter comes within a round trip. */
	for (waited = 0;; waited += 10) {
		r = VipConnectRequest(vi, local, remote, 5000, ra);
		if (r != VIP_NO_MATCH || waited >= timeout_ms)
			return r;
		usleep(10000);
	}
}
