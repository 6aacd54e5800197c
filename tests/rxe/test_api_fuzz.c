/*
 * test_api_fuzz.c - a stateful random API fuzzer over the real device.
 *
 * One process drives two NICs on the same device (each end of every
 * connection is ours) through random steps: every Vip* call of vipl.h,
 * with valid, stale (destroyed), forged (random bits), NULL and
 * wrong-kind handles, descriptors with hostile fields, connections made,
 * refused, failed and broken, waiters on a second thread, and teardown
 * with descriptors posted. A model of what is posted where checks, after
 * every call:
 *   - the code is one the call's man page documents (man/man3);
 *   - a stale, forged, NULL or wrong-kind handle gets VIP_INVALID_PARAMETER
 *     (VIP_INVALID_PTAG for a protection tag, as the pages say);
 *   - a descriptor comes back once, from the queue it was posted on, in
 *     order, with VIP_STATUS_DONE and a code that agrees with its Status;
 *     a refused one never comes back;
 *   - a receive's CS.Length never exceeds what its segments held at post;
 *   - on a connected reliable pair whose every descriptor was well formed,
 *     a message arrives whole (a "ping").
 * At the end every object must be freed with VIP_SUCCESS, a fresh VI pair
 * on the same NICs must move data both ways, and the NICs close (ASan's
 * leak check then runs at the worker's exit).
 *
 * Reproducible: xorshift64* of our own, seeded. A failure prints the seed,
 * the step and the operation. Environment:
 *   VIPL_FUZZ_SEED=N     fuzz/replay runs seed N (the seed tests still run
 *                        their own); VIPL_FUZZ_SEEDS=K runs N..N+K-1
 *   VIPL_FUZZ_STEPS=S    steps per seed (default 250)
 *   VIPL_FUZZ_SECONDS=T  time per seed (default 8), whichever comes first
 *   VIPL_FUZZ_POINTS=1,3 or "all": also the hostile operations below
 *   VIPL_FUZZ_VERBOSE=1  one line per step on stderr; 2: also each post,
 *                        completion and connection step
 *
 * Each hostile operation is named by the issue 15 point it found (or was
 * written for); all are on since those fixes landed. One turned off here
 * can still be asked for with VIPL_FUZZ_POINTS.
 */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util.h"

/*
 * Issue 15 points whose hostile operations are on by default (1: on).
 * What each found before its fix (ASan build; seeds of the fuzz/replay
 * test, in the note of the branch that added this file):
 *   1  a waiter (VipRecvWait, VipSendWait, VipCQWait on a second thread,
 *      timeout 20-220 ms) while VipDestroyVi, VipDestroyCQ or VipCloseNic
 *      frees what it waits on: heap-use-after-free in take_event
 *      (mapping/cq.c) and vip_spin_lock (queue_done).
 *   2  two threads VipDisconnect one VI: double free in cm_conn_destroy;
 *      also a completion (notify thread, progress watcher) breaking a
 *      connection VipDisconnect or VipCloseNic just freed: use-after-free
 *      in map_conn_break. The latter needs no second thread of ours, so
 *      it can hit a CI seed by chance until point 2 is fixed.
 *   3  posted receives rewritten (SegCount 65535, segments over the whole
 *      region) before a larger message; SegCount flipped while
 *      VipPostSend reads it. Ran in 4 seeds, found nothing yet.
 *   4  a VipRecvNotify handler that disconnects and destroys its own VI:
 *      heap-use-after-free in mark_finished (vipl/notify.c).
 *   6  VipConnectPeerRequest that fails, then VipDestroyVi without a wait.
 *      Only exercised: VipCloseNic reaps what leaked, so the leak check
 *      at exit cannot see it.
 *   7  strict messages on VIs that connected before or failed an attempt
 *      with receives posted. What it kept finding after the fix was the
 *      model's: receives posted on a connection that then ended were
 *      still counted as there for the next one (they complete flushed, as
 *      VIPL says), and a posted receive the fuzzer scribbled on (point 3)
 *      still counted as clean when a reconnection reposted it.
 *   8  sends posted by the main thread while a second one disconnects;
 *      after a disconnect every send must come back. Rarely reached
 *      (once or twice a seed); found nothing yet.
 *   9  CQs of 1-4 entries. Only exercised: no invariant counts CQ entries.
 * Point 5 (a receive longer than its segments) is always checked.
 */
#define FZ_P1_DESTROY_UNDER_WAITER 1
#define FZ_P2_DOUBLE_DISCONNECT 1
#define FZ_P3_SCRIBBLE_POSTED 1
#define FZ_P4_NOTIFY_TEARDOWN 1
#define FZ_P6_ABANDON_PEER_REQUEST 1
#define FZ_P7_STRICT_RECONNECT 1
#define FZ_P8_POST_VS_DISCONNECT 1
#define FZ_P9_SMALL_CQ 1

TestSuite(fuzz, .timeout = 150);

enum {
	NNIC = 2,
	NPTAG = 3,
	NMEM = 3,
	NCQ = 3,
	NVI = 6,
	NSLOT = 96, /* descriptor slots per NIC arena */
	SLOT = 512, /* a control segment and 16 segments, 64-aligned */
	AREA = 64 * 1024, /* send and receive areas of each arena */
	MAXQ = 8, /* descriptors the fuzzer keeps on one queue */
	NSTALE = 16,
	MAXSEG = 4, /* segments of a well-formed descriptor */
	PING_MAX = 1024,
};

#define ARENA_LEN (NSLOT * SLOT + 2 * AREA)

/* ---------------------------------------------------------------- */
/* Random numbers, failures                                          */
/* ---------------------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned rn(unsigned n) { return n ? (unsigned)(rnd() % n) : 0; }
static bool chance(unsigned percent) { return rn(100) < percent; }

static struct {
	uint64_t seed;
	atomic_int step;
	const char *_Atomic op;
	atomic_bool failed;
	char msg[512];
	pthread_mutex_t lock;
	unsigned points; /* bit n: point n's operations on */
	int verbose;
	atomic_long beat; /* time of the last step, for the watchdog */
	atomic_bool done;
} fz = { .lock = PTHREAD_MUTEX_INITIALIZER };

static bool point(int n) { return fz.points & (1u << n); }

/* VIPL_FUZZ_VERBOSE=2: what each connection step did, for a replay. */
static void fz_log(const char *fmt, ...)
{
	va_list ap;

	if (fz.verbose < 2)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "api_fuzz:   ");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* Records the first failure (any thread); the main loop stops on it. */
static void fz_fail(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&fz.lock);
	if (!atomic_load(&fz.failed)) {
		snprintf(fz.msg, sizeof(fz.msg), "seed %llu step %d (%s): %s",
			 (unsigned long long)fz.seed, atomic_load(&fz.step),
			 atomic_load(&fz.op), buf);
		fprintf(stderr, "api_fuzz: FAIL %s\n", fz.msg);
		atomic_store(&fz.failed, true);
	}
	pthread_mutex_unlock(&fz.lock);
}

static void where_died(void)
{
	char buf[160];
	int n = snprintf(buf, sizeof(buf),
			 "api_fuzz: died at seed %llu step %d (%s)\n",
			 (unsigned long long)fz.seed, atomic_load(&fz.step),
			 atomic_load(&fz.op) ? atomic_load(&fz.op) : "-");

	if (n > 0 && write(2, buf, (size_t)n) < 0)
		return;
}

/* Under ASan/UBSan their report comes first, then this line. */
extern void __sanitizer_set_death_callback(void (*cb)(void))
	__attribute__((weak));

static void on_signal(int sig)
{
	where_died();
	signal(sig, SIG_DFL);
	raise(sig);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* A step that never ends is a hang: say where, then die. */
static void *watchdog(void *arg)
{
	(void)arg;
	while (!atomic_load(&fz.done)) {
		usleep(200 * 1000);
		if (now_ms() - atomic_load(&fz.beat) > 60 * 1000) {
			fprintf(stderr, "api_fuzz: step hangs\n");
			where_died();
			abort();
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Documented codes                                                  */
/* ---------------------------------------------------------------- */

#define B(c) (1u << (c))
#define OK B(VIP_SUCCESS)
#define INVAL B(VIP_INVALID_PARAMETER)
#define RES B(VIP_ERROR_RESOURCE)
#define STATE B(VIP_INVALID_STATE)
#define ATTRS                                                                  \
	(B(VIP_INVALID_RELIABILITY_LEVEL) | B(VIP_INVALID_MTU) |              \
	 B(VIP_INVALID_RDMAREAD) | B(VIP_INVALID_PTAG))
#define CONN_CODES                                                             \
	(OK | INVAL | RES | STATE | B(VIP_TIMEOUT) | B(VIP_REJECT) |          \
	 B(VIP_NO_MATCH) | B(VIP_NOT_REACHABLE) | B(VIP_ERROR) |              \
	 B(VIP_INVALID_RELIABILITY_LEVEL) | B(VIP_INVALID_MTU) |              \
	 B(VIP_INVALID_RDMAREAD))

/* The RETURN VALUE sections of man/man3, one row per page. */
static const struct {
	const char *fn;
	unsigned codes;
} documented[] = {
	{ "VipOpenNic", OK | INVAL | RES },
	{ "VipCloseNic", OK | INVAL | RES },
	{ "VipQueryNic", OK | INVAL },
	{ "VipCreatePtag", OK | INVAL | RES | STATE | B(VIP_INVALID_PTAG) },
	{ "VipDestroyPtag", OK | INVAL | RES | STATE | B(VIP_INVALID_PTAG) },
	{ "VipRegisterMem", OK | INVAL | RES | B(VIP_INVALID_PTAG) |
				    B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipDeregisterMem", OK | INVAL | RES | B(VIP_INVALID_PTAG) |
				      B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipQueryMem", OK | INVAL | RES | B(VIP_INVALID_PTAG) |
				 B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipSetMemAttributes", OK | INVAL | RES | B(VIP_INVALID_PTAG) |
					 B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipCreateVi", OK | INVAL | RES | STATE | ATTRS },
	{ "VipDestroyVi", OK | INVAL | RES | STATE | ATTRS },
	{ "VipQueryVi", OK | INVAL | RES | STATE | ATTRS },
	{ "VipSetViAttributes", OK | INVAL | RES | STATE | ATTRS },
	{ "VipPostSend", OK | INVAL | RES | STATE | B(VIP_DESCRIPTOR_ERROR) |
				 B(VIP_INVALID_RDMAREAD) },
	{ "VipPostRecv", OK | INVAL | RES | STATE | B(VIP_DESCRIPTOR_ERROR) |
				 B(VIP_INVALID_RDMAREAD) },
	{ "VipSendDone", OK | INVAL | B(VIP_NOT_DONE) | B(VIP_DESCRIPTOR_ERROR) },
	{ "VipRecvDone", OK | INVAL | B(VIP_NOT_DONE) | B(VIP_DESCRIPTOR_ERROR) },
	{ "VipSendWait", OK | INVAL | RES | B(VIP_TIMEOUT) |
				 B(VIP_DESCRIPTOR_ERROR) },
	{ "VipRecvWait", OK | INVAL | RES | B(VIP_TIMEOUT) |
				 B(VIP_DESCRIPTOR_ERROR) },
	{ "VipSendNotify", OK | INVAL | RES | STATE },
	{ "VipRecvNotify", OK | INVAL | RES | STATE },
	{ "VipCreateCQ", OK | INVAL | RES | STATE },
	{ "VipDestroyCQ", OK | INVAL | RES | STATE },
	{ "VipResizeCQ", OK | INVAL | RES | STATE },
	{ "VipCQDone", OK | INVAL | RES | B(VIP_NOT_DONE) | B(VIP_TIMEOUT) },
	{ "VipCQWait", OK | INVAL | RES | B(VIP_NOT_DONE) | B(VIP_TIMEOUT) },
	{ "VipCQNotify", OK | INVAL | RES | STATE },
	{ "VipConnectWait", CONN_CODES & ~(B(VIP_REJECT) | B(VIP_NO_MATCH) |
					   B(VIP_NOT_REACHABLE)) },
	{ "VipConnectAccept", CONN_CODES & ~(B(VIP_REJECT) | B(VIP_NO_MATCH) |
					     B(VIP_NOT_REACHABLE)) },
	{ "VipConnectReject", CONN_CODES & ~(B(VIP_REJECT) | B(VIP_NO_MATCH) |
					     B(VIP_NOT_REACHABLE)) },
	{ "VipConnectRequest", CONN_CODES },
	{ "VipDisconnect", OK | INVAL | STATE },
	{ "VipConnectPeerRequest", CONN_CODES | B(VIP_NOT_DONE) },
	{ "VipConnectPeerDone", CONN_CODES | B(VIP_NOT_DONE) },
	{ "VipConnectPeerWait", CONN_CODES | B(VIP_NOT_DONE) },
	{ "VipNSInit", OK | INVAL },
	{ "VipNSShutdown", OK | INVAL },
	{ "VipNSGetHostByName", OK | INVAL | RES | B(VIP_ERROR_NAMESERVICE) },
	{ "VipNSGetHostByAddr", OK | INVAL | RES | B(VIP_ERROR_NAMESERVICE) },
	{ "VipErrorCallback", OK | INVAL },
	{ "VipQuerySystemManagementInfo", OK | INVAL },
	{ "VipQuerySystemManagementInfoClan", OK | INVAL },
	{ "VipAddTagCQ", B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipRemoveTagCQ", B(VIP_ERROR_NOT_SUPPORTED) },
	{ "VipPostDeferredSends", B(VIP_ERROR_NOT_SUPPORTED) },
};

static unsigned codes_of(const char *fn)
{
	size_t i;

	for (i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		if (!strcmp(documented[i].fn, fn))
			return documented[i].codes;
	fz_fail("no man page row for %s", fn);
	return 0;
}

/* Any thread: the code must be documented for fn. */
static VIP_RETURN check_doc(const char *fn, VIP_RETURN r)
{
	if ((unsigned)r >= 32 || !(codes_of(fn) & B(r)))
		fz_fail("%s returned %d, not a code its man page lists", fn, r);
	return r;
}

/* A call given a bad handle must refuse it with want. */
static void check_bad(const char *fn, VIP_RETURN r, VIP_RETURN want,
		      const char *what)
{
	check_doc(fn, r);
	if (r != want)
		fz_fail("%s on a %s handle returned %d, want %d", fn, what, r,
			want);
}

/* ---------------------------------------------------------------- */
/* The model                                                         */
/* ---------------------------------------------------------------- */

enum slot_state { S_FREE, S_POSTED, S_GONE /* dropped with its VI */ };

struct seg {
	char *p;
	uint32_t len;
};

struct slot {
	enum slot_state state;
	VIP_VI_HANDLE vi;
	bool recv;
	bool clean; /* well formed, its data in the arena */
	bool ping;
	uint16_t control;
	uint64_t cap; /* receive: bytes its segments held at post */
	int nseg;
	struct seg seg[MAXSEG];
};

struct nic {
	VIP_NIC_HANDLE h;
	VIP_NIC_ATTRIBUTES na;
	char *arena;
	VIP_MEM_HANDLE mh;
	struct slot slot[NSLOT];
	VIP_PROTECTION_HANDLE ptag[NPTAG];
	struct {
		char *base;
		size_t len;
		VIP_MEM_HANDLE mh;
	} mem[NMEM];
};

struct vi {
	VIP_VI_HANDLE h; /* NULL: none */
	int nic;
	VIP_VI_ATTRIBUTES va;
	int cq[2]; /* send, receive: index or -1 */
	int peer; /* index of the VI it is connected to, -1 */
	bool peer_pending; /* a peer request not collected yet */
	bool reused; /* had a connection or an attempt */
	bool recvs_at_connect; /* receives were posted when it connected */
	bool dirty; /* a hostile descriptor was queued */
	bool tainted; /* something on its connection went wrong */
	bool notify_armed; /* ever: its descriptors may come back late */
	int q[2][MAXQ]; /* slot indices in post order */
	int n[2];
};

struct cq {
	VIP_CQ_HANDLE h;
	int nic;
	VIP_VI_HANDLE users[64]; /* every VI ever attached */
	int nusers;
};

static struct nic nics[NNIC];
static struct vi vis[NVI];
static struct cq cqs[NCQ];
static pthread_mutex_t model = PTHREAD_MUTEX_INITIALIZER;
static struct {
	void *h[NSTALE];
	int n;
	VIP_MEM_HANDLE mh[NSTALE];
	int nmh;
} stale;
static atomic_int error_calls;
/* What a seed did, to see that it reached the paths it should. */
static struct {
	int connected, strict_pings, messages, hostile_queued, refused;
	int special[10]; /* the hostile operations of point n that ran */
	int failed_connects, reconnects_with_recvs, strict_reconnect_pings;
} stats;

static void add_stale(void *h)
{
	stale.h[stale.n++ % NSTALE] = h;
}

static void add_stale_mh(VIP_MEM_HANDLE mh)
{
	stale.mh[stale.nmh++ % NSTALE] = mh;
}

static int vi_of(VIP_VI_HANDLE h)
{
	int i;

	for (i = 0; i < NVI; i++)
		if (vis[i].h && vis[i].h == h)
			return i;
	return -1;
}

static int slot_of(const VIP_DESCRIPTOR *d, int *nic)
{
	int k;

	for (k = 0; k < NNIC; k++) {
		const char *b = nics[k].arena;

		if (b && (const char *)d >= b && (const char *)d < b + NSLOT * SLOT &&
		    ((const char *)d - b) % SLOT == 0) {
			*nic = k;
			return (int)(((const char *)d - b) / SLOT);
		}
	}
	return -1;
}

/* Which thread may dequeue from a queue at once: order is only checked
 * where the main thread is alone on it. */
static struct {
	VIP_VI_HANDLE vi;
	bool recv;
	VIP_CQ_HANDLE cq;
} concurrent;

static void q_remove(struct vi *v, int q, int s)
{
	int i, j;

	for (i = 0; i < v->n[q]; i++)
		if (v->q[q][i] == s) {
			for (j = i; j + 1 < v->n[q]; j++)
				v->q[q][j] = v->q[q][j + 1];
			v->n[q]--;
			return;
		}
}

/*
 * A Done/Wait/notify handed back d from vi's queue with code r (any
 * thread). Checks it was posted there, once, in order, that its Status
 * agrees with r and a receive's length fits. Returns its slot or NULL.
 */
static void vi_taint(int v);

static struct slot *returned(const char *fn, VIP_VI_HANDLE vi, bool recv,
			     VIP_DESCRIPTOR *d, VIP_RETURN r, bool in_order)
{
	struct slot *s = NULL;
	int k, i, q = recv;
	uint32_t st;

	if (!d) {
		fz_fail("%s returned %d with no descriptor", fn, r);
		return NULL;
	}
	pthread_mutex_lock(&model);
	i = slot_of(d, &k);
	if (i < 0) {
		fz_fail("%s returned %p, which the fuzzer never posted", fn,
			(void *)d);
		goto out;
	}
	s = &nics[k].slot[i];
	fz_log("%s: VI %d slot %d, Status 0x%x", fn, vi_of(vi), i,
	       d->CS.Status);
	if (s->state == S_GONE && s->vi == vi && s->recv == recv) {
		/* Its VI was destroyed while a notify or waiter ran. */
	} else if (s->state != S_POSTED || s->vi != vi || s->recv != recv) {
		fz_fail("%s returned slot %d of NIC %d, not posted on this "
			"queue (state %d%s)",
			fn, i, k, s->state,
			s->state == S_FREE ? ": came back twice?" : "");
		s = NULL;
		goto out;
	} else {
		int v = vi_of(vi);

		if (v >= 0) {
			if (in_order && vis[v].n[q] && vis[v].q[q][0] != i)
				fz_fail("%s returned slot %d, the oldest on the "
					"queue is slot %d",
					fn, i, vis[v].q[q][0]);
			q_remove(&vis[v], q, i);
		}
	}
	st = d->CS.Status;
	if (!(st & VIP_STATUS_DONE))
		fz_fail("%s returned a descriptor without DONE (0x%x)", fn, st);
	if ((r == VIP_SUCCESS) != !(st & VIP_STATUS_ERROR_MASK))
		fz_fail("%s returned %d for Status 0x%x", fn, r, st);
	if (r != VIP_SUCCESS && r != VIP_DESCRIPTOR_ERROR)
		fz_fail("%s returned %d with a descriptor", fn, r);
	/* An RDMA write with immediate data reports its own length in the
	 * receive it consumed, whose segments it never touched. */
	if (recv && d->CS.Length > s->cap &&
	    (st & VIP_STATUS_OP_MASK) != VIP_STATUS_OP_REMOTE_RDMA_WRITE)
		fz_fail("%s: receive completed with CS.Length %u, its "
			"segments held %llu at post (Status 0x%x)",
			fn, d->CS.Length, (unsigned long long)s->cap, st);
	if (st & VIP_STATUS_ERROR_MASK) {
		int v = vi_of(vi);

		if (v >= 0)
			vi_taint(v);
	}
	s->state = S_FREE;
out:
	pthread_mutex_unlock(&model);
	return s;
}

/* After a successful Done/Wait on fn's queue: r and d must agree. */
static struct slot *dequeued(const char *fn, VIP_VI_HANDLE vi, bool recv,
			     VIP_RETURN r, VIP_DESCRIPTOR *d, bool in_order)
{
	check_doc(fn, r);
	if (r == VIP_SUCCESS || r == VIP_DESCRIPTOR_ERROR)
		return returned(fn, vi, recv, d, r, in_order);
	if (d)
		fz_fail("%s returned %d and descriptor %p", fn, r, (void *)d);
	return NULL;
}

/* ---------------------------------------------------------------- */
/* Handles to pass                                                   */
/* ---------------------------------------------------------------- */

static void *forged(void)
{
	switch (rn(3)) {
	case 0:
		return (void *)(uintptr_t)rnd();
	case 1:
		return (void *)(uintptr_t)(1 + rn(200)); /* tag 0 */
	default:
		/* A live-looking slot index with a generation never used. */
		return (void *)(((uintptr_t)(0xfff000u | rn(0xfff)) << 40) |
				(1 + rn(64)));
	}
}

enum kind { K_NIC, K_VI, K_CQ, K_PTAG, K_CONN };

/* A handle that names no object of the kind wanted; *what says which. */
static void *bad_handle(enum kind kind, const char **what)
{
	int i;

	switch (rn(4)) {
	case 0:
		*what = "NULL";
		return NULL;
	case 1:
		if (stale.n) {
			*what = "stale";
			return stale.h[rn(stale.n < NSTALE ? stale.n : NSTALE)];
		}
		/* fall through */
	case 2:
		*what = "forged";
		return forged();
	default:
		*what = "wrong-kind";
		/* Another kind's live handle (never one of kind). */
		for (i = 0; i < 8; i++) {
			int pick = rn(4);

			if (pick == 0 && kind != K_NIC && nics[0].h)
				return nics[rn(NNIC)].h;
			if (pick == 1 && kind != K_VI) {
				int v = rn(NVI);

				if (vis[v].h)
					return vis[v].h;
			}
			if (pick == 2 && kind != K_CQ) {
				int c = rn(NCQ);

				if (cqs[c].h)
					return cqs[c].h;
			}
			if (pick == 3 && kind != K_PTAG) {
				void *p = nics[rn(NNIC)].ptag[rn(NPTAG)];

				if (p)
					return p;
			}
		}
		*what = "forged";
		return forged();
	}
}

static VIP_MEM_HANDLE bad_mh(int nic)
{
	switch (rn(3)) {
	case 0:
		if (stale.nmh)
			return stale.mh[rn(stale.nmh < NSTALE ? stale.nmh : NSTALE)];
		/* fall through */
	case 1:
		return (VIP_MEM_HANDLE)rnd();
	default:
		return nics[!nic].mh; /* the other NIC's */
	}
}

static int live_vi(void)
{
	int i, start = rn(NVI);

	for (i = 0; i < NVI; i++)
		if (vis[(start + i) % NVI].h)
			return (start + i) % NVI;
	return -1;
}

static int live_cq(void)
{
	int i, start = rn(NCQ);

	for (i = 0; i < NCQ; i++)
		if (cqs[(start + i) % NCQ].h)
			return (start + i) % NCQ;
	return -1;
}

/* ---------------------------------------------------------------- */
/* The second thread: waiters and racing calls                       */
/* ---------------------------------------------------------------- */

enum actor_kind { A_NONE, A_RECV_WAIT, A_SEND_WAIT, A_CQ_WAIT, A_DISCONNECT,
		  A_POST_LOOP, A_FLIP };

static struct {
	pthread_t t;
	enum actor_kind kind;
	void *h;
	VIP_ULONG timeout;
	int vi; /* model index of what it works on, or -1 */
	int cq;
	VIP_DESCRIPTOR *flip; /* A_FLIP */
	atomic_bool stop;
} actor;

static void *actor_main(void *arg)
{
	VIP_DESCRIPTOR *d = NULL;
	VIP_VI_HANDLE vh = NULL;
	VIP_BOOLEAN rq = 0;
	VIP_RETURN r;

	(void)arg;
	switch (actor.kind) {
	case A_RECV_WAIT:
	case A_SEND_WAIT: {
		bool recv = actor.kind == A_RECV_WAIT;

		r = recv ? VipRecvWait(actor.h, actor.timeout, &d) :
			   VipSendWait(actor.h, actor.timeout, &d);
		dequeued(recv ? "VipRecvWait" : "VipSendWait", actor.h, recv, r,
			 d, false);
		break;
	}
	case A_CQ_WAIT:
		r = VipCQWait(actor.h, actor.timeout, &vh, &rq);
		check_doc("VipCQWait", r);
		break;
	case A_DISCONNECT:
		r = VipDisconnect(actor.h);
		check_doc("VipDisconnect", r);
		break;
	case A_FLIP:
		while (!atomic_load(&actor.stop)) {
			actor.flip->CS.SegCount = 60000;
			actor.flip->CS.SegCount = 1;
		}
		break;
	default:
		break;
	}
	return NULL;
}

static void actor_join(void)
{
	if (actor.kind == A_NONE)
		return;
	atomic_store(&actor.stop, true);
	pthread_join(actor.t, NULL);
	actor.kind = A_NONE;
	memset(&concurrent, 0, sizeof(concurrent));
}

static void actor_start(enum actor_kind kind, void *h, int vi, int cq)
{
	actor_join();
	actor.kind = kind;
	actor.h = h;
	actor.vi = vi;
	actor.cq = cq;
	actor.timeout = 20 + rn(200);
	atomic_store(&actor.stop, false);
	if (kind == A_RECV_WAIT || kind == A_SEND_WAIT) {
		concurrent.vi = h;
		concurrent.recv = kind == A_RECV_WAIT;
	}
	if (pthread_create(&actor.t, NULL, actor_main, NULL)) {
		actor.kind = A_NONE;
		fz_fail("pthread_create");
	}
}

/* Before destroying what the actor waits on (unless point 1 is on). */
static void actor_spare_vi(int v)
{
	if (actor.kind != A_NONE && (actor.vi == v || actor.vi < 0) &&
	    !point(1))
		actor_join();
}

static void actor_spare_cq(int c)
{
	if (actor.kind == A_CQ_WAIT && actor.cq == c && !point(1))
		actor_join();
}

static void actor_spare_nic(int k)
{
	if (actor.kind == A_NONE || point(1))
		return;
	if ((actor.vi >= 0 && vis[actor.vi].nic == k) ||
	    (actor.cq >= 0 && cqs[actor.cq].nic == k))
		actor_join();
}

static bool in_order_ok(VIP_VI_HANDLE vi, bool recv)
{
	int v = vi_of(vi);

	if (v >= 0 && vis[v].notify_armed)
		return false; /* its handler dequeues too */
	return !(concurrent.vi == vi && concurrent.recv == recv);
}

/* ---------------------------------------------------------------- */
/* Notify handlers and the error callback                            */
/* ---------------------------------------------------------------- */

/* VIs a point-4 handler set out to destroy (a ring; handles are not
 * reused). Teardown's own destroys race with it: a peer destroyed there
 * flushes this VI's receive, and the handler may end the VI first. */
#define HANDLER_KILLS 64
static _Atomic(VIP_VI_HANDLE) handler_killed[HANDLER_KILLS];
static atomic_uint handler_kills;

static bool killed_by_handler(VIP_VI_HANDLE vi)
{
	unsigned i;

	for (i = 0; i < HANDLER_KILLS; i++)
		if (atomic_load(&handler_killed[i]) == vi)
			return true;
	return false;
}

static void vi_handler(VIP_PVOID ctx, VIP_NIC_HANDLE nic, VIP_VI_HANDLE vi,
		       VIP_DESCRIPTOR *d)
{
	bool recv = (uintptr_t)ctx & 1;

	(void)nic;
	/* NULL: the queue went away (cancelled) - nothing came back. */
	if (d)
		returned(recv ? "recv notify" : "send notify", vi, recv, d,
			 (d->CS.Status & VIP_STATUS_ERROR_MASK) ?
				 VIP_DESCRIPTOR_ERROR :
				 VIP_SUCCESS,
			 false);
	if ((uintptr_t)ctx & 2) {
		/* Point 4: end the connection from its last callback. */
		stats.special[4]++;
		/* Said before it is done: whoever sees the handle refused
		 * after this knows why. */
		atomic_store(&handler_killed[atomic_fetch_add(&handler_kills,
							      1) %
					     HANDLER_KILLS],
			     vi);
		VipDisconnect(vi);
		VipDestroyVi(vi);
	}
}

static void cq_handler(VIP_PVOID ctx, VIP_NIC_HANDLE nic, VIP_VI_HANDLE vi,
		       VIP_BOOLEAN recv)
{
	struct cq *c = ctx;
	int i;

	(void)nic;
	(void)recv;
	pthread_mutex_lock(&model);
	for (i = 0; i < c->nusers && c->users[i] != vi; i++)
		;
	if (vi && i == c->nusers && c->nusers < 64)
		fz_fail("CQ notify named VI %p, never attached to that CQ", vi);
	pthread_mutex_unlock(&model);
}

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	atomic_fetch_add(&error_calls, 1);
	if ((unsigned)e->ErrorCode > VIP_ERROR_CATASTROPHIC ||
	    (unsigned)e->ResourceCode > VIP_RESOURCE_DESCRIPTOR)
		fz_fail("error callback with ErrorCode %d ResourceCode %d",
			e->ErrorCode, e->ResourceCode);
}

/* ---------------------------------------------------------------- */
/* Opening and closing                                               */
/* ---------------------------------------------------------------- */

static bool nic_open(int k)
{
	struct nic *n = &nics[k];
	VIP_MEM_ATTRIBUTES ma = { NULL, VIP_TRUE, VIP_TRUE };

	memset(n->slot, 0, sizeof(n->slot));
	memset(n->ptag, 0, sizeof(n->ptag));
	memset(n->mem, 0, sizeof(n->mem));
	if (check_doc("VipOpenNic", VipOpenNic(NULL, &n->h)) != VIP_SUCCESS) {
		fz_fail("VipOpenNic failed");
		return false;
	}
	if (check_doc("VipQueryNic", VipQueryNic(n->h, &n->na)) != VIP_SUCCESS)
		fz_fail("VipQueryNic failed on an open NIC");
	check_doc("VipErrorCallback", VipErrorCallback(n->h, NULL, on_error));
	if (!n->arena && posix_memalign((void **)&n->arena, 4096, ARENA_LEN))
		n->arena = NULL;
	if (!n->arena) {
		fz_fail("no memory");
		return false;
	}
	memset(n->arena, 0, ARENA_LEN);
	if (check_doc("VipRegisterMem",
		      VipRegisterMem(n->h, n->arena, ARENA_LEN, &ma, &n->mh)) !=
	    VIP_SUCCESS) {
		fz_fail("cannot register the arena");
		return false;
	}
	return true;
}

static char *send_area(int k) { return nics[k].arena + NSLOT * SLOT; }
static char *recv_area(int k) { return send_area(k) + AREA; }
static VIP_DESCRIPTOR *slot_desc(int k, int i)
{
	return (VIP_DESCRIPTOR *)(nics[k].arena + i * SLOT);
}

/* The model after vi v is gone (destroyed, or its NIC closed). */
static void forget_vi(int v)
{
	struct vi *x = &vis[v];
	int q, i;

	pthread_mutex_lock(&model);
	for (q = 0; q < 2; q++)
		for (i = 0; i < x->n[q]; i++) {
			struct slot *s = &nics[x->nic].slot[x->q[q][i]];

			/* A waiter racing the destroy (point 1) may still
			 * hand it back; a notify is cancelled by then. */
			s->state = actor.kind != A_NONE && actor.vi == v ?
					   S_GONE :
					   S_FREE;
		}
	if (x->peer >= 0) {
		vi_taint(x->peer);
		vis[x->peer].peer = -1;
	}
	add_stale(x->h);
	memset(x, 0, sizeof(*x));
	x->peer = -1;
	pthread_mutex_unlock(&model);
}

/* ---------------------------------------------------------------- */
/* Descriptors                                                       */
/* ---------------------------------------------------------------- */

static int free_slot(int k)
{
	int i, start = rn(NSLOT);

	for (i = 0; i < NSLOT; i++) {
		int j = (start + i) % NSLOT;

		if (nics[k].slot[j].state == S_FREE)
			return j;
	}
	return -1;
}

/* A well-formed descriptor over data of the area; returns its length. */
static uint32_t fill_clean(VIP_DESCRIPTOR *d, struct slot *s, int k,
			   bool recv, uint32_t len)
{
	char *area = recv ? recv_area(k) : send_area(k);
	int nseg = len ? 1 + rn(3) : 0, i;
	uint32_t left = len, off = rn(AREA - PING_MAX * 4) & ~7u;

	memset(d, 0, SLOT);
	d->CS.SegCount = nseg;
	d->CS.Length = recv ? 0 : len;
	s->nseg = nseg;
	s->cap = 0;
	for (i = 0; i < nseg; i++) {
		VIP_DATA_SEGMENT *g = vt_seg(d, i);
		uint32_t l = i == nseg - 1 ? left : rn(left + 1);

		g->Data.Address = area + off;
		g->Handle = nics[k].mh;
		g->Length = l;
		s->seg[i].p = area + off;
		s->seg[i].len = l;
		s->cap += l;
		off += l;
		left -= l;
	}
	if (!recv && chance(20)) {
		d->CS.Control |= VIP_CONTROL_IMMEDIATE;
		d->CS.ImmediateData = (uint32_t)rnd();
	}
	if (recv && chance(20))
		d->CS.Control |= VIP_CONTROL_IMMEDIATE;
	return len;
}

static uint32_t u32_hostile(void)
{
	static const uint32_t v[] = { 0, 1, 7, 64, 2048, 65536, 0x7fffffff,
				      0x80000000u, 0xffffffffu };

	return chance(50) ? v[rn(sizeof(v) / sizeof(v[0]))] : (uint32_t)rnd();
}

/* Rewrites some fields of a well-formed descriptor with hostile values. */
static void make_hostile(VIP_DESCRIPTOR *d, int k)
{
	static const uint16_t counts[] = { 0, 1, 2, 16, 17, 255, 60000, 65535 };
	int i, n = 1 + rn(3);

	for (i = 0; i < n; i++) {
		VIP_DATA_SEGMENT *g = vt_seg(d, rn(MAXSEG));

		switch (rn(9)) {
		case 0:
			d->CS.SegCount = counts[rn(sizeof(counts) / 2)];
			break;
		case 1:
			d->CS.Control = (uint16_t)rnd();
			break;
		case 2:
			d->CS.Control = (d->CS.Control & ~VIP_CONTROL_OP_MASK) |
					(rn(4) & VIP_CONTROL_OP_MASK) |
					(chance(50) ? VIP_CONTROL_QFENCE : 0);
			break;
		case 3:
			g->Length = u32_hostile();
			break;
		case 4: /* past the end of the registration */
			g->Data.Address = nics[k].arena + ARENA_LEN - rn(64);
			g->Length = 64 + rn(4096);
			break;
		case 5: /* outside any registration of ours */
			g->Data.AddressBits = chance(50) ? rnd() : 4096;
			break;
		case 6:
			g->Handle = bad_mh(k);
			break;
		case 7:
			d->CS.Length = u32_hostile();
			break;
		default:
			d->CS.Control ^= VIP_CONTROL_IMMEDIATE;
			d->CS.ImmediateData = (uint32_t)rnd();
			break;
		}
	}
}

/* A connection that ends (or may have ended: an error breaks it) takes
 * with it, flushed, whatever is posted on its VIs at that moment: none of
 * those receives is there for a later connection's message. */
static void doom_posted(int v)
{
	int q, i;

	for (q = 0; q < 2; q++)
		for (i = 0; i < vis[v].n[q]; i++)
			nics[vis[v].nic].slot[vis[v].q[q][i]].clean = false;
}

static void vi_taint(int v)
{
	vis[v].tainted = true;
	doom_posted(v);
	if (vis[v].peer >= 0) {
		vis[vis[v].peer].tainted = true;
		doom_posted(vis[v].peer);
	}
}

/*
 * Posts a descriptor on vi v: clean, hostile, or a bad pointer or
 * handle. The slot is in the model before the call (a notify may hand it
 * back before the call returns) and taken out again if the call refused
 * it. Returns the code, or -1 if nothing was posted.
 */
static int post(int v, bool recv, bool hostile, bool plain, uint32_t len,
		int *slot_out)
{
	const char *fn = recv ? "VipPostRecv" : "VipPostSend";
	struct vi *x = &vis[v];
	int k = x->nic, i, q = recv;
	VIP_MEM_HANDLE mh = nics[k].mh;
	VIP_DESCRIPTOR *d;
	struct slot *s;
	VIP_RETURN r;
	const char *what;
	bool gone, flipped;

	if (x->n[q] >= MAXQ || (i = free_slot(k)) < 0)
		return -1;
	d = slot_desc(k, i);
	s = &nics[k].slot[i];
	if (!plain && chance(8)) {
		/* The VI handle or the memory handle is bad: refused. */
		void *h = x->h;
		VIP_RETURN want = VIP_INVALID_PARAMETER;

		fill_clean(d, s, k, recv, len);
		if (chance(50)) {
			h = bad_handle(K_VI, &what);
		} else {
			mh = bad_mh(k);
			what = "memory";
		}
		if (chance(30)) {
			d = chance(50) ? NULL : (VIP_DESCRIPTOR *)((char *)d + 8);
			what = d ? "misaligned descriptor" : "NULL descriptor";
		}
		r = recv ? VipPostRecv(h, d, mh) : VipPostSend(h, d, mh);
		check_bad(fn, r, want, what);
		return r;
	}
	fill_clean(d, s, k, recv, len);
	s->clean = !hostile;
	s->ping = false;
	if (hostile)
		make_hostile(d, k);
	s->control = d->CS.Control;
	if (recv) {
		/* What its segments hold, as the post will read them. */
		unsigned j, ns = d->CS.SegCount;

		s->cap = 0;
		for (j = 0; j < ns && j < 16; j++)
			s->cap += vt_seg(d, j)->Length;
		if (ns > 16)
			s->cap = UINT64_MAX; /* refused anyway */
	}
	pthread_mutex_lock(&model);
	s->state = S_POSTED;
	s->vi = x->h;
	s->recv = recv;
	x->q[q][x->n[q]++] = i;
	pthread_mutex_unlock(&model);
	/* Not in a strict transfer (plain), which needs the post to pass. */
	flipped = !recv && !plain && point(3) && chance(10) &&
		  actor.kind == A_NONE;
	if (flipped) {
		/* Point 3: SegCount flips while the post reads it; read as
		 * 60000 it is refused, as it should be. */
		stats.special[3]++;
		actor.flip = d;
		actor_start(A_FLIP, NULL, -1, -1);
		r = VipPostSend(x->h, d, mh);
		actor_join();
		s->cap = UINT64_MAX;
	} else {
		r = recv ? VipPostRecv(x->h, d, mh) : VipPostSend(x->h, d, mh);
	}
	check_doc(fn, r);
	fz_log("%s VI %d slot %d%s: %d", fn, v, i, hostile ? " hostile" : "",
	       r);
	pthread_mutex_lock(&model);
	gone = s->state != S_POSTED || s->vi != x->h;
	if (r != VIP_SUCCESS) {
		if (gone)
			fz_fail("%s refused a descriptor (%d) that came back",
				fn, r);
		q_remove(x, q, i);
		s->state = S_FREE;
	} else if (hostile) {
		stats.hostile_queued++;
		x->dirty = true;
		vi_taint(v);
	}
	if (hostile && r != VIP_SUCCESS)
		stats.refused++;
	pthread_mutex_unlock(&model);
	if (r == VIP_DESCRIPTOR_ERROR && !(d->CS.Status & VIP_STATUS_FORMAT_ERROR))
		fz_fail("%s: VIP_DESCRIPTOR_ERROR without FORMAT_ERROR", fn);
	if (r == VIP_DESCRIPTOR_ERROR && !hostile && !flipped)
		fz_fail("%s refused a well-formed descriptor", fn);
	if (r == VIP_SUCCESS && point(3) && chance(10)) {
		/* Point 3: scribble on it while it is posted, as a peer with
		 * RDMA write access to the descriptor area could. */
		d->CS.SegCount = 65535;
		vt_seg(d, 0)->Length = 0xffffffffu;
		vt_seg(d, 1)->Data.AddressBits = rnd();
		/* No longer well formed: a receive held across a reconnection
		 * is handed to the new QP as it reads now. */
		pthread_mutex_lock(&model);
		s->clean = false;
		pthread_mutex_unlock(&model);
		fz_log("scribbled on %s slot %d of VI %d", fn, i, v);
	}
	if (slot_out)
		*slot_out = r == VIP_SUCCESS ? i : -1;
	return r;
}

/* Dequeues from one queue (Done, or Wait with a short timeout). */
static void dequeue(int v, bool recv, bool wait)
{
	VIP_VI_HANDLE h = vis[v].h;
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)0x1;
	VIP_RETURN r;
	const char *fn;

	if (wait) {
		fn = recv ? "VipRecvWait" : "VipSendWait";
		r = recv ? VipRecvWait(h, rn(30), &d) :
			   VipSendWait(h, rn(30), &d);
	} else {
		fn = recv ? "VipRecvDone" : "VipSendDone";
		r = recv ? VipRecvDone(h, &d) : VipSendDone(h, &d);
	}
	dequeued(fn, h, recv, r, d, in_order_ok(h, recv));
}

/* ---------------------------------------------------------------- */
/* Connections                                                       */
/* ---------------------------------------------------------------- */

static struct {
	pthread_t t;
	int nic;
	VIP_VI_HANDLE vi;
	char disc[16];
	bool reject;
	VIP_RETURN wait, accept;
} acc;

static VIP_RETURN last_request;

static void *acceptor(void *arg)
{
	VIP_NET_ADDRESS *local = vt_addr(nics[acc.nic].h, acc.disc);
	VIP_NET_ADDRESS *remote = vt_addr_buf();
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn = NULL;

	(void)arg;
	acc.accept = -1;
	acc.wait = check_doc("VipConnectWait",
			     VipConnectWait(nics[acc.nic].h, local, 3000,
					    remote, &ra, &conn));
	if (acc.wait == VIP_SUCCESS) {
		if (acc.reject)
			acc.accept = check_doc("VipConnectReject",
					       VipConnectReject(conn));
		else
			acc.accept = check_doc("VipConnectAccept",
					       VipConnectAccept(conn, acc.vi));
		/* Used up either way. */
		check_bad("VipConnectAccept", VipConnectAccept(conn, acc.vi),
			  VIP_INVALID_PARAMETER, "used connection");
	}
	free(local);
	free(remote);
	return NULL;
}

static void note_connected(int a, int b)
{
	stats.connected++;
	pthread_mutex_lock(&model);
	vis[a].peer = b;
	vis[b].peer = a;
	vis[a].tainted = vis[b].tainted = false;
	vis[a].recvs_at_connect = vis[a].n[1] > 0;
	vis[b].recvs_at_connect = vis[b].n[1] > 0;
	if ((vis[a].reused && vis[a].recvs_at_connect) ||
	    (vis[b].reused && vis[b].recvs_at_connect))
		stats.reconnects_with_recvs++;
	pthread_mutex_unlock(&model);
}

/* Client-server: b's NIC waits and accepts (or rejects) on a thread. */
static void connect_cs(int a, int b, bool may_reject)
{
	VIP_NET_ADDRESS *remote, *local;
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN r = VIP_NO_MATCH;
	long until;

	acc.nic = vis[b].nic;
	acc.vi = vis[b].h;
	acc.reject = may_reject && chance(10);
	/* A port stays with the NIC that listened on it (porting.md):
	 * one discriminator per NIC. */
	snprintf(acc.disc, sizeof(acc.disc), "fzs%d.%d", acc.nic, b);
	if (pthread_create(&acc.t, NULL, acceptor, NULL)) {
		fz_fail("pthread_create");
		return;
	}
	remote = vt_addr(nics[acc.nic].h, acc.disc);
	local = chance(50) ? vt_addr(nics[vis[a].nic].h, "fzc") : NULL;
	until = now_ms() + 2500;
	while (now_ms() < until) {
		r = check_doc("VipConnectRequest",
			      VipConnectRequest(vis[a].h, local, remote, 1500,
						&ra));
		if (r != VIP_NO_MATCH)
			break;
		usleep(5000);
	}
	pthread_join(acc.t, NULL);
	last_request = r;
	fz_log("cs %d->%d: request %d wait %d accept %d (recvs %d %d)", a, b,
	       r, acc.wait, acc.accept, vis[a].n[1], vis[b].n[1]);
	free(remote);
	free(local);
	if (r == VIP_SUCCESS && acc.accept == VIP_SUCCESS)
		note_connected(a, b);
	else if (r == VIP_SUCCESS || acc.accept == VIP_SUCCESS)
		/* One end thinks it is connected: its peer's end was torn
		 * down (a timeout on the way); let the teardown sort it. */
		vi_taint(a), vi_taint(b);
	vis[a].reused = vis[b].reused = true;
	if (acc.reject && acc.wait == VIP_SUCCESS && r != VIP_REJECT &&
	    r != VIP_TIMEOUT)
		fz_fail("a rejected request returned %d", r);
}

/* Peer-to-peer: both ask, then both collect (one side alone: it fails). */
static void connect_peer(int a, int b)
{
	char da[16], db[16];
	VIP_NET_ADDRESS *la, *lb, *ra_, *rb;
	VIP_VI_ATTRIBUTES at;
	VIP_RETURN r1, r2 = VIP_INVALID_STATE, w1 = -1, w2 = -1;
	bool alone = b < 0;

	snprintf(da, sizeof(da), "fzp%d.%da", vis[a].nic, a);
	snprintf(db, sizeof(db), "fzp%d.%db", alone ? 9 : vis[b].nic, a);
	la = vt_addr(nics[vis[a].nic].h, da);
	rb = vt_addr(nics[vis[alone ? a : b].nic].h, db);
	r1 = check_doc("VipConnectPeerRequest",
		       VipConnectPeerRequest(vis[a].h, la, rb,
					     alone ? 100 + rn(300) : 3000));
	if (!alone) {
		lb = vt_addr(nics[vis[b].nic].h, db);
		ra_ = vt_addr(nics[vis[a].nic].h, da);
		r2 = check_doc("VipConnectPeerRequest",
			       VipConnectPeerRequest(vis[b].h, lb, ra_, 3000));
		free(lb);
		free(ra_);
	}
	free(la);
	free(rb);
	if (r1 == VIP_SUCCESS)
		vis[a].peer_pending = true;
	if (!alone && r2 == VIP_SUCCESS)
		vis[b].peer_pending = true;
	if (alone)
		vis[a].reused = true;
	if (alone && point(6) && chance(50)) {
		stats.special[6]++;
		return; /* left for a destroy to find (point 6) */
	}
	if (r1 == VIP_SUCCESS) {
		if (chance(30))
			check_doc("VipConnectPeerDone",
				  VipConnectPeerDone(vis[a].h, &at));
		w1 = check_doc("VipConnectPeerWait",
			       VipConnectPeerWait(vis[a].h, &at));
		vis[a].peer_pending = false;
	}
	if (!alone && r2 == VIP_SUCCESS) {
		w2 = check_doc("VipConnectPeerWait",
			       VipConnectPeerWait(vis[b].h, &at));
		vis[b].peer_pending = false;
	}
	fz_log("peer %d<->%d: %d %d wait %d %d (recvs %d %d)", a, b, r1, r2,
	       w1, w2, vis[a].n[1], alone ? -1 : vis[b].n[1]);
	if (w1 == VIP_SUCCESS && w2 == VIP_SUCCESS)
		note_connected(a, b);
	else if (w1 == VIP_SUCCESS || w2 == VIP_SUCCESS)
		vi_taint(a), vi_taint(b);
	vis[a].reused = true;
	if (!alone)
		vis[b].reused = true;
}

/* A request nobody answers, or to a host that is not there (point 7
 * follows such attempts). */
static void connect_fail(int a)
{
	VIP_NET_ADDRESS *remote = vt_addr(nics[vis[a].nic].h, "fz-nobody");
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN r;

	stats.failed_connects++;
	if (chance(50) && remote->HostAddressLen == 4)
		remote->HostAddress[3] = (VIP_UINT8)(100 + rn(100));

	r = check_doc("VipConnectRequest",
		      VipConnectRequest(vis[a].h, NULL, remote, 50 + rn(300),
					&ra));
	fz_log("fail %d: %d (recvs %d)", a, r, vis[a].n[1]);
	if (r == VIP_SUCCESS)
		fz_fail("a request to nobody connected");
	vis[a].reused = true;
	free(remote);
}

/* After a disconnect: every send it held must come back (flushed). */
static void drain_sends(int v)
{
	int tries;

	for (tries = 0; tries < 20 && vis[v].n[0]; tries++) {
		VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)0x1;
		VIP_RETURN r = VipSendWait(vis[v].h, 100, &d);

		dequeued("VipSendWait", vis[v].h, false, r, d,
			 in_order_ok(vis[v].h, false));
	}
	if (vis[v].n[0] && !vis[v].notify_armed && actor.kind == A_NONE)
		fz_fail("%d sends posted with VIP_SUCCESS never came back "
			"after VipDisconnect", vis[v].n[0]);
}

static void disconnect(int v)
{
	VIP_RETURN r;

	if (point(2) && chance(30) && actor.kind == A_NONE) {
		/* Point 2: two threads disconnect it at once. */
		stats.special[2]++;
		actor_start(A_DISCONNECT, vis[v].h, v, -1);
		r = check_doc("VipDisconnect", VipDisconnect(vis[v].h));
		actor_join();
	} else if (point(8) && chance(30) && vis[v].peer >= 0) {
		/* Point 8: sends posted while it disconnects; the main
		 * thread posts, the actor disconnects. */
		int i;

		stats.special[8]++;
		actor_start(A_DISCONNECT, vis[v].h, v, -1);
		for (i = 0; i < 6; i++)
			post(v, false, false, false, rn(64), NULL);
		actor_join();
		r = VIP_SUCCESS;
	} else {
		r = check_doc("VipDisconnect", VipDisconnect(vis[v].h));
	}
	fz_log("disconnect %d (peer %d): %d", v, vis[v].peer, r);
	if (r == VIP_SUCCESS) {
		pthread_mutex_lock(&model);
		vi_taint(v);
		if (vis[v].peer >= 0) {
			vis[vis[v].peer].tainted = true;
			vis[vis[v].peer].peer = -1;
		}
		vis[v].peer = -1;
		vis[v].peer_pending = false;
		pthread_mutex_unlock(&model);
		if (chance(50))
			drain_sends(v);
	}
}

/* ---------------------------------------------------------------- */
/* A message that must arrive whole                                  */
/* ---------------------------------------------------------------- */

static bool strict_pair(int a, int b)
{
	const struct vi *x = &vis[a], *y = &vis[b];
	int i;

	if (x->tainted || y->tainted || x->dirty || y->dirty)
		return false;
	if (x->va.ReliabilityLevel == VIP_SERVICE_UNRELIABLE)
		return false;
	if (!point(7) && ((x->reused && x->recvs_at_connect) ||
			  (y->reused && y->recvs_at_connect)))
		return false;
	if (actor.kind != A_NONE && (actor.vi == a || actor.vi == b ||
				     actor.vi < 0))
		return false;
	if (x->n[0] || x->notify_armed || y->notify_armed)
		return false;
	for (i = 0; i < y->n[1]; i++)
		if (!nics[y->nic].slot[y->q[1][i]].clean)
			return false;
	return vt_vi_state(x->h) == VIP_STATE_CONNECTED &&
	       vt_vi_state(y->h) == VIP_STATE_CONNECTED;
}

static uint64_t gather(const struct slot *s, char *out, uint64_t max)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i < s->nseg && n < max; i++) {
		uint64_t l = s->seg[i].len < max - n ? s->seg[i].len : max - n;

		memcpy(out + n, s->seg[i].p, l);
		n += l;
	}
	return n;
}

/*
 * a sends len bytes of fresh random data to b, whose oldest receive takes
 * it. Strict: both must complete without error, whole and intact.
 */
static void transfer(int a, int b, uint32_t len, bool strict)
{
	int ka = vis[a].nic, si, ri;
	char want[PING_MAX], got[PING_MAX];
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)0x1;
	struct slot *ss, *rs;
	VIP_RETURN r;
	unsigned j;
	int pr;

	if (!vis[b].n[1] &&
	    (pr = post(b, true, false, true, PING_MAX, &ri)) != VIP_SUCCESS) {
		if (strict)
			fz_fail("a clean receive was refused (%d)", pr);
		return;
	}
	for (j = 0; j + 8 <= AREA; j += 8) {
		uint64_t x = rnd();

		memcpy(send_area(ka) + j, &x, 8);
	}
	/* -1: no slot free, or the queue full in the model (the fuzzer's
	 * limit, not the library's). */
	if ((pr = post(a, false, false, true, len, &si)) != VIP_SUCCESS ||
	    si < 0) {
		if (strict)
			fz_fail("a clean send was refused (%d, slot %d)", pr,
				si);
		return;
	}
	ss = &nics[ka].slot[si];
	fz_log("transfer %d->%d %u bytes%s (recvs %d, reused %d/%d)", a, b, len,
	       strict ? " strict" : "", vis[b].n[1], vis[b].reused,
	       vis[b].recvs_at_connect);
	gather(ss, want, len);
	r = VipSendWait(vis[a].h, strict ? 5000 : 300, &d);
	/* In order unless a waiter or a handler takes from the same queue
	 * (which a strict pair never has). */
	if (!dequeued("VipSendWait", vis[a].h, false, r, d,
		      in_order_ok(vis[a].h, false)))
		goto lost;
	if (strict && r != VIP_SUCCESS)
		fz_fail("a send on a clean connection completed with Status "
			"0x%x", d->CS.Status);
	d = (VIP_DESCRIPTOR *)0x1;
	r = VipRecvWait(vis[b].h, strict ? 5000 : 300, &d);
	rs = dequeued("VipRecvWait", vis[b].h, true, r, d,
		      in_order_ok(vis[b].h, true));
	if (!rs)
		goto lost;
	if (r == VIP_SUCCESS)
		stats.messages++;
	if (!strict)
		return;
	stats.strict_pings++;
	if ((vis[a].reused && vis[a].recvs_at_connect) ||
	    (vis[b].reused && vis[b].recvs_at_connect))
		stats.strict_reconnect_pings++; /* point 7's */
	if (r != VIP_SUCCESS || d->CS.Length != len) {
		fz_fail("%u bytes sent on a clean connection, the receive "
			"completed with Status 0x%x, Length %u",
			len, d->CS.Status, d->CS.Length);
	} else if (gather(rs, got, len) != len || memcmp(want, got, len)) {
		fz_fail("the %u bytes received are not the bytes sent", len);
	}
	return;
lost:
	if (strict)
		fz_fail("a message on a clean connection did not arrive (%d)",
			r);
	vi_taint(a);
}

/* A message to a's peer, no larger than any receive posted there. */
static void ping(int a)
{
	int b = vis[a].peer, i;
	uint32_t len = rn(PING_MAX);

	if (b < 0)
		return;
	if (point(3) && chance(25) && !vis[b].n[1]) {
		/* Point 3: a receive rewritten while posted (SegCount 65535,
		 * segments to the end of the region), then a message larger
		 * than it held. */
		int ri;
		VIP_DESCRIPTOR *d;

		if (post(b, true, false, true, 64, &ri) != VIP_SUCCESS || ri < 0)
			return;
		d = slot_desc(vis[b].nic, ri);
		d->CS.SegCount = 65535;
		for (i = 0; i < 16; i++) {
			vt_seg(d, i)->Data.Address = nics[vis[b].nic].arena;
			vt_seg(d, i)->Length = ARENA_LEN;
		}
		vi_taint(b);
		stats.special[3]++;
		transfer(a, b, PING_MAX, false);
		return;
	}
	for (i = 0; i < vis[b].n[1]; i++) {
		const struct slot *s = &nics[vis[b].nic].slot[vis[b].q[1][i]];

		if (s->cap < len)
			len = (uint32_t)s->cap;
	}
	transfer(a, b, len, strict_pair(a, b));
}

/* ---------------------------------------------------------------- */
/* The steps                                                         */
/* ---------------------------------------------------------------- */

static VIP_VI_ATTRIBUTES random_attrs(int k, bool standard)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	static const VIP_RELIABILITY_LEVEL lv[] = {
		VIP_SERVICE_UNRELIABLE, VIP_SERVICE_RELIABLE_DELIVERY,
		VIP_SERVICE_RELIABLE_RECEPTION, 0, 3, 0x80,
		VIP_SERVICE_RELIABLE_DELIVERY | VIP_SERVICE_DFC
	};
	const char *what;

	va.EnableRdmaWrite = VIP_TRUE;
	va.EnableRdmaRead = VIP_TRUE;
	if (standard)
		return va;
	va.ReliabilityLevel = lv[rn(sizeof(lv) / sizeof(lv[0]))];
	switch (rn(4)) {
	case 0:
		va.MaxTransferSize = 0;
		break;
	case 1:
		va.MaxTransferSize = 4096;
		break;
	case 2:
		va.MaxTransferSize = (VIP_ULONG)rnd();
		break;
	default:
		break;
	}
	va.EnableRdmaWrite = chance(50);
	va.EnableRdmaRead = chance(50);
	switch (rn(4)) {
	case 0:
		va.Ptag = nics[k].ptag[rn(NPTAG)];
		break;
	case 1:
		va.Ptag = bad_handle(K_PTAG, &what);
		break;
	default:
		break;
	}
	return va;
}

static void op_create_vi(void)
{
	int v, k = rn(NNIC), c[2], q;
	VIP_CQ_HANDLE ch[2] = { NULL, NULL };
	VIP_VI_ATTRIBUTES va;
	VIP_VI_HANDLE h = NULL;
	const char *what;
	VIP_RETURN r;

	for (v = 0; v < NVI && vis[v].h; v++)
		;
	if (v == NVI)
		return;
	va = random_attrs(k, chance(70));
	for (q = 0; q < 2; q++) {
		c[q] = chance(35) ? live_cq() : -1;
		if (c[q] >= 0 && cqs[c[q]].nic == k)
			ch[q] = cqs[c[q]].h;
		else
			c[q] = -1;
	}
	if (chance(6)) {
		/* A bad NIC or CQ handle, and nothing else wrong. */
		va = random_attrs(k, true);
		if (chance(50))
			r = VipCreateVi(bad_handle(K_NIC, &what), &va, NULL,
					NULL, &h);
		else
			r = VipCreateVi(nics[k].h, &va,
					bad_handle(K_CQ, &what), NULL, &h);
		if (!strcmp(what, "NULL") && r == VIP_SUCCESS) {
			/* A NULL CQ handle is no CQ: allowed. */
			check_doc("VipDestroyVi", VipDestroyVi(h));
			return;
		}
		check_bad("VipCreateVi", r, VIP_INVALID_PARAMETER, what);
		return;
	}
	r = check_doc("VipCreateVi", VipCreateVi(nics[k].h, &va, ch[0], ch[1],
						 &h));
	if (r != VIP_SUCCESS)
		return;
	memset(&vis[v], 0, sizeof(vis[v]));
	vis[v].h = h;
	vis[v].nic = k;
	vis[v].va = va;
	vis[v].peer = -1;
	for (q = 0; q < 2; q++) {
		vis[v].cq[q] = c[q];
		if (c[q] >= 0 && cqs[c[q]].nusers < 64) {
			pthread_mutex_lock(&model);
			cqs[c[q]].users[cqs[c[q]].nusers++] = h;
			pthread_mutex_unlock(&model);
		}
	}
}

static void op_destroy_vi(int v)
{
	VIP_RETURN r;

	if (vis[v].peer_pending && !point(6)) {
		VIP_VI_ATTRIBUTES at;

		check_doc("VipConnectPeerWait",
			  VipConnectPeerWait(vis[v].h, &at));
		vis[v].peer_pending = false;
	}
	actor_spare_vi(v);
	if (actor.kind != A_NONE && actor.vi == v)
		stats.special[1]++;
	r = check_doc("VipDestroyVi", VipDestroyVi(vis[v].h));
	if (r == VIP_SUCCESS)
		forget_vi(v);
	else if (r != VIP_INVALID_STATE)
		fz_fail("VipDestroyVi returned %d", r);
}

static void op_cq(void)
{
	int c = live_cq(), k = rn(NNIC), i;
	VIP_VI_HANDLE vh = (VIP_VI_HANDLE)0x1;
	VIP_BOOLEAN rq;
	VIP_CQ_HANDLE h;
	const char *what;
	VIP_RETURN r;

	switch (rn(8)) {
	case 0: /* create */
		for (i = 0; i < NCQ && cqs[i].h; i++)
			;
		if (i == NCQ)
			return;
		r = check_doc("VipCreateCQ",
			      VipCreateCQ(nics[k].h,
					  point(9) && chance(50) ? 1 + rn(4) :
					  chance(5) ? 0 : 256 + rn(256),
					  &h));
		if (r == VIP_SUCCESS) {
			memset(&cqs[i], 0, sizeof(cqs[i]));
			cqs[i].h = h;
			cqs[i].nic = k;
		}
		return;
	case 1: /* destroy */
		if (c < 0)
			return;
		actor_spare_cq(c);
		r = check_doc("VipDestroyCQ", VipDestroyCQ(cqs[c].h));
		if (r == VIP_SUCCESS) {
			add_stale(cqs[c].h);
			cqs[c].h = NULL;
		}
		return;
	case 2:
		if (c >= 0)
			check_doc("VipResizeCQ",
				  VipResizeCQ(cqs[c].h, chance(10) ? 0 :
						  point(9) ? 1 + rn(600) : 256 + rn(600)));
		return;
	case 3:
	case 4:
		if (c < 0)
			return;
		r = chance(50) ? VipCQDone(cqs[c].h, &vh, &rq) :
				 VipCQWait(cqs[c].h, rn(20), &vh, &rq);
		check_doc("VipCQDone", r);
		if (r == VIP_SUCCESS) {
			pthread_mutex_lock(&model);
			for (i = 0; i < cqs[c].nusers && cqs[c].users[i] != vh;
			     i++)
				;
			if (i == cqs[c].nusers && cqs[c].nusers < 64)
				fz_fail("VipCQDone named VI %p, never attached",
					vh);
			pthread_mutex_unlock(&model);
		} else if (vh) {
			fz_fail("VipCQDone returned %d and VI %p", r, vh);
		}
		return;
	case 5:
		if (c >= 0)
			check_doc("VipCQNotify",
				  VipCQNotify(cqs[c].h, &cqs[c], cq_handler));
		return;
	case 6: /* waiter on a second thread */
		if (c >= 0 && actor.kind == A_NONE)
			actor_start(A_CQ_WAIT, cqs[c].h, -1, c);
		return;
	default: /* bad handles */
		h = bad_handle(K_CQ, &what);
		switch (rn(6)) {
		case 0:
			check_bad("VipDestroyCQ", VipDestroyCQ(h),
				  VIP_INVALID_PARAMETER, what);
			break;
		case 1:
			check_bad("VipResizeCQ", VipResizeCQ(h, 64),
				  VIP_INVALID_PARAMETER, what);
			break;
		case 2:
			check_bad("VipCQDone", VipCQDone(h, &vh, &rq),
				  VIP_INVALID_PARAMETER, what);
			break;
		case 3:
			check_bad("VipCQWait", VipCQWait(h, 5, &vh, &rq),
				  VIP_INVALID_PARAMETER, what);
			break;
		case 4:
			check_bad("VipCQNotify", VipCQNotify(h, NULL, cq_handler),
				  VIP_INVALID_PARAMETER, what);
			break;
		default:
			h = bad_handle(K_NIC, &what);
			check_bad("VipCreateCQ", VipCreateCQ(h, 16, &h),
				  VIP_INVALID_PARAMETER, what);
			break;
		}
		if (c >= 0 && chance(20)) {
			check_bad("VipCQDone", VipCQDone(cqs[c].h, NULL, &rq),
				  VIP_INVALID_PARAMETER, "NULL output");
		}
		return;
	}
}

static void op_mem(void)
{
	int k = rn(NNIC), m = rn(NMEM);
	struct nic *n = &nics[k];
	VIP_MEM_ATTRIBUTES ma = { NULL, chance(50), chance(50) };
	const char *what;
	VIP_RETURN r;

	switch (rn(6)) {
	case 0: /* register */
		if (n->mem[m].base)
			return;
		n->mem[m].len = 4096 * (1 + rn(4));
		if (posix_memalign((void **)&n->mem[m].base, 4096,
				   n->mem[m].len))
			return;
		if (chance(40))
			ma.Ptag = n->ptag[rn(NPTAG)];
		r = check_doc("VipRegisterMem",
			      VipRegisterMem(n->h, n->mem[m].base,
					     n->mem[m].len,
					     chance(20) ? NULL : &ma,
					     &n->mem[m].mh));
		if (r != VIP_SUCCESS) {
			free(n->mem[m].base);
			n->mem[m].base = NULL;
		}
		return;
	case 1: /* deregister */
		if (!n->mem[m].base)
			return;
		r = check_doc("VipDeregisterMem",
			      VipDeregisterMem(n->h, n->mem[m].base,
					       n->mem[m].mh));
		if (r != VIP_SUCCESS)
			fz_fail("VipDeregisterMem of a live region: %d", r);
		add_stale_mh(n->mem[m].mh);
		free(n->mem[m].base);
		n->mem[m].base = NULL;
		return;
	case 2:
		if (n->mem[m].base)
			check_doc("VipQueryMem",
				  VipQueryMem(n->h, n->mem[m].base + rn(4096),
					      n->mem[m].mh, &ma));
		return;
	case 3:
		if (n->mem[m].base) {
			ma.Ptag = chance(30) ? bad_handle(K_PTAG, &what) :
					       n->ptag[rn(NPTAG)];
			check_doc("VipSetMemAttributes",
				  VipSetMemAttributes(n->h, n->mem[m].base,
						      n->mem[m].mh, &ma));
		}
		return;
	case 4: /* bad handles, regions that are not */
		switch (rn(4)) {
		case 0:
			check_bad("VipDeregisterMem",
				  VipDeregisterMem(n->h, n->arena + 64, n->mh),
				  VIP_INVALID_PARAMETER, "region-middle");
			break;
		case 1:
			check_bad("VipDeregisterMem",
				  VipDeregisterMem(n->h, n->arena, bad_mh(k)),
				  VIP_INVALID_PARAMETER, "memory");
			break;
		case 2: {
			VIP_NIC_HANDLE bad = bad_handle(K_NIC, &what);

			check_bad("VipQueryMem",
				  VipQueryMem(bad, n->arena, n->mh, &ma),
				  VIP_INVALID_PARAMETER, what);
			break;
		}
		default:
		{
			VIP_NIC_HANDLE bad = bad_handle(K_NIC, &what);
			VIP_MEM_HANDLE mh;

			check_bad("VipRegisterMem",
				  VipRegisterMem(bad, n->arena, 64, NULL, &mh),
				  VIP_INVALID_PARAMETER, what);
		}
			break;
		}
		return;
	default: /* ptags */
		m = rn(NPTAG);
		if (!n->ptag[m]) {
			check_doc("VipCreatePtag", VipCreatePtag(n->h, &n->ptag[m]));
		} else if (chance(50)) {
			r = check_doc("VipDestroyPtag",
				      VipDestroyPtag(n->h, n->ptag[m]));
			if (r == VIP_SUCCESS) {
				add_stale(n->ptag[m]);
				n->ptag[m] = NULL;
			}
		} else {
			void *p = bad_handle(K_PTAG, &what);

			r = VipDestroyPtag(n->h, p);
			check_bad("VipDestroyPtag", r,
				  p ? VIP_INVALID_PTAG : VIP_INVALID_PARAMETER,
				  what);
		}
		return;
	}
}

static void op_vi_misc(int v)
{
	VIP_VI_HANDLE h = vis[v].h;
	VIP_VI_ATTRIBUTES va;
	VIP_BOOLEAN se, re;
	VIP_VI_STATE st;
	VIP_RETURN r;
	int q = chance(50);

	switch (rn(7)) {
	case 0:
		check_doc("VipQueryVi", VipQueryVi(h, &st, &va, &se, &re));
		if (chance(20))
			check_bad("VipQueryVi", VipQueryVi(h, NULL, &va, &se, &re),
				  VIP_INVALID_PARAMETER, "NULL output");
		return;
	case 1:
		va = random_attrs(vis[v].nic, chance(50));
		r = check_doc("VipSetViAttributes", VipSetViAttributes(h, &va));
		if (r == VIP_SUCCESS) {
			vis[v].va = va;
			vis[v].reused = true;
		}
		return;
	case 2: {
		VIP_PVOID p = (VIP_PVOID)(uintptr_t)rnd();

		VipSetUserData(h, p);
		if (VipGetUserData(h) != p)
			fz_fail("VipGetUserData lost the value set");
		return;
	}
	case 3: /* notify */
		vis[v].notify_armed = true;
		vi_taint(v);
		r = q ? VipRecvNotify(h, (VIP_PVOID)(uintptr_t)(1 | (point(4) && chance(20) ? 2 : 0)), vi_handler) :
			VipSendNotify(h, (VIP_PVOID)0, vi_handler);
		check_doc(q ? "VipRecvNotify" : "VipSendNotify", r);
		return;
	case 4: /* a waiter on a second thread */
		if (actor.kind == A_NONE)
			actor_start(q ? A_RECV_WAIT : A_SEND_WAIT, h, v, -1);
		return;
	case 5:
		check_doc("VipPostDeferredSends",
			  VipPostDeferredSends(h, VIP_TRUE, &se));
		check_doc("VipAddTagCQ", VipAddTagCQ(NULL, NULL, 0, 0));
		check_doc("VipRemoveTagCQ", VipRemoveTagCQ(NULL, NULL, 0));
		return;
	default:
		dequeue(v, q, chance(30));
		return;
	}
}

/* Every VI call with a handle that names no VI. */
static void op_bad_vi(void)
{
	const char *what;
	VIP_VI_HANDLE h = bad_handle(K_VI, &what);
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)0x1;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_BOOLEAN se, re;
	VIP_VI_STATE st;
	VIP_NET_ADDRESS *a = vt_addr(nics[0].h, "fz-bad");

#define BAD(fn, call) check_bad(#fn, fn call, VIP_INVALID_PARAMETER, what)
	switch (rn(16)) {
	case 0: BAD(VipDestroyVi, (h)); break;
	case 1: BAD(VipQueryVi, (h, &st, &va, &se, &re)); break;
	case 2: BAD(VipSetViAttributes, (h, &va)); break;
	case 3: BAD(VipSendDone, (h, &d));
		if (d)
			fz_fail("VipSendDone on a bad VI left *Descriptor set");
		break;
	case 4: BAD(VipRecvDone, (h, &d)); break;
	case 5: BAD(VipSendWait, (h, 5, &d)); break;
	case 6: BAD(VipRecvWait, (h, 5, &d)); break;
	case 7: BAD(VipSendNotify, (h, NULL, vi_handler)); break;
	case 8: BAD(VipRecvNotify, (h, NULL, vi_handler)); break;
	case 9: BAD(VipConnectRequest, (h, NULL, a, 10, &va)); break;
	case 10: BAD(VipDisconnect, (h)); break;
	case 11: BAD(VipConnectPeerRequest, (h, a, a, 10)); break;
	case 12: BAD(VipConnectPeerDone, (h, &va)); break;
	case 13: BAD(VipConnectPeerWait, (h, &va)); break;
	case 14:
		if (VipGetUserData(h))
			fz_fail("VipGetUserData of a %s handle", what);
		VipSetUserData(h, (VIP_PVOID)0x1);
		break;
	default: {
		const char *w2;
		VIP_CONN_HANDLE c = bad_handle(K_CONN, &w2);

		what = w2;
		BAD(VipConnectAccept, (c, vis[0].h));
		BAD(VipConnectReject, (c));
		break;
	}
	}
#undef BAD
	free(a);
}

static void op_bad_nic(void)
{
	const char *what;
	VIP_NIC_HANDLE h = bad_handle(K_NIC, &what);
	VIP_NIC_ATTRIBUTES na;
	VIP_PROTECTION_HANDLE p;
	VIP_CONN_HANDLE c;
	VIP_NET_ADDRESS *a = vt_addr(nics[0].h, "fz-bad"), *o = vt_addr_buf();
	VIP_AUTODISCOVERY_LIST ad = { 0, NULL, 0 };
	VIP_CHAR name[64];
	VIP_ULONG nl = sizeof(name);
	int k = rn(NNIC);

#define BAD(fn, call) check_bad(#fn, fn call, VIP_INVALID_PARAMETER, what)
	switch (rn(12)) {
	case 0: BAD(VipCloseNic, (h)); break;
	case 1: BAD(VipQueryNic, (h, &na)); break;
	case 2: BAD(VipCreatePtag, (h, &p)); break;
	case 3: BAD(VipDestroyPtag, (h, nics[k].ptag[0])); break;
	case 4: BAD(VipConnectWait, (h, a, 5, o, NULL, &c)); break;
	case 5: BAD(VipNSInit, (h, NULL)); break;
	case 6: BAD(VipNSShutdown, (h)); break;
	case 7: BAD(VipNSGetHostByName, (h, "localhost", o, 0)); break;
	case 8: BAD(VipNSGetHostByAddr, (h, a, name, &nl)); break;
	case 9: BAD(VipErrorCallback, (h, NULL, on_error)); break;
	case 10: BAD(VipQuerySystemManagementInfo,
		     (h, VIP_SMI_AUTODISCOVERY, &ad)); break;
	default: BAD(VipQuerySystemManagementInfoClan,
		     (h, VIP_SMI_AUTODISCOVERY, &ad)); break;
	}
#undef BAD
	free(a);
	free(o);
}

static void op_nic_misc(void)
{
	int k = rn(NNIC);
	VIP_NIC_HANDLE h = nics[k].h;
	VIP_NIC_ATTRIBUTES na;
	VIP_NET_ADDRESS *o = vt_addr_buf();
	VIP_NET_ADDRESS *entries[2] = { vt_addr_buf(), vt_addr_buf() };
	VIP_AUTODISCOVERY_LIST ad = { 0, entries, 2 };
	VIP_CHAR name[64];
	VIP_ULONG nl = sizeof(name);

	switch (rn(6)) {
	case 0:
		check_doc("VipQueryNic", VipQueryNic(h, &na));
		break;
	case 1:
		check_doc("VipNSInit", VipNSInit(h, NULL));
		check_doc("VipNSGetHostByName",
			  VipNSGetHostByName(h, "localhost", o, rn(3)));
		break;
	case 2:
		check_doc("VipNSShutdown", VipNSShutdown(h));
		break;
	case 3:
		check_doc("VipQuerySystemManagementInfo",
			  VipQuerySystemManagementInfo(h, chance(80) ?
						       VIP_SMI_AUTODISCOVERY : rnd(), &ad));
		break;
	case 4:
		check_doc("VipErrorCallback",
			  VipErrorCallback(h, NULL, on_error));
		break;
	default: {
		VIP_NET_ADDRESS *a = vt_addr(h, "");

		check_doc("VipNSGetHostByAddr",
			  VipNSGetHostByAddr(h, a, name, &nl));
		free(a);
		break;
	}
	}
	free(o);
	free(entries[0]);
	free(entries[1]);
}

/* Closes NIC k with whatever is left on it, and opens it again. */
static void op_close_nic(int k)
{
	int v, c, m;
	VIP_RETURN r;

	actor_spare_nic(k);
	r = check_doc("VipCloseNic", VipCloseNic(nics[k].h));
	if (r != VIP_SUCCESS) {
		fz_fail("VipCloseNic with objects left: %d", r);
		return;
	}
	for (v = 0; v < NVI; v++)
		if (vis[v].h && vis[v].nic == k)
			forget_vi(v);
	for (c = 0; c < NCQ; c++)
		if (cqs[c].h && cqs[c].nic == k) {
			add_stale(cqs[c].h);
			cqs[c].h = NULL;
		}
	for (m = 0; m < NMEM; m++)
		if (nics[k].mem[m].base) {
			add_stale_mh(nics[k].mem[m].mh);
			free(nics[k].mem[m].base);
			nics[k].mem[m].base = NULL;
		}
	for (m = 0; m < NPTAG; m++)
		if (nics[k].ptag[m])
			add_stale(nics[k].ptag[m]);
	add_stale(nics[k].h);
	add_stale_mh(nics[k].mh);
	nic_open(k);
}

static void op_data(int v)
{
	struct vi *x = &vis[v];
	bool hostile = chance(15);

	switch (rn(9)) {
	case 7:
	case 8:
		ping(v);
		break;
	case 0:
	case 1:
		post(v, true, hostile, false, rn(PING_MAX * 2), NULL);
		break;
	case 2:
	case 3:
		/* A send with no receive at the peer breaks the connection:
		 * now and then only, else the pair would never last. */
		if (x->peer >= 0 && !vis[x->peer].n[1] && chance(80))
			ping(v);
		else if (x->peer >= 0 || chance(20))
			post(v, false, hostile, false, rn(PING_MAX * 2), NULL);
		break;
	case 4: { /* RDMA write or read into the peer's receive area */
		int k = x->nic, i, p = x->peer;
		VIP_DESCRIPTOR *d;
		struct slot *s;
		VIP_RETURN r;

		if (p < 0 || x->n[0] >= MAXQ || (i = free_slot(k)) < 0)
			break;
		d = slot_desc(k, i);
		s = &nics[k].slot[i];
		memset(d, 0, SLOT);
		d->CS.Control = chance(50) ? VIP_CONTROL_OP_RDMAWRITE :
					     VIP_CONTROL_OP_RDMAREAD;
		d->CS.SegCount = 2;
		d->CS.Length = 64 + rn(512);
		d->DS[0].Remote.Data.Address = recv_area(vis[p].nic) + rn(AREA / 2);
		d->DS[0].Remote.Handle = chance(80) ? nics[vis[p].nic].mh :
						      bad_mh(vis[p].nic);
		vt_seg(d, 1)->Data.Address = send_area(k) + rn(AREA / 2);
		vt_seg(d, 1)->Handle = nics[k].mh;
		vt_seg(d, 1)->Length = d->CS.Length;
		if (hostile)
			make_hostile(d, k);
		memset(s, 0, sizeof(*s));
		s->control = d->CS.Control;
		pthread_mutex_lock(&model);
		s->state = S_POSTED;
		s->vi = x->h;
		x->q[0][x->n[0]++] = i;
		pthread_mutex_unlock(&model);
		r = check_doc("VipPostSend", VipPostSend(x->h, d, nics[k].mh));
		pthread_mutex_lock(&model);
		if (r != VIP_SUCCESS) {
			if (s->state != S_POSTED)
				fz_fail("a refused RDMA came back");
			q_remove(x, 0, i);
			s->state = S_FREE;
		} else {
			x->dirty = true; /* an RDMA may break it: no ping */
			vi_taint(v);
		}
		pthread_mutex_unlock(&model);
		break;
	}
	case 5:
		ping(v);
		break;
	default:
		dequeue(v, chance(50), chance(30));
		break;
	}
	if (!x->n[0] && !x->n[1])
		x->dirty = false;
}

static void op_connect(void)
{
	int a = live_vi(), b, i;

	if (a < 0)
		return;
	if (vis[a].peer < 0 && !vis[a].peer_pending &&
	    vt_vi_state(vis[a].h) == VIP_STATE_ERROR) {
		disconnect(a); /* its peer went: make it reusable */
		return;
	}
	switch (rn(5)) {
	case 0:
	case 1:
	case 2:
		b = -1;
		for (i = 0; i < NVI; i++) {
			int j = (a + 1 + i) % NVI;

			if (vis[j].h && j != a && vis[j].peer < 0 &&
			    !vis[j].peer_pending) {
				b = j;
				break;
			}
		}
		if (b < 0 || vis[a].peer >= 0 || vis[a].peer_pending)
			return;
		/* A refusal for a VI not Idle is a 3 s wait here. */
		if (vt_vi_state(vis[a].h) != VIP_STATE_IDLE ||
		    vt_vi_state(vis[b].h) != VIP_STATE_IDLE)
			return;
		/* Receives posted before the connection are its own
		 * (point 7 is about those of a VI that was used before). */
		if (chance(50))
			post(a, true, false, true, PING_MAX, NULL);
		if (chance(50))
			post(b, true, false, true, PING_MAX, NULL);
		if (chance(50))
			connect_cs(a, b, true);
		else
			connect_peer(a, b);
		if (vis[a].peer == b && chance(70))
			ping(chance(50) ? a : b);
		return;
	case 3:
		if (vis[a].peer >= 0 || vis[a].peer_pending ||
		    vt_vi_state(vis[a].h) != VIP_STATE_IDLE)
			return;
		if (chance(50))
			connect_fail(a);
		else
			connect_peer(a, -1);
		return;
	default:
		disconnect(a);
		return;
	}
}

/* Point 4: a handler may have destroyed its own VI. */
static void reap_handler_victims(void)
{
	VIP_VI_ATTRIBUTES va;
	VIP_BOOLEAN se, re;
	VIP_VI_STATE st;
	int v;

	for (v = 0; v < NVI; v++)
		if (vis[v].h && vis[v].notify_armed &&
		    VipQueryVi(vis[v].h, &st, &va, &se, &re) ==
			    VIP_INVALID_PARAMETER)
			forget_vi(v);
}

static void op_destroy(void)
{
	int v = live_vi();

	if (v < 0)
		return;
	if (vis[v].peer >= 0 || vis[v].n[0] || chance(50))
		disconnect(v);
	op_destroy_vi(v);
}

/* Data mostly where it can flow: a connected VI. */
static void op_data_any(void)
{
	int v = live_vi(), i;

	for (i = 0; i < NVI && chance(80); i++) {
		int j = (v + i) % NVI;

		if (v >= 0 && vis[j].h && vis[j].peer >= 0) {
			v = j;
			break;
		}
	}

	if (v >= 0)
		op_data(v);
}

static void op_vi_any(void)
{
	int v = live_vi();

	if (v >= 0)
		op_vi_misc(v);
}

static void op_close_any(void) { op_close_nic(rn(NNIC)); }

/* The operations and their weights (out of 100). */
static const struct {
	int weight;
	const char *name;
	void (*fn)(void);
} ops[] = {
	{ 8, "create VI", op_create_vi },
	{ 3, "disconnect and destroy VI", op_destroy },
	{ 14, "connect or disconnect", op_connect },
	{ 34, "data", op_data_any },
	{ 9, "VI calls", op_vi_any },
	{ 8, "CQ calls", op_cq },
	{ 6, "memory and ptags", op_mem },
	{ 8, "bad VI handles", op_bad_vi },
	{ 5, "bad NIC handles", op_bad_nic },
	{ 4, "NIC calls", op_nic_misc },
	{ 1, "close NIC with objects left", op_close_any },
};

static void step(void)
{
	int u = rn(100), i;

	if (point(4))
		reap_handler_victims();
	for (i = 0; i + 1 < (int)(sizeof(ops) / sizeof(ops[0])) &&
		    u >= ops[i].weight;
	     i++)
		u -= ops[i].weight;
	atomic_store(&fz.op, ops[i].name);
	if (fz.verbose)
		fprintf(stderr, "api_fuzz: %llu/%d %s\n",
			(unsigned long long)fz.seed, atomic_load(&fz.step),
			ops[i].name);
	ops[i].fn();
}

/* ---------------------------------------------------------------- */
/* The end: free everything, then a fresh pair must work             */
/* ---------------------------------------------------------------- */

/* Disconnects v and takes back everything posted on it. */
static void drain_vi(int v)
{
	int q, tries;

	if (vis[v].peer_pending) {
		VIP_VI_ATTRIBUTES at;

		check_doc("VipConnectPeerWait",
			  VipConnectPeerWait(vis[v].h, &at));
		vis[v].peer_pending = false;
	}
	check_doc("VipDisconnect", VipDisconnect(vis[v].h));
	for (q = 0; q < 2; q++)
		for (tries = 0; tries < 40 && vis[v].n[q]; tries++) {
			VIP_DESCRIPTOR *d = NULL;
			VIP_RETURN r = q ? VipRecvWait(vis[v].h, 50, &d) :
					   VipSendWait(vis[v].h, 50, &d);

			if (r == VIP_TIMEOUT && vt_vi_state(vis[v].h) ==
							VIP_STATE_IDLE && q)
				break; /* receives of an idle VI stay */
			dequeued(q ? "VipRecvWait" : "VipSendWait", vis[v].h,
				 q, r, d, true);
		}
	if (vis[v].n[0] && !vis[v].notify_armed)
		fz_fail("VI %d: %d sends posted with VIP_SUCCESS never "
			"completed after VipDisconnect", v, vis[v].n[0]);
}

static void teardown(void)
{
	int v, c, k, m;
	VIP_RETURN r;

	actor_join();
	if (point(4))
		reap_handler_victims();
	for (v = 0; v < NVI; v++)
		if (vis[v].h)
			drain_vi(v);
	for (v = 0; v < NVI; v++)
		if (vis[v].h) {
			r = check_doc("VipDestroyVi", VipDestroyVi(vis[v].h));
			if (r != VIP_SUCCESS &&
			    !(r == VIP_INVALID_PARAMETER &&
			      vis[v].notify_armed &&
			      killed_by_handler(vis[v].h)))
				fz_fail("VipDestroyVi at the end: %d (state %d)",
					r, vt_vi_state(vis[v].h));
			forget_vi(v);
		}
	for (c = 0; c < NCQ; c++)
		if (cqs[c].h) {
			r = check_doc("VipDestroyCQ", VipDestroyCQ(cqs[c].h));
			if (r != VIP_SUCCESS)
				fz_fail("VipDestroyCQ at the end: %d", r);
			cqs[c].h = NULL;
		}
	/* No VI or CQ is left to hand a slot back: a slot dropped with its
	 * VI (S_GONE) is free again, so that the fresh pair finds slots. */
	for (k = 0; k < NNIC; k++)
		for (m = 0; m < NSLOT; m++)
			nics[k].slot[m].state = S_FREE;
	for (k = 0; k < NNIC; k++) {
		for (m = 0; m < NMEM; m++)
			if (nics[k].mem[m].base) {
				r = VipDeregisterMem(nics[k].h,
						     nics[k].mem[m].base,
						     nics[k].mem[m].mh);
				if (r != VIP_SUCCESS)
					fz_fail("VipDeregisterMem at the end: %d",
						r);
				free(nics[k].mem[m].base);
				nics[k].mem[m].base = NULL;
			}
		for (m = 0; m < NPTAG; m++)
			if (nics[k].ptag[m]) {
				r = VipDestroyPtag(nics[k].h, nics[k].ptag[m]);
				if (r != VIP_SUCCESS)
					fz_fail("VipDestroyPtag at the end: %d",
						r);
				nics[k].ptag[m] = NULL;
			}
	}
}

/* A fresh pair on the fuzzed NICs: connect, 4 messages each way. */
static void fresh_pair(void)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	int i;

	memset(vis, 0, sizeof(vis));
	for (i = 0; i < 2; i++) {
		vis[i].nic = i;
		vis[i].peer = -1;
		vis[i].cq[0] = vis[i].cq[1] = -1;
		vis[i].va = va;
		if (VipCreateVi(nics[i].h, &va, NULL, NULL, &vis[i].h) !=
		    VIP_SUCCESS) {
			fz_fail("fresh pair: VipCreateVi failed");
			return;
		}
	}
	connect_cs(0, 1, false);
	if (vis[0].peer != 1) {
		fz_fail("fresh pair: no connection (request %d, wait %d, "
			"accept %d)", last_request, acc.wait, acc.accept);
	} else {
		for (i = 0; i < 8; i++)
			transfer(i & 1, !(i & 1), 1 + rn(PING_MAX - 1), true);
		if (check_doc("VipDisconnect", VipDisconnect(vis[0].h)) !=
		    VIP_SUCCESS)
			fz_fail("fresh pair: VipDisconnect failed");
	}
	for (i = 0; i < 2; i++) {
		drain_vi(i);
		if (VipDestroyVi(vis[i].h) != VIP_SUCCESS)
			fz_fail("fresh pair: VipDestroyVi failed");
		forget_vi(i);
	}
}

static unsigned parse_points(void)
{
	const char *s = getenv("VIPL_FUZZ_POINTS");
	unsigned p = FZ_P1_DESTROY_UNDER_WAITER << 1 |
		     FZ_P2_DOUBLE_DISCONNECT << 2 | FZ_P3_SCRIBBLE_POSTED << 3 |
		     FZ_P4_NOTIFY_TEARDOWN << 4 |
		     FZ_P6_ABANDON_PEER_REQUEST << 6 |
		     FZ_P7_STRICT_RECONNECT << 7 |
		     FZ_P8_POST_VS_DISCONNECT << 8 | FZ_P9_SMALL_CQ << 9;

	if (!s)
		return p;
	if (!strcmp(s, "all"))
		return ~0u;
	while (*s) {
		char *end;
		long n = strtol(s, &end, 10);

		if (end == s)
			break;
		if (n > 0 && n < 32)
			p |= 1u << n;
		s = *end ? end + 1 : end;
	}
	return p;
}

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

/* One seed: steps, teardown, a fresh pair, close. True if it passed. */
static bool run_seed(uint64_t seed)
{
	long steps = env_long("VIPL_FUZZ_STEPS", 250);
	long until = now_ms() + 1000 * env_long("VIPL_FUZZ_SECONDS", 8);
	pthread_t dog;
	int i, k;

	memset(nics, 0, sizeof(nics));
	memset(vis, 0, sizeof(vis));
	memset(cqs, 0, sizeof(cqs));
	memset(&stale, 0, sizeof(stale));
	memset(&stats, 0, sizeof(stats));
	atomic_store(&error_calls, 0);
	for (i = 0; i < NVI; i++)
		vis[i].peer = -1;
	fz.seed = seed;
	fz.points = parse_points();
	fz.verbose = (int)env_long("VIPL_FUZZ_VERBOSE", 0);
	atomic_store(&fz.failed, false);
	atomic_store(&fz.step, 0);
	atomic_store(&fz.op, "open");
	atomic_store(&fz.beat, now_ms());
	atomic_store(&fz.done, false);
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	fprintf(stderr, "api_fuzz: seed %llu (points 0x%x; replay with "
		"VIPL_FUZZ_SEED=%llu --filter 'fuzz/replay')\n",
		(unsigned long long)seed, fz.points, (unsigned long long)seed);
	if (__sanitizer_set_death_callback)
		__sanitizer_set_death_callback(where_died);
	else {
		signal(SIGSEGV, on_signal);
		signal(SIGBUS, on_signal);
		signal(SIGABRT, on_signal);
	}
	pthread_create(&dog, NULL, watchdog, NULL);
	for (k = 0; k < NNIC; k++)
		if (!nic_open(k))
			goto out;
	for (i = 1; i <= steps && now_ms() < until; i++) {
		atomic_store(&fz.step, i);
		atomic_store(&fz.beat, now_ms());
		step();
		if (atomic_load(&fz.failed))
			break;
	}
	atomic_store(&fz.op, "teardown");
	atomic_store(&fz.beat, now_ms());
	teardown();
	atomic_store(&fz.op, "fresh pair");
	fresh_pair();
	atomic_store(&fz.op, "close");
	for (k = 0; k < NNIC; k++) {
		if (check_doc("VipDeregisterMem",
			      VipDeregisterMem(nics[k].h, nics[k].arena,
					       nics[k].mh)) != VIP_SUCCESS)
			fz_fail("cannot deregister the arena");
		if (check_doc("VipCloseNic", VipCloseNic(nics[k].h)) !=
		    VIP_SUCCESS)
			fz_fail("VipCloseNic at the end failed");
	}
out:
	/* Notify threads that outlived their VI are the library's to end;
	 * the arenas stay until they had time to. */
	usleep(100 * 1000);
	for (k = 0; k < NNIC; k++) {
		free(nics[k].arena);
		nics[k].arena = NULL;
	}
	atomic_store(&fz.done, true);
	pthread_join(dog, NULL);
	fprintf(stderr, "api_fuzz: seed %llu: %d steps, %d connections (%d "
		"failed attempts, %d reconnects with receives), %d messages "
		"(%d checked, %d after such reconnects), %d hostile descriptors queued, %d refused, "
		"point ops 1:%d 2:%d 3:%d 4:%d 6:%d 8:%d, %d error callbacks, "
		"%s\n",
		(unsigned long long)seed, atomic_load(&fz.step),
		stats.connected, stats.failed_connects,
		stats.reconnects_with_recvs, stats.messages, stats.strict_pings,
		stats.strict_reconnect_pings,
		stats.hostile_queued, stats.refused, stats.special[1],
		stats.special[2], stats.special[3], stats.special[4],
		stats.special[6], stats.special[8], atomic_load(&error_calls),
		atomic_load(&fz.failed) ? "FAILED" : "passed");
	return !atomic_load(&fz.failed);
}

#define FUZZ_SEED(n)                                                           \
	Test(fuzz, seed_##n)                                                   \
	{                                                                      \
		cr_assert(run_seed(n), "%s", fz.msg);                          \
	}

FUZZ_SEED(1)
FUZZ_SEED(2)
FUZZ_SEED(3)
FUZZ_SEED(4)
FUZZ_SEED(5)
FUZZ_SEED(6)
FUZZ_SEED(7)
FUZZ_SEED(8)

/* VIPL_FUZZ_SEED=N [VIPL_FUZZ_SEEDS=K]: replay or explore. */
Test(fuzz, replay, .timeout = 3600)
{
	long seed = env_long("VIPL_FUZZ_SEED", -1);
	long n = env_long("VIPL_FUZZ_SEEDS", 1), i, bad = 0;

	if (seed < 0)
		cr_skip_test("VIPL_FUZZ_SEED is not set");
	for (i = 0; i < n; i++)
		if (!run_seed((uint64_t)(seed + i)))
			bad++;
	cr_assert_eq(bad, 0, "%ld of %ld seeds failed; last: %s", bad, n,
		     fz.msg);
}
