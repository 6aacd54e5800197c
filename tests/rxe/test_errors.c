/* test_errors.c - descriptors that complete with error statuses. */
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(errors, .timeout = 90);

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
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(st, VIP_STATE_ERROR);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	VipCloseNic(nic);
	cr_expect_eq(vt_join(srv, 30), 0);
}
