/*
 * test_cache.c - the post fast path's region cache (vipl/queue.c): a
 * region a queue cached vouches only for what it still is.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "echo.h"

TestSuite(cache, .timeout = 90);

static VIP_DESCRIPTOR *recv_desc(char *base, VIP_MEM_HANDLE mh, int i)
{
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)(base + 128 * i);

	memset(d, 0, 128);
	d->CS.SegCount = 1;
	d->DS[0].Local.Data.Address = base + 4096 + 256 * i;
	d->DS[0].Local.Handle = mh;
	d->DS[0].Local.Length = 256;
	return d;
}

Test(cache, a_deregistered_region_no_longer_takes_descriptors)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_HANDLE mh;
	VIP_VI_HANDLE vi;
	char *base;

	cr_assert_not_null(nic);
	cr_assert_eq(posix_memalign((void **)&base, 4096, 8192), 0);
	cr_assert_eq(VipRegisterMem(nic, base, 8192, NULL, &mh), VIP_SUCCESS);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	/* The first post caches the region, the second uses the cache. */
	cr_assert_eq(VipPostRecv(vi, recv_desc(base, mh, 0), mh), VIP_SUCCESS);
	cr_assert_eq(VipPostRecv(vi, recv_desc(base, mh, 1), mh), VIP_SUCCESS);
	cr_assert_eq(VipDeregisterMem(nic, base, mh), VIP_SUCCESS);
	cr_expect_eq(VipPostRecv(vi, recv_desc(base, mh, 2), mh),
		     VIP_INVALID_PARAMETER);
	/* Registered again (the key may come back): taken again. */
	cr_assert_eq(VipRegisterMem(nic, base, 8192, NULL, &mh), VIP_SUCCESS);
	cr_expect_eq(VipPostRecv(vi, recv_desc(base, mh, 3), mh), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDeregisterMem(nic, base, mh), VIP_SUCCESS);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	free(base);
}

/* Posts bad, which the device must refuse: it completes, first, with a
 * protection error. */
static void sent_with_a_protection_error(struct vt_end *e, VIP_DESCRIPTOR *bad)
{
	VIP_DESCRIPTOR *out;

	cr_assert_eq(VipPostSend(e->vi, bad, e->m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e->vi, VT_TIMEOUT_MS, &out),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(out, bad);
	cr_expect_eq(bad->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					     VIP_STATUS_PROTECTION_ERROR,
		     "status 0x%x", bad->CS.Status);
}

/*
 * A send small enough to go inline, its descriptor in the region the
 * queue cached, its data in memory of another ptag: the device never
 * sees inline data's key, so the cache must not vouch for it. It
 * completes with a protection error, as without the cache.
 */
Test(cache, a_cached_region_does_not_vouch_for_data_of_another_ptag)
{
	struct echo_args a = { .disc = "k-ptag", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t srv = vt_spawn(echo_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_MEM_ATTRIBUTES other = { 0 };
	VIP_DESCRIPTOR *r, *s, *bad, *out;
	VIP_PROTECTION_HANDLE pt;
	VIP_MEM_HANDLE omh;
	struct vt_end e;
	char *obuf;

	cr_assert_eq(vt_end_open(&e, 8192, &va), VIP_SUCCESS);
	cr_assert_eq(VipCreatePtag(e.nic, &pt), VIP_SUCCESS);
	other.Ptag = pt;
	cr_assert_eq(posix_memalign((void **)&obuf, 4096, 4096), 0);
	memset(obuf, 'x', 4096);
	cr_assert_eq(VipRegisterMem(e.nic, obuf, 4096, &other, &omh),
		     VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m), 4096);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, "k-ptag"), VIP_SUCCESS);
	/* One good send: the queue caches the arena's region. */
	s = vt_desc(&e.m, 1);
	memset(vt_data(&e.m) + 4096, 'g', 64);
	vt_fill(s, &e.m, vt_data(&e.m) + 4096, 64);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(vt_data(&e.m)[63], 'g');
	/* The same descriptor memory, data of the other ptag. */
	bad = vt_desc(&e.m, 2);
	vt_fill(bad, &e.m, obuf, 64);
	bad->DS[0].Local.Handle = omh;
	sent_with_a_protection_error(&e, bad);
	cr_expect_eq(VipDeregisterMem(e.nic, obuf, omh), VIP_SUCCESS);
	cr_expect_eq(VipDestroyPtag(e.nic, pt), VIP_SUCCESS);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	free(obuf);
	cr_expect_eq(vt_join(srv, 30), 0);
}

/*
 * An inline-sized send after the queue cached its region, its data not
 * in registered memory: a handle that names no region, or the cached
 * region's handle on memory outside it. The fast path does not take it
 * (the cache does not vouch for it), and inline data would bypass the
 * device's check, so it is posted as a plain send: the device refuses
 * the key or the range, and the send completes with a protection error.
 */
enum unregistered { BAD_HANDLE, OUTSIDE_ITS_REGION };

static void inline_send_of_unregistered_memory(const char *disc,
					       enum unregistered how)
{
	struct echo_args a = { .disc = disc, .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t srv = vt_spawn(echo_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *s, *bad, *out;
	struct vt_end e;
	char *outside;

	cr_assert_eq(vt_end_open(&e, 8192, &va), VIP_SUCCESS);
	cr_assert_eq(posix_memalign((void **)&outside, 4096, 4096), 0);
	memset(outside, 'u', 4096);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m), 4096);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, disc), VIP_SUCCESS);
	s = vt_desc(&e.m, 1);
	vt_fill(s, &e.m, vt_data(&e.m) + 4096, 16);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	bad = vt_desc(&e.m, 2);
	if (how == BAD_HANDLE) {
		vt_fill(bad, &e.m, vt_data(&e.m) + 4096, 16);
		bad->DS[0].Local.Handle = e.m.mh ^ 0x00ffff00;
	} else {
		vt_fill(bad, &e.m, outside, 16);
	}
	sent_with_a_protection_error(&e, bad);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	free(outside);
	cr_expect_eq(vt_join(srv, 30), 0);
}

Test(cache, an_inline_send_under_a_handle_of_no_region_is_a_protection_error)
{
	inline_send_of_unregistered_memory("k-nokey", BAD_HANDLE);
}

Test(cache, an_inline_send_of_memory_outside_its_region_is_a_protection_error)
{
	inline_send_of_unregistered_memory("k-outside", OUTSIDE_ITS_REGION);
}
