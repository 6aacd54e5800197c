/* procs.c - running the project's programs as a user would (procs.h). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "procs.h"
#include "util.h"

#define JOIN_S 90
#define MAX_ARGS 24
#define OUT_MAX (1 << 16)

void vt_prog_path(char *path, size_t len, const char *env, const char *dir,
		  const char *prog)
{
	const char *given = getenv(env);
	char self[PATH_MAX];
	ssize_t n;
	char *slash;
	int w;

	if (given && *given) {
		w = snprintf(path, len, "%s/%s", given, prog);
		cr_assert_lt(w, (int)len, "path too long");
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0, "cannot find the test runner");
	self[n] = '\0';
	slash = strrchr(self, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	w = snprintf(path, len, "%s/%s/%s", self, dir, prog);
	cr_assert_lt(w, (int)len, "path too long");
	if (access(path, X_OK))
		cr_skip_test("%s not built (set %s)", path, env);
}

void vt_device_addr(char *addr, size_t len)
{
	const char *env = getenv("VIPL_TEST_ADDR");
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES na;
	int af;

	if (env && *env) {
		cr_assert_lt(snprintf(addr, len, "%s", env), (int)len);
		return;
	}
	nic = vt_open_nic();
	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	af = na.NicAddressLen == 16 ? AF_INET6 : AF_INET;
	cr_assert_not_null(inet_ntop(af, na.LocalNicAddress, addr, len));
	VipCloseNic(nic);
}

static void temp_file(char *path, size_t len, const char *what)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	cr_assert_lt(snprintf(path, len, "%s/vipl-%s-XXXXXX",
			      tmp && *tmp ? tmp : "/tmp", what),
		     (int)len);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp %s", path);
	close(fd);
}

void vt_proc_start(struct vt_proc *p, const char *path,
		   const char *const *args)
{
	const char *argv[MAX_ARGS];
	int i;

	cr_assert_eq(access(path, X_OK), 0, "no program at %s", path);
	argv[0] = path;
	for (i = 0; args[i] && i < MAX_ARGS - 2; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	temp_file(p->out, sizeof(p->out), "out");
	temp_file(p->err, sizeof(p->err), "err");
	fflush(NULL);
	p->pid = fork();
	cr_assert_geq(p->pid, 0);
	if (p->pid == 0) {
		/* Nothing outlives a test that timed out. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!freopen(p->out, "w", stdout) ||
		    !freopen(p->err, "w", stderr))
			_exit(126);
		execv(path, (char *const *)argv);
		_exit(127);
	}
}

/* The whole of a file, NUL-terminated, then removed; free() it. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, OUT_MAX);
	size_t n = 0;

	cr_assert(f && buf);
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(path);
	return buf;
}

int vt_proc_finish(struct vt_proc *p, const char *name, char **out)
{
	int status = vt_join(p->pid, JOIN_S);
	char *err = slurp(p->err);

	*out = slurp(p->out);
	/* On stderr, not cr_log_error: an error or warning logged makes
	 * Criterion's exit status 1 though every test passed, and some
	 * tests expect a program to fail. */
	if (status)
		fprintf(stderr, "%s exited %d; stdout:\n%s\nstderr:\n%s\n",
			name, status, *out, err);
	free(err);
	return status;
}
