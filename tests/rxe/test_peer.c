/* test_peer.c - peer-to-peer connections between processes over rxe. */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(peer, .timeout = 120);

enum { MAX_MEMBERS = 4 };

static VIP_NET_ADDRESS *mesh_addr(VIP_NIC_HANDLE nic, int from, int to)
{
	char disc[16];

	snprintf(disc, sizeof(disc), "mesh-%d-%d", from, to);
	return vt_addr(nic, disc);
}

/*
 * One member of a full mesh of n processes (what Global Arrays' ARMCI
 * did): a VI per other member, connected peer-to-peer, one message each
 * way on every VI. Member 0 polls VipConnectPeerDone; the others wait.
 */
static int member(int me, int n)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_VI_HANDLE vi[MAX_MEMBERS];
	VIP_DESCRIPTOR *r, *s, *out;
	struct vt_mem m;
	VIP_RETURN ret;
	int j;

	VT_CHECK(nic);
	vt_mem_init(&m, nic, 2 * MAX_MEMBERS * 64, NULL);
	VT_CHECK(m.base);
	for (j = 0; j < n; j++) {
		VIP_NET_ADDRESS *local, *remote;

		if (j == me)
			continue;
		VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi[j]) ==
			 VIP_SUCCESS);
		r = vt_desc(&m, j);
		vt_fill(r, &m, vt_data(&m) + 64 * j, 64);
		VT_CHECK(VipPostRecv(vi[j], r, m.mh) == VIP_SUCCESS);
		local = mesh_addr(nic, me, j);
		remote = mesh_addr(nic, j, me);
		VT_CHECK(VipConnectPeerRequest(vi[j], local, remote,
					       VT_TIMEOUT_MS) == VIP_SUCCESS);
		free(local);
		free(remote);
	}
	for (j = 0; j < n; j++) {
		if (j == me)
			continue;
		if (me == 0) {
			while ((ret = VipConnectPeerDone(vi[j], &ra)) ==
			       VIP_NOT_DONE)
				usleep(1000);
		} else {
			ret = VipConnectPeerWait(vi[j], &ra);
		}
		VT_CHECK(ret == VIP_SUCCESS);
		VT_CHECK(ra.ReliabilityLevel == VIP_SERVICE_RELIABLE_DELIVERY);
		/* Used up: nothing more to collect. */
		VT_CHECK(VipConnectPeerDone(vi[j], &ra) == VIP_INVALID_STATE);
	}
	for (j = 0; j < n; j++) {
		if (j == me)
			continue;
		s = vt_desc(&m, MAX_MEMBERS + j);
		memset(vt_data(&m) + 64 * (MAX_MEMBERS + j), 'A' + me, 10);
		vt_fill(s, &m, vt_data(&m) + 64 * (MAX_MEMBERS + j), 10);
		VT_CHECK(VipPostSend(vi[j], s, m.mh) == VIP_SUCCESS);
		VT_CHECK(VipSendWait(vi[j], VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
		VT_CHECK(out->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_SEND));
	}
	for (j = 0; j < n; j++) {
		if (j == me)
			continue;
		VT_CHECK(VipRecvWait(vi[j], VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
		VT_CHECK(out->CS.Length == 10);
		VT_CHECK(vt_data(&m)[64 * j] == 'A' + j);
	}
	for (j = 0; j < n; j++) {
		if (j == me)
			continue;
		VipDisconnect(vi[j]);
		VT_CHECK(VipDestroyVi(vi[j]) == VIP_SUCCESS);
	}
	vt_mem_fini(&m);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

static int member1of2(void *arg) { (void)arg; return member(1, 2); }
static int member1of3(void *arg) { (void)arg; return member(1, 3); }
static int member2of3(void *arg) { (void)arg; return member(2, 3); }

Test(peer, two_peers_connect_whichever_starts_first)
{
	pid_t p = vt_spawn(member1of2, NULL);

	cr_expect_eq(member(0, 2), 0);
	cr_expect_eq(vt_join(p, 60), 0);
}

Test(peer, three_processes_build_a_full_mesh)
{
	pid_t p1 = vt_spawn(member1of3, NULL), p2 = vt_spawn(member2of3, NULL);

	cr_expect_eq(member(0, 3), 0);
	cr_expect_eq(vt_join(p1, 60), 0);
	cr_expect_eq(vt_join(p2, 60), 0);
}

/* The lonely request is the connecting side's ("lonely" < "nobody"): its
 * peer's host answers that nobody listens, so no match, not a timeout. */
Test(peer, bad_requests_are_refused_and_a_lonely_one_finds_no_match)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *me, *other;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 0, &va), VIP_SUCCESS);
	me = vt_addr(e.nic, "lonely");
	other = vt_addr(e.nic, "nobody");
	cr_expect_eq(VipConnectPeerDone(e.vi, &ra), VIP_INVALID_STATE);
	cr_expect_eq(VipConnectPeerWait(e.vi, &ra), VIP_INVALID_STATE);
	cr_expect_eq(VipConnectPeerRequest(e.vi, me, me, 100),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipConnectPeerRequest(e.vi, me, NULL, 100),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipConnectPeerRequest(NULL, me, other, 100),
		     VIP_INVALID_PARAMETER);
	cr_assert_eq(VipConnectPeerRequest(e.vi, me, other, 300), VIP_SUCCESS);
	cr_expect_eq(VipConnectPeerRequest(e.vi, me, other, 300),
		     VIP_INVALID_STATE);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_CONNECT_PENDING);
	cr_expect_eq(VipDestroyVi(e.vi), VIP_INVALID_STATE);
	cr_expect_eq(VipConnectPeerWait(e.vi, &ra), VIP_NO_MATCH);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
	free(me);
	free(other);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
}

/* A peer whose VI has half the transfer size of the test's. */
static int small_peer(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *local, *remote;
	struct vt_end e;

	(void)arg;
	va.MaxTransferSize /= 2;
	VT_CHECK(vt_end_open(&e, 0, &va) == VIP_SUCCESS);
	local = mesh_addr(e.nic, 1, 0);
	remote = mesh_addr(e.nic, 0, 1);
	VT_CHECK(VipConnectPeerRequest(e.vi, local, remote, VT_TIMEOUT_MS) ==
		 VIP_SUCCESS);
	VT_CHECK(VipConnectPeerWait(e.vi, &ra) == VIP_INVALID_MTU);
	free(local);
	free(remote);
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

Test(peer, transfer_size_mismatch_fails_on_both_peers)
{
	pid_t other = vt_spawn(small_peer, NULL);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *local, *remote;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 0, &va), VIP_SUCCESS);
	local = mesh_addr(e.nic, 0, 1);
	remote = mesh_addr(e.nic, 1, 0);
	cr_assert_eq(VipConnectPeerRequest(e.vi, local, remote, VT_TIMEOUT_MS),
		     VIP_SUCCESS);
	cr_expect_eq(VipConnectPeerWait(e.vi, &ra), VIP_INVALID_MTU);
	free(local);
	free(remote);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(other, 30), 0);
}

/*
 * A request for ever, to nobody, from the side that connects (local sorts
 * lower) or the side that waits: VipDisconnect gives it up, leaving an
 * idle VI; VipCloseNic gives up another. The suite's timeout bounds both.
 */
static void give_up(const char *local, const char *remote)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NET_ADDRESS *me, *other;
	VIP_VI_HANDLE vi, vi2;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi2), VIP_SUCCESS);
	me = vt_addr(nic, local);
	other = vt_addr(nic, remote);
	cr_assert_eq(VipConnectPeerRequest(vi, me, other, VIP_INFINITE),
		     VIP_SUCCESS);
	usleep(300 * 1000); /* well into its wait or its retries */
	cr_expect_eq(VipConnectPeerDone(vi, &ra), VIP_NOT_DONE);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(vt_vi_state(vi), VIP_STATE_IDLE);
	cr_expect_eq(VipConnectPeerDone(vi, &ra), VIP_INVALID_STATE);
	cr_expect_eq(VipDisconnect(vi), VIP_INVALID_STATE);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);

	cr_assert_eq(VipConnectPeerRequest(vi2, me, other, VIP_INFINITE),
		     VIP_SUCCESS);
	usleep(300 * 1000);
	free(me);
	free(other);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
}

Test(peer, an_endless_request_is_given_up_on_the_connecting_side)
{
	give_up("aa-giveup", "zz-giveup");
}

Test(peer, an_endless_request_is_given_up_on_the_waiting_side)
{
	give_up("zz-giveup", "aa-giveup");
}

/*
 * The waiting side's listener is up but its waiter comes 12 s late: the
 * connecting side's request is held, then refused when the hold ends
 * (about 10 s), and asked again. Over iWARP the refused attempt leaves
 * the QP in its error state with its receives flushed by the kernel, so
 * the next attempt runs on a fresh QP, and the receive posted before the
 * request still takes the peer's message.
 */
static int late_waiter(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *me, *other;
	VIP_DESCRIPTOR *s, *out;
	struct vt_end e;

	(void)arg;
	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	me = vt_addr(e.nic, "zz-held");
	other = vt_addr(e.nic, "aa-held");
	/* Nobody there yet: no match, and the listener stays open. */
	VT_CHECK(VipConnectPeerRequest(e.vi, me, other, 300) == VIP_SUCCESS);
	VT_CHECK(VipConnectPeerWait(e.vi, &ra) == VIP_NO_MATCH);
	/* For the other side's word that it has the message (iWARP ends a
	 * connection whose send finds no receive). */
	vt_fill(vt_desc(&e.m, 2), &e.m, vt_data(&e.m) + 64, 64);
	VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 2), e.m.mh) ==
		 VIP_SUCCESS);
	sleep(12);
	VT_CHECK(VipConnectPeerRequest(e.vi, me, other, VT_TIMEOUT_MS) ==
		 VIP_SUCCESS);
	VT_CHECK(VipConnectPeerWait(e.vi, &ra) == VIP_SUCCESS);
	s = vt_desc(&e.m, 1);
	memcpy(vt_data(&e.m), "late hello", 10);
	vt_fill(s, &e.m, vt_data(&e.m), 10);
	VT_CHECK(VipPostSend(e.vi, s, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	free(me);
	free(other);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

Test(peer, a_request_held_and_refused_is_asked_again_on_a_fresh_qp)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	pid_t other = vt_spawn(late_waiter, NULL);
	VIP_NET_ADDRESS *me, *peer;
	VIP_DESCRIPTOR *r, *s, *out;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m) + 1024, 64);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	me = vt_addr(e.nic, "aa-held");
	peer = vt_addr(e.nic, "zz-held");
	sleep(1); /* the other's first, short request has opened its port */
	cr_assert_eq(VipConnectPeerRequest(e.vi, me, peer, 40000),
		     VIP_SUCCESS);
	cr_assert_eq(VipConnectPeerWait(e.vi, &ra), VIP_SUCCESS);
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_assert_eq(out, r);
	cr_expect_eq(r->CS.Length, 10);
	cr_expect_eq(memcmp(vt_data(&e.m) + 1024, "late hello", 10), 0);
	s = vt_desc(&e.m, 1);
	vt_fill(s, &e.m, vt_data(&e.m), 4);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	free(me);
	free(peer);
	cr_expect_eq(vt_join(other, 60), 0);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
}
