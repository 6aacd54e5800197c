/*
 * test_recv_length.c - a receive never reports more bytes than the
 * segments it was posted with hold.
 */
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(recv_length, .timeout = 90);

enum { TARGET = 16384, RECV = 2048, WRITE = 2179 };

struct target_msg {
	uint64_t addr;
	uint32_t handle;
};

/* The writer: 2179 bytes with immediate data, in two local segments (three
 * in all with the address segment), into the region it is told of. */
static int writer(void *arg)
{
	const char *disc = arg;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *r, *w, *out;
	struct target_msg t;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	char *src;
	int i;

	VT_CHECK(nic);
	vt_mem_init(&m, nic, 4 * 4096, NULL);
	VT_CHECK(m.base);
	va.EnableRdmaWrite = VIP_TRUE;
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	r = vt_desc(&m, 0);
	vt_fill(r, &m, vt_data(&m), sizeof(t));
	VT_CHECK(VipPostRecv(vi, r, m.mh) == VIP_SUCCESS);
	r = vt_desc(&m, 1);
	vt_fill(r, &m, vt_data(&m) + 64, 64);
	VT_CHECK(VipPostRecv(vi, r, m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, disc, vi) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	memcpy(&t, vt_data(&m), sizeof(t));

	src = vt_data(&m) + 4096;
	for (i = 0; i < WRITE; i++)
		src[i] = (char)(i * 7 + 3);
	w = vt_desc(&m, 2);
	w->CS.Control = VIP_CONTROL_OP_RDMAWRITE | VIP_CONTROL_IMMEDIATE;
	w->CS.ImmediateData = 0x5151;
	w->CS.SegCount = 3;
	w->CS.Length = WRITE;
	w->DS[0].Remote.Data.AddressBits = t.addr;
	w->DS[0].Remote.Handle = t.handle;
	w->DS[1].Local.Data.Address = src;
	w->DS[1].Local.Handle = m.mh;
	w->DS[1].Local.Length = 1000;
	vt_seg(w, 2)->Data.Address = src + 1000;
	vt_seg(w, 2)->Handle = m.mh;
	vt_seg(w, 2)->Length = WRITE - 1000;
	VT_CHECK(VipPostSend(vi, w, m.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	/* The target's last word, then it leaves. */
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VipDisconnect(vi);
	VipDestroyVi(vi);
	vt_mem_fini(&m);
	VipCloseNic(nic);
	return 0;
}

/*
 * An RDMA write with immediate data consumes a receive descriptor; its
 * bytes go to the writer's target, none into the receive's segments. The
 * receive must not report the write's length (2179, past its 2048-byte
 * buffer): that was the fuzzer's "receive longer than its buffer", seen
 * right after VipSetViAttributes had enabled RDMA writes.
 */
Test(recv_length, rdma_write_with_immediate_reports_no_bytes_in_the_receive)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	pid_t peer = vt_spawn(writer, "rl-imm");
	VIP_MEM_ATTRIBUTES ma = { .EnableRdmaWrite = VIP_TRUE };
	VIP_DESCRIPTOR *r, *s, *out = NULL;
	struct target_msg *t;
	struct vt_mem m;
	struct vt_end e;
	char *buf, *target;
	int i, wrong = 0;

	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	vt_mem_init(&m, e.nic, TARGET + RECV, &ma);
	cr_assert_not_null(m.base);
	target = vt_data(&m);
	buf = target + TARGET;
	memset(buf, 'r', RECV);
	r = vt_desc(&m, 0);
	vt_fill(r, &m, buf, RECV);
	r->CS.Control = VIP_CONTROL_IMMEDIATE;
	cr_assert_eq(VipPostRecv(e.vi, r, m.mh), VIP_SUCCESS);
	va.EnableRdmaWrite = VIP_TRUE;
	cr_assert_eq(VipSetViAttributes(e.vi, &va), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, "rl-imm"), VIP_SUCCESS);

	t = (struct target_msg *)vt_data(&e.m);
	t->addr = (uintptr_t)target;
	t->handle = m.mh;
	s = vt_desc(&e.m, 0);
	vt_fill(s, &e.m, t, sizeof(*t));
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);

	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS,
		     "status 0x%x", r->CS.Status);
	cr_assert_eq(out, r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE |
					   VIP_STATUS_OP_REMOTE_RDMA_WRITE |
					   VIP_STATUS_IMMEDIATE,
		     "status 0x%x", r->CS.Status);
	cr_expect_eq(r->CS.ImmediateData, 0x5151);
	cr_expect_leq(r->CS.Length, RECV, "Length %u", r->CS.Length);
	cr_expect_eq(r->CS.Length, 0, "Length %u", r->CS.Length);
	/* The bytes went to the target, the receive buffer is untouched. */
	for (i = 0; i < WRITE; i++)
		wrong += target[i] != (char)(i * 7 + 3);
	cr_expect_eq(wrong, 0);
	for (i = 0; i < RECV; i++)
		wrong += buf[i] != 'r';
	cr_expect_eq(wrong, 0);

	vt_fill(s, &e.m, t, 4);
	cr_expect_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_expect_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0, "writer failed");
	VipDisconnect(e.vi);
	cr_expect_eq(VipDestroyVi(e.vi), VIP_SUCCESS);
	e.vi = NULL;
	vt_mem_fini(&m);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
}
