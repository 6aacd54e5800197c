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

/* Accepts with one 1000-byte receive; the client sends more. */
static int small_receive_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *r, *out;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	(void)arg;
	VT_CHECK(nic);
	vt_mem_init(&m, nic, 4096, NULL);
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	r = vt_desc(&m, 0);
	vt_fill(r, &m, vt_data(&m), 1000);
	VT_CHECK(VipPostRecv(vi, r, m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, "e-small", vi) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VT_CHECK(out == r);
	VT_CHECK(r->CS.Status & VIP_STATUS_DONE);
	VT_CHECK(r->CS.Status & VIP_STATUS_LENGTH_ERROR);
	VT_CHECK((r->CS.Status & VIP_STATUS_OP_MASK) == VIP_STATUS_OP_RECEIVE);
	/* A reliable connection breaks on the error. */
	VT_CHECK(VipQueryVi(vi, &st, &qa, &se, &re) == VIP_SUCCESS);
	VT_CHECK(st == VIP_STATE_ERROR);
	VT_CHECK(VipDisconnect(vi) == VIP_SUCCESS);
	VT_CHECK(VipDestroyVi(vi) == VIP_SUCCESS);
	vt_mem_fini(&m);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

Test(errors, receive_too_small_completes_with_length_error)
{
	pid_t srv = vt_spawn(small_receive_server, NULL);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *s, *out;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	cr_assert_not_null(nic);
	vt_mem_init(&m, nic, 4096, NULL);
	cr_assert_eq(vt_connect(nic, "e-small", &va, &vi), VIP_SUCCESS);
	s = vt_desc(&m, 0);
	vt_fill(s, &m, vt_data(&m), 2000);
	cr_assert_eq(VipPostSend(vi, s, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, s);
	/* The sender learns the peer refused the message. */
	cr_expect(s->CS.Status & VIP_STATUS_DONE);
	cr_expect(s->CS.Status & VIP_STATUS_ERROR_MASK, "status 0x%x",
		  s->CS.Status);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(st, VIP_STATE_ERROR);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	VipCloseNic(nic);
	cr_expect_eq(vt_join(srv, 30), 0);
}

/* Accepts and waits for the connection to go away. */
static int idle_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *out;
	struct vt_mem m;
	VIP_VI_HANDLE vi;

	VT_CHECK(nic);
	vt_mem_init(&m, nic, 4096, NULL);
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	vt_fill(vt_desc(&m, 0), &m, vt_data(&m), 4096);
	VT_CHECK(VipPostRecv(vi, vt_desc_at(&m, 0), m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, arg, vi) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VT_CHECK(VipDisconnect(vi) == VIP_SUCCESS);
	VT_CHECK(VipDestroyVi(vi) == VIP_SUCCESS);
	vt_mem_fini(&m);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

Test(errors, unregistered_data_completes_with_protection_error)
{
	pid_t srv = vt_spawn(idle_server, "e-prot");
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *s, *s2, *out;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	cr_assert_not_null(nic);
	cr_assert_eq(VipErrorCallback(nic, NULL, on_error), VIP_SUCCESS);
	vt_mem_init(&m, nic, 4096, NULL);
	cr_assert_eq(vt_connect(nic, "e-prot", &va, &vi), VIP_SUCCESS);
	s = vt_desc(&m, 0);
	vt_fill(s, &m, vt_data(&m), 100);
	s->DS[0].Local.Handle = m.mh ^ 0x00ffff00; /* no such region */
	s2 = vt_desc(&m, 1);
	vt_fill(s2, &m, vt_data(&m), 100);
	cr_assert_eq(VipPostSend(vi, s, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipPostSend(vi, s2, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, s);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					   VIP_STATUS_PROTECTION_ERROR, "status 0x%x", s->CS.Status);
	/* Nothing after the error is processed: it is flushed. */
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, s2);
	cr_expect_eq(s2->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					    VIP_STATUS_DESC_FLUSHED_ERROR);
	/* The error callback names the descriptor that broke it. */
	cr_assert(wait_error(), "no error callback");
	cr_expect_eq(errs.first.ErrorCode, VIP_ERROR_POST_DESC);
	cr_expect_eq(errs.first.DescriptorPtr, s);
	cr_expect_eq(errs.first.ViHandle, vi);
	cr_expect_eq(errs.first.ResourceCode, VIP_RESOURCE_DESCRIPTOR);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(st, VIP_STATE_ERROR);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	VipCloseNic(nic);
	cr_expect_eq(vt_join(srv, 30), 0);
}

/* Accepts with no receive posted, then waits to be told it broke. */
static int no_receive_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_NIC_HANDLE nic = vt_open_nic();
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st = VIP_STATE_CONNECTED;
	VIP_BOOLEAN se, re;
	int i;

	(void)arg;
	VT_CHECK(nic);
	VT_CHECK(VipErrorCallback(nic, NULL, on_error) == VIP_SUCCESS);
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, "e-rnr", vi) == VIP_SUCCESS);
	for (i = 0; i < 1000 && st != VIP_STATE_ERROR; i++) {
		nanosleep(&pause, NULL);
		VT_CHECK(VipQueryVi(vi, &st, &qa, &se, &re) == VIP_SUCCESS);
	}
	VT_CHECK(st == VIP_STATE_ERROR);
	VT_CHECK(wait_error());
	VT_CHECK(errs.first.ErrorCode == VIP_ERROR_CONN_LOST);
	VT_CHECK(VipDisconnect(vi) == VIP_SUCCESS);
	VT_CHECK(VipDestroyVi(vi) == VIP_SUCCESS);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

Test(errors, send_without_a_receive_at_the_peer_breaks_the_connection)
{
	pid_t srv = vt_spawn(no_receive_server, NULL);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *s, *out;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	cr_assert_not_null(nic);
	cr_assert_eq(VipErrorCallback(nic, NULL, on_error), VIP_SUCCESS);
	vt_mem_init(&m, nic, 4096, NULL);
	cr_assert_eq(vt_connect(nic, "e-rnr", &va, &vi), VIP_SUCCESS);
	s = vt_desc(&m, 0);
	vt_fill(s, &m, vt_data(&m), 100);
	cr_assert_eq(VipPostSend(vi, s, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					   VIP_STATUS_REMOTE_DESC_ERROR,
		     "status 0x%x", s->CS.Status);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(st, VIP_STATE_ERROR);
	cr_assert(wait_error(), "no error callback");
	cr_expect_eq(errs.first.ErrorCode, VIP_ERROR_RECVQ_EMPTY);
	cr_expect_eq(errs.first.DescriptorPtr, s);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	VipCloseNic(nic);
	cr_expect_eq(vt_join(srv, 30), 0, "the peer did not see the break");
}
