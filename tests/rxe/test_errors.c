/* test_errors.c - descriptors that complete with error statuses. */
#include <string.h>

#include <criterion/criterion.h>

#include <stdatomic.h>
#include <time.h>

#include "util.h"

TestSuite(errors, .timeout = 90);

static struct {
	atomic_int calls;
	VIP_ERROR_DESCRIPTOR first;
} errs;

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	if (atomic_fetch_add(&errs.calls, 1) == 0)
		errs.first = *e;
}

/* Waits (bounded) for the error callback. */
static bool wait_error(void)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	int i;

	for (i = 0; i < 2000 && !atomic_load(&errs.calls); i++)
		nanosleep(&pause, NULL);
	return atomic_load(&errs.calls) > 0;
}

/* Connects to disc with on_error set as the NIC's error callback first. */
static void connect_watched(struct vt_end *e, const char *disc)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);

	cr_assert_eq(vt_end_open(e, 4096, NULL), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e->nic, NULL, on_error), VIP_SUCCESS);
	cr_assert_eq(vt_connect(e->nic, disc, &va, &e->vi), VIP_SUCCESS);
}

/* Accepts with one 1000-byte receive; the client sends more. */
static int small_receive_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *out;
	struct vt_end e;

	(void)arg;
	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m), 1000);
	VT_CHECK(VipPostRecv(e.vi, r, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, "e-small", e.vi) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_DESCRIPTOR_ERROR);
	VT_CHECK(out == r);
	VT_CHECK(r->CS.Status & VIP_STATUS_DONE);
	VT_CHECK(r->CS.Status & VIP_STATUS_LENGTH_ERROR);
	VT_CHECK((r->CS.Status & VIP_STATUS_OP_MASK) == VIP_STATUS_OP_RECEIVE);
	/* A reliable connection breaks on the error. */
	VT_CHECK(vt_vi_state(e.vi) == VIP_STATE_ERROR);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

Test(errors, receive_too_small_completes_with_length_error)
{
	VT_SKIP_ON_IWARP(VT_IWARP_TCP_COMPLETES);
	pid_t srv = vt_spawn(small_receive_server, NULL);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *s, *out;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 4096, NULL), VIP_SUCCESS);
	cr_assert_eq(vt_connect(e.nic, "e-small", &va, &e.vi), VIP_SUCCESS);
	s = vt_desc(&e.m, 0);
	vt_fill(s, &e.m, vt_data(&e.m), 2000);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(out, s);
	/* The sender learns the peer refused the message. */
	cr_expect(s->CS.Status & VIP_STATUS_DONE);
	cr_expect(s->CS.Status & VIP_STATUS_ERROR_MASK, "status 0x%x",
		  s->CS.Status);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_ERROR);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
}

/* Accepts and waits for the connection to go away. */
static int idle_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *out;
	struct vt_end e;

	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m), 4096);
	VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, arg, e.vi) == VIP_SUCCESS);
	/* Flushed when the connection goes. */
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_DESCRIPTOR_ERROR);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

Test(errors, unregistered_data_completes_with_protection_error)
{
	/* Seen over siw, 2 runs in 5: the connection's end reached the
	 * error callback before the descriptor's error did, or the send
	 * behind the failed one never completed (issue 13, open). */
	VT_SKIP_ON_IWARP("siw ends the connection on a local protection "
			 "error, racing the descriptor's own error, and the "
			 "send behind it was once never flushed (issue 13)");
	pid_t srv = vt_spawn(idle_server, "e-prot");
	VIP_DESCRIPTOR *s, *s2, *out;
	struct vt_end e;

	connect_watched(&e, "e-prot");
	s = vt_desc(&e.m, 0);
	vt_fill(s, &e.m, vt_data(&e.m), 100);
	s->DS[0].Local.Handle = e.m.mh ^ 0x00ffff00; /* no such region */
	s2 = vt_desc(&e.m, 1);
	vt_fill(s2, &e.m, vt_data(&e.m), 100);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipPostSend(e.vi, s2, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(out, s);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					   VIP_STATUS_PROTECTION_ERROR, "status 0x%x", s->CS.Status);
	/* Nothing after the error is processed: it is flushed. */
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(out, s2);
	cr_expect_eq(s2->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					    VIP_STATUS_DESC_FLUSHED_ERROR);
	/* The error callback names the descriptor that broke it. */
	cr_assert(wait_error(), "no error callback");
	cr_expect_eq(errs.first.ErrorCode, VIP_ERROR_POST_DESC);
	cr_expect_eq(errs.first.DescriptorPtr, s);
	cr_expect_eq(errs.first.ViHandle, e.vi);
	cr_expect_eq(errs.first.ResourceCode, VIP_RESOURCE_DESCRIPTOR);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_ERROR);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
}

/* Accepts with no receive posted, then waits to be told it broke. */
static int no_receive_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int st = VIP_STATE_CONNECTED, i;
	struct vt_end e;

	(void)arg;
	VT_CHECK(vt_end_open(&e, 0, NULL) == VIP_SUCCESS);
	VT_CHECK(VipErrorCallback(e.nic, NULL, on_error) == VIP_SUCCESS);
	VT_CHECK(VipCreateVi(e.nic, &va, NULL, NULL, &e.vi) == VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, "e-rnr", e.vi) == VIP_SUCCESS);
	for (i = 0; i < 1000 && st != VIP_STATE_ERROR; i++) {
		nanosleep(&pause, NULL);
		st = vt_vi_state(e.vi);
		VT_CHECK(st >= 0);
	}
	VT_CHECK(st == VIP_STATE_ERROR);
	VT_CHECK(wait_error());
	VT_CHECK(errs.first.ErrorCode == VIP_ERROR_CONN_LOST);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

Test(errors, send_without_a_receive_at_the_peer_breaks_the_connection)
{
	VT_SKIP_ON_IWARP(VT_IWARP_TCP_COMPLETES);
	pid_t srv = vt_spawn(no_receive_server, NULL);
	VIP_DESCRIPTOR *s, *out;
	struct vt_end e;

	connect_watched(&e, "e-rnr");
	s = vt_desc(&e.m, 0);
	vt_fill(s, &e.m, vt_data(&e.m), 100);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(out, s);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					   VIP_STATUS_REMOTE_DESC_ERROR,
		     "status 0x%x", s->CS.Status);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_ERROR);
	cr_assert(wait_error(), "no error callback");
	cr_expect_eq(errs.first.ErrorCode, VIP_ERROR_RECVQ_EMPTY);
	cr_expect_eq(errs.first.DescriptorPtr, s);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0, "the peer did not see the break");
}
