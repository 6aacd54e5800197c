/* test_cq.c - completion queues shared by VIs, over rxe. */
#include <string.h>

#include <criterion/criterion.h>

#include "echo.h"

TestSuite(cq, .timeout = 90);

Test(cq, create_resize_destroy)
{
	VIP_NIC_HANDLE nic = vt_open_nic(), other = vt_open_nic();
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_NIC_ATTRIBUTES na;
	VIP_CQ_HANDLE cq;
	VIP_VI_HANDLE vi;
	VIP_BOOLEAN recv;

	cr_assert(nic && other);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_expect_gt(na.MaxCQ, 0);
	cr_expect_geq(na.MaxCQEntries, 1024);
	cr_expect_eq(VipCreateCQ(nic, 0, &cq), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreateCQ(nic, 16, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreateCQ(nic, na.MaxCQEntries + 1, &cq),
		     VIP_ERROR_RESOURCE);
	cr_assert_eq(VipCreateCQ(nic, 16, &cq), VIP_SUCCESS);
	cr_expect_eq(VipResizeCQ(cq, 256), VIP_SUCCESS);
	cr_expect_eq(VipResizeCQ(cq, 0), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCQDone(cq, &vi, &recv), VIP_NOT_DONE);
	cr_expect_eq(VipCQWait(cq, 20, &vi, &recv), VIP_TIMEOUT);
	cr_expect_eq(VipCQDone(cq, NULL, &recv), VIP_INVALID_PARAMETER);
	/* In use by a VI: it stays. A CQ of another NIC is refused. */
	cr_assert_eq(VipCreateVi(nic, &va, cq, cq, &vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyCQ(cq), VIP_INVALID_STATE);
	cr_expect_eq(VipCreateVi(other, &va, cq, NULL, &vi),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(VipDestroyCQ(cq), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCQDone(cq, &vi, &recv), VIP_INVALID_PARAMETER);
	VipCloseNic(other);
	VipCloseNic(nic);
}

struct pair {
	VIP_VI_HANDLE vi;
	VIP_DESCRIPTOR *r, *s;
};

/* VI i on the given CQs, connected to an echo server, its receive posted
 * and its send ready in e's arena (e holds no VI of its own). */
static void connect_pair(struct vt_end *e, VIP_CQ_HANDLE scq,
			 VIP_CQ_HANDLE rcq, struct pair *p, int i,
			 const char *disc)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct vt_mem *m = &e->m;

	cr_assert_eq(VipCreateVi(e->nic, &va, scq, rcq, &p->vi), VIP_SUCCESS);
	p->r = vt_desc(m, 2 * i);
	vt_fill(p->r, m, vt_data(m) + 4096 * (2 * i), 4096);
	cr_assert_eq(VipPostRecv(p->vi, p->r, m->mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e->nic, p->vi, NULL, disc), VIP_SUCCESS);
	p->s = vt_desc(m, 2 * i + 1);
	memset(vt_data(m) + 4096 * (2 * i + 1), 'k' + i, 100 + i);
	vt_fill(p->s, m, vt_data(m) + 4096 * (2 * i + 1), 100 + i);
}

/* Opens e and a CQ, connects a pair to each echo server, posts both sends.
 * The receive queues are on the CQ; the send queues too if both_queues. */
static void start_pairs(struct vt_end *e, VIP_CQ_HANDLE *cq, bool both_queues,
			struct pair p[2], const char *disc0, const char *disc1)
{
	VIP_CQ_HANDLE scq;
	int i;

	cr_assert_eq(vt_end_open(e, 4 * 4096, NULL), VIP_SUCCESS);
	cr_assert_eq(VipCreateCQ(e->nic, 64, cq), VIP_SUCCESS);
	scq = both_queues ? *cq : NULL;
	connect_pair(e, scq, *cq, &p[0], 0, disc0);
	connect_pair(e, scq, *cq, &p[1], 1, disc1);
	for (i = 0; i < 2; i++)
		cr_assert_eq(VipPostSend(p[i].vi, p[i].s, e->m.mh),
			     VIP_SUCCESS);
}

Test(cq, one_cq_serves_two_vis_sends_and_receives)
{
	struct echo_args a = { .disc = "q-a", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	struct echo_args b = { .disc = "q-b", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t sa = vt_spawn(echo_server, &a), sb = vt_spawn(echo_server, &b);
	struct pair p[2];
	struct vt_end e;
	VIP_CQ_HANDLE cq;
	VIP_VI_HANDLE vi;
	VIP_BOOLEAN recv;
	VIP_DESCRIPTOR *out;
	int sends[2] = { 0 }, recvs[2] = { 0 }, n, i;

	start_pairs(&e, &cq, true, p, a.disc, b.disc);

	/* One entry per descriptor: two sends, two echoed receives. */
	for (n = 0; n < 4; n++) {
		cr_assert_eq(VipCQWait(cq, VT_TIMEOUT_MS, &vi, &recv),
			     VIP_SUCCESS);
		i = vi == p[0].vi ? 0 : 1;
		cr_assert(vi == p[0].vi || vi == p[1].vi);
		if (recv) {
			recvs[i]++;
			cr_assert_eq(VipRecvDone(vi, &out), VIP_SUCCESS);
			cr_expect_eq(out, p[i].r);
			cr_expect_eq(out->CS.Status,
				     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
			cr_expect_eq(out->CS.Length, 100 + i);
			cr_expect_eq(vt_data(&e.m)[4096 * 2 * i], 'k' + i);
		} else {
			sends[i]++;
			cr_assert_eq(VipSendDone(vi, &out), VIP_SUCCESS);
			cr_expect_eq(out, p[i].s);
		}
	}
	cr_expect(sends[0] == 1 && sends[1] == 1 && recvs[0] == 1 &&
		  recvs[1] == 1);
	cr_expect_eq(VipCQDone(cq, &vi, &recv), VIP_NOT_DONE);
	cr_expect_null(vi);
	for (i = 0; i < 2; i++) {
		cr_expect_eq(VipDisconnect(p[i].vi), VIP_SUCCESS);
		cr_expect_eq(VipDestroyVi(p[i].vi), VIP_SUCCESS);
	}
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(sa, 30), 0);
	cr_expect_eq(vt_join(sb, 30), 0);
}

Test(cq, recv_wait_on_a_cq_queue_keeps_the_other_entries)
{
	struct echo_args a = { .disc = "q-c", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	struct echo_args b = { .disc = "q-d", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY,
			       .delay_ms = 300 };
	pid_t sa = vt_spawn(echo_server, &a), sb = vt_spawn(echo_server, &b);
	struct pair p[2];
	struct vt_end e;
	VIP_CQ_HANDLE cq;
	VIP_VI_HANDLE vi;
	VIP_BOOLEAN recv;
	VIP_DESCRIPTOR *out;
	int i;

	/* Receive queues on the CQ, send queues on their own. */
	start_pairs(&e, &cq, false, p, a.disc, b.disc);
	for (i = 0; i < 2; i++)
		cr_assert_eq(VipSendWait(p[i].vi, VT_TIMEOUT_MS, &out),
			     VIP_SUCCESS);
	/* The slow server answers second: waiting on its VI also sees the
	 * other VI's completion go by. */
	cr_assert_eq(VipRecvWait(p[1].vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, p[1].r);
	/* The CQ still holds both entries, in completion order. */
	cr_assert_eq(VipCQDone(cq, &vi, &recv), VIP_SUCCESS);
	cr_expect_eq(vi, p[0].vi);
	cr_expect_eq(recv, VIP_TRUE);
	cr_assert_eq(VipRecvDone(p[0].vi, &out), VIP_SUCCESS);
	cr_expect_eq(out, p[0].r);
	cr_assert_eq(VipCQDone(cq, &vi, &recv), VIP_SUCCESS);
	cr_expect_eq(vi, p[1].vi);
	cr_expect_eq(VipCQDone(cq, &vi, &recv), VIP_NOT_DONE);
	for (i = 0; i < 2; i++) {
		VipDisconnect(p[i].vi);
		cr_expect_eq(VipDestroyVi(p[i].vi), VIP_SUCCESS);
	}
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(sa, 30), 0);
	cr_expect_eq(vt_join(sb, 30), 0);
}
