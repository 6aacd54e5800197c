/*
 * test_cq_room.c - a CQ holds an entry for every descriptor the queues on
 * it can have outstanding, whatever EntryCount said: nothing dropped in
 * silence (VIA calls a CQ overrun catastrophic).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "echo.h"

TestSuite(cq_room, .timeout = 90);

enum { MSGS = 6, LEN = 256 };

static int errors_seen;

static void count_errors(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	if (e->ResourceCode == VIP_RESOURCE_CQ)
		errors_seen++;
}

/*
 * A CQ of 4 entries; 6 receives (and, with sends, 6 sends too) on the
 * queues on it complete, and the program takes each descriptor with
 * VipRecvWait (VipSendWait) first, as programs may on a CQ's queues:
 * then the CQ announces every one of them, none dropped.
 */
static void more_than_entry_count(const char *disc, bool sends)
{
	struct echo_args a = { .disc = disc, .count = MSGS,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY,
			       .recv_len = LEN };
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	pid_t server = vt_spawn(echo_server, &a);
	int recvs = 0, send_entries = 0, i;
	VIP_DESCRIPTOR *d, *out;
	VIP_VI_HANDLE vi, got;
	VIP_BOOLEAN recv;
	VIP_CQ_HANDLE cq;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 2 * MSGS * LEN, NULL), VIP_SUCCESS);
	VipErrorCallback(e.nic, NULL, count_errors);
	cr_assert_eq(VipCreateCQ(e.nic, 4, &cq), VIP_SUCCESS);
	cr_assert_eq(VipCreateVi(e.nic, &va, sends ? cq : NULL, cq, &vi),
		     VIP_SUCCESS);
	for (i = 0; i < MSGS; i++) {
		d = vt_desc(&e.m, i);
		vt_fill(d, &e.m, vt_data(&e.m) + i * LEN, LEN);
		cr_assert_eq(VipPostRecv(vi, d, e.m.mh), VIP_SUCCESS);
	}
	cr_assert_eq(vt_request(e.nic, vi, NULL, disc), VIP_SUCCESS);
	/* One message at a time: the server echoes each. */
	for (i = 0; i < MSGS; i++) {
		d = vt_desc(&e.m, MSGS + i);
		memset(vt_data(&e.m) + (MSGS + i) * LEN, 'a' + i, 100);
		vt_fill(d, &e.m, vt_data(&e.m) + (MSGS + i) * LEN, 100);
		cr_assert_eq(VipPostSend(vi, d, e.m.mh), VIP_SUCCESS);
		cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
		cr_assert_eq(out, d);
		cr_assert_eq(VipRecvWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
		cr_assert_eq(out, vt_desc(&e.m, i));
	}
	/* Now the CQ: one entry per descriptor that completed on it. */
	while (VipCQDone(cq, &got, &recv) == VIP_SUCCESS) {
		cr_expect_eq(got, vi);
		if (recv)
			recvs++;
		else
			send_entries++;
	}
	cr_expect_eq(recvs, MSGS, "%d receive entries of %d", recvs, MSGS);
	cr_expect_eq(send_entries, sends ? MSGS : 0, "%d send entries",
		     send_entries);
	cr_expect_eq(errors_seen, 0);
	VipDisconnect(vi);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(server, 30), 0, "echo server failed");
}

Test(cq_room, six_receives_on_a_cq_of_four_are_all_announced)
{
	more_than_entry_count("cqr-recv", false);
}

Test(cq_room, sends_and_receives_sharing_a_cq_of_four_are_all_announced)
{
	more_than_entry_count("cqr-both", true);
}
