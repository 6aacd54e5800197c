/*
 * attributes.c - NIC and VI attributes used as VIA programs use them
 * (vipl-api.md section 5): both ends set MaxTransferSize to their own
 * NIC's maximum, kept in an int; the level is picked with
 * ReliabilityLevelSupport >= VIP_SERVICE_RELIABLE_RECEPTION; memory is
 * registered with NULL attributes (the default ptag).
 *
 * rxe reports max_msg_sz 2^31, which an int cannot hold: VipQueryNic says
 * 0x7fffffff at most.
 */
#include <limits.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

#define ATTR_TIMEOUT 60
#define ATTR_MSG "both ends at their NIC's maximum"

/* What such a program keeps of its NIC. */
struct prog_nic {
	VIP_NIC_HANDLE nic;
	int maxtransfersize;
	VIP_RELIABILITY_LEVEL level;
};

static VIP_RETURN prog_open(struct prog_nic *p)
{
	VIP_NIC_ATTRIBUTES na;
	VIP_RETURN r = VipOpenNic(NULL, &p->nic);

	if (r != VIP_SUCCESS)
		return r;
	r = VipQueryNic(p->nic, &na);
	if (r != VIP_SUCCESS)
		return r;
	p->maxtransfersize = (int)na.MaxTransferSize;
	p->level = na.ReliabilityLevelSupport >= VIP_SERVICE_RELIABLE_RECEPTION
			   ? VIP_SERVICE_RELIABLE_RECEPTION
			   : VIP_SERVICE_RELIABLE_DELIVERY;
	return VIP_SUCCESS;
}

static VIP_VI_ATTRIBUTES prog_vi_attrs(const struct prog_nic *p, int mts)
{
	VIP_VI_ATTRIBUTES va;

	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = p->level;
	va.MaxTransferSize = mts; /* an int, as the program holds it */
	va.Ptag = NULL;
	return va;
}

Test(legacy, nic_max_transfer_size_fits_an_int, .timeout = ATTR_TIMEOUT)
{
	VIP_NIC_ATTRIBUTES na;
	VIP_NIC_HANDLE nic = vt_open_nic();
	int mts;

	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_expect_leq(na.MaxTransferSize, (VIP_ULONG)INT_MAX);
	mts = (int)na.MaxTransferSize;
	cr_expect_gt(mts, 0, "MaxTransferSize %lu is negative in an int",
		     na.MaxTransferSize);
	cr_expect_geq(mts, 1 << 20);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
}

/* A VI at the NIC's maximum, and 0 for "the NIC's maximum", are both
 * accepted and read back as that maximum. */
Test(legacy, vi_at_the_reported_maximum_or_zero_is_accepted,
     .timeout = ATTR_TIMEOUT)
{
	struct prog_nic p;
	VIP_VI_ATTRIBUTES va, qa;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;
	int mts;

	cr_assert_eq(prog_open(&p), VIP_SUCCESS);
	for (mts = p.maxtransfersize;; mts = 0) {
		va = prog_vi_attrs(&p, mts);
		cr_assert_eq(VipCreateVi(p.nic, &va, NULL, NULL, &vi),
			     VIP_SUCCESS, "MaxTransferSize %d", mts);
		cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
		cr_expect_eq(qa.MaxTransferSize,
			     (VIP_ULONG)p.maxtransfersize);
		cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
		if (!mts)
			break;
	}
	/* One past it is not. */
	va = prog_vi_attrs(&p, 0);
	va.MaxTransferSize = (VIP_ULONG)p.maxtransfersize + 1;
	cr_expect_eq(VipCreateVi(p.nic, &va, NULL, NULL, &vi),
		     VIP_INVALID_MTU);
	cr_expect_eq(VipCloseNic(p.nic), VIP_SUCCESS);
}

/* Argonne's VIP_SERVICE_ACK rides on a level: accepted, no effect. */
Test(legacy, service_ack_flag_is_accepted_on_a_level, .timeout = ATTR_TIMEOUT)
{
	struct prog_nic p;
	VIP_VI_ATTRIBUTES va, qa;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	cr_assert_eq(prog_open(&p), VIP_SUCCESS);
	va = prog_vi_attrs(&p, 0);
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY | VIP_SERVICE_ACK;
	cr_assert_eq(VipCreateVi(p.nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(qa.ReliabilityLevel, VIP_SERVICE_RELIABLE_DELIVERY);
	cr_expect(VIP_BASE_SERVICES & qa.ReliabilityLevel);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipCloseNic(p.nic), VIP_SUCCESS);
}

/* ------------------------------------------- two ends, one message */

struct attr_case {
	const char *disc;
	bool server_zero; /* the server asks for 0, "the NIC's maximum" */
};

/* The peer leaving is expected: no report on stderr. */
static void quiet(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	(void)ctx;
	(void)e;
}

static int attr_server(void *arg)
{
	const struct attr_case *c = arg;
	VIP_VI_ATTRIBUTES va, ra, qa;
	VIP_NET_ADDRESS *local, *remote;
	VIP_DESCRIPTOR *d, *out;
	VIP_CONN_HANDLE conn;
	VIP_BOOLEAN se, re;
	struct prog_nic p;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	struct vt_mem m;

	VT_CHECK(prog_open(&p) == VIP_SUCCESS);
	VipErrorCallback(p.nic, NULL, quiet);
	vt_mem_init(&m, p.nic, 4096, NULL); /* NULL attributes */
	VT_CHECK(m.base);
	va = prog_vi_attrs(&p, c->server_zero ? 0 : p.maxtransfersize);
	VT_CHECK(VipCreateVi(p.nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	d = vt_desc(&m, 0);
	vt_fill(d, &m, vt_data(&m), 4096);
	VT_CHECK(VipPostRecv(vi, d, m.mh) == VIP_SUCCESS);
	local = vt_addr(p.nic, c->disc);
	remote = vt_addr_buf();
	VT_CHECK(VipConnectWait(p.nic, local, VT_TIMEOUT_MS, remote, &ra,
				&conn) == VIP_SUCCESS);
	/* The peer's VI at its NIC's maximum, as an int holds it. */
	VT_CHECK(ra.MaxTransferSize == (VIP_ULONG)p.maxtransfersize);
	VT_CHECK(ra.ReliabilityLevel == p.level);
	VT_CHECK(VipConnectAccept(conn, vi) == VIP_SUCCESS);
	VT_CHECK(VipQueryVi(vi, &st, &qa, &se, &re) == VIP_SUCCESS);
	VT_CHECK(st == VIP_STATE_CONNECTED);
	VT_CHECK(qa.MaxTransferSize == (VIP_ULONG)p.maxtransfersize);
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VT_CHECK(out == d);
	VT_CHECK(d->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE));
	VT_CHECK(d->CS.Length == sizeof(ATTR_MSG));
	VT_CHECK(!memcmp(vt_data(&m), ATTR_MSG, sizeof(ATTR_MSG)));
	/* The reply lets the client leave only after the checks above (it
	 * would otherwise be gone, and the VI in Error, on a slow host). */
	d = vt_desc(&m, 1);
	vt_fill(d, &m, vt_data(&m), 64);
	VT_CHECK(VipPostRecv(vi, d, m.mh) == VIP_SUCCESS);
	d = vt_desc(&m, 2);
	vt_fill(d, &m, vt_data(&m) + 64, sizeof(ATTR_MSG));
	memcpy(vt_data(&m) + 64, ATTR_MSG, sizeof(ATTR_MSG));
	VT_CHECK(VipPostSend(vi, d, m.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	/* Until the client leaves. */
	VipRecvWait(vi, VT_TIMEOUT_MS, &out);
	VipDisconnect(vi);
	VipDestroyVi(vi);
	vt_mem_fini(&m);
	free(local);
	free(remote);
	VT_CHECK(VipCloseNic(p.nic) == VIP_SUCCESS);
	return 0;
}

static void attr_client(const struct attr_case *c)
{
	VIP_NET_ADDRESS *local, *remote;
	VIP_VI_ATTRIBUTES va, ra;
	VIP_DESCRIPTOR *d, *reply, *out;
	struct prog_nic p;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	VIP_RETURN r;
	pid_t server;
	int tries = 0;

	server = vt_spawn(attr_server, (void *)c);
	cr_assert_gt(server, 0);
	cr_assert_eq(prog_open(&p), VIP_SUCCESS);
	cr_assert_gt(p.maxtransfersize, 0);
	VipErrorCallback(p.nic, NULL, quiet);
	vt_mem_init(&m, p.nic, 4096, NULL);
	cr_assert_not_null(m.base);
	va = prog_vi_attrs(&p, p.maxtransfersize);
	cr_assert_eq(VipCreateVi(p.nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	reply = vt_desc(&m, 1);
	vt_fill(reply, &m, vt_data(&m) + 1024, 1024);
	cr_assert_eq(VipPostRecv(vi, reply, m.mh), VIP_SUCCESS);
	local = vt_addr(p.nic, "attr-client");
	remote = vt_addr(p.nic, c->disc);
	do
		r = VipConnectRequest(vi, local, remote, VT_TIMEOUT_MS, &ra);
	while (r == VIP_NO_MATCH && ++tries < 20000); /* ~40 s at most */
	cr_assert_eq(r, VIP_SUCCESS);
	cr_expect_eq(ra.MaxTransferSize, (VIP_ULONG)p.maxtransfersize);
	d = vt_desc(&m, 0);
	memcpy(vt_data(&m), ATTR_MSG, sizeof(ATTR_MSG));
	vt_fill(d, &m, vt_data(&m), sizeof(ATTR_MSG));
	cr_assert_eq(VipPostSend(vi, d, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, d);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
	cr_assert_eq(VipRecvWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, reply);
	cr_expect_eq(reply->CS.Length, sizeof(ATTR_MSG));
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	free(local);
	free(remote);
	cr_expect_eq(VipCloseNic(p.nic), VIP_SUCCESS);
	cr_expect_eq(vt_join(server, 30), 0, "the server failed");
}

Test(legacy, both_ends_at_their_nic_maximum_connect_and_send,
     .timeout = ATTR_TIMEOUT)
{
	static const struct attr_case c = { .disc = "attr-max" };

	attr_client(&c);
}

Test(legacy, zero_at_one_end_meets_the_maximum_at_the_other,
     .timeout = ATTR_TIMEOUT)
{
	static const struct attr_case c = { .disc = "attr-zero",
					    .server_zero = true };

	attr_client(&c);
}
