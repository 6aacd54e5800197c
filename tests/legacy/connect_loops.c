/*
 * connect_loops.c - connecting as VIA-era programs do (vipl-api.md
 * section 5, "Connecting"): the requester asks again while the answer is
 * VIP_NO_MATCH, with 5 s timeouts or VIP_INFINITE, and the other side
 * starts whenever it starts. Also the race of a requester giving up just
 * as the server accepts.
 */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util.h"

#define MSG_LEN 64
#define LOOP_TIMEOUT_MS 5000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void post_recv(struct vt_end *e, int slot)
{
	VIP_DESCRIPTOR *d = vt_desc(&e->m, slot);

	vt_fill(d, &e->m, vt_data(&e->m) + slot * MSG_LEN, MSG_LEN);
	VipPostRecv(e->vi, d, e->m.mh);
}

/* Posts text as a send from slot's descriptor and buffer. */
static int post_text(struct vt_end *e, int slot, const char *text)
{
	VIP_DESCRIPTOR *s = vt_desc(&e->m, slot);
	char *buf = vt_data(&e->m) + slot * MSG_LEN;

	snprintf(buf, MSG_LEN, "%s", text);
	vt_fill(s, &e->m, buf, strlen(text) + 1);
	VT_CHECK(VipPostSend(e->vi, s, e->m.mh) == VIP_SUCCESS);
	return 0;
}

/* Waits for the send of slot: it completed, or (flush_ok) it was flushed
 * by the peer leaving after it proved the send arrived. */
static int sent(struct vt_end *e, int slot, bool flush_ok)
{
	VIP_DESCRIPTOR *s = vt_desc_at(&e->m, slot), *d;
	VIP_RETURN rc = VipSendWait(e->vi, VT_TIMEOUT_MS, &d);

	if (flush_ok && rc == VIP_DESCRIPTOR_ERROR && d == s &&
	    s->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_DESC_FLUSHED_ERROR))
		return 0;
	if (rc != VIP_SUCCESS)
		fprintf(stderr, "sent: VipSendWait: %d, status 0x%x\n", rc,
			(unsigned)s->CS.Status);
	VT_CHECK(rc == VIP_SUCCESS && d == s);
	return 0;
}

static int send_text(struct vt_end *e, int slot, const char *text)
{
	int ret = post_text(e, slot, text);

	return ret ? ret : sent(e, slot, false);
}

/* Waits for the receive of slot (posted) and checks it holds text. */
static int recv_text(struct vt_end *e, int slot, const char *text)
{
	VIP_DESCRIPTOR *d;

	VT_CHECK(VipRecvWait(e->vi, VT_TIMEOUT_MS, &d) == VIP_SUCCESS);
	VT_CHECK(d == vt_desc_at(&e->m, slot));
	VT_CHECK(!memcmp(vt_data(&e->m) + slot * MSG_LEN, text,
			 strlen(text) + 1));
	return 0;
}

/*
 * One message each way, the first side's first, then its "bye": 0 or the
 * failing line. Receive slot 0 is posted before connecting. The first
 * side leaves first, once its bye completed; the other stays until it has
 * gone. So the first side's sends complete while its peer is there (its
 * acknowledgements may come late: retransmits are answered), and the
 * other side's reply, which the bye proves arrived, may complete flushed:
 * rxe, under load, had not processed its acknowledgement by the time the
 * first side had taken it, sent the bye, seen it acknowledged and left
 * (porting.md, "Leaving right after the last receive"). No exchange lets
 * both sides know all their sends completed before either leaves.
 */
static int ping(struct vt_end *e, bool first, const char *text)
{
	int ret;

	if (first) {
		if ((ret = send_text(e, 1, text)) ||
		    (ret = recv_text(e, 0, text)))
			return ret;
		return send_text(e, 3, "bye");
	}
	if ((ret = recv_text(e, 0, text)))
		return ret;
	post_recv(e, 2); /* for the bye, which follows our reply */
	if ((ret = post_text(e, 1, text)) ||
	    (ret = recv_text(e, 2, "bye")))
		return ret;
	return sent(e, 1, true);
}

/* Waits (bounded) until the peer's disconnect shows, then disconnects. */
static int wait_peer_left(struct vt_end *e)
{
	int i;

	for (i = 0; i < 2000 && vt_vi_state(e->vi) != VIP_STATE_ERROR; i++)
		usleep(10000);
	VT_CHECK(vt_vi_state(e->vi) == VIP_STATE_ERROR);
	VT_CHECK(VipDisconnect(e->vi) == VIP_SUCCESS);
	return 0;
}

/* ------------------------------------------- client and server, late */

struct late {
	int delay_s;
	const char *disc;
};

static int late_server(void *arg)
{
	const struct late *l = arg;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct vt_end e;
	int ret;

	sleep(l->delay_s);
	VT_CHECK(vt_end_open(&e, 16 * MSG_LEN, &va) == VIP_SUCCESS);
	post_recv(&e, 0);
	VT_CHECK(vt_accept(e.nic, l->disc, e.vi) == VIP_SUCCESS);
	if ((ret = ping(&e, false, l->disc)))
		return ret;
	if ((ret = wait_peer_left(&e)))
		return ret;
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

/* The requester of a VIA program: no pause between tries. */
static void request_until_matched(int delay_s, VIP_ULONG timeout)
{
	char disc[16];
	struct late l = { delay_s, disc };
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *local, *remote;
	double t0, waited, spawned;
	struct vt_end e;
	VIP_RETURN rc;
	pid_t srv;
	int tries = 0;

	snprintf(disc, sizeof(disc), "late%d-%s", delay_s,
		 timeout == VIP_INFINITE ? "inf" : "5s");
	/* The server sleeps from here; our own open (slow under ASan) comes
	 * out of its delay, not of our wait. */
	spawned = now_s();
	srv = vt_spawn(late_server, &l);
	cr_assert_eq(vt_end_open(&e, 16 * MSG_LEN, &va), VIP_SUCCESS);
	post_recv(&e, 0);
	local = vt_addr(e.nic, "requester");
	remote = vt_addr(e.nic, disc);
	t0 = now_s();
	do {
		rc = VipConnectRequest(e.vi, local, remote, timeout, &ra);
		tries++;
	} while (rc == VIP_NO_MATCH && now_s() - t0 < delay_s + 30);
	waited = now_s() - t0;
	cr_log_info("%s: connected after %.1f s, %d tries", disc, waited,
		    tries);
	cr_assert_eq(rc, VIP_SUCCESS, "%s: %d after %d tries, %.1f s", disc,
		     rc, tries, waited);
	cr_expect_geq(now_s() - spawned, delay_s - 0.5,
		      "connected before the server was there");
	cr_expect_eq(ping(&e, true, disc), 0);
	cr_expect_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	free(local);
	free(remote);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 60), 0);
}

#define LATE_SERVER(s)                                                         \
	Test(legacy, requester_looping_on_no_match_meets_a_server_##s##s_late, \
	     .timeout = 90)                                                    \
	{                                                                      \
		request_until_matched(s, LOOP_TIMEOUT_MS);                    \
	}

LATE_SERVER(0)
LATE_SERVER(3)
LATE_SERVER(6)
LATE_SERVER(12)

Test(legacy, infinite_requester_looping_on_no_match_meets_a_late_server,
     .timeout = 90)
{
	request_until_matched(6, VIP_INFINITE);
}

/* ------------------------------------------------ peer to peer, late */

struct peer_side {
	int delay_s;
	const char *me, *other;
};

/* A VIA program's peer loop: VIP_NO_MATCH means "not there yet". */
static VIP_RETURN peer_until_matched(struct vt_end *e, const char *me,
				     const char *other, double give_up_s,
				     int *tries)
{
	VIP_NET_ADDRESS *local = vt_addr(e->nic, me);
	VIP_NET_ADDRESS *remote = vt_addr(e->nic, other);
	VIP_VI_ATTRIBUTES ra;
	double t0 = now_s();
	VIP_RETURN rc;

	*tries = 0;
	do {
		rc = VipConnectPeerRequest(e->vi, local, remote,
					   LOOP_TIMEOUT_MS);
		if (rc == VIP_SUCCESS)
			rc = VipConnectPeerWait(e->vi, &ra);
		++*tries;
	} while (rc == VIP_NO_MATCH && now_s() - t0 < give_up_s);
	free(local);
	free(remote);
	return rc;
}

static int late_peer(void *arg)
{
	const struct peer_side *p = arg;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	struct vt_end e;
	int tries, ret;

	sleep(p->delay_s);
	VT_CHECK(vt_end_open(&e, 16 * MSG_LEN, &va) == VIP_SUCCESS);
	post_recv(&e, 0);
	VT_CHECK(peer_until_matched(&e, p->me, p->other, 40, &tries) ==
		 VIP_SUCCESS);
	if ((ret = ping(&e, false, p->other)))
		return ret;
	if ((ret = wait_peer_left(&e)))
		return ret;
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

/*
 * Both ends on one host, so the discriminators order them: the lower one
 * connects, the higher accepts. early_connects picks which role the test
 * (the early side) has.
 */
static void peers_meet(int delay_s, bool early_connects)
{
	char lo[16], hi[16];
	struct peer_side late;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	const char *me;
	struct vt_end e;
	VIP_RETURN rc;
	double t0;
	int tries;
	pid_t pid;

	snprintf(lo, sizeof(lo), "pa%d%c", delay_s, early_connects ? 'c' : 'a');
	snprintf(hi, sizeof(hi), "pb%d%c", delay_s, early_connects ? 'c' : 'a');
	me = early_connects ? lo : hi;
	late.delay_s = delay_s;
	late.me = early_connects ? hi : lo;
	late.other = me;
	pid = vt_spawn(late_peer, &late);
	cr_assert_eq(vt_end_open(&e, 16 * MSG_LEN, &va), VIP_SUCCESS);
	post_recv(&e, 0);
	t0 = now_s();
	rc = peer_until_matched(&e, me, late.me, delay_s + 30, &tries);
	cr_log_info("peer %s (%s): %d after %.1f s, %d tries", me,
		    early_connects ? "connects" : "accepts", rc, now_s() - t0,
		    tries);
	cr_assert_eq(rc, VIP_SUCCESS, "peer %s: %d after %d tries", me, rc,
		     tries);
	cr_expect_eq(ping(&e, true, me), 0);
	cr_expect_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(pid, 60), 0);
}

#define LATE_PEER(s, role, connects)                                           \
	Test(legacy, peer_that_##role##_meets_its_peer_##s##s_late,            \
	     .timeout = 90)                                                    \
	{                                                                      \
		peers_meet(s, connects);                                       \
	}

LATE_PEER(0, connects, true)
LATE_PEER(3, connects, true)
LATE_PEER(6, connects, true)
LATE_PEER(12, connects, true)
LATE_PEER(0, accepts, false)
LATE_PEER(3, accepts, false)
LATE_PEER(6, accepts, false)
LATE_PEER(12, accepts, false)

/* ------------------------------------- a requester that gave up early */

#define RACE_CONNECTIONS 12
#define RACE_TIMEOUT_MS 500

/*
 * Accepts RACE_CONNECTIONS connections, each after a pause of up to
 * twice the requester's timeout: about half come too late, and those
 * accepts must say so (VIP_TIMEOUT) and leave the VI idle and usable.
 */
static int slow_acceptor(void *arg)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *local, *remote = vt_addr_buf();
	unsigned int seed = 12345;
	int connected = 0, late = 0, ret;
	VIP_CONN_HANDLE conn;
	struct vt_end e;
	VIP_RETURN rc;

	(void)arg;
	VT_CHECK(vt_end_open(&e, 16 * MSG_LEN, &va) == VIP_SUCCESS);
	local = vt_addr(e.nic, "race");
	post_recv(&e, 0);
	while (connected < RACE_CONNECTIONS) {
		rc = VipConnectWait(e.nic, local, VT_TIMEOUT_MS, remote, &ra,
				    &conn);
		if (rc != VIP_SUCCESS) {
			fprintf(stderr,
				"slow_acceptor: VipConnectWait: %d, after %d "
				"accepted and %d too late\n",
				rc, connected, late);
			return 1;
		}
		usleep((rand_r(&seed) % (2 * RACE_TIMEOUT_MS)) * 1000);
		rc = VipConnectAccept(conn, e.vi);
		if (rc == VIP_TIMEOUT) {
			VT_CHECK(vt_vi_state(e.vi) == VIP_STATE_IDLE);
			late++;
			continue;
		}
		VT_CHECK(rc == VIP_SUCCESS);
		if ((ret = ping(&e, false, "race")) ||
		    (ret = wait_peer_left(&e)))
			return ret;
		VT_CHECK(vt_vi_state(e.vi) == VIP_STATE_IDLE);
		post_recv(&e, 0);
		connected++;
	}
	fprintf(stderr, "slow_acceptor: %d accepted, %d too late\n",
		connected, late);
	VT_CHECK(late > 0); /* else the race was never run */
	free(local);
	free(remote);
	VT_CHECK(vt_end_close_idle(&e) == VIP_SUCCESS);
	return 0;
}

Test(legacy, an_accept_that_comes_after_the_requester_gave_up_says_timeout,
     .timeout = 180)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	pid_t srv = vt_spawn(slow_acceptor, NULL);
	VIP_NET_ADDRESS *local, *remote;
	VIP_DESCRIPTOR *d;
	struct vt_end e;
	int i, tries = 0;
	VIP_RETURN rc;

	cr_assert_eq(vt_end_open(&e, 16 * MSG_LEN, &va), VIP_SUCCESS);
	local = vt_addr(e.nic, "racer");
	remote = vt_addr(e.nic, "race");
	for (i = 0; i < RACE_CONNECTIONS; i++) {
		/* Flushed by the last disconnect, or never used. */
		while (VipRecvDone(e.vi, &d) != VIP_NOT_DONE)
			;
		post_recv(&e, 0);
		do {
			rc = VipConnectRequest(e.vi, local, remote,
					       RACE_TIMEOUT_MS, &ra);
			tries++;
		} while (rc == VIP_NO_MATCH && tries < 2000);
		cr_assert_eq(rc, VIP_SUCCESS, "connection %d: %d", i, rc);
		cr_assert_eq(ping(&e, true, "race"), 0, "connection %d", i);
		cr_assert_eq(VipDisconnect(e.vi), VIP_SUCCESS);
	}
	cr_log_info("race: %d connections in %d tries", i, tries);
	free(local);
	free(remote);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 120), 0);
}

/* ---------------------------------------------- a host that is not there */

/* Silence, not a refusal, is VIP_TIMEOUT: an address on the device's own
 * subnet where no host answers (the guest's 10.77.0.0/24 has only us). */
Test(legacy, a_request_to_a_silent_host_times_out_and_leaves_vi_idle,
     .timeout = 60)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), ra;
	VIP_NET_ADDRESS *remote;
	struct vt_end e;
	VIP_RETURN rc;
	double t0, s;

	cr_assert_eq(vt_end_open(&e, 0, &va), VIP_SUCCESS);
	remote = vt_addr(e.nic, "silence");
	cr_assert_eq(remote->HostAddressLen, 4);
	remote->HostAddress[3] ^= 0x80; /* 10.77.0.1 -> 10.77.0.129 */
	t0 = now_s();
	rc = VipConnectRequest(e.vi, NULL, remote, 3000, &ra);
	s = now_s() - t0;
	cr_log_info("silent host: %d after %.2f s", rc, s);
	cr_expect_eq(rc, VIP_TIMEOUT, "%d after %.2f s", rc, s);
	cr_expect_lt(s, 3.0 + 1.0);
	cr_expect_eq(vt_vi_state(e.vi), VIP_STATE_IDLE);
	free(remote);
	cr_expect_eq(vt_end_close_idle(&e), VIP_SUCCESS);
}
