/*
 * drain.c - what Done and Wait return for errored descriptors and for
 * empty queues, as VIA-era programs test it (vipl-api.md section 5,
 * "Done/Wait with an errored descriptor"):
 *   - a storage benchmark drains after VipDisconnect with
 *     do r = VipRecvDone(vi, &d);
 *     while (r == VIP_SUCCESS || (r == VIP_DESCRIPTOR_ERROR && d));
 *   - an MPI device drains with do VipRecvDone(vi, &d); while (d != 0);
 *     and reads the status the Giganet way, d->Control.Status;
 *   - a cluster library tests == VIP_DESCRIPTOR_ERROR after VipRecvWait;
 *   - a database network layer counts on pDesc being NULL only when the
 *     queue is empty.
 */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util.h"

/* No TestSuite(legacy): several files share the suite; each test has its
 * own timeout. */

#define NRECV 4
#define MSG "one message, then the line goes quiet"

/* Never NULL, never a descriptor: shows whether a call wrote *out. */
#define UNTOUCHED ((VIP_DESCRIPTOR *)(uintptr_t)0x5a5a5a5a5a5a5a5aull)

static void quiet(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

/* The peer: accepts on disc, sends MSG and waits for it to complete. Then
 * it leaves at once (arg NULL), or waits until we disconnect (its receive
 * comes back flushed) and leaves. The one that leaves at once first waits
 * for our hello: over siw, an accept closed at once can reach the
 * requester as a reset (porting.md, "A server that accepts and closes at
 * once"), and this test is about what comes after the leaving. */
static int one_message_peer(void *arg)
{
	const char *disc = *(const char **)arg;
	int stay = ((const char **)arg)[1] != NULL;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *s, *r, *d;
	struct vt_end e;

	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	VT_CHECK(VipErrorCallback(e.nic, NULL, quiet) == VIP_SUCCESS);
	r = vt_desc(&e.m, 1);
	vt_fill(r, &e.m, vt_data(&e.m) + 1024, 1024);
	VT_CHECK(VipPostRecv(e.vi, r, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, disc, e.vi) == VIP_SUCCESS);
	if (!stay) {
		VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
		VT_CHECK(d == r);
	}
	s = vt_desc(&e.m, 0);
	strcpy(vt_data(&e.m), MSG);
	vt_fill(s, &e.m, vt_data(&e.m), sizeof(MSG));
	VT_CHECK(VipPostSend(e.vi, s, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
	VT_CHECK(d == s);
	if (stay) {
		VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) ==
			 VIP_DESCRIPTOR_ERROR);
		VT_CHECK(d == r);
		VT_CHECK(d->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR);
	}
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* Our side: NRECV receives posted, then connected to the peer. */
static void post_and_connect(struct vt_end *e, VIP_CQ_HANDLE rcq,
			     const char *disc, VIP_DESCRIPTOR *r[NRECV])
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	int i;

	cr_assert_eq(VipCreateVi(e->nic, &va, NULL, rcq, &e->vi), VIP_SUCCESS);
	for (i = 0; i < NRECV; i++) {
		r[i] = vt_desc(&e->m, i);
		vt_fill(r[i], &e->m, vt_data(&e->m) + 1024 * i, 1024);
		cr_assert_eq(VipPostRecv(e->vi, r[i], e->m.mh), VIP_SUCCESS);
	}
	cr_assert_eq(vt_request(e->nic, e->vi, "client", disc), VIP_SUCCESS);
}

/* The message the leaving peer waits for (from the buffer of our last
 * receive, which the peer's one message does not reach). */
static void say_hello(struct vt_end *e)
{
	VIP_DESCRIPTOR *s = vt_desc(&e->m, NRECV), *d;

	vt_fill(s, &e->m, vt_data(&e->m) + 1024 * (NRECV - 1), 8);
	cr_assert_eq(VipPostSend(e->vi, s, e->m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(e->vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	cr_assert_eq(d, s);
}

static bool wait_state(VIP_VI_HANDLE vi, int want)
{
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	int i;

	for (i = 0; i < 4000 && vt_vi_state(vi) != want; i++)
		nanosleep(&pause, NULL);
	return vt_vi_state(vi) == want;
}

Test(legacy, storage_benchmark_drain_after_the_peer_left, .timeout = 90)
{
	const char *args[2] = { "l-drain-left", NULL };
	pid_t peer = vt_spawn(one_message_peer, args);
	VIP_DESCRIPTOR *r[NRECV], *d;
	int ok = 0, errored = 0, calls = 0;
	struct vt_end e;
	VIP_RETURN rc;

	cr_assert_eq(vt_end_open(&e, NRECV * 1024, NULL), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e.nic, NULL, quiet), VIP_SUCCESS);
	post_and_connect(&e, NULL, args[0], r);
	say_hello(&e);
	/* The peer's send completed before it left: MSG is in r[0]. */
	cr_assert(wait_state(e.vi, VIP_STATE_ERROR), "the peer never left");
	cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);

	do {
		d = UNTOUCHED;
		rc = VipRecvDone(e.vi, &d);
		cr_assert_neq(d, UNTOUCHED, "call %d left the pointer", calls);
		if (rc == VIP_SUCCESS) {
			cr_expect_eq(d, r[ok + errored]);
			cr_expect_eq(d->CS.Status,
				     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
			cr_expect_eq(d->CS.Length, sizeof(MSG));
			cr_expect_str_eq(vt_data(&e.m), MSG);
			ok++;
		} else if (rc == VIP_DESCRIPTOR_ERROR && d) {
			cr_expect_eq(d, r[ok + errored]);
			cr_expect_eq(d->CS.Status,
				     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE |
					     VIP_STATUS_DESC_FLUSHED_ERROR,
				     "status 0x%x", d->CS.Status);
			errored++;
		}
		calls++;
	} while (calls < 2 * NRECV &&
		 (rc == VIP_SUCCESS || (rc == VIP_DESCRIPTOR_ERROR && d)));
	cr_expect_eq(ok, 1);
	cr_expect_eq(errored, NRECV - 1);
	/* The loop ended on an empty queue, which says so with NULL. */
	cr_expect_eq(rc, VIP_NOT_DONE);
	cr_expect_null(d);
	cr_expect_eq(calls, NRECV + 1);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0);
}

Test(legacy, mpi_device_drain_after_our_disconnect, .timeout = 90)
{
	const char *args[2] = { "l-drain-ours", "stay" };
	pid_t peer = vt_spawn(one_message_peer, args);
	VIP_DESCRIPTOR *r[NRECV], *seen[2 * NRECV], *d;
	VIP_RETURN rcs[2 * NRECV];
	VIP_BOOLEAN recvq;
	VIP_VI_HANDLE vi;
	VIP_CQ_HANDLE cq;
	struct vt_end e;
	int n = 0, i;

	cr_assert_eq(vt_end_open(&e, NRECV * 1024, NULL), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e.nic, NULL, quiet), VIP_SUCCESS);
	cr_assert_eq(VipCreateCQ(e.nic, 16, &cq), VIP_SUCCESS);
	post_and_connect(&e, cq, args[0], r);
	/* The CQ says the message is there; it stays queued on the VI. */
	cr_assert_eq(VipCQWait(cq, VT_TIMEOUT_MS, &vi, &recvq), VIP_SUCCESS);
	cr_expect_eq(vi, e.vi);
	cr_expect_eq(recvq, VIP_TRUE);
	cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);

	do {
		rcs[n] = VipRecvDone(e.vi, &d);
		seen[n++] = d;
	} while (d != 0 && n < 2 * NRECV);

	cr_assert_eq(n, NRECV + 1, "%d calls", n);
	for (i = 0; i < NRECV; i++)
		cr_expect_eq(seen[i], r[i], "call %d", i);
	/* Giganet spelling, the same bytes. */
	cr_expect_eq(rcs[0], VIP_SUCCESS);
	cr_expect_eq(seen[0]->Control.Status,
		     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(seen[0]->Control.Length, sizeof(MSG));
	cr_expect_str_eq(vt_data(&e.m), MSG);
	for (i = 1; i < NRECV; i++) {
		cr_expect_eq(rcs[i], VIP_DESCRIPTOR_ERROR, "call %d", i);
		cr_expect(seen[i]->Control.Status &
				  VIP_STATUS_DESC_FLUSHED_ERROR,
			  "call %d: status 0x%x", i, seen[i]->Control.Status);
	}
	cr_expect_eq(rcs[NRECV], VIP_NOT_DONE);
	/* The flushed ones made CQ entries too; then the CQ is empty. */
	for (i = 0; i < NRECV - 1; i++) {
		cr_expect_eq(VipCQDone(cq, &vi, &recvq), VIP_SUCCESS);
		cr_expect_eq(vi, e.vi);
	}
	vi = e.vi;
	cr_expect_eq(VipCQDone(cq, &vi, &recvq), VIP_NOT_DONE);
	cr_expect_null(vi);
	cr_expect_eq(VipDestroyVi(e.vi), VIP_SUCCESS);
	e.vi = NULL;
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0);
}

static struct {
	int calls;
	VIP_DESCRIPTOR *d;
	uint32_t status;
} notified;

static void on_recv(VIP_PVOID ctx, VIP_NIC_HANDLE nic, VIP_VI_HANDLE vi,
		    VIP_DESCRIPTOR *d)
{
	(void)ctx;
	(void)nic;
	(void)vi;
	notified.d = d;
	notified.status = d ? d->CS.Status : 0;
	__atomic_store_n(&notified.calls, notified.calls + 1, __ATOMIC_RELEASE);
}

/* A flushed descriptor is dequeued too: the notify handler gets it. */
Test(legacy, recv_notify_hands_over_a_flushed_descriptor, .timeout = 90)
{
	const char *args[2] = { "l-drain-notify", "stay" };
	pid_t peer = vt_spawn(one_message_peer, args);
	struct timespec pause = { 0, 5 * 1000 * 1000 };
	VIP_DESCRIPTOR *r[NRECV], *d;
	struct vt_end e;
	int i;

	cr_assert_eq(vt_end_open(&e, NRECV * 1024, NULL), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e.nic, NULL, quiet), VIP_SUCCESS);
	post_and_connect(&e, NULL, args[0], r);
	cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
	cr_expect_eq(d, r[0]);
	cr_assert_eq(VipRecvNotify(e.vi, NULL, on_recv), VIP_SUCCESS);
	cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	for (i = 0; i < 4000 && !__atomic_load_n(&notified.calls,
						   __ATOMIC_ACQUIRE); i++)
		nanosleep(&pause, NULL);
	cr_assert_eq(__atomic_load_n(&notified.calls, __ATOMIC_ACQUIRE), 1,
		     "the handler never ran");
	cr_expect_eq(notified.d, r[1]);
	cr_expect_eq(notified.status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE |
					      VIP_STATUS_DESC_FLUSHED_ERROR);
	/* The handler's was dequeued: the next is r[2]. */
	cr_expect_eq(VipRecvDone(e.vi, &d), VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(d, r[2]);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0);
}

/* Nothing to dequeue: NULL, whatever the reason. */
Test(legacy, an_empty_queue_sets_the_pointer_to_null, .timeout = 90)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *d, *r;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	d = UNTOUCHED;
	cr_expect_eq(VipRecvWait(e.vi, 50, &d), VIP_TIMEOUT);
	cr_expect_null(d);
	d = UNTOUCHED;
	cr_expect_eq(VipSendWait(e.vi, 0, &d), VIP_TIMEOUT);
	cr_expect_null(d);
	d = UNTOUCHED;
	cr_expect_eq(VipSendDone(e.vi, &d), VIP_NOT_DONE);
	cr_expect_null(d);
	/* A receive posted on an idle VI is not complete either. */
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m), 64);
	cr_assert_eq(VipPostRecv(e.vi, r, e.m.mh), VIP_SUCCESS);
	d = UNTOUCHED;
	cr_expect_eq(VipRecvDone(e.vi, &d), VIP_NOT_DONE);
	cr_expect_null(d);
	d = UNTOUCHED;
	cr_expect_eq(VipRecvWait(e.vi, 20, &d), VIP_TIMEOUT);
	cr_expect_null(d);
	/* A bad handle dequeues nothing. */
	d = UNTOUCHED;
	cr_expect_eq(VipRecvDone(NULL, &d), VIP_INVALID_PARAMETER);
	cr_expect_null(d);
	d = UNTOUCHED;
	cr_expect_eq(VipSendWait(NULL, 10, &d), VIP_INVALID_PARAMETER);
	cr_expect_null(d);
	cr_expect_eq(VipRecvDone(e.vi, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
}

Test(legacy, an_empty_cq_sets_the_vi_to_null, .timeout = 90)
{
	VIP_VI_HANDLE vi, sentinel = (VIP_VI_HANDLE)(uintptr_t)0x5a5a5a5a;
	VIP_BOOLEAN recvq;
	VIP_CQ_HANDLE cq;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 0, NULL), VIP_SUCCESS);
	cr_assert_eq(VipCreateCQ(e.nic, 8, &cq), VIP_SUCCESS);
	vi = sentinel;
	cr_expect_eq(VipCQDone(cq, &vi, &recvq), VIP_NOT_DONE);
	cr_expect_null(vi);
	vi = sentinel;
	cr_expect_eq(VipCQWait(cq, 30, &vi, &recvq), VIP_TIMEOUT);
	cr_expect_null(vi);
	vi = sentinel;
	cr_expect_eq(VipCQDone(NULL, &vi, &recvq), VIP_INVALID_PARAMETER);
	cr_expect_null(vi);
	vi = sentinel;
	cr_expect_eq(VipCQWait(cq, 10, &vi, NULL), VIP_INVALID_PARAMETER);
	cr_expect_null(vi);
	cr_expect_eq(VipDestroyCQ(cq), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
}

/* Accepts with receives posted (RDMA write allowed) and stays until the
 * connection breaks. */
static int idle_peer(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *d;
	struct vt_end e;

	va.EnableRdmaWrite = VIP_TRUE;
	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	VT_CHECK(VipErrorCallback(e.nic, NULL, quiet) == VIP_SUCCESS);
	r = vt_desc(&e.m, 0);
	vt_fill(r, &e.m, vt_data(&e.m), 4096);
	VT_CHECK(VipPostRecv(e.vi, r, e.m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, arg, e.vi) == VIP_SUCCESS);
	/* The cluster library's test. */
	VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &d) == VIP_DESCRIPTOR_ERROR);
	VT_CHECK(d == r);
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

static void connect_rdma(struct vt_end *e, const char *disc)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);

	va.EnableRdmaWrite = VIP_TRUE;
	cr_assert_eq(vt_end_open(e, 4096, NULL), VIP_SUCCESS);
	cr_assert_eq(VipErrorCallback(e->nic, NULL, quiet), VIP_SUCCESS);
	cr_assert_eq(vt_connect(e->nic, disc, &va, &e->vi), VIP_SUCCESS);
}

/* The database layer's case: an error, yet a valid descriptor. */
Test(legacy, a_send_with_a_wrong_memory_handle_comes_back_as_descriptor_error,
     .timeout = 90)
{
	pid_t peer = vt_spawn(idle_peer, "l-drain-prot");
	VIP_DESCRIPTOR *s, *s2, *d;
	struct vt_end e;

	connect_rdma(&e, "l-drain-prot");
	s = vt_desc(&e.m, 0);
	vt_fill(s, &e.m, vt_data(&e.m), 100);
	s->DS[0].Local.Handle = e.m.mh ^ 0x00ffff00; /* no such region */
	s2 = vt_desc(&e.m, 1);
	vt_fill(s2, &e.m, vt_data(&e.m), 100);
	cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipPostSend(e.vi, s2, e.m.mh), VIP_SUCCESS);
	d = NULL;
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(d, s);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND |
					   VIP_STATUS_PROTECTION_ERROR,
		     "status 0x%x", d->CS.Status);
	/* The next one is flushed: same code, its own descriptor. */
	d = NULL;
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(d, s2);
	cr_expect(d->Control.Status & VIP_STATUS_DESC_FLUSHED_ERROR);
	d = UNTOUCHED;
	cr_expect_eq(VipSendDone(e.vi, &d), VIP_NOT_DONE);
	cr_expect_null(d);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0);
}

Test(legacy, an_rdma_write_to_a_bad_remote_handle_comes_back_as_descriptor_error,
     .timeout = 90)
{
	VT_SKIP_ON_IWARP(VT_IWARP_TCP_COMPLETES);
	pid_t peer = vt_spawn(idle_peer, "l-drain-rprot");
	VIP_DESCRIPTOR *w, *d;
	struct vt_end e;

	connect_rdma(&e, "l-drain-rprot");
	w = vt_desc(&e.m, 0);
	w->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	w->CS.SegCount = 2;
	w->CS.Length = 64;
	w->DS[0].Remote.Data.AddressBits = 0x10000;
	w->DS[0].Remote.Handle = 0x7badbad7; /* the peer registered no such */
	w->DS[1].Local.Data.Address = vt_data(&e.m);
	w->DS[1].Local.Handle = e.m.mh;
	w->DS[1].Local.Length = 64;
	cr_assert_eq(VipPostSend(e.vi, w, e.m.mh), VIP_SUCCESS);
	d = NULL;
	cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &d),
		     VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(d, w);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE |
					   VIP_STATUS_RDMA_PROT_ERROR,
		     "status 0x%x", d->CS.Status);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(peer, 30), 0);
}
