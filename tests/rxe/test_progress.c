/* test_progress.c - progress mode: statuses appear without library calls. */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "echo.h"

TestSuite(progress, .timeout = 90);

/* Spins on the descriptor's own memory, as VIA-era programs did. */
static bool spin_until_done(volatile VIP_DESCRIPTOR *d, int seconds)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!(d->CS.Status & VIP_STATUS_DONE)) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > seconds)
			return false;
	}
	return true;
}

Test(progress, a_program_spinning_on_status_sees_its_descriptors_complete)
{
	struct echo_args a = { .disc = "p-spin", .count = 3,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t srv = vt_spawn(echo_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *remote;
	VIP_DESCRIPTOR *r, *s, *out;
	VIP_NIC_HANDLE nic;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	int round;

	setenv("VIPL_PROGRESS", "1", 1);
	nic = vt_open_nic();
	cr_assert_not_null(nic);
	vt_mem_init(&m, nic, 8192, NULL);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	r = vt_desc(&m, 0);
	s = vt_desc(&m, 1);
	vt_fill(r, &m, vt_data(&m), 4096);
	cr_assert_eq(VipPostRecv(vi, r, m.mh), VIP_SUCCESS);
	remote = vt_addr(nic, "p-spin");
	cr_assert_eq(VipConnectRequest(vi, NULL, remote, VT_TIMEOUT_MS, &ra),
		     VIP_SUCCESS);
	free(remote);
	for (round = 0; round < 3; round++) {
		memset(vt_data(&m) + 4096, 'a' + round, 300);
		vt_fill(s, &m, vt_data(&m) + 4096, 300);
		cr_assert_eq(VipPostSend(vi, s, m.mh), VIP_SUCCESS);
		/* No VIPL call until both statuses say done. */
		cr_assert(spin_until_done(s, 10), "send never completed");
		cr_assert(spin_until_done(r, 10), "receive never completed");
		cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
		cr_expect_eq(r->CS.Status,
			     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
		cr_expect_eq(r->CS.Length, 300);
		cr_expect_eq(vt_data(&m)[299], 'a' + round);
		/* Dequeuing still works, and reposting the same descriptors. */
		cr_assert_eq(VipSendDone(vi, &out), VIP_SUCCESS);
		cr_expect_eq(out, s);
		cr_assert_eq(VipRecvDone(vi, &out), VIP_SUCCESS);
		cr_expect_eq(out, r);
		vt_fill(r, &m, vt_data(&m), 4096);
		cr_assert_eq(VipPostRecv(vi, r, m.mh), VIP_SUCCESS);
	}
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
}
