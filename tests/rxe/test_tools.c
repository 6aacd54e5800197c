/*
 * test_tools.c - the perftest-style tools (vipl_send_lat, vipl_write_lat,
 * vipl_send_bw, vipl_write_bw) run over the device as a user runs
 * ib_send_lat: a server with no host, a client given the server's.
 *
 * The binaries are $VIPL_TOOLS_DIR/<tool> (an installed copy), else
 * ../tools/perf next to this runner (build/tests -> build/tools/perf).
 * Each test uses its own port, so a server left by a failed one is no
 * partner for the next.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "procs.h"
#include "util.h"

TestSuite(tools, .timeout = 180);

static void tool(char *path, size_t len, const char *name)
{
	vt_prog_path(path, len, "VIPL_TOOLS_DIR", "../tools/perf", name);
}

/* Server and client of name, each with its args (NULL-terminated, the
 * client's host added); their exit codes and outputs. */
struct run {
	int srv_rc, cli_rc;
	char *srv, *cli;
};

static struct run run_path(const char *path, const char *const *srv_args,
			   const char *const *cli_args)
{
	char addr[INET6_ADDRSTRLEN];
	const char *args[24];
	struct vt_proc s, c;
	struct run r;
	int i;

	vt_device_addr(addr, sizeof(addr));
	for (i = 0; cli_args[i] && i < 22; i++)
		args[i] = cli_args[i];
	args[i++] = addr;
	args[i] = NULL;
	vt_proc_start(&s, path, srv_args);
	vt_proc_start(&c, path, args);
	r.cli_rc = vt_proc_finish(&c, "client", &r.cli);
	r.srv_rc = vt_proc_finish(&s, "server", &r.srv);
	return r;
}

static struct run run_pair(const char *name, const char *const *srv_args,
			   const char *const *cli_args)
{
	char path[PATH_MAX];

	tool(path, sizeof(path), name);
	return run_path(path, srv_args, cli_args);
}

static void run_free(struct run *r)
{
	free(r->srv);
	free(r->cli);
}

/* The table's data lines: those that start with a number. */
static int data_lines(char *out, char **lines, int most)
{
	char *line, *save;
	int n = 0;

	for (line = strtok_r(out, "\n", &save); line && n < most;
	     line = strtok_r(NULL, "\n", &save)) {
		unsigned long v;

		if (sscanf(line, " %lu", &v) == 1)
			lines[n++] = line;
	}
	return n;
}

/* A latency tool: one line for size, iters samples, the statistics in
 * order (min <= typical <= max, min <= avg <= max, 99% <= 99.9% <= max). */
static void expect_lat(const char *name, const char *size, const char *port)
{
	const char *srv[] = { "-s", size, "-n", "50", "-p", port, NULL };
	struct run r = run_pair(name, srv, srv);
	double min, max, typ, avg, sd, p99, p999;
	unsigned long bytes, iters;
	char *lines[4];

	cr_expect_eq(r.cli_rc, 0, "%s client:\n%s", name, r.cli);
	cr_expect_eq(r.srv_rc, 0, "%s server:\n%s", name, r.srv);
	cr_expect_not_null(strstr(r.srv, "waiting for a client"), "%s",
			   r.srv);
	cr_expect_not_null(strstr(r.cli, "t_typical[usec]"), "%s", r.cli);
	cr_assert_eq(data_lines(r.cli, lines, 4), 1);
	cr_assert_eq(sscanf(lines[0], "%lu %lu %lf %lf %lf %lf %lf %lf %lf",
			    &bytes, &iters, &min, &max, &typ, &avg, &sd, &p99,
			    &p999),
		     9, "%s", lines[0]);
	cr_expect_eq(bytes, strtoul(size, NULL, 0));
	cr_expect_eq(iters, 50);
	cr_expect(min > 0 && min <= typ && typ <= max, "%s", lines[0]);
	cr_expect(min <= avg && avg <= max && sd >= 0, "%s", lines[0]);
	cr_expect(p99 <= p999 && p999 <= max, "%s", lines[0]);
	run_free(&r);
}

static void expect_bw(const char *name, const char *port)
{
	const char *srv[] = { "-s", "4096", "-n", "64", "-t", "16", "-p",
			      port, NULL };
	struct run r = run_pair(name, srv, srv);
	unsigned long bytes, iters;
	double mbs, mpps;
	char *lines[4];

	cr_expect_eq(r.cli_rc, 0, "%s client:\n%s", name, r.cli);
	cr_expect_eq(r.srv_rc, 0, "%s server:\n%s", name, r.srv);
	cr_expect_not_null(strstr(r.cli, "BW average[MB/sec]"), "%s", r.cli);
	cr_assert_eq(data_lines(r.cli, lines, 4), 1);
	cr_assert_eq(sscanf(lines[0], "%lu %lu %lf %lf", &bytes, &iters, &mbs,
			    &mpps),
		     4, "%s", lines[0]);
	cr_expect_eq(bytes, 4096);
	cr_expect_eq(iters, 64);
	cr_expect(mbs > 0 && mpps > 0, "%s", lines[0]);
	/* Both from the same elapsed time: MB/s = Mpps * size / 2^20. */
	cr_expect(mbs / (mpps * 1e6 * 4096 / 1048576.0) > 0.99 &&
			  mbs / (mpps * 1e6 * 4096 / 1048576.0) < 1.01,
		  "%s", lines[0]);
	run_free(&r);
}

Test(tools, send_lat_prints_perftests_latency_table)
{
	expect_lat("vipl_send_lat", "64", "18601");
}

Test(tools, write_lat_prints_perftests_latency_table)
{
	expect_lat("vipl_write_lat", "1024", "18602");
}

Test(tools, send_bw_prints_perftests_bandwidth_table)
{
	expect_bw("vipl_send_bw", "18603");
}

Test(tools, write_bw_prints_perftests_bandwidth_table)
{
	expect_bw("vipl_write_bw", "18604");
}

/* -a: every size from 2 to 8 MiB, doubling; --report: CSV. */
Test(tools, all_sizes_as_csv_with_report)
{
	const char *args[] = { "-a", "-n", "3", "--report", "-p", "18605",
			       NULL };
	struct run r = run_pair("vipl_write_lat", args, args);
	unsigned long size = 2, got, iters;
	char *line, *save, test[32];
	int lines = 0;

	cr_expect_eq(r.cli_rc, 0, "client:\n%s", r.cli);
	cr_expect_eq(r.srv_rc, 0, "server:\n%s", r.srv);
	cr_expect_eq(strncmp(r.cli, "impl,test,size,iters,", 21), 0, "%s",
		     r.cli);
	for (line = strtok_r(r.cli, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (sscanf(line, "vipl_write_lat,%31[^,],%lu,%lu,", test, &got,
			   &iters) != 3)
			continue;
		cr_expect_str_eq(test, "lat_write");
		cr_expect_eq(got, size, "size %lu, want %lu", got, size);
		cr_expect_eq(iters, 3);
		size *= 2;
		lines++;
	}
	cr_expect_eq(lines, 23, "sizes 2 to 8388608: %d lines", lines);
	run_free(&r);
}

/* -e: the same ping-pong, sleeping in VipRecvWait and VipSendWait. */
Test(tools, send_lat_with_events_waits)
{
	const char *args[] = { "-e", "-n", "20", "-p", "18606", NULL };
	struct run r = run_pair("vipl_send_lat", args, args);
	char *lines[4];

	cr_expect_eq(r.cli_rc, 0, "client:\n%s", r.cli);
	cr_expect_eq(r.srv_rc, 0, "server:\n%s", r.srv);
	cr_expect_not_null(strstr(r.cli, "waiting in Wait"), "%s", r.cli);
	cr_expect_eq(data_lines(r.cli, lines, 4), 1, "%s", r.cli);
	run_free(&r);
}

/* Server and client must run the same schedule: both say so and fail,
 * rather than wait for messages that never come. */
Test(tools, different_sizes_on_the_two_sides_fail_with_a_message)
{
	const char *srv[] = { "-s", "64", "-n", "10", "-p", "18607", NULL };
	const char *cli[] = { "-s", "32", "-n", "10", "-p", "18607", NULL };
	struct run r = run_pair("vipl_send_bw", srv, cli);

	cr_expect_neq(r.cli_rc, 0);
	cr_expect_neq(r.srv_rc, 0);
	run_free(&r);
}

/* Bad options end at once with the usage, exit code 2. */
Test(tools, a_bad_option_is_refused_with_the_usage)
{
	static const char *const bad[][3] = {
		{ "-s", "0", NULL },	 { "-n", "x", NULL },
		{ "-t", "100000", NULL }, { "--nope", NULL, NULL },
		{ "a", "b", NULL },
	};
	char path[PATH_MAX], *out;
	struct vt_proc p;
	unsigned int i;

	tool(path, sizeof(path), "vipl_send_bw");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		vt_proc_start(&p, path, bad[i]);
		cr_expect_eq(vt_proc_finish(&p, "vipl_send_bw", &out), 2,
			     "%s %s", bad[i][0], bad[i][1] ? bad[i][1] : "");
		free(out);
	}
}

/* -d names the device: one that is not there is an error, at once.
 * (VIPL_DEVICE, which the harness sets, would win over -d.) */
Test(tools, an_unknown_device_is_an_error)
{
	const char *args[] = { "-d", "no_such_dev", "-p", "18608", NULL };
	char path[PATH_MAX], *out;
	struct vt_proc p;

	tool(path, sizeof(path), "vipl_send_lat");
	unsetenv("VIPL_DEVICE");
	vt_proc_start(&p, path, args);
	cr_expect_eq(vt_proc_finish(&p, "vipl_send_lat", &out), 1);
	free(out);
}

/* What the vipl-utils package installed runs too (scripts/test.sh
 * installs the packages and sets VIPL_DEB_BIN). */
Test(tools, the_packaged_tools_run_over_the_device)
{
	static const char *const names[] = { "vipl_send_lat", "vipl_write_lat",
					     "vipl_send_bw", "vipl_write_bw" };
	const char *args[] = { "-s", "512", "-n", "10", "-p", "18609", NULL };
	char path[PATH_MAX];
	struct run r;
	unsigned int i;

	if (!getenv("VIPL_DEB_BIN"))
		cr_skip_test("VIPL_DEB_BIN not set (scripts/test.sh sets it)");
	for (i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "/usr/bin/%s", names[i]);
		r = run_path(path, args, args);
		cr_expect_eq(r.cli_rc, 0, "%s client:\n%s", path, r.cli);
		cr_expect_eq(r.srv_rc, 0, "%s server:\n%s", path, r.srv);
		cr_expect_not_null(strstr(r.cli, "over libvipl"), "%s", r.cli);
		run_free(&r);
	}
}
