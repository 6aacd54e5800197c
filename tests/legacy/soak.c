/*
 * soak.c - a long stream of small messages under credit flow control, as
 * VIA-era message layers ran (MPI devices, sockets over VIA): the receiver
 * keeps CREDITS receives posted and hands credits back every BATCH
 * messages; the sender never has more messages out than credits.
 *
 * What it checks is that a steady stream costs no memory: the heap in use
 * (what malloc has handed out, libvipl's and the verbs libraries' alike)
 * is the same at the end as half-way, on both sides. The resident set
 * would also count the device's queue mappings being touched and
 * transparent huge pages being merged, neither of them ours; the heap
 * does not. A leak of one small allocation per message would show as
 * MSGS / 2 of them.
 */
#include <malloc.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

#if defined(__SANITIZE_ADDRESS__)
/* ASan's allocator (sanitizer/allocator_interface.h, not always there). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* No TestSuite(legacy): several files share the suite. */

/* About 6 s under emulation; the ASan build (-O0) is ten times slower. */
#if defined(__SANITIZE_ADDRESS__)
#define MSGS 20000
#else
#define MSGS 100000
#endif
#define MSG_LEN 64
#define CREDITS 16 /* receives the receiver keeps posted */
#define BATCH 8 /* messages per credit message */
#define CREDIT_RECVS (CREDITS / BATCH + 1)
/* Growth of the heap in use allowed over the second half: a few stray
 * allocations (a lazily made buffer, a malloc bin), far below one per
 * message. */
#define HEAP_SLACK 16384

static const char *const disc = "soak-credits";

/* Bytes of heap in use; ASan's allocator keeps its own count. */
static size_t heap_in_use(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
#endif
}

/* Descriptor slots: 0..CREDITS-1 data (receives or sends), then the
 * credit messages' slots. Data area: one 64-byte buffer per slot. */
static char *buf_of(struct vt_mem *m, int slot)
{
	return vt_data(m) + slot * MSG_LEN;
}

static void fill(struct vt_mem *m, int slot)
{
	vt_fill(vt_desc(m, slot), m, buf_of(m, slot), MSG_LEN);
}

/* The receiver: checks each message's sequence number, reposts its
 * receive at once, and sends BATCH credits back every BATCH messages. */
static int receiver(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *d, *c = NULL, *out;
	size_t half = 0;
	struct vt_end e;
	uint32_t seq;
	int i, slot;

	(void)arg;
	VT_CHECK(vt_end_open(&e, (CREDITS + 2) * MSG_LEN, &va) == VIP_SUCCESS);
	for (slot = 0; slot < CREDITS; slot++) {
		fill(&e.m, slot);
		VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, slot), e.m.mh) ==
			 VIP_SUCCESS);
	}
	VT_CHECK(vt_accept(e.nic, disc, e.vi) == VIP_SUCCESS);
	for (i = 0; i < MSGS; i++) {
		VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
		VT_CHECK(d->CS.Length == MSG_LEN);
		memcpy(&seq, d->DS[0].Local.Data.Address, sizeof(seq));
		VT_CHECK(seq == (uint32_t)i);
		d->CS.Status = 0;
		d->CS.Length = MSG_LEN;
		VT_CHECK(VipPostRecv(e.vi, d, e.m.mh) == VIP_SUCCESS);
		if ((i + 1) % BATCH)
			continue;
		/* One credit message out at a time, in two slots. */
		if (c) {
			VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &out) ==
				 VIP_SUCCESS);
			VT_CHECK(out == c);
		}
		slot = CREDITS + ((i + 1) / BATCH & 1);
		fill(&e.m, slot);
		c = vt_desc_at(&e.m, slot);
		seq = BATCH;
		memcpy(buf_of(&e.m, slot), &seq, sizeof(seq));
		VT_CHECK(VipPostSend(e.vi, c, e.m.mh) == VIP_SUCCESS);
		if (i + 1 == MSGS / 2)
			half = heap_in_use();
	}
	VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	if (heap_in_use() > half + HEAP_SLACK) {
		fprintf(stderr, "soak receiver: heap %zu -> %zu bytes\n", half,
			heap_in_use());
		VT_CHECK(!"the receiver's heap grew");
	}
	/* The sender disconnects once it has its last credits. */
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) ==
		 VIP_DESCRIPTOR_ERROR);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* Takes the credit messages that came; blocks for one when wait. */
static int take_credits(struct vt_end *e, bool wait)
{
	VIP_DESCRIPTOR *d;
	VIP_RETURN ret;
	int got = 0;
	uint32_t n;

	for (;;) {
		ret = wait && !got ? VipRecvWait(e->vi, VT_TIMEOUT_MS, &d)
				   : VipRecvDone(e->vi, &d);
		if (ret == VIP_NOT_DONE)
			return got;
		cr_assert_eq(ret, VIP_SUCCESS, "credit receive: %d", ret);
		memcpy(&n, d->DS[0].Local.Data.Address, sizeof(n));
		cr_assert_eq(n, BATCH);
		got += n;
		d->CS.Status = 0;
		d->CS.Length = MSG_LEN;
		cr_assert_eq(VipPostRecv(e->vi, d, e->m.mh), VIP_SUCCESS);
	}
}

Test(legacy, a_credit_controlled_stream_of_small_messages_leaves_the_heap_flat,
     .timeout = 240)
{
	pid_t peer = vt_spawn(receiver, NULL);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	int credits = CREDITS, out_sends = 0, i, slot;
	size_t half = 0, end;
	VIP_DESCRIPTOR *d;
	struct vt_end e;
	uint32_t seq;

	cr_assert_eq(vt_end_open(&e, (CREDITS + CREDIT_RECVS) * MSG_LEN, &va),
		     VIP_SUCCESS);
	for (slot = CREDITS; slot < CREDITS + CREDIT_RECVS; slot++) {
		fill(&e.m, slot);
		cr_assert_eq(VipPostRecv(e.vi, vt_desc_at(&e.m, slot), e.m.mh),
			     VIP_SUCCESS);
	}
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, disc), VIP_SUCCESS);
	for (i = 0; i < MSGS; i++) {
		credits += take_credits(&e, !credits);
		/* Sends complete in order: slot i % CREDITS is free once
		 * fewer than CREDITS are out. */
		while (out_sends == CREDITS ||
		       VipSendDone(e.vi, &d) == VIP_SUCCESS) {
			if (out_sends == CREDITS)
				cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS,
							 &d),
					     VIP_SUCCESS);
			out_sends--;
		}
		slot = i % CREDITS;
		fill(&e.m, slot);
		seq = (uint32_t)i;
		memcpy(buf_of(&e.m, slot), &seq, sizeof(seq));
		cr_assert_eq(VipPostSend(e.vi, vt_desc_at(&e.m, slot), e.m.mh),
			     VIP_SUCCESS, "message %d", i);
		credits--;
		out_sends++;
		if (i + 1 == MSGS / 2)
			half = heap_in_use();
	}
	while (out_sends--)
		cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	/* Every credit back: the receiver has taken every message. */
	while (credits < CREDITS)
		credits += take_credits(&e, true);
	end = heap_in_use();
	cr_expect_leq(end, half + HEAP_SLACK,
		      "the sender's heap grew from %zu to %zu bytes over the "
		      "second half (%d messages)", half, end, MSGS / 2);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 60), 0);
}
