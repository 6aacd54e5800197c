/*
 * test_trace.c - VIPL_TRACE: programs run with it set log every VIPL call
 * as one line (function, arguments, descriptor summaries, the return code
 * by name); unset or "0", nothing is written.
 *
 * Programs: vipl_trace_prog beside this runner (a few calls, some failing)
 * and examples/pingpong ($VIPL_EXAMPLES_DIR, else ../examples).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include <criterion/criterion.h>

#include "util.h"

/* Built with -DVIPL_TRACE=OFF, there is no tracer to test. */
static void need_tracer(void)
{
#ifdef VIPL_NO_TRACE
	cr_skip_test("libvipl built without the tracer (VIPL_TRACE=OFF)");
#endif
}

TestSuite(trace, .init = need_tracer, .timeout = 120);

#define JOIN_S 90
#define LOG_MAX (1 << 20)

/* dir/prog: dir is env's value, else the runner's directory + rel. */
static bool prog_path(char *path, size_t len, const char *env,
		      const char *rel, const char *prog)
{
	const char *dir = getenv(env);
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir && *dir) {
		cr_assert_lt(snprintf(path, len, "%s/%s", dir, prog), (int)len);
		return true;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	cr_assert_lt(snprintf(path, len, "%s/%s%s", self, rel, prog), (int)len);
	return false;
}

static void temp_file(char *path, size_t len, const char *what)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(path, len, "%s/vipl-trace-%s-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp", what);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
}

/* Starts path with args, VIPL_TRACE set to trace (NULL: unset), its
 * stdout and stderr into out. */
static pid_t start(const char *path, const char *const *args,
		   const char *trace, const char *out)
{
	const char *argv[16];
	pid_t pid;
	int i;

	cr_assert_eq(access(path, X_OK), 0, "no program at %s", path);
	argv[0] = path;
	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (trace)
			setenv("VIPL_TRACE", trace, 1);
		else
			unsetenv("VIPL_TRACE");
		if (!freopen(out, "w", stdout) || dup2(1, 2) < 0)
			_exit(126);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = calloc(1, LOG_MAX);
	size_t n;

	cr_assert(f && buf, "cannot read %s", path);
	n = fread(buf, 1, LOG_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Whether some line of log matches the extended regular expression. */
static bool has_line(const char *log, const char *re)
{
	regex_t rx;
	bool found;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE),
		     0, "bad regex %s", re);
	found = regexec(&rx, log, 0, NULL, 0) == 0;
	regfree(&rx);
	return found;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (; (text = strstr(text, what)); text++)
		n++;
	return n;
}

#define EXPECT_LINE(log, re)                                                   \
	cr_expect(has_line(log, re), "no line matches %s in:\n%.4000s", re,    \
		  log)

/* Every line: "vipl[PID] SECONDS Function(args) = RESULT". */
#define LINE_RE "^vipl\\[[0-9]+\\] [0-9]+\\.[0-9]{6} "
#define HANDLE "0x[0-9a-f]+"

static int run_trace_prog(const char *trace, char **out)
{
	const char *args[] = { NULL };
	char path[PATH_MAX], outf[PATH_MAX];
	int st;

	prog_path(path, sizeof(path), "VIPL_TRACE_PROG_DIR", "",
		  "vipl_trace_prog");
	temp_file(outf, sizeof(outf), "out");
	st = vt_join(start(path, args, trace, outf), JOIN_S);
	*out = slurp(outf);
	unlink(outf);
	return st;
}

Test(trace, failing_calls_are_logged_with_their_error_name)
{
	char log[PATH_MAX], *out, *text;

	temp_file(log, sizeof(log), "log");
	cr_assert_eq(run_trace_prog(log, &out), 0, "trace_prog said:\n%s", out);
	text = slurp(log);
	unlink(log);
	EXPECT_LINE(text, LINE_RE "VipOpenNic\\(name=NULL, nic=" HANDLE
				  "\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipRegisterMem\\(nic=" HANDLE
				  ", addr=" HANDLE ", len=8192, attrs=NULL, "
				  "mh=" HANDLE "\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipPostRecv\\(vi=" HANDLE ", desc=" HANDLE
				  "\\{ctl=0x0 RECV segs=1 len=0 seg0=" HANDLE
				  "/" HANDLE "/2048\\}, mh=" HANDLE
				  "\\) = VIP_SUCCESS$");
	/* The send on an idle VI: summary, then the error by name. */
	EXPECT_LINE(text, LINE_RE "VipPostSend\\(vi=" HANDLE ", desc=" HANDLE
				  "\\{ctl=0x4 SEND\\|IMM segs=1 len=100 "
				  "imm=0xbeef seg0=" HANDLE "/" HANDLE
				  "/100\\}, mh=" HANDLE
				  "\\) = VIP_INVALID_STATE$");
	EXPECT_LINE(text, LINE_RE "VipDeregisterMem\\(nic=" HANDLE
				  ", addr=" HANDLE ", mh=" HANDLE
				  "\\) = VIP_INVALID_PARAMETER$");
	EXPECT_LINE(text, LINE_RE "VipRecvDone\\(vi=" HANDLE
				  ", desc=NULL\\) = VIP_NOT_DONE$");
	/* The same poll again is counted, not logged. */
	EXPECT_LINE(text, LINE_RE "\\(the call before returned VIP_NOT_DONE "
				  "4 more times\\)$");
	cr_expect_eq(count(text, ") = VIP_NOT_DONE\n"), 1,
		     "one poll line only:\n%s", text);
	EXPECT_LINE(text, LINE_RE "VipDestroyVi\\(vi=" HANDLE
				  "\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipCloseNic\\(nic=" HANDLE
				  "\\) = VIP_SUCCESS$");
	/* Nothing but whole lines, each a call. */
	cr_expect(!has_line(text, "^[^v]"), "stray text in:\n%s", text);
	cr_expect_not_null(strstr(out, "every call returned"));
	cr_expect_null(strstr(out, "vipl["), "a file trace wrote stderr");
	free(text);
	free(out);
}

/* What Done and Wait hand back: a flushed descriptor with its status by
 * name and VIP_DESCRIPTOR_ERROR; nothing, as NULL. */
Test(trace, errored_descriptors_show_their_status_and_empty_outputs_null)
{
	const char *env = getenv("VIPL_TEST_ADDR");
	char path[PATH_MAX], log[PATH_MAX], outf[PATH_MAX], *text, *out;
	const char *args[] = { "drain", env, NULL };
	int st;

	cr_assert(env && *env, "VIPL_TEST_ADDR not set (run in rxe-run)");
	prog_path(path, sizeof(path), "VIPL_TRACE_PROG_DIR", "",
		  "vipl_trace_prog");
	temp_file(log, sizeof(log), "log");
	temp_file(outf, sizeof(outf), "out");
	st = vt_join(start(path, args, log, outf), JOIN_S);
	out = slurp(outf);
	unlink(outf);
	cr_assert_eq(st, 0, "trace_prog drain said:\n%s", out);
	text = slurp(log);
	unlink(log);
	EXPECT_LINE(text, LINE_RE "VipRecvWait\\(vi=" HANDLE ", timeout=20, "
				  "desc=NULL\\) = VIP_TIMEOUT$");
	EXPECT_LINE(text, LINE_RE "VipCQDone\\(cq=" HANDLE ", vi=NULL, "
				  "recvq=\\?\\) = VIP_NOT_DONE$");
	cr_expect_eq(count(text, "{status=0x10021 RECV|FLUSHED len=0}) = "
				 "VIP_DESCRIPTOR_ERROR\n"),
		     3, "two here, one at the peer:\n%.4000s", text);
	EXPECT_LINE(text, LINE_RE "VipRecvDone\\(vi=" HANDLE ", desc=" HANDLE
				  "\\{status=0x10021 RECV\\|FLUSHED len=0\\}"
				  "\\) = VIP_DESCRIPTOR_ERROR$");
	EXPECT_LINE(text, LINE_RE "VipRecvDone\\(vi=" HANDLE
				  ", desc=NULL\\) = VIP_NOT_DONE$");
	free(text);
	free(out);
}

Test(trace, one_means_stderr)
{
	char *out;

	cr_assert_eq(run_trace_prog("1", &out), 0, "trace_prog said:\n%s", out);
	EXPECT_LINE(out, LINE_RE "VipOpenNic\\(name=NULL, nic=" HANDLE
				 "\\) = VIP_SUCCESS$");
	EXPECT_LINE(out, LINE_RE "VipPostSend\\(.*\\) = VIP_INVALID_STATE$");
	free(out);
}

Test(trace, unset_or_zero_writes_nothing)
{
	char log[PATH_MAX], *out;
	struct stat st;

	cr_assert_eq(run_trace_prog(NULL, &out), 0, "trace_prog said:\n%s",
		     out);
	cr_expect_null(strstr(out, "vipl["), "unset, yet it said:\n%s", out);
	free(out);
	cr_assert_eq(run_trace_prog("0", &out), 0);
	cr_expect_null(strstr(out, "vipl["), "0, yet it said:\n%s", out);
	free(out);
	/* A log file named nowhere stays empty: the library writes only
	 * where VIPL_TRACE says. */
	temp_file(log, sizeof(log), "log");
	cr_assert_eq(run_trace_prog("", &out), 0);
	cr_expect_null(strstr(out, "vipl["));
	cr_assert_eq(stat(log, &st), 0);
	cr_expect_eq(st.st_size, 0);
	unlink(log);
	free(out);
}

Test(trace, pingpong_both_processes_append_to_one_log)
{
	char addr[INET6_ADDRSTRLEN], path[PATH_MAX], log[PATH_MAX];
	char sout[PATH_MAX], cout[PATH_MAX], *text, *o;
	const char *env = getenv("VIPL_TEST_ADDR");
	const char *server[] = { "-s", "-a", addr, "-M", "64", "-n", "3",
				 "-w", "1", "-e", NULL };
	const char *client[] = { "-c", addr, "-M", "64", "-n", "3", "-w", "1",
				 "-e", NULL };
	pid_t s, c;
	int cs, ss;

	if (!prog_path(path, sizeof(path), "VIPL_EXAMPLES_DIR", "../examples/",
		       "pingpong") &&
	    access(path, X_OK))
		cr_skip_test("%s not built (set VIPL_EXAMPLES_DIR)", path);
	cr_assert(env && *env, "VIPL_TEST_ADDR not set (run in rxe-run)");
	snprintf(addr, sizeof(addr), "%s", env);
	temp_file(log, sizeof(log), "log");
	temp_file(sout, sizeof(sout), "sout");
	temp_file(cout, sizeof(cout), "cout");
	s = start(path, server, log, sout);
	c = start(path, client, log, cout);
	cs = vt_join(c, JOIN_S);
	ss = vt_join(s, JOIN_S);
	o = slurp(cout);
	cr_expect_eq(cs, 0, "client said:\n%s", o);
	free(o);
	o = slurp(sout);
	cr_expect_eq(ss, 0, "server said:\n%s", o);
	free(o);
	unlink(sout);
	unlink(cout);
	text = slurp(log);
	unlink(log);
	EXPECT_LINE(text, LINE_RE "VipConnectWait\\(nic=" HANDLE
				  ", local=\\{[0-9.]+ \"pingpong\"\\}, "
				  "timeout=30000, remote=\\{[0-9.]+ "
				  "\"pingpong\"\\}, remote_attrs=\\{level=0x2 "
				  "mts=64 .*\\}, conn=" HANDLE
				  "\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipConnectRequest\\(vi=" HANDLE ", .*\\) = "
				  "VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipPostSend\\(vi=" HANDLE ", desc=" HANDLE
				  "\\{ctl=0x0 SEND segs=1 len=64 seg0=" HANDLE
				  "/" HANDLE "/64\\}, mh=" HANDLE
				  "\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipRecvWait\\(vi=" HANDLE ", timeout=30000, "
				  "desc=" HANDLE "\\{status=0x10001 RECV "
				  "len=64\\}\\) = VIP_SUCCESS$");
	EXPECT_LINE(text, LINE_RE "VipSendWait\\(vi=" HANDLE ", timeout=30000, "
				  "desc=" HANDLE "\\{status=0x1 SEND len=64\\}"
				  "\\) = VIP_SUCCESS$");
	/* Two processes wrote whole lines into one file. */
	cr_expect(!has_line(text, "^[^v]"), "torn lines in:\n%s", text);
	cr_expect_eq(count(text, ") VipOpenNic("), 0);
	cr_expect_eq(count(text, " VipOpenNic(name=NULL"), 2,
		     "one VipOpenNic per process in:\n%.4000s", text);
	free(text);
}
