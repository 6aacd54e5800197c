/*
 * test_compat.c - the dialect programs of tests/compat, written as VIA-era
 * code of each header dialect, run as two processes (server and client)
 * over the device: each must exchange its data and check it.
 *
 * The binaries are in $VIPL_COMPAT_DIR, else beside this runner
 * (build/tests); their stdout is checked, their stderr shown when one
 * fails.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "procs.h"
#include "util.h"

TestSuite(compat, .timeout = 120);

static void compat_path(char *path, size_t len, const char *prog)
{
	vt_prog_path(path, len, "VIPL_COMPAT_DIR", ".", prog);
}

static void run_pair(const char *prog, const char *disc, const char *server_says,
		     const char *client_says)
{
	char addr[INET6_ADDRSTRLEN], path[PATH_MAX], *sout, *cout;
	const char *sargs[] = { "server", addr, disc, NULL };
	const char *cargs[] = { "client", addr, disc, NULL };
	struct vt_proc s, c;
	int sst, cst;

	compat_path(path, sizeof(path), prog);
	vt_device_addr(addr, sizeof(addr));
	vt_proc_start(&s, path, sargs);
	vt_proc_start(&c, path, cargs);
	cst = vt_proc_finish(&c, "client", &cout);
	sst = vt_proc_finish(&s, "server", &sout);
	cr_expect_eq(cst, 0, "%s client exited %d:\n%s", prog, cst, cout);
	cr_expect_eq(sst, 0, "%s server exited %d:\n%s", prog, sst, sout);
	cr_expect_not_null(strstr(sout, server_says), "%s server said:\n%s",
			   prog, sout);
	cr_expect_not_null(strstr(cout, client_says), "%s client said:\n%s",
			   prog, cout);
	free(sout);
	free(cout);
}

Test(compat, giganet_dialect_program_sends_and_checks_every_message)
{
	run_pair("dialect_giganet", "t-giganet",
		 "giganet server: 8 messages, 34236 bytes checked, 0 bad",
		 "giganet client: sent 8 messages, server: 8 messages, "
		 "34236 bytes checked");
}

Test(compat, intel_dialect_program_rdma_writes_a_cs_next_chain)
{
	run_pair("dialect_intel", "t-intel",
		 "intel server: 12288 bytes written by RDMA, 0 wrong",
		 "intel client: 3 RDMA writes chained by CS.Next, server: "
		 "12288 bytes written by RDMA, 0 wrong");
}

Test(compat, dialect_programs_without_a_role_exit_64)
{
	char path[PATH_MAX], cmd[PATH_MAX + 32];
	int st;

	compat_path(path, sizeof(path), "dialect_giganet");
	snprintf(cmd, sizeof(cmd), "'%s' 2>/dev/null", path);
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 64, "giganet: %d", st);
	compat_path(path, sizeof(path), "dialect_intel");
	snprintf(cmd, sizeof(cmd), "'%s' server 2>/dev/null", path);
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 64, "intel: %d", st);
}
