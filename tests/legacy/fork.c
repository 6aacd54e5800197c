/*
 * fork.c - a program that registers memory, connects, and then forks
 * (workers, a launcher that forks and execs) keeps its own transfers
 * whole: the children get copies of registered memory, their writes do
 * not reach the parent, and the parent's sends and receives carry the
 * right bytes before, during and after the forks.
 *
 * The peer is a process spawned before any VIPL call (vt_spawn); the
 * children forked while traffic flows never call VIPL.
 */
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include <criterion/criterion.h>

#include "echo.h"
#include "util.h"

/* No TestSuite(legacy): several files share the suite; each test has its
 * own timeout. */

#define MSGS 40
#define LEN 4096
#define RECVS 4
#define SEND_PAGE RECVS /* data pages: RECVS receive buffers, then these */
#define CANARY_PAGE (RECVS + 1)
#define PAGES (RECVS + 2)
#define CANARY 0xc3

/* What the peer sends as message i, and what we answer. */
static unsigned char down(int i, int j)
{
	return (unsigned char)((i * 7 + j + (j >> 8)) ^ 0x5a);
}

static unsigned char up(int i, int j)
{
	return (unsigned char)(i * 13 + j * 3 + (j >> 9));
}

static void quiet(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

/* The peer: MSGS times, sends message i and checks the answer. */
static int peer(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *s, *r, *d;
	unsigned char *out, *in;
	struct vt_end e;
	int i, j;

	VT_CHECK(vt_end_open(&e, 2 * LEN, &va) == VIP_SUCCESS);
	VT_CHECK(VipErrorCallback(e.nic, NULL, quiet) == VIP_SUCCESS);
	out = (unsigned char *)vt_data(&e.m);
	in = out + LEN;
	s = vt_desc(&e.m, 0);
	r = vt_desc(&e.m, 1);
	VT_CHECK(vt_accept(e.nic, arg, e.vi) == VIP_SUCCESS);
	for (i = 0; i < MSGS; i++) {
		memset(in, 0, LEN);
		vt_fill(r, &e.m, in, LEN);
		VT_CHECK(VipPostRecv(e.vi, r, e.m.mh) == VIP_SUCCESS);
		for (j = 0; j < LEN; j++)
			out[j] = down(i, j);
		vt_fill(s, &e.m, out, LEN);
		VT_CHECK(VipPostSend(e.vi, s, e.m.mh) == VIP_SUCCESS);
		VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
		VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
		VT_CHECK(d == r && r->CS.Length == LEN);
		for (j = 0; j < LEN; j++)
			if (in[j] != up(i, j)) {
				fprintf(stderr, "peer: answer %d byte %d is "
						"0x%02x\n", i, j, in[j]);
				return 99;
			}
	}
	/* A last message, and we leave only once the parent acknowledged
	 * it: leaving right after a receive can take the device's
	 * acknowledgement of the parent's last send with it (rxe acks after
	 * it completes the receive), and that send would come back flushed.
	 * The parent's receives still posted come back flushed. */
	for (j = 0; j < LEN; j++)
		out[j] = down(MSGS, j);
	vt_fill(s, &e.m, out, LEN);
	VT_CHECK(VipPostSend(e.vi, s, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* A worker: scribbles over its copy of the whole registered arena, data
 * and descriptors, and leaves without a word to VIPL. 0 if its copy held
 * what the parent had put there, and took the writes. */
static void scribbler(struct vt_mem *m)
{
	const unsigned char *canary = (unsigned char *)vt_data(m) +
				      CANARY_PAGE * LEN;
	int ok = canary[0] == CANARY && canary[LEN - 1] == CANARY;

	memset(m->base, 0xee, m->len);
	ok = ok && ((unsigned char *)m->base)[m->len - 1] == 0xee;
	_exit(ok ? 0 : 1);
}

/* A launcher's child: becomes another program at once. */
static void launcher(void)
{
	execl("/bin/true", "true", (char *)NULL);
	_exit(127);
}

static pid_t fork_child(struct vt_mem *m, bool exec)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		if (exec)
			launcher();
		scribbler(m);
	}
	cr_assert_gt(pid, 0, "fork failed");
	return pid;
}

static int reap(pid_t pid)
{
	int status;

	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void post_recv(struct vt_end *e, int k)
{
	VIP_DESCRIPTOR *r = vt_desc(&e->m, k);
	char *buf = vt_data(&e->m) + k * LEN;

	/* Cleared first, a VIA program's habit: after a fork this write is
	 * what would have moved the parent off the page the device uses. */
	memset(buf, 0, LEN);
	vt_fill(r, &e->m, buf, LEN);
	cr_assert_eq(VipPostRecv(e->vi, r, e->m.mh), VIP_SUCCESS);
}

static bool canary_intact(struct vt_mem *m)
{
	const unsigned char *c = (unsigned char *)vt_data(m) + CANARY_PAGE * LEN;
	int j;

	for (j = 0; j < LEN; j++)
		if (c[j] != CANARY)
			return false;
	return true;
}

Test(legacy, children_forked_while_traffic_flows_leave_the_parent_whole,
     .timeout = 120)
{
	pid_t srv = vt_spawn(peer, "l-fork");
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *s, *d;
	unsigned char *out, *in;
	pid_t kids[3] = { 0 };
	int i, j, k, bad = 0, nkids = 0;
	enum ibv_fork_status fs;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, PAGES * LEN, &va), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e.nic, NULL, quiet), VIP_SUCCESS);
	/* Either the kernel copies pinned pages into children, or libvipl
	 * asked libibverbs to keep them out of children. */
	fs = ibv_is_fork_initialized();
	cr_log_info("ibv_is_fork_initialized: %s",
		    fs == IBV_FORK_UNNEEDED ? "UNNEEDED" :
		    fs == IBV_FORK_ENABLED ? "ENABLED" : "DISABLED");
	cr_assert_neq(fs, IBV_FORK_DISABLED);
	memset(vt_data(&e.m) + CANARY_PAGE * LEN, CANARY, LEN);
	for (k = 0; k < RECVS; k++)
		post_recv(&e, k);
	cr_assert_eq(vt_request(e.nic, e.vi, "client", "l-fork"), VIP_SUCCESS);
	out = (unsigned char *)vt_data(&e.m) + SEND_PAGE * LEN;
	s = vt_desc(&e.m, 8);

	for (i = 0; i < MSGS; i++) {
		k = i % RECVS;
		/* A launcher forks and execs between two messages. */
		if (i == 15)
			kids[nkids++] = fork_child(&e.m, true);
		cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS,
			     "message %d", i);
		cr_assert_eq(d, vt_desc_at(&e.m, k));
		cr_assert_eq(d->CS.Length, LEN);
		in = (unsigned char *)vt_data(&e.m) + k * LEN;
		for (j = 0; j < LEN; j++)
			bad += in[j] != down(i, j);
		cr_expect_eq(bad, 0, "message %d arrived wrong", i);
		/* A worker forked with a receive posted and the peer's next
		 * message on its way. */
		if (i == 25)
			kids[nkids++] = fork_child(&e.m, false);
		post_recv(&e, k);
		for (j = 0; j < LEN; j++)
			out[j] = up(i, j);
		vt_fill(s, &e.m, out, LEN);
		cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
		/* A worker forked with our send in flight. */
		if (i == 5)
			kids[nkids++] = fork_child(&e.m, false);
		cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS,
			     "answer %d", i);
		cr_assert_eq(d, s);
		cr_assert_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
		/* Each child is reaped a few messages after it was born, so
		 * that it lives alongside the traffic. */
		if (i == 10 || i == 20 || i == 30) {
			cr_expect_eq(reap(kids[i / 10 - 1]), 0,
				     "child %d failed", i / 10 - 1);
			cr_expect(canary_intact(&e.m),
				  "a child's writes reached the parent");
		}
	}
	/* The peer's last message, in the receive posted after message
	 * MSGS - RECVS. */
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	k = MSGS % RECVS;
	cr_assert_eq(d, vt_desc_at(&e.m, k));
	in = (unsigned char *)vt_data(&e.m) + k * LEN;
	for (j = 0; j < LEN; j++)
		bad += in[j] != down(MSGS, j);
	cr_expect_eq(bad, 0);
	cr_expect(canary_intact(&e.m));
	cr_expect_eq(vt_join(srv, 30), 0, "the peer saw wrong answers");
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
}

/* vipl_trace_prog, beside this runner (tests/rxe/trace_prog.c). */
static void trace_prog_path(char *path, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", path, len - 1);
	char *slash;

	cr_assert_gt(n, 0);
	path[n] = '\0';
	slash = strrchr(path, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	cr_assert_lt(strlen(path) + sizeof("/vipl_trace_prog"), len);
	strcat(path, "/vipl_trace_prog");
}

/*
 * A worker that wants VIPL of its own: without exec, its VipOpenNic is
 * refused at once (the device contexts it would get are its parent's,
 * which the kernel will not serve it); after exec it opens a NIC, connects
 * and transfers (vipl_trace_prog drain: its own peer, two receives
 * flushed). The parent's connection lives on throughout.
 */
Test(legacy, a_child_uses_vipl_of_its_own_only_after_exec, .timeout = 120)
{
	struct echo_args pa = { .disc = "l-fork-parent", .count = 1,
				.level = VIP_SERVICE_RELIABLE_DELIVERY };
	pid_t ps = vt_spawn(echo_server, &pa);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	const char *addr = getenv("VIPL_TEST_ADDR");
	char prog[4096];
	VIP_DESCRIPTOR *s, *r, *d;
	struct vt_end e;
	pid_t kid;

	cr_assert(addr && *addr, "VIPL_TEST_ADDR not set (run in rxe-run)");
	trace_prog_path(prog, sizeof(prog));
	cr_assert_eq(access(prog, X_OK), 0, "no %s", prog);
	cr_assert_eq(vt_end_open(&e, 2 * LEN, &va), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e.nic, NULL, quiet), VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m) + LEN, LEN);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(e.nic, e.vi, "parent", pa.disc), VIP_SUCCESS);

	fflush(NULL);
	kid = fork();
	if (kid == 0) {
		VIP_NIC_HANDLE nic = NULL;

		_exit(VipOpenNic(NULL, &nic) == VIP_ERROR_RESOURCE && !nic ?
			      0 : 1);
	}
	cr_assert_gt(kid, 0);
	cr_expect_eq(reap(kid), 0, "VipOpenNic in a forked child was not "
				   "refused");

	fflush(NULL);
	kid = fork();
	if (kid == 0) {
		unsetenv("VIPL_TRACE");
		execl(prog, prog, "drain", addr, (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(kid, 0);
	cr_expect_eq(reap(kid), 0, "VIPL after exec did not work");

	/* The parent's connection is untouched. */
	memset(vt_data(&e.m), 'p', 100);
	s = vt_desc(&e.m, 1);
	vt_fill(s, &e.m, vt_data(&e.m), 100);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	cr_expect_eq(d, r);
	cr_expect_eq(r->CS.Length, 100);
	cr_expect_eq(vt_data(&e.m)[LEN + 99], 'p');
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(ps, 30), 0);
}
