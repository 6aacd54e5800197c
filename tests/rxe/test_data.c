/* test_data.c - send and receive between two processes over rxe. */
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "echo.h"

TestSuite(data, .timeout = 90);

/* The client side of most tests: a connected VI and a registered arena. */
struct client {
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	pid_t server;
};

static void client_start(struct client *c, struct echo_args *a, size_t len)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(a->level);

	c->server = vt_spawn(echo_server, a);
	cr_assert_gt(c->server, 0);
	c->nic = vt_open_nic();
	cr_assert_not_null(c->nic);
	vt_mem_init(&c->m, c->nic, len, NULL);
	cr_assert_not_null(c->m.base);
	if (a->max_transfer)
		va.MaxTransferSize = a->max_transfer;
	cr_assert_eq(VipCreateVi(c->nic, &va, NULL, NULL, &c->vi), VIP_SUCCESS);
}

static void client_connect(struct client *c, const char *disc)
{
	cr_assert_eq(vt_request(c->nic, c->vi, "client", disc), VIP_SUCCESS);
}

static void client_finish(struct client *c)
{
	cr_expect_eq(VipDisconnect(c->vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(c->vi), VIP_SUCCESS);
	vt_mem_fini(&c->m);
	cr_expect_eq(VipCloseNic(c->nic), VIP_SUCCESS);
	cr_expect_eq(vt_join(c->server, 30), 0, "server failed");
}

static void pattern(char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(seed * 131 + i * 7 + (i >> 8));
}

static VIP_DESCRIPTOR *wait_recv(struct client *c)
{
	VIP_DESCRIPTOR *out = NULL;

	cr_assert_eq(VipRecvWait(c->vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	return out;
}

static void send_and_reap(struct client *c, VIP_DESCRIPTOR *d)
{
	VIP_DESCRIPTOR *out = NULL;

	cr_assert_eq(VipPostSend(c->vi, d, c->m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(c->vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_assert_eq(out, d);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
}

/* Sends n segments of slen[i] bytes, 10000 bytes apart, each a pattern of
 * seed + i; expect gets them gathered in order. Returns their total. */
static unsigned gather_send(struct client *c, const unsigned *slen, int n,
			    unsigned seed, char *expect)
{
	char *data = vt_data(&c->m);
	VIP_DESCRIPTOR *s = vt_desc(&c->m, 1);
	unsigned off = 0;
	int i;

	s->CS.SegCount = (VIP_UINT16)n;
	for (i = 0; i < n; i++) {
		char *p = data + i * 10000;

		pattern(p, slen[i], seed + (unsigned)i);
		memcpy(expect + off, p, slen[i]);
		off += slen[i];
		vt_seg(s, i)->Data.Address = p;
		vt_seg(s, i)->Handle = c->m.mh;
		vt_seg(s, i)->Length = slen[i];
	}
	s->CS.Length = off;
	send_and_reap(c, s);
	return off;
}

Test(data, one_segment_round_trip_keeps_every_byte)
{
	struct echo_args a = { .disc = "d-one", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY };
	struct client c;
	VIP_DESCRIPTOR *r, *s, *out;
	char *sbuf, *rbuf;

	client_start(&c, &a, 8192);
	sbuf = vt_data(&c.m);
	rbuf = sbuf + 4096;
	r = vt_desc(&c.m, 0);
	vt_fill(r, &c.m, rbuf, 4096);
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);

	pattern(sbuf, 1000, 1);
	s = vt_desc(&c.m, 1);
	vt_fill(s, &c.m, sbuf, 1000);
	send_and_reap(&c, s);
	out = wait_recv(&c);
	cr_assert_eq(out, r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(r->CS.Length, 1000);
	cr_expect_eq(memcmp(rbuf, sbuf, 1000), 0);
	client_finish(&c);
}

Test(data, several_segments_gather_and_scatter)
{
	struct echo_args a = { .disc = "d-segs", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY };
	static const unsigned slen[3] = { 100, 1, 3000 };
	struct client c;
	VIP_DESCRIPTOR *r;
	char *data, expect[3101], got[3101];

	client_start(&c, &a, 65536);
	data = vt_data(&c.m);
	/* Receive into two segments far apart: 2000 then 1101 bytes. */
	r = vt_desc(&c.m, 0);
	r->CS.SegCount = 2;
	r->DS[0].Local.Data.Address = data + 40000;
	r->DS[0].Local.Handle = c.m.mh;
	r->DS[0].Local.Length = 2000;
	r->DS[1].Local.Data.Address = data + 50000;
	r->DS[1].Local.Handle = c.m.mh;
	r->DS[1].Local.Length = 1101;
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);

	/* Send from three segments, gathered in order. */
	cr_assert_eq(gather_send(&c, slen, 3, 7, expect), 3101);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(r->CS.Length, 3101);
	memcpy(got, data + 40000, 2000);
	memcpy(got + 2000, data + 50000, 1101);
	cr_expect_eq(memcmp(got, expect, 3101), 0);
	client_finish(&c);
}

/* Empty segments among full ones add nothing and take nothing: programs
 * leave unused ones at Length 0 (and siw's kernel driver crashes on such
 * a send if libvipl passes them on). */
Test(data, empty_segments_among_full_ones_carry_nothing)
{
	struct echo_args a = { .disc = "d-empty-segs", .count = 1,
			       .level = VIP_SERVICE_RELIABLE_DELIVERY };
	static const unsigned slen[4] = { 0, 100, 0, 3000 };
	static const unsigned rlen[3] = { 1000, 0, 2100 };
	struct client c;
	VIP_DESCRIPTOR *r;
	char *data, expect[3100];
	int i;

	client_start(&c, &a, 65536);
	data = vt_data(&c.m);
	r = vt_desc(&c.m, 0);
	r->CS.SegCount = 3; /* an empty segment between two full ones */
	for (i = 0; i < 3; i++) {
		vt_seg(r, i)->Data.Address = data + 40000 + i * 5000;
		vt_seg(r, i)->Handle = c.m.mh;
		vt_seg(r, i)->Length = rlen[i];
	}
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);

	cr_assert_eq(gather_send(&c, slen, 4, 3, expect), 3100);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(r->CS.Length, 3100);
	cr_expect_eq(memcmp(data + 40000, expect, 1000), 0);
	cr_expect_eq(memcmp(data + 50000, expect + 1000, 2100), 0);
	client_finish(&c);
}

Test(data, zero_byte_message_completes_with_length_zero)
{
	struct echo_args a = { .disc = "d-zero", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY };
	struct client c;
	VIP_DESCRIPTOR *r, *s;

	client_start(&c, &a, 4096);
	r = vt_desc(&c.m, 0);
	vt_fill(r, &c.m, vt_data(&c.m), 4096);
	r->CS.Length = 12345; /* the provider overwrites it */
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);
	s = vt_desc(&c.m, 1); /* SegCount 0, Length 0 */
	send_and_reap(&c, s);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(r->CS.Length, 0);
	client_finish(&c);
}

/* A receive of no segments (programs post them for RDMA writes with
 * immediate data, and for empty notes) takes an empty message; iWARP's
 * provider refuses such a receive as it is (libvipl gives it one empty
 * segment there). */
Test(data, zero_segment_receive_takes_an_empty_message)
{
	struct echo_args a = { .disc = "d-zseg", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY };
	struct client c;
	VIP_DESCRIPTOR *r, *s;

	client_start(&c, &a, 4096);
	r = vt_desc(&c.m, 0); /* SegCount 0 */
	r->CS.Length = 12345;
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);
	s = vt_desc(&c.m, 1); /* SegCount 0, Length 0 */
	send_and_reap(&c, s);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(r->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
	cr_expect_eq(r->CS.Length, 0);
	client_finish(&c);
}

Test(data, largest_transfer_arrives_whole_and_one_more_byte_is_refused)
{
	enum { MTS = 1 << 20 };
	struct echo_args a = { .disc = "d-max", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY, .max_transfer = MTS };
	struct client c;
	VIP_DESCRIPTOR *r, *s, *big;
	char *sbuf, *rbuf;

	client_start(&c, &a, 2 * MTS + 4096);
	sbuf = vt_data(&c.m);
	rbuf = sbuf + MTS + 4096;
	r = vt_desc(&c.m, 0);
	vt_fill(r, &c.m, rbuf, MTS);
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);

	big = vt_desc(&c.m, 2);
	vt_fill(big, &c.m, sbuf, MTS + 1);
	cr_expect_eq(VipPostSend(c.vi, big, c.m.mh), VIP_DESCRIPTOR_ERROR);

	pattern(sbuf, MTS, 3);
	s = vt_desc(&c.m, 1);
	vt_fill(s, &c.m, sbuf, MTS);
	send_and_reap(&c, s);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(r->CS.Length, MTS);
	cr_expect_eq(memcmp(rbuf, sbuf, MTS), 0);
	client_finish(&c);
}

Test(data, messages_complete_in_posting_order)
{
	enum { N = 5 };
	struct echo_args a = { .disc = "d-order", .count = N, .level = VIP_SERVICE_RELIABLE_DELIVERY, .max_transfer = 0, .recv_len = 4096 };
	struct client c;
	VIP_DESCRIPTOR *r[N], *s[N], *out;
	char *data;
	int i;

	client_start(&c, &a, 2 * N * 4096);
	data = vt_data(&c.m);
	for (i = 0; i < N; i++) {
		r[i] = vt_desc(&c.m, i);
		vt_fill(r[i], &c.m, data + (N + i) * 4096, 4096);
		cr_assert_eq(VipPostRecv(c.vi, r[i], c.m.mh), VIP_SUCCESS);
	}
	client_connect(&c, a.disc);
	for (i = 0; i < N; i++) {
		memset(data + i * 4096, 'a' + i, 100 + i);
		s[i] = vt_desc(&c.m, N + i);
		vt_fill(s[i], &c.m, data + i * 4096, 100 + i);
		/* Whatever the program left in CS.Next, each post stands
		 * alone; the provider links the queue itself. */
		s[i]->CS.Next.AddressBits = 0xdeadbeefull;
		s[i]->CS.NextHandle = 0x1234;
		cr_assert_eq(VipPostSend(c.vi, s[i], c.m.mh), VIP_SUCCESS);
	}
	/* Linked as a VIA queue is: each points at the next one posted. */
	for (i = 0; i + 1 < N; i++) {
		cr_expect_eq(r[i]->CS.Next.Address, r[i + 1]);
		cr_expect_eq(r[i]->CS.NextHandle, c.m.mh);
	}
	cr_expect_eq(r[N - 1]->CS.Next.Address, NULL);
	for (i = 0; i < N; i++) {
		cr_assert_eq(VipSendWait(c.vi, VT_TIMEOUT_MS, &out),
			     VIP_SUCCESS);
		cr_expect_eq(out, s[i]);
	}
	for (i = 0; i < N; i++) {
		out = wait_recv(&c);
		cr_expect_eq(out, r[i]);
		cr_expect_eq(out->CS.Length, 100 + i);
		cr_expect_eq(data[(N + i) * 4096 + 99 + i], 'a' + i);
	}
	client_finish(&c);
}

Test(data, wait_sleeps_until_the_message_arrives)
{
	struct echo_args a = { .disc = "d-sleep", .count = 1, .level = VIP_SERVICE_RELIABLE_DELIVERY, .max_transfer = 0, .recv_len = 0, .delay_ms = 300 };
	struct client c;
	struct timespec t0, t1;
	VIP_DESCRIPTOR *r, *s, *out;
	double ms;

	client_start(&c, &a, 8192);
	r = vt_desc(&c.m, 0);
	vt_fill(r, &c.m, vt_data(&c.m), 4096);
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);
	s = vt_desc(&c.m, 1);
	vt_fill(s, &c.m, vt_data(&c.m) + 4096, 10);
	send_and_reap(&c, s);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(VipRecvWait(c.vi, VIP_INFINITE, &out), VIP_SUCCESS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_expect_eq(out, r);
	cr_expect_eq(r->CS.Length, 10);
	/* The reply was held back 300 ms: we really waited for it. */
	cr_expect_geq(ms, 250.0);
	client_finish(&c);
}

Test(data, reliable_reception_level_carries_data_too)
{
	struct echo_args a = { .disc = "d-rr", .count = 1, .level = VIP_SERVICE_RELIABLE_RECEPTION };
	struct client c;
	VIP_DESCRIPTOR *r, *s;

	client_start(&c, &a, 8192);
	r = vt_desc(&c.m, 0);
	vt_fill(r, &c.m, vt_data(&c.m), 4096);
	cr_assert_eq(VipPostRecv(c.vi, r, c.m.mh), VIP_SUCCESS);
	client_connect(&c, a.disc);
	pattern(vt_data(&c.m) + 4096, 512, 9);
	s = vt_desc(&c.m, 1);
	vt_fill(s, &c.m, vt_data(&c.m) + 4096, 512);
	send_and_reap(&c, s);
	cr_assert_eq(wait_recv(&c), r);
	cr_expect_eq(memcmp(vt_data(&c.m), vt_data(&c.m) + 4096, 512), 0);
	client_finish(&c);
}

/*
 * N messages one at a time over an unreliable connection, from a client VI
 * created at level create_as, then (if set) turned unreliable by
 * VipSetViAttributes: either way it must be on a UC queue pair.
 */
static void unreliable_round_trips(const char *disc,
				   VIP_RELIABILITY_LEVEL create_as, bool set)
{
	enum { N = 4 };
	struct echo_args a = { .disc = disc, .count = N,
			       .level = VIP_SERVICE_UNRELIABLE,
			       .recv_len = 4096 };
	struct client c;
	VIP_DESCRIPTOR *r[N], *s;
	char *data;
	int i;

	VIP_VI_ATTRIBUTES va = vt_vi_attrs(create_as);

	client_start(&c, &a, (N + 1) * 4096);
	/* Our own VI in place of client_start's unreliable one. */
	cr_assert_eq(VipDestroyVi(c.vi), VIP_SUCCESS);
	cr_assert_eq(VipCreateVi(c.nic, &va, NULL, NULL, &c.vi), VIP_SUCCESS);
	if (set) {
		va = vt_vi_attrs(VIP_SERVICE_UNRELIABLE);
		cr_assert_eq(VipSetViAttributes(c.vi, &va), VIP_SUCCESS);
	}
	data = vt_data(&c.m);
	for (i = 0; i < N; i++) {
		r[i] = vt_desc(&c.m, i);
		vt_fill(r[i], &c.m, data + (i + 1) * 4096, 4096);
		cr_assert_eq(VipPostRecv(c.vi, r[i], c.m.mh), VIP_SUCCESS);
	}
	client_connect(&c, a.disc);
	/* One at a time: unreliable may drop a message that finds no
	 * receive, and the echo server reposts none. */
	for (i = 0; i < N; i++) {
		pattern(data, 2000 + i, i);
		s = vt_desc(&c.m, N + 1);
		vt_fill(s, &c.m, data, 2000 + i);
		send_and_reap(&c, s);
		cr_assert_eq(wait_recv(&c), r[i]);
		cr_expect_eq(r[i]->CS.Status,
			     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE);
		cr_expect_eq(r[i]->CS.Length, 2000 + i);
		cr_expect_eq(memcmp(data + (i + 1) * 4096, data, 2000 + i), 0);
	}
	client_finish(&c);
}

Test(data, unreliable_level_carries_data_in_order)
{
	unreliable_round_trips("d-uc", VIP_SERVICE_UNRELIABLE, false);
}

Test(data, giganet_dfc_flag_keeps_the_unreliable_level)
{
	unreliable_round_trips("d-uc-dfc",
			       VIP_SERVICE_UNRELIABLE | VIP_SERVICE_DFC, false);
}

Test(data, a_reliable_vi_set_unreliable_moves_to_uc)
{
	unreliable_round_trips("d-uc-set", VIP_SERVICE_RELIABLE_DELIVERY,
			       true);
}
