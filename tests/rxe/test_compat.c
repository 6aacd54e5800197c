/*
 * test_compat.c - the dialect programs of tests/compat, written as VIA-era
 * code of each header dialect, run as two processes (server and client)
 * over the device: each must exchange its data and check it.
 *
 * The binaries are in $VIPL_COMPAT_DIR, else beside this runner
 * (build/tests).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(compat, .timeout = 120);

#define JOIN_S 90
#define OUT_MAX (1 << 16)

struct role {
	pid_t pid;
	char out[PATH_MAX]; /* stdout and stderr */
};

static void prog_path(char *path, size_t len, const char *prog)
{
	const char *env = getenv("VIPL_COMPAT_DIR");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		cr_assert_lt(snprintf(path, len, "%s/%s", env, prog), (int)len);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	cr_assert_lt(snprintf(path, len, "%s/%s", self, prog), (int)len);
}

/* $VIPL_TEST_ADDR, else the NIC's own address. */
static void device_addr(char *addr, size_t len)
{
	const char *env = getenv("VIPL_TEST_ADDR");
	VIP_NIC_ATTRIBUTES na;
	VIP_NIC_HANDLE nic;

	if (env && *env) {
		cr_assert_lt(snprintf(addr, len, "%s", env), (int)len);
		return;
	}
	nic = vt_open_nic();
	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_assert_not_null(inet_ntop(na.NicAddressLen == 16 ? AF_INET6
							    : AF_INET,
				     na.LocalNicAddress, addr, len));
	VipCloseNic(nic);
}

static void start(struct role *r, const char *prog, const char *role,
		  const char *addr, const char *disc)
{
	char path[PATH_MAX];
	const char *tmp = getenv("TMPDIR");
	int fd;

	prog_path(path, sizeof(path), prog);
	cr_assert_eq(access(path, X_OK), 0, "no program at %s", path);
	snprintf(r->out, sizeof(r->out), "%s/vipl-compat-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(r->out);
	cr_assert_geq(fd, 0);
	fflush(NULL);
	r->pid = fork();
	cr_assert_geq(r->pid, 0);
	if (r->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 1);
		dup2(fd, 2);
		execl(path, path, role, addr, disc, (char *)NULL);
		_exit(127);
	}
	close(fd);
}

/* Waits (bounded) for the role; returns its exit status (-1: killed or
 * timed out) and its output (free() it). */
static int finish(struct role *r, char **out)
{
	int status = vt_join(r->pid, JOIN_S);
	FILE *f = fopen(r->out, "r");
	size_t n;

	*out = calloc(1, OUT_MAX);
	cr_assert(f && *out);
	n = fread(*out, 1, OUT_MAX - 1, f);
	(*out)[n] = '\0';
	fclose(f);
	unlink(r->out);
	return status;
}

static void run_pair(const char *prog, const char *disc, const char *server_says,
		     const char *client_says)
{
	char addr[INET6_ADDRSTRLEN], *sout, *cout;
	struct role s, c;
	int sst, cst;

	device_addr(addr, sizeof(addr));
	start(&s, prog, "server", addr, disc);
	start(&c, prog, "client", addr, disc);
	cst = finish(&c, &cout);
	sst = finish(&s, &sout);
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

	prog_path(path, sizeof(path), "dialect_giganet");
	snprintf(cmd, sizeof(cmd), "'%s' 2>/dev/null", path);
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 64, "giganet: %d", st);
	prog_path(path, sizeof(path), "dialect_intel");
	snprintf(cmd, sizeof(cmd), "'%s' server 2>/dev/null", path);
	st = system(cmd);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 64, "intel: %d", st);
}
