/*
 * vipl_side.h - what the benchmarks on libvipl share (vipl_bench,
 * vipl_scale, vipl_cg); the raw-verbs twins have twin.h instead.
 */
#ifndef VIPL_BENCH_VIPL_SIDE_H
#define VIPL_BENCH_VIPL_SIDE_H

#include <vipl.h>

#include "common.h"

#define CHECK(call)                                                            \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS)                                         \
			bench_die("%s: VIP_RETURN %d", #call, (int)r_);        \
	} while (0)

/* Done and Wait: VIP_DESCRIPTOR_ERROR hands the descriptor back too (it
 * completed in error, flushed included); the caller checks its status. */
#define CHECK_DONE(call)                                                       \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != VIP_SUCCESS && r_ != VIP_DESCRIPTOR_ERROR)           \
			bench_die("%s: VIP_RETURN %d", #call, (int)r_);        \
	} while (0)

/* The peer leaving at the end is expected; errors mid-run show up as
 * descriptor statuses, which the programs check. */
void bench_vip_ignore_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e);
/* host (host_len bytes, 0 for none) with the discriminator name followed
 * by n; room for any address, so it can also receive a peer's; free() it. */
VIP_NET_ADDRESS *bench_vip_addr(const void *host, unsigned int host_len,
				const char *name, unsigned int n);
/* VipConnectRequest, asked again while the server does not wait yet
 * (VIP_NO_MATCH), for up to timeout_ms in all. */
VIP_RETURN bench_vip_connect(VIP_VI_HANDLE vi, VIP_NET_ADDRESS *local,
			     VIP_NET_ADDRESS *remote, VIP_ULONG timeout_ms,
			     VIP_VI_ATTRIBUTES *ra);

#endif
