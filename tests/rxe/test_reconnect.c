/*
 * test_reconnect.c - a VI's life across connections: two threads
 * disconnecting it at once, receives posted before a failed connection
 * attempt or on an idle VI, and sends posted while it disconnects, which
 * must never reach its next peer.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(reconnect, .timeout = 150);

/* What a message says: the connection it was posted on, and its number. */
struct tag {
	uint32_t conn;
	uint32_t seq;
};

#define NRECV 4 /* receives posted before the attempt that fails */

/* ------------------------------------------------------------ peers */

struct peer_args {
	const char *disc; /* accept on (server) or request (client) */
	const char *local; /* client: our discriminator */
	int count; /* messages to send, tagged (conn, 0..count-1) */
	uint32_t conn;
	int rounds; /* servers: connections to serve one after another */
};

/* Sends count tagged messages on a connected VI, then waits for the
 * other side to disconnect (its last receive flushes). */
static int send_tagged(struct vt_end *e, const struct peer_args *a)
{
	VIP_DESCRIPTOR *s, *out;
	struct tag *t = (struct tag *)vt_data(&e->m);
	int i;

	for (i = 0; i < a->count; i++) {
		t[i].conn = a->conn;
		t[i].seq = (uint32_t)i;
		s = vt_desc(&e->m, 1 + i % 8);
		vt_fill(s, &e->m, &t[i], sizeof(t[i]));
		VT_CHECK(VipPostSend(e->vi, s, e->m.mh) == VIP_SUCCESS);
		VT_CHECK(VipSendWait(e->vi, VT_TIMEOUT_MS, &out) ==
			 VIP_SUCCESS);
		VT_CHECK(out == s);
	}
	VT_CHECK(VipRecvWait(e->vi, VT_TIMEOUT_MS, &out) ==
		 VIP_DESCRIPTOR_ERROR);
	return 0;
}

/* Accepts one connection on a->disc and sends a->count messages. */
static int sending_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct peer_args *a = arg;
	struct vt_end e;
	int rc;

	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m) + 2048, 64);
	VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) ==
		 VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, a->disc, e.vi) == VIP_SUCCESS);
	rc = send_tagged(&e, a);
	if (rc)
		return rc;
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* Connects to a->disc (asking again on no match) and sends a->count
 * messages. */
static int sending_client(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct peer_args *a = arg;
	struct vt_end e;
	int rc;

	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m) + 2048, 64);
	VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) ==
		 VIP_SUCCESS);
	VT_CHECK(vt_request(e.nic, e.vi, a->local, a->disc) == VIP_SUCCESS);
	rc = send_tagged(&e, a);
	if (rc)
		return rc;
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* The receives r[0..n) complete, in order, with messages 0..n-1 of
 * connection conn. */
static void expect_tagged(VIP_VI_HANDLE vi, VIP_DESCRIPTOR **r, int n,
			  uint32_t conn)
{
	VIP_DESCRIPTOR *out;
	int i;

	for (i = 0; i < n; i++) {
		const struct tag *t;

		cr_assert_eq(VipRecvWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS,
			     "receive %d posted before never completed", i);
		cr_assert_eq(out, r[i]);
		cr_assert_eq(out->CS.Status,
			     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
		cr_assert_eq(out->CS.Length, sizeof(struct tag));
		t = out->DS[0].Local.Data.Address;
		cr_expect_eq(t->conn, conn);
		cr_expect_eq(t->seq, (uint32_t)i);
	}
}

/* Posts receives r[first..first+n) of 64 bytes on e->vi (descriptors
 * 10.., at most 48), pause microseconds apart. */
static VIP_RETURN post_range(struct vt_end *e, VIP_DESCRIPTOR **r, int first,
			     int n, int pause)
{
	VIP_RETURN ret = VIP_SUCCESS;
	int i;

	for (i = first; i < first + n && ret == VIP_SUCCESS; i++) {
		r[i] = vt_desc(&e->m, 10 + i);
		vt_fill(r[i], &e->m, vt_data(&e->m) + 64 * i, 64);
		ret = VipPostRecv(e->vi, r[i], e->m.mh);
		if (pause)
			usleep(pause);
	}
	return ret;
}

static void post_receives(struct vt_end *e, VIP_DESCRIPTOR **r)
{
	cr_assert_eq(post_range(e, r, 0, NRECV, 0), VIP_SUCCESS);
}

/* A thread posting receives while the test does something else. */
struct range_poster {
	struct vt_end *e;
	VIP_DESCRIPTOR **r;
	int first, n, pause;
	VIP_RETURN ret;
};

static void *post_range_thread(void *arg)
{
	struct range_poster *p = arg;

	p->ret = post_range(p->e, p->r, p->first, p->n, p->pause);
	return NULL;
}

/* ---------------------------------------------- double disconnect */

#define DISC_ROUNDS 20

/* DISC_ROUNDS times: a VI accepts "rc-twice", and leaves once the client
 * disconnected. */
static int idle_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct peer_args *a = arg;
	VIP_DESCRIPTOR *out;
	struct vt_end e;
	int i;

	VT_CHECK(vt_end_open(&e, 4096, NULL) == VIP_SUCCESS);
	for (i = 0; i < a->rounds; i++) {
		VT_CHECK(VipCreateVi(e.nic, &va, NULL, NULL, &e.vi) ==
			 VIP_SUCCESS);
		vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m), 64);
		VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) ==
			 VIP_SUCCESS);
		VT_CHECK(vt_accept(e.nic, a->disc, e.vi) == VIP_SUCCESS);
		VT_CHECK(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) ==
			 VIP_DESCRIPTOR_ERROR);
		VT_CHECK(VipDisconnect(e.vi) == VIP_SUCCESS);
		VT_CHECK(VipDestroyVi(e.vi) == VIP_SUCCESS);
	}
	e.vi = NULL;
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

struct racer {
	VIP_VI_HANDLE vi;
	pthread_barrier_t *go;
	VIP_RETURN ret;
};

static void *disconnect_at_once(void *arg)
{
	struct racer *r = arg;

	pthread_barrier_wait(r->go);
	r->ret = VipDisconnect(r->vi);
	return NULL;
}

/* Two threads disconnect one connected VI at the same moment: one of
 * them disconnects it, the other hears VIP_INVALID_STATE, and nothing is
 * freed twice (this aborted in glibc, or under ASan: a double free in
 * the connection's teardown). */
Test(reconnect, two_threads_disconnecting_one_vi_one_succeeds)
{
	struct peer_args a = { .disc = "rc-twice", .rounds = DISC_ROUNDS };
	pid_t srv = vt_spawn(idle_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	pthread_barrier_t go;
	struct racer r[2];
	pthread_t t[2];
	struct vt_end e;
	int round, i, ok;

	cr_assert_eq(vt_end_open(&e, 0, &va), VIP_SUCCESS);
	pthread_barrier_init(&go, NULL, 2);
	for (round = 0; round < DISC_ROUNDS; round++) {
		cr_assert_eq(vt_request(e.nic, e.vi, "client", a.disc),
			     VIP_SUCCESS, "round %d", round);
		for (i = 0; i < 2; i++) {
			r[i] = (struct racer){ .vi = e.vi, .go = &go };
			cr_assert_eq(pthread_create(&t[i], NULL,
						    disconnect_at_once, &r[i]),
				     0);
		}
		for (ok = i = 0; i < 2; i++) {
			pthread_join(t[i], NULL);
			ok += r[i].ret == VIP_SUCCESS;
			cr_expect(r[i].ret == VIP_SUCCESS ||
					  r[i].ret == VIP_INVALID_STATE,
				  "round %d: VipDisconnect returned %d", round,
				  r[i].ret);
		}
		cr_assert_eq(ok, 1, "round %d: %d disconnects succeeded",
			     round, ok);
		cr_assert_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
		cr_assert_eq(VipDisconnect(e.vi), VIP_INVALID_STATE);
	}
	pthread_barrier_destroy(&go);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}

/* ------------------------------------ receives across failed attempts */

/* Takes a request on "rc-late" and accepts only after its requester gave
 * up (its VipConnectAccept fails), then sends on "rc-late-next". */
static int late_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	struct peer_args *a = arg;
	VIP_NET_ADDRESS *local, *remote = vt_addr_buf();
	VIP_CONN_HANDLE conn;
	struct vt_end e;
	int rc;

	VT_CHECK(vt_end_open(&e, 4096, &va) == VIP_SUCCESS);
	local = vt_addr(e.nic, "rc-late");
	VT_CHECK(VipConnectWait(e.nic, local, VT_TIMEOUT_MS, remote, &ra,
				&conn) == VIP_SUCCESS);
	usleep(1500 * 1000); /* the requester waits 400 ms */
	VT_CHECK(VipConnectAccept(conn, e.vi) != VIP_SUCCESS);
	VT_CHECK(vt_vi_state(e.vi) == VIP_STATE_IDLE);
	free(local);
	free(remote);
	vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m) + 2048, 64);
	VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) ==
		 VIP_SUCCESS);
	VT_CHECK(vt_accept(e.nic, a->disc, e.vi) == VIP_SUCCESS);
	rc = send_tagged(&e, a);
	if (rc)
		return rc;
	VT_CHECK(vt_end_close(&e) == VIP_SUCCESS);
	return 0;
}

/* The request is not accepted in time (the server took it and answered
 * too late); the VI, its receives still posted, connects again and the
 * next peer's messages land in those receives. */
Test(reconnect, receives_posted_before_a_request_that_timed_out_serve_the_next_connection)
{
	struct peer_args a = { .disc = "rc-late-next", .count = NRECV,
			       .conn = 2 };
	pid_t srv = vt_spawn(late_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_DESCRIPTOR *r[NRECV];
	VIP_NET_ADDRESS *local, *remote;
	VIP_RETURN ret;
	struct vt_end e;

	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	post_receives(&e, r);
	local = vt_addr(e.nic, "client");
	remote = vt_addr(e.nic, "rc-late");
	usleep(500 * 1000); /* the server is waiting by now */
	ret = VipConnectRequest(e.vi, local, remote, 400, &ra);
	cr_log_info("request answered too late: %d", ret);
	cr_assert_neq(ret, VIP_SUCCESS);
	cr_assert_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
	free(local);
	free(remote);
	cr_assert_eq(vt_request(e.nic, e.vi, "client", a.disc), VIP_SUCCESS);
	expect_tagged(e.vi, r, NRECV, a.conn);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}

/* Asks for "rc-doomed" as "doomed<i>", and is killed meanwhile. */
static int doomed_requester(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	char name[16];
	struct vt_end e;

	snprintf(name, sizeof(name), "doomed%d", (int)(intptr_t)arg);
	VT_CHECK(vt_end_open(&e, 0, &va) == VIP_SUCCESS);
	vt_request(e.nic, e.vi, name, "rc-doomed");
	for (;;)
		pause();
	return 0;
}

#define KILL_ROUNDS 3

/* A server VI with receives posted takes a request whose requester is
 * killed as it accepts, while another thread posts more receives;
 * whether the accept fails or the connection it made is lost at once,
 * the VI's receives not yet flushed serve its next connection, in the
 * order they were posted. */
Test(reconnect, receives_posted_before_an_accept_whose_requester_died_serve_the_next_connection)
{
	struct peer_args a = { .disc = "rc-survivor", .local = "good",
			       .count = NRECV * (KILL_ROUNDS + 1), .conn = 7 };
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	pid_t doomed[KILL_ROUNDS], good;
	VIP_NET_ADDRESS *local, *remote = vt_addr_buf();
	VIP_DESCRIPTOR *r[NRECV * (KILL_ROUNDS + 1)];
	struct range_poster p;
	VIP_CONN_HANDLE conn;
	VIP_RETURN ret;
	struct vt_end e;
	pthread_t t;
	int i, who;

	for (i = 0; i < KILL_ROUNDS; i++)
		doomed[i] = vt_spawn(doomed_requester, (void *)(intptr_t)i);
	good = vt_spawn(sending_client, &a);
	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	post_receives(&e, r);
	local = vt_addr(e.nic, "rc-doomed");
	for (i = 0; i < KILL_ROUNDS; i++) {
		cr_assert_eq(VipConnectWait(e.nic, local, VT_TIMEOUT_MS,
					    remote, &ra, &conn),
			     VIP_SUCCESS);
		/* The requester that asked: kill it as we accept. */
		cr_assert_eq(remote->DiscriminatorLen, 7);
		who = remote->HostAddress[remote->HostAddressLen + 6] - '0';
		cr_assert(who >= 0 && who < KILL_ROUNDS && doomed[who]);
		kill(doomed[who], SIGKILL);
		p = (struct range_poster){ .e = &e, .r = r,
					   .first = NRECV * (i + 1),
					   .n = NRECV, .pause = 500 << i };
		cr_assert_eq(pthread_create(&t, NULL, post_range_thread, &p),
			     0);
		ret = VipConnectAccept(conn, e.vi);
		pthread_join(t, NULL);
		cr_assert_eq(p.ret, VIP_SUCCESS);
		vt_join(doomed[who], 10);
		doomed[who] = 0;
		if (ret == VIP_SUCCESS) {
			/* Connected before it died: that connection is lost,
			 * and its end flushes what was posted. */
			cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
			cr_log_info("round %d: accepted before the kill", i);
			/* Nobody will take the good client's request now: end
			 * it rather than let it ask for 30 s and fail. */
			kill(good, SIGKILL);
			goto out;
		}
		cr_assert_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
	}
	cr_assert_eq(vt_accept(e.nic, a.disc, e.vi), VIP_SUCCESS);
	expect_tagged(e.vi, r, a.count, a.conn);
	cr_expect_eq(VipDisconnect(e.vi), VIP_SUCCESS);
out:
	for (i = 0; i < KILL_ROUNDS; i++) {
		if (doomed[i]) {
			kill(doomed[i], SIGKILL);
			vt_join(doomed[i], 10);
		}
	}
	free(local);
	free(remote);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	vt_join(good, 60);
}

/* Waits on "rc-gone" for ever, to be killed there. */
static int killed_server(void *arg)
{
	VIP_VI_ATTRIBUTES ra;
	VIP_NET_ADDRESS *local, *remote = vt_addr_buf();
	VIP_CONN_HANDLE conn;
	VIP_NIC_HANDLE nic = vt_open_nic();

	(void)arg;
	VT_CHECK(nic);
	local = vt_addr(nic, "rc-gone");
	for (;;)
		VipConnectWait(nic, local, VIP_INFINITE, remote, &ra, &conn);
	return 0;
}

struct request {
	VIP_VI_HANDLE vi;
	VIP_NIC_HANDLE nic;
	VIP_RETURN ret;
};

static void *request_gone(void *arg)
{
	struct request *q = arg;
	VIP_NET_ADDRESS *local = vt_addr(q->nic, "client");
	VIP_NET_ADDRESS *remote = vt_addr(q->nic, "rc-gone");
	VIP_VI_ATTRIBUTES ra;

	q->ret = VipConnectRequest(q->vi, local, remote, 3000, &ra);
	free(local);
	free(remote);
	return NULL;
}

/* The server dies in VipConnectWait while our request waits for it; the
 * VI, its receives posted, then connects elsewhere and receives there. */
Test(reconnect, receives_posted_before_a_request_whose_server_died_serve_the_next_connection)
{
	struct peer_args a = { .disc = "rc-gone-next", .count = NRECV,
			       .conn = 3 };
	pid_t gone = vt_spawn(killed_server, NULL);
	pid_t srv = vt_spawn(sending_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r[NRECV];
	struct request q;
	struct vt_end e;
	pthread_t t;

	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	post_receives(&e, r);
	usleep(500 * 1000); /* the server is waiting by now */
	q = (struct request){ .vi = e.vi, .nic = e.nic };
	cr_assert_eq(pthread_create(&t, NULL, request_gone, &q), 0);
	usleep(200 * 1000);
	kill(gone, SIGKILL);
	pthread_join(t, NULL);
	vt_join(gone, 10);
	cr_log_info("request to the killed server: %d", q.ret);
	if (q.ret == VIP_SUCCESS)
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	cr_assert_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
	if (q.ret == VIP_SUCCESS) {
		/* Connected before it died (its accept's answer was on
		 * its way): the receives were flushed; post new ones. */
		VIP_DESCRIPTOR *out;

		while (VipRecvDone(e.vi, &out) != VIP_NOT_DONE)
			;
		post_receives(&e, r);
	}
	cr_assert_eq(vt_request(e.nic, e.vi, "client", a.disc), VIP_SUCCESS);
	expect_tagged(e.vi, r, NRECV, a.conn);
	cr_expect_eq(vt_end_close(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}

#define IDLE_ROUNDS 3

/* Disconnect, receives posted on the idle VI, connect again: the next
 * connection's messages arrive in them, round after round. */
Test(reconnect, receives_posted_on_an_idle_vi_after_a_disconnect_serve_the_next_connection)
{
	static const char *discs[IDLE_ROUNDS] = { "rc-idle0", "rc-idle1",
						  "rc-idle2" };
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct peer_args a[IDLE_ROUNDS];
	pid_t srv[IDLE_ROUNDS];
	VIP_DESCRIPTOR *r[NRECV], *out;
	struct vt_end e;
	int round;

	for (round = 0; round < IDLE_ROUNDS; round++) {
		a[round] = (struct peer_args){ .disc = discs[round],
					       .count = NRECV,
					       .conn = 10 + round };
		srv[round] = vt_spawn(sending_server, &a[round]);
	}
	cr_assert_eq(vt_end_open(&e, 4096, &va), VIP_SUCCESS);
	for (round = 0; round < IDLE_ROUNDS; round++) {
		post_receives(&e, r);
		cr_assert_eq(vt_request(e.nic, e.vi, "client", discs[round]),
			     VIP_SUCCESS);
		expect_tagged(e.vi, r, NRECV, a[round].conn);
		/* One more, left posted: the disconnect flushes it. */
		vt_fill(vt_desc(&e.m, 20), &e.m, vt_data(&e.m) + 1024, 64);
		cr_assert_eq(VipPostRecv(e.vi, vt_desc_at(&e.m, 20), e.m.mh),
			     VIP_SUCCESS);
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
		cr_assert_eq(VipRecvDone(e.vi, &out), VIP_DESCRIPTOR_ERROR);
		cr_assert_eq(out, vt_desc_at(&e.m, 20));
		cr_assert_eq(VipRecvDone(e.vi, &out), VIP_NOT_DONE);
	}
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	for (round = 0; round < IDLE_ROUNDS; round++)
		cr_expect_eq(vt_join(srv[round], 60), 0, "server %d", round);
}

#define POSTED_ROUNDS 9
#define POSTED_RECVS 48 /* posted while the VI disconnects */

/* Serves 2 * a->rounds connections on a->disc one after another: on
 * each, a count may come (4 bytes); it answers with that many messages
 * tagged with the connection's number, and waits for the disconnect. */
static int counting_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct peer_args *a = arg;
	VIP_DESCRIPTOR *out;
	struct vt_end e;
	struct peer_args next;
	int c, rc;

	VT_CHECK(vt_end_open(&e, 4096 + 64 * POSTED_RECVS, NULL) ==
		 VIP_SUCCESS);
	for (c = 0; c < 2 * a->rounds; c++) {
		VT_CHECK(VipCreateVi(e.nic, &va, NULL, NULL, &e.vi) ==
			 VIP_SUCCESS);
		vt_fill(vt_desc(&e.m, 0), &e.m, vt_data(&e.m) + 2048, 64);
		VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 0), e.m.mh) ==
			 VIP_SUCCESS);
		vt_fill(vt_desc(&e.m, 9), &e.m, vt_data(&e.m) + 2048 + 64, 64);
		VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, 9), e.m.mh) ==
			 VIP_SUCCESS);
		VT_CHECK(vt_accept(e.nic, a->disc, e.vi) == VIP_SUCCESS);
		if (VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS) {
			next = (struct peer_args){
				.count = *(uint32_t *)(vt_data(&e.m) + 2048),
				.conn = (uint32_t)c,
			};
			VT_CHECK(next.count <= POSTED_RECVS);
			rc = send_tagged(&e, &next);
			if (rc)
				return rc;
		}
		VT_CHECK(VipDisconnect(e.vi) == VIP_SUCCESS);
		VT_CHECK(VipDestroyVi(e.vi) == VIP_SUCCESS);
	}
	e.vi = NULL;
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

struct recv_poster {
	struct vt_end *e;
	VIP_DESCRIPTOR **r;
	int spin; /* microseconds between posts */
	VIP_RETURN ret;
};

/* Posts POSTED_RECVS receives, a short pause apart. */
static void *post_receives_slowly(void *arg)
{
	struct recv_poster *p = arg;
	int i;

	for (i = 0; i < POSTED_RECVS; i++) {
		p->r[i] = vt_desc(&p->e->m, 8 + i);
		vt_fill(p->r[i], &p->e->m, vt_data(&p->e->m) + 64 * i, 64);
		p->ret = VipPostRecv(p->e->vi, p->r[i], p->e->m.mh);
		if (p->ret != VIP_SUCCESS)
			break;
		usleep(p->spin);
	}
	return NULL;
}

/*
 * A thread posts receives while another disconnects the VI: those the
 * disconnect flushed come back first, in order; every one left belongs
 * to the next connection, and gets that connection's messages in order,
 * each in its own buffer (a receive the reset of the queue pair dropped
 * and one put back twice would shift them).
 */
Test(reconnect, receives_posted_while_the_vi_disconnects_serve_the_next_connection)
{
	struct peer_args a = { .disc = "rc-count", .rounds = POSTED_ROUNDS };
	pid_t srv = vt_spawn(counting_server, &a);
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r[POSTED_RECVS], *s, *out;
	struct recv_poster p;
	struct vt_end e;
	uint32_t *count;
	pthread_t t;
	int round, flushed, i;

	cr_assert_eq(vt_end_open(&e, 4096 + 64 * POSTED_RECVS, &va),
		     VIP_SUCCESS);
	count = (uint32_t *)(vt_data(&e.m) + 64 * POSTED_RECVS);
	for (round = 0; round < POSTED_ROUNDS; round++) {
		cr_assert_eq(vt_request(e.nic, e.vi, "client", a.disc),
			     VIP_SUCCESS, "round %d", round);
		p = (struct recv_poster){ .e = &e, .r = r,
					  .spin = 300 << (round % 3) };
		cr_assert_eq(pthread_create(&t, NULL, post_receives_slowly,
					    &p), 0);
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
		pthread_join(t, NULL);
		cr_assert_eq(p.ret, VIP_SUCCESS);
		for (flushed = 0; VipRecvDone(e.vi, &out) != VIP_NOT_DONE;
		     flushed++) {
			cr_assert_eq(out, r[flushed], "round %d", round);
			cr_assert(out->CS.Status &
				  VIP_STATUS_DESC_FLUSHED_ERROR);
		}
		cr_log_info("round %d: %d of %d flushed", round, flushed,
			    POSTED_RECVS);

		cr_assert_eq(vt_request(e.nic, e.vi, "client", a.disc),
			     VIP_SUCCESS, "round %d", round);
		*count = POSTED_RECVS - flushed;
		s = vt_desc(&e.m, 1);
		vt_fill(s, &e.m, count, sizeof(*count));
		cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
		cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
			     VIP_SUCCESS);
		for (i = flushed; i < POSTED_RECVS; i++) {
			const struct tag *tg;

			cr_assert_eq(VipRecvWait(e.vi, VT_TIMEOUT_MS, &out),
				     VIP_SUCCESS,
				     "round %d: receive %d never completed",
				     round, i);
			cr_assert_eq(out, r[i]);
			tg = out->DS[0].Local.Data.Address;
			cr_assert_eq(out->CS.Length, sizeof(*tg));
			cr_assert(tg->conn == (uint32_t)(2 * round + 1) &&
					  tg->seq == (uint32_t)(i - flushed),
				  "round %d: receive %d holds message %u of "
				  "connection %u", round, i, tg->seq,
				  tg->conn);
		}
		cr_assert_eq(VipRecvDone(e.vi, &out), VIP_NOT_DONE);
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	}
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}

/* ------------------------------------------ sends against disconnect */

#define RACE_ROUNDS 6
#define RACE_SEQS 4096 /* messages posted on one connection, at most */
#define NEXT_COUNT 16 /* sent on each round's second connection */
#define SINK_RECVS 32

/* What the sink saw, shared with the test across fork. */
struct sink_log {
	atomic_int bad; /* a message of another connection, or malformed */
	uint32_t bad_conn, bad_seq, bad_on;
	/* got[c][s]: message s of connection c arrived */
	atomic_uchar got[2 * RACE_ROUNDS][RACE_SEQS];
};

static struct sink_log *sink_log;

/* Serves 2 * RACE_ROUNDS connections on "rc-sink" one after another;
 * connection c must only bring messages tagged c. */
static int sink_server(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *out;
	struct vt_end e;
	uint32_t c;
	int i;

	(void)arg;
	VT_CHECK(vt_end_open(&e, SINK_RECVS * 64, NULL) == VIP_SUCCESS);
	for (c = 0; c < 2 * RACE_ROUNDS; c++) {
		VT_CHECK(VipCreateVi(e.nic, &va, NULL, NULL, &e.vi) ==
			 VIP_SUCCESS);
		for (i = 0; i < SINK_RECVS; i++) {
			vt_fill(vt_desc(&e.m, i), &e.m,
				vt_data(&e.m) + 64 * i, 64);
			VT_CHECK(VipPostRecv(e.vi, vt_desc_at(&e.m, i),
					     e.m.mh) == VIP_SUCCESS);
		}
		VT_CHECK(vt_accept(e.nic, "rc-sink", e.vi) == VIP_SUCCESS);
		while (VipRecvWait(e.vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS) {
			const struct tag *t = out->DS[0].Local.Data.Address;

			if (out->CS.Length != sizeof(*t) || t->conn != c ||
			    t->seq >= RACE_SEQS) {
				if (!atomic_exchange(&sink_log->bad, 1)) {
					sink_log->bad_conn = t->conn;
					sink_log->bad_seq = t->seq;
					sink_log->bad_on = c;
				}
			} else {
				atomic_store(&sink_log->got[c][t->seq], 1);
			}
			VT_CHECK(VipPostRecv(e.vi, out, e.m.mh) ==
				 VIP_SUCCESS);
		}
		VipDisconnect(e.vi);
		VT_CHECK(VipDestroyVi(e.vi) == VIP_SUCCESS);
	}
	e.vi = NULL;
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

#define POOL 32

struct poster {
	struct vt_end *e;
	uint32_t conn;
	atomic_bool stop;
	/* posted[s]: 1 VipPostSend took message s, 2 it refused it */
	unsigned char posted[RACE_SEQS];
	int completed, outstanding;
	uint32_t next;
};

/* Reaps completed sends; each one taken counts once. */
static void reap(struct poster *p)
{
	VIP_DESCRIPTOR *out;
	VIP_RETURN ret;

	while ((ret = VipSendDone(p->e->vi, &out)) == VIP_SUCCESS ||
	       ret == VIP_DESCRIPTOR_ERROR) {
		p->completed++;
		p->outstanding--;
	}
}

/* Posts tagged sends as fast as the queue takes them until told to stop
 * or refused for good (the VI is no longer connected). */
static void *post_until_disconnected(void *arg)
{
	struct poster *p = arg;
	struct vt_end *e = p->e;
	struct tag *t = (struct tag *)(vt_data(&e->m) + 4096);
	VIP_DESCRIPTOR *s;
	VIP_RETURN ret;

	while (!atomic_load(&p->stop) && p->next < RACE_SEQS) {
		if (p->outstanding >= POOL) {
			reap(p);
			continue;
		}
		/* Descriptor slots 32..63 and tags cycle with the pool:
		 * a slot is reused only once its send was reaped. */
		s = vt_desc(&e->m, 32 + p->next % POOL);
		t[p->next % POOL] = (struct tag){ p->conn, p->next };
		vt_fill(s, &e->m, &t[p->next % POOL], sizeof(*t));
		ret = VipPostSend(e->vi, s, e->m.mh);
		p->posted[p->next++] = ret == VIP_SUCCESS ? 1 : 2;
		if (ret == VIP_SUCCESS)
			p->outstanding++;
		else if (ret == VIP_INVALID_STATE)
			break;
	}
	return NULL;
}

/*
 * One thread posts sends without pause while another disconnects the
 * VI; then the VI connects again and sends a few more. Every send that
 * VipPostSend took completes (flushed or not), none it refused reaches a
 * peer, and the second connection's peer gets exactly the second
 * connection's messages, in order (they reached the next peer, and the
 * next connection's first sends failed, before).
 */
Test(reconnect, sends_posted_as_the_vi_disconnects_never_reach_its_next_peer)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct poster *p = calloc(1, sizeof(*p));
	VIP_DESCRIPTOR *s, *out;
	struct tag *t;
	struct vt_end e;
	pthread_t thr;
	pid_t srv;
	int round, i;

	sink_log = mmap(NULL, sizeof(*sink_log), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(sink_log, MAP_FAILED);
	memset(sink_log, 0, sizeof(*sink_log));
	srv = vt_spawn(sink_server, NULL);
	cr_assert_eq(vt_end_open(&e, 8192, &va), VIP_SUCCESS);
	t = (struct tag *)vt_data(&e.m);
	for (round = 0; round < RACE_ROUNDS; round++) {
		uint32_t c1 = 2 * round, c2 = c1 + 1;

		cr_assert_eq(vt_request(e.nic, e.vi, "client", "rc-sink"),
			     VIP_SUCCESS, "round %d", round);
		memset(p, 0, sizeof(*p));
		p->e = &e;
		p->conn = c1;
		cr_assert_eq(pthread_create(&thr, NULL,
					    post_until_disconnected, p), 0);
		usleep((round % 3) * 20000 + 5000);
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
		atomic_store(&p->stop, true);
		pthread_join(thr, NULL);
		/* Idle now: every send taken has completed. */
		reap(p);
		cr_assert_eq(p->outstanding, 0,
			     "round %d: %d sends taken never completed", round,
			     p->outstanding);

		cr_assert_eq(vt_request(e.nic, e.vi, "client", "rc-sink"),
			     VIP_SUCCESS, "round %d", round);
		for (i = 0; i < NEXT_COUNT; i++) {
			t[i] = (struct tag){ c2, (uint32_t)i };
			s = vt_desc(&e.m, 1 + i % 8);
			vt_fill(s, &e.m, &t[i], sizeof(t[i]));
			cr_assert_eq(VipPostSend(e.vi, s, e.m.mh), VIP_SUCCESS);
			cr_assert_eq(VipSendWait(e.vi, VT_TIMEOUT_MS, &out),
				     VIP_SUCCESS,
				     "round %d: send %d of the next connection "
				     "failed (status 0x%x)", round, i,
				     out ? out->CS.Status : 0);
			cr_assert_eq(out, s, "round %d: send %d: an older "
				     "descriptor came back", round, i);
		}
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
		/* The sink has seen all it will of both connections once it
		 * accepts the next one; for the last round, once it ends. */
		if (round == RACE_ROUNDS - 1)
			cr_assert_eq(vt_join(srv, 60), 0);
		else
			usleep(100 * 1000);
		for (i = 0; i < RACE_SEQS; i++)
			cr_assert(!(p->posted[i] != 1 &&
				    atomic_load(&sink_log->got[c1][i])),
				  "round %d: message %d, refused or never "
				  "posted, arrived", round, i);
		cr_assert_eq(atomic_load(&sink_log->bad), 0,
			     "round %d: message %u of connection %u arrived "
			     "on connection %u", round, sink_log->bad_seq,
			     sink_log->bad_conn, sink_log->bad_on);
	}
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	free(p);
	munmap(sink_log, sizeof(*sink_log));
}
