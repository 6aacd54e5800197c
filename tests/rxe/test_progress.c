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
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *s, *out;
	struct vt_end e;
	int round;

	setenv("VIPL_PROGRESS", "1", 1);
	cr_assert_eq(vt_end_open(&e, 8192, &va), VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	s = vt_desc(&e.m, 1);
	vt_fill(r, &e.m, vt_data(&e.m), 4096);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, "p-spin"), VIP_SUCCESS);
	for (round = 0; round < 3; round++) {
		memset(vt_data(&e.m) + 4096, 'a' + round, 300);
		vt_fill(s, &e.m, vt_data(&e.m) + 4096, 300);
		cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
		/* No VIPL call until both statuses say done. */
		cr_assert(spin_until_done(s, 10), "send never completed");
		cr_assert(spin_until_done(r, 10), "receive never completed");
		cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
		cr_expect_eq(r->CS.Status,
			     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
		cr_expect_eq(r->CS.Length, 300);
		cr_expect_eq(vt_data(&e.m)[299], 'a' + round);
		/* Dequeuing still works, and reposting the same descriptors. */
		cr_assert_eq(VipSendDone(e.vi, &out), VIP_SUCCESS);
		cr_expect_eq(out, s);
		cr_assert_eq(VipRecvDone(e.vi, &out), VIP_SUCCESS);
		cr_expect_eq(out, r);
		vt_fill(r, &e.m, vt_data(&e.m), 4096);
		cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	}
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
}
