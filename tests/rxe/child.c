/*
 * child.c - the device tests' child processes (vt_spawn, vt_join), and
 * what a child says when it is given up on.
 *
 * A child that never finishes is otherwise silent: its test fails on the
 * parent's side (a connection refused, a join timed out) and says nothing
 * of where the child was. So a child is told, by SIGUSR1, when its test
 * process ends first (PR_SET_PDEATHSIG) or when vt_join's time is up; it
 * then prints its own stack and every thread's stack and system call, and
 * exits with VT_CHILD_STUCK. A child that crashes prints its stack too.
 * Lines start with "vt_child <pid>:"; resolve the addresses with
 * addr2line on the same build.
 */
#include <dirent.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static atomic_int dumping;

static pid_t tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

/* Async-signal-safe output: write(2) of a string, and of a number. */
static void say(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));

	(void)r;
}

static void say_num(long v)
{
	char buf[24], *p = buf + sizeof(buf);

	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v && p > buf);
	say(p);
}

static void say_head(void)
{
	say("vt_child ");
	say_num(getpid());
	say(": ");
}

static void say_stack(void)
{
	void *frames[32];
	int n = backtrace(frames, 32);

	backtrace_symbols_fd(frames, n, STDERR_FILENO);
}

/* A thread's name and system call (number, arguments, sp, pc), or
 * "running". */
static void say_task(const char *t)
{
	static const char *files[] = { "comm", "syscall" };
	char path[64], buf[256];
	unsigned i;

	for (i = 0; i < 2; i++) {
		ssize_t n;
		int fd;

		snprintf(path, sizeof(path), "/proc/self/task/%s/%s", t,
			 files[i]);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		say(i ? " syscall " : " ");
		say(buf);
	}
}

static void where_am_i(int sig)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	pid_t me = tid(), pid = getpid();
	struct dirent *de;
	DIR *d;

	if (me != pid) {
		if (!atomic_load(&dumping)) /* given to any thread: pass it on */
			syscall(SYS_tgkill, pid, pid, sig);
		else {
			say_head();
			say("thread ");
			say_num(me);
			say(" stack:\n");
			say_stack();
		}
		return;
	}
	if (atomic_exchange(&dumping, 1))
		return;
	say_head();
	say("given up on (its test ended or its join timed out); main thread:\n");
	say_stack();
	/* opendir allocates; a child stuck inside malloc's lock would hang
	 * here, which the SIGKILL after vt_join's grace period ends. */
	d = opendir("/proc/self/task");
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		say_head();
		say("thread ");
		say(de->d_name);
		say_task(de->d_name);
		say("\n");
		if (atoi(de->d_name) != pid) {
			syscall(SYS_tgkill, pid, atoi(de->d_name), sig);
			nanosleep(&pause, NULL);
		}
	}
	if (d)
		closedir(d);
	_exit(VT_CHILD_STUCK);
}

/* A child that crashes would otherwise die silently (its test then
 * sees only a peer that never came): it says where, then dies of the
 * same signal (the handler is reset). */
static void crashed(int sig)
{
	say_head();
	say("killed by signal ");
	say_num(sig);
	say(" in thread ");
	say_num(tid());
	say(":\n");
	say_stack();
	raise(sig);
}

static void watch_child(pid_t parent)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL };
	struct sigaction sa;
	void *prime[1];
	unsigned i;

	/* backtrace loads libgcc on its first call: not in a handler. */
	backtrace(prime, 1);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = where_am_i;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = crashed;
	sa.sa_flags = SA_RESETHAND;
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++)
		sigaction(fatal[i], &sa, NULL);
	prctl(PR_SET_PDEATHSIG, SIGUSR1);
	if (getppid() != parent) /* the parent already left */
		raise(SIGUSR1);
}

pid_t vt_spawn(int (*fn)(void *arg), void *arg)
{
	pid_t parent = getpid(), pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		watch_child(parent);
		_exit(fn(arg));
	}
	return pid;
}

static int status_of(pid_t pid, int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	fprintf(stderr, "vt_join: child %d killed by signal %d\n", (int)pid,
		WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	return -1;
}

int vt_join(pid_t pid, int timeout_s)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int status, i;

	for (i = 0; i < timeout_s * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status_of(pid, status);
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&pause, NULL);
	}
	/* Ask it where it is; then, after a grace period, end it. */
	kill(pid, SIGUSR1);
	for (i = 0; i < 300; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}
