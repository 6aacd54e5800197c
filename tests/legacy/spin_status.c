/*
 * spin_status.c - programs that spin on CS.Status & VIP_STATUS_DONE in
 * their own memory, as they did when a VIA NIC wrote it by DMA, with no
 * setting (VIPL_PROGRESS unset): libvipl's watcher finds the queues they
 * leave unpolled and writes the statuses (vipl/progress.c).
 */
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <criterion/criterion.h>

#include "echo.h"

#define ROUNDS 40

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool spin_until_done(volatile VIP_DESCRIPTOR *d, int seconds)
{
	double t0 = now_s();

	while (!(d->CS.Status & VIP_STATUS_DONE))
		if (now_s() - t0 > seconds)
			return false;
	return true;
}

/* Round trips through an echo server, spinning on both statuses. With
 * dequeue, the program calls Done once it saw DONE (some did); without,
 * it reposts the same descriptors and never calls into the library but
 * to post. Returns the mean round trip in microseconds. */
static double spin_rounds(const char *disc, bool dequeue)
{
	struct echo_args a = { .disc = disc, .count = ROUNDS,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t srv = vt_spawn(echo_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *s, *out;
	double t0 = 0, us;
	struct vt_end e;
	int round;

	unsetenv("VIPL_PROGRESS");
	cr_assert_eq(vt_end_open(&e, 8192, &va), VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	s = vt_desc(&e.m, 1);
	vt_fill(r, &e.m, vt_data(&e.m), 4096);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, disc), VIP_SUCCESS);
	for (round = 0; round < ROUNDS; round++) {
		if (round == 1)
			t0 = now_s(); /* the first round finds the queues */
		memset(vt_data(&e.m) + 4096, 'a' + round % 26, 100);
		vt_fill(s, &e.m, vt_data(&e.m) + 4096, 100);
		cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
		cr_assert(spin_until_done(s, 10), "send %d never completed",
			  round);
		cr_assert(spin_until_done(r, 10), "receive %d never completed",
			  round);
		cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
		cr_expect_eq(r->CS.Status,
			     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
		cr_expect_eq(r->CS.Length, 100);
		cr_expect_eq(vt_data(&e.m)[99], 'a' + round % 26);
		if (dequeue) {
			cr_assert_eq(VipSendDone(e.vi, &out), VIP_SUCCESS);
			cr_expect_eq(out, s);
			cr_assert_eq(VipRecvDone(e.vi, &out), VIP_SUCCESS);
			cr_expect_eq(out, r);
		}
		vt_fill(r, &e.m, vt_data(&e.m), 4096);
		cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	}
	us = (now_s() - t0) * 1e6 / (ROUNDS - 1);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
	return us;
}

Test(legacy, a_program_spinning_on_status_completes_with_no_setting,
     .timeout = 90)
{
	double us = spin_rounds("spin-deq", true);

	cr_log_info("spinning, dequeuing after DONE: %.0f us a round trip",
		    us);
}

Test(legacy, a_program_that_never_calls_done_completes_with_no_setting,
     .timeout = 90)
{
	double us = spin_rounds("spin-never", false);

	cr_log_info("spinning, never calling Done: %.0f us a round trip", us);
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The watcher must not cost a core while a program waits: receives
 * outstanding, nothing arriving, the program asleep. */
Test(legacy, the_watcher_costs_no_core_while_nothing_arrives,
     .timeout = 60)
{
	struct echo_args a = { .disc = "spin-idle", .count = 0,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t srv = vt_spawn(echo_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct vt_end e;
	double cpu, wall;
	int i;

	unsetenv("VIPL_PROGRESS");
	cr_assert_eq(vt_end_open(&e, 8 * 1024, &va), VIP_SUCCESS);
	for (i = 0; i < 8; i++) {
		vt_fill(vt_desc(&e.m, i), &e.m, vt_data(&e.m) + i * 1024, 1024);
		cr_assert_eq(VipPostRecv(e.vi, vt_desc(&e.m, i), e.m.mh),
			     VIP_SUCCESS);
	}
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, "spin-idle"), VIP_SUCCESS);
	cpu = cpu_s();
	wall = now_s();
	sleep(2);
	cpu = cpu_s() - cpu;
	wall = now_s() - wall;
	cr_log_info("idle: %.3f s of CPU in %.2f s", cpu, wall);
	/* A core would be about wall; a wake-up every 10 ms is far less. */
	cr_expect_lt(cpu, 0.15 * wall, "%.3f s of CPU in %.2f s asleep", cpu,
		     wall);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0);
}
