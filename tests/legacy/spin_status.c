/*
 * spin_status.c - programs that spin on CS.Status & VIP_STATUS_DONE in
 * their own memory, as they did when a VIA NIC wrote it by DMA, with no
 * setting (VIPL_PROGRESS unset): libvipl's watcher finds the queues they
 * leave unpolled and writes the statuses (vipl/progress.c).
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

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

/* ------------------------------------------------------------------ */
/* A queue the watcher serves, while the program streams on it        */
/* ------------------------------------------------------------------ */

#define STREAM 4000 /* messages */
#define STREAM_LEN 16384
#define STREAM_RECVS 48 /* and a descriptor for credits: 64 slots */
#define STREAM_WINDOW 32 /* sends outstanding */
#define CREDIT 16 /* receives reposted per credit message */
#define CREDIT_RECVS 8 /* the client's receives for them */

/* Takes STREAM messages, reposting each receive as it polls it in
 * (VipRecvDone, busily), and says so every CREDIT of them: over iWARP a
 * send that finds no receive ends the connection (no RNR retry), so the
 * client sends only what it has credit for. Then waits for the
 * disconnect. */
static int sink_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *d, *credit;
	struct vt_end e;
	int i;

	va.MaxTransferSize = STREAM_LEN;
	VT_CHECK(vt_end_open(&e, STREAM_RECVS * STREAM_LEN + 64, &va) ==
		 VIP_SUCCESS);
	for (i = 0; i < STREAM_RECVS; i++) {
		vt_fill(vt_desc(&e.m, i), &e.m,
			vt_data(&e.m) + i * STREAM_LEN, STREAM_LEN);
		VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, i), e.m.mh) ==
			 VIP_SUCCESS);
	}
	credit = vt_desc(&e.m, STREAM_RECVS);
	VT_CHECK(vt_accept(e.nic, arg, e.vi) == VIP_SUCCESS);
	for (i = 1; i <= STREAM; i++) {
		VIP_RETURN r;

		while ((r = VipRecvDone(e.vi, &d)) == VIP_NOT_DONE)
			;
		VT_CHECK(r == VIP_SUCCESS);
		vt_fill(d, &e.m, d->DS[0].Local.Data.Address, STREAM_LEN);
		VT_CHECK(VipPostRecv(e.vi, d, e.m.mh) == VIP_SUCCESS);
		if (i % CREDIT)
			continue;
		vt_fill(credit, &e.m, vt_data(&e.m) + STREAM_RECVS * STREAM_LEN,
			4);
		VT_CHECK(VipPostSend(e.vi, credit, e.m.mh) == VIP_SUCCESS);
		while ((r = VipSendDone(e.vi, &d)) == VIP_NOT_DONE)
			;
		VT_CHECK(r == VIP_SUCCESS);
	}
	/* The client's disconnect flushes what is left. */
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_DESCRIPTOR_ERROR);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* CPU seconds of this process's thread named name (vipl/progress.c names
 * the watcher), or -1 if there is none. */
static double thread_cpu_s(const char *name)
{
	char path[300], buf[512];
	struct dirent *de;
	double s = -1;
	DIR *d = opendir("/proc/self/task");
	FILE *f;

	while (d && s < 0 && (de = readdir(d))) {
		unsigned long ut, st;
		char *p;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
		/* pid (comm) state ...: utime and stime are fields 14, 15 */
		p = strchr(buf, '(');
		if (!p || strncmp(p + 1, name, strlen(name)) ||
		    p[1 + strlen(name)] != ')')
			continue;
		p = strrchr(buf, ')');
		if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				  "%lu %lu", &ut, &st) == 2)
			s = (double)(ut + st) / sysconf(_SC_CLK_TCK);
	}
	if (d)
		closedir(d);
	return s;
}

/*
 * The watcher takes over a send queue the program left unpolled once (a
 * send completed and not taken), then the program streams on it, posting
 * and polling VipSendDone itself. A post holds the queue's lock across
 * the provider's post (a system call on rxe): a watcher that waits for
 * that lock spins on a CPU the program and the device need (that halved
 * bw_send over rxe). It must leave a held lock alone and sleep.
 */
Test(legacy, the_watcher_does_not_spin_on_a_queue_the_program_streams_on,
     .timeout = 120)
{
	pid_t srv = vt_spawn(sink_server, "spin-stream");
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct timespec unpolled = { 0, 60 * 1000 * 1000 };
	double cpu, wall;
	VIP_DESCRIPTOR *d;
	struct vt_end e;
	int posted, done, credits, i;

	unsetenv("VIPL_PROGRESS");
	va.MaxTransferSize = STREAM_LEN;
	cr_assert_eq(vt_end_open(&e, STREAM_WINDOW * STREAM_LEN +
					     CREDIT_RECVS * 64,
				 &va),
		     VIP_SUCCESS);
	for (i = 0; i < STREAM_WINDOW; i++)
		vt_fill(vt_desc(&e.m, i), &e.m,
			vt_data(&e.m) + i * STREAM_LEN, STREAM_LEN);
	for (i = 0; i < CREDIT_RECVS; i++) {
		d = vt_desc(&e.m, STREAM_WINDOW + i);
		vt_fill(d, &e.m,
			vt_data(&e.m) + STREAM_WINDOW * STREAM_LEN + i * 64, 64);
		cr_assert_eq(VipPostRecv(e.vi, d, e.m.mh), VIP_SUCCESS);
	}
	cr_assert_eq(vt_request(e.nic, e.vi, NULL, "spin-stream"),
		     VIP_SUCCESS);
	/* Left unpolled: the watcher completes it and serves the queue. */
	cr_assert_eq(VipPostSend(e.vi, vt_desc_at(&e.m, 0), e.m.mh),
		     VIP_SUCCESS);
	cr_assert(spin_until_done(vt_desc_at(&e.m, 0), 10),
		  "the watcher did not complete an unpolled send");
	nanosleep(&unpolled, NULL);
	cr_assert_eq(VipSendDone(e.vi, &d), VIP_SUCCESS);
	cpu = thread_cpu_s("vipl-watch");
	cr_assert_geq(cpu, 0, "no thread named vipl-watch");
	wall = now_s();
	for (posted = 1, done = 1, credits = STREAM_RECVS; done < STREAM;) {
		if (VipRecvDone(e.vi, &d) == VIP_SUCCESS) {
			credits += CREDIT;
			cr_assert_eq(VipPostRecv(e.vi, d, e.m.mh), VIP_SUCCESS);
		}
		if (posted < STREAM && posted - done < STREAM_WINDOW &&
		    posted < credits) {
			d = vt_desc_at(&e.m, posted % STREAM_WINDOW);
			cr_assert_eq(VipPostSend(e.vi, d, e.m.mh), VIP_SUCCESS);
			posted++;
		} else {
			VIP_RETURN r = VipSendDone(e.vi, &d);

			if (r == VIP_NOT_DONE)
				continue;
			cr_assert_eq(r, VIP_SUCCESS, "send %d: Status 0x%x",
				     done, d ? d->CS.Status : 0);
			done++;
		}
	}
	wall = now_s() - wall;
	cpu = thread_cpu_s("vipl-watch") - cpu;
	cr_log_info("watcher: %.3f s of CPU over %d sends in %.2f s", cpu,
		    STREAM - 1, wall);
	/* Asleep but for its wake-ups, it takes a few per cent (10 % over
	 * siw, whose completions come from a kernel thread); spinning, 40 %. */
	cr_expect_lt(cpu, 0.25 * wall + 0.02,
		     "the watcher took %.3f s of CPU in %.2f s", cpu, wall);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}
