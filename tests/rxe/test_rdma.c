/* test_rdma.c - RDMA write and read, immediate data, between processes. */
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(rdma, .timeout = 90);

/* What the target tells the initiator about its region. */
struct region_msg {
	uint64_t addr;
	uint32_t handle;
	uint32_t len;
};

enum { REGION = 65536 };

struct target_args {
	const char *disc;
	VIP_BOOLEAN mem_write, mem_read; /* the region's attributes */
	VIP_BOOLEAN vi_write, vi_read; /* the target VI's */
	int expect_imm; /* wait for an RDMA write with immediate data */
	int expect_bytes; /* then check the region holds pattern 5 */
	int expect_send_imm; /* the last word is a send with immediate 77 */
	int expect_broken; /* the connection breaks instead */
	int expect_tail; /* the last word is the region's last 512 bytes */
};

static void pattern(char *p, size_t n, unsigned seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (char)(seed * 37 + i * 11 + (i >> 9));
}

/*
 * The target: a region filled with pattern 9, its address and handle sent
 * to the initiator; then waits for the initiator's last message (a send, or
 * an RDMA write with immediate data) and checks what it says it should.
 */
static int rdma_target(void *arg)
{
	struct target_args *a = arg;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_MEM_ATTRIBUTES ma = { 0 };
	VIP_NIC_HANDLE nic = vt_open_nic();
	struct vt_mem ctl, reg;
	struct region_msg *msg;
	VIP_DESCRIPTOR *r, *s, *out;
	VIP_VI_HANDLE vi;
	char expect[REGION];

	VT_CHECK(nic);
	vt_mem_init(&ctl, nic, 4096, NULL);
	ma.EnableRdmaWrite = a->mem_write;
	ma.EnableRdmaRead = a->mem_read;
	vt_mem_init(&reg, nic, REGION, &ma);
	VT_CHECK(ctl.base && reg.base);
	pattern(vt_data(&reg), REGION, 9);
	va.EnableRdmaWrite = a->vi_write;
	va.EnableRdmaRead = a->vi_read;
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	r = vt_desc(&ctl, 0);
	vt_fill(r, &ctl, vt_data(&ctl), 1024);
	VT_CHECK(VipPostRecv(vi, r, ctl.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, a->disc, vi) == VIP_SUCCESS);

	msg = (struct region_msg *)(vt_data(&ctl) + 2048);
	msg->addr = (uintptr_t)vt_data(&reg);
	msg->handle = reg.mh;
	msg->len = REGION;
	s = vt_desc(&ctl, 1);
	vt_fill(s, &ctl, msg, sizeof(*msg));
	VT_CHECK(VipPostSend(vi, s, ctl.mh) == VIP_SUCCESS);
	VT_CHECK(VipSendWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	if (out->CS.Status != (VIP_STATUS_DONE | VIP_STATUS_OP_SEND))
		fprintf(stderr, "target: region message status 0x%x\n",
			out->CS.Status);
	VT_CHECK(out->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_SEND));

	/* The initiator's last word. */
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) ==
		 (a->expect_broken ? VIP_DESCRIPTOR_ERROR : VIP_SUCCESS));
	VT_CHECK(out == r);
	if (a->expect_tail) {
		pattern(expect, REGION, 9);
		VT_CHECK(r->CS.Length == 512);
		VT_CHECK(!memcmp(vt_data(&ctl), expect + REGION - 512, 512));
	} else if (a->expect_broken) {
		/* A remote access error breaks a reliable connection. */
		VT_CHECK(r->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR);
	} else if (a->expect_imm) {
		VT_CHECK(r->CS.Status == (VIP_STATUS_DONE |
					  VIP_STATUS_OP_REMOTE_RDMA_WRITE |
					  VIP_STATUS_IMMEDIATE));
		VT_CHECK(r->CS.ImmediateData == 0xC0FFEE01u);
	} else if (a->expect_send_imm) {
		VT_CHECK(r->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE |
					  VIP_STATUS_IMMEDIATE));
		VT_CHECK(r->CS.ImmediateData == 77);
		VT_CHECK(r->CS.Length == 16);
	} else {
		VT_CHECK(r->CS.Status == (VIP_STATUS_DONE |
					  VIP_STATUS_OP_RECEIVE));
	}
	if (a->expect_bytes) {
		pattern(expect, REGION, 9);
		pattern(expect + 1000, 3000, 5);
		VT_CHECK(!memcmp(vt_data(&reg), expect, REGION));
	}
	/* Wait for the initiator to leave. */
	r = vt_desc(&ctl, 2);
	vt_fill(r, &ctl, vt_data(&ctl), 1024);
	if (VipPostRecv(vi, r, ctl.mh) == VIP_SUCCESS)
		VipRecvWait(vi, VT_TIMEOUT_MS, &out);
	VipDisconnect(vi);
	VT_CHECK(VipDestroyVi(vi) == VIP_SUCCESS);
	vt_mem_fini(&reg);
	vt_mem_fini(&ctl);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

struct initiator {
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	struct region_msg region;
	pid_t target;
};

static void initiator_start(struct initiator *in, struct target_args *a,
			    VIP_BOOLEAN write, VIP_BOOLEAN read)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_DESCRIPTOR *r, *out;

	in->target = vt_spawn(rdma_target, a);
	in->nic = vt_open_nic();
	cr_assert_not_null(in->nic);
	vt_mem_init(&in->m, in->nic, 2 * REGION, NULL);
	cr_assert_not_null(in->m.base);
	va.EnableRdmaWrite = write;
	va.EnableRdmaRead = read;
	r = vt_desc(&in->m, 0);
	vt_fill(r, &in->m, vt_data(&in->m), 1024);
	cr_assert_eq(VipCreateVi(in->nic, &va, NULL, NULL, &in->vi),
		     VIP_SUCCESS);
	cr_assert_eq(VipPostRecv(in->vi, r, in->m.mh), VIP_SUCCESS);
	cr_assert_eq(vt_request(in->nic, in->vi, NULL, a->disc), VIP_SUCCESS);
	cr_assert_eq(VipRecvWait(in->vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	memcpy(&in->region, vt_data(&in->m), sizeof(in->region));
	cr_assert_eq(in->region.len, REGION);
}

/* An RDMA descriptor: the target's address, then one local segment. */
static VIP_DESCRIPTOR *rdma_desc(struct initiator *in, int slot,
				 VIP_UINT16 op, uint32_t offset, char *local,
				 uint32_t len)
{
	VIP_DESCRIPTOR *d = vt_desc(&in->m, slot);

	d->CS.Control = op;
	d->CS.SegCount = 2;
	d->CS.Length = len;
	d->DS[0].Remote.Data.AddressBits = in->region.addr + offset;
	d->DS[0].Remote.Handle = in->region.handle;
	d->DS[1].Local.Data.Address = local;
	d->DS[1].Local.Handle = in->m.mh;
	d->DS[1].Local.Length = len;
	return d;
}

static VIP_DESCRIPTOR *post_and_reap(struct initiator *in, VIP_DESCRIPTOR *d)
{
	VIP_DESCRIPTOR *out = NULL;
	VIP_RETURN r;

	cr_assert_eq(VipPostSend(in->vi, d, in->m.mh), VIP_SUCCESS);
	r = VipSendWait(in->vi, VT_TIMEOUT_MS, &out);
	cr_assert_eq(out, d);
	/* The return code agrees with the status (vipl-api.md section 5). */
	cr_assert_eq(r, d->CS.Status & VIP_STATUS_ERROR_MASK ?
				VIP_DESCRIPTOR_ERROR : VIP_SUCCESS,
		     "returned %d, status 0x%x", r, d->CS.Status);
	return out;
}

static void say_done(struct initiator *in)
{
	VIP_DESCRIPTOR *s = vt_desc(&in->m, 9);

	vt_fill(s, &in->m, vt_data(&in->m), 4);
	post_and_reap(in, s);
}

static void initiator_finish(struct initiator *in)
{
	VipDisconnect(in->vi);
	cr_expect_eq(VipDestroyVi(in->vi), VIP_SUCCESS);
	vt_mem_fini(&in->m);
	VipCloseNic(in->nic);
	cr_expect_eq(vt_join(in->target, 30), 0, "target failed");
}

Test(rdma, write_lands_in_the_peer_region_silently)
{
	struct target_args a = { .disc = "r-write", .mem_write = VIP_TRUE,
				 .vi_write = VIP_TRUE, .expect_bytes = 1 };
	struct initiator in;
	char *src;
	VIP_DESCRIPTOR *d;

	initiator_start(&in, &a, VIP_TRUE, VIP_FALSE);
	src = vt_data(&in.m) + REGION;
	pattern(src, 3000, 5);
	d = post_and_reap(&in, rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAWRITE,
					 1000, src, 3000));
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE);
	/* The target's receive is consumed by this send only. */
	say_done(&in);
	initiator_finish(&in);
}

/* An RDMA write gathers its full local segments and skips the empty
 * ones (a NULL pointer in siw's kernel driver if they reach it). */
Test(rdma, write_skips_empty_local_segments)
{
	struct target_args a = { .disc = "r-write-empty", .mem_write = VIP_TRUE,
				 .vi_write = VIP_TRUE, .expect_bytes = 1 };
	static const uint32_t len[4] = { 0, 1000, 0, 2000 };
	struct initiator in;
	char *src;
	VIP_DESCRIPTOR *d;
	uint32_t off = 0;
	int i;

	initiator_start(&in, &a, VIP_TRUE, VIP_FALSE);
	src = vt_data(&in.m) + REGION;
	pattern(src, 3000, 5);
	d = rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAWRITE, 1000, src, 3000);
	d->CS.SegCount = 5;
	for (i = 0; i < 4; i++) {
		vt_seg(d, i + 1)->Data.Address = src + off;
		vt_seg(d, i + 1)->Handle = in.m.mh;
		vt_seg(d, i + 1)->Length = len[i];
		off += len[i];
	}
	post_and_reap(&in, d);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE,
		     "status 0x%x", d->CS.Status);
	say_done(&in);
	initiator_finish(&in);
}

Test(rdma, write_with_immediate_consumes_a_receive_at_the_target)
{
	struct target_args a = { .disc = "r-imm", .mem_write = VIP_TRUE,
				 .vi_write = VIP_TRUE, .expect_imm = 1,
				 .expect_bytes = 1 };
	struct initiator in;
	char *src;
	VIP_DESCRIPTOR *d;

	initiator_start(&in, &a, VIP_TRUE, VIP_FALSE);
	src = vt_data(&in.m) + REGION;
	pattern(src, 3000, 5);
	d = rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAWRITE | VIP_CONTROL_IMMEDIATE,
		      1000, src, 3000);
	d->CS.ImmediateData = 0xC0FFEE01u;
	post_and_reap(&in, d);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE,
		     "status 0x%x", d->CS.Status);
	initiator_finish(&in);
}

Test(rdma, read_fetches_the_peer_region)
{
	struct target_args a = { .disc = "r-read", .mem_read = VIP_TRUE,
				 .vi_read = VIP_TRUE };
	struct initiator in;
	char *dst, expect[REGION];
	VIP_DESCRIPTOR *d;

	initiator_start(&in, &a, VIP_FALSE, VIP_TRUE);
	dst = vt_data(&in.m) + REGION;
	d = post_and_reap(&in, rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAREAD, 0,
					 dst, REGION));
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_READ);
	pattern(expect, REGION, 9);
	cr_expect_eq(memcmp(dst, expect, REGION), 0);
	say_done(&in);
	initiator_finish(&in);
}

Test(rdma, write_to_a_region_without_rdma_write_is_a_protection_error)
{
	VT_SKIP_ON_IWARP(VT_IWARP_TCP_COMPLETES);
	struct target_args a = { .disc = "r-prot", .mem_write = VIP_FALSE,
				 .vi_write = VIP_TRUE, .expect_broken = 1 };
	struct initiator in;
	VIP_DESCRIPTOR *d;

	initiator_start(&in, &a, VIP_TRUE, VIP_FALSE);
	d = post_and_reap(&in, rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAWRITE, 0,
					 vt_data(&in.m) + REGION, 64));
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE |
					   VIP_STATUS_RDMA_PROT_ERROR,
		     "status 0x%x", d->CS.Status);
	initiator_finish(&in);
}

Test(rdma, rdma_needs_the_vi_to_allow_it)
{
	struct target_args a = { .disc = "r-novi", .mem_write = VIP_TRUE,
				 .vi_write = VIP_TRUE };
	struct initiator in;

	initiator_start(&in, &a, VIP_FALSE, VIP_FALSE);
	cr_expect_eq(VipPostSend(in.vi, rdma_desc(&in, 1,
						  VIP_CONTROL_OP_RDMAWRITE, 0,
						  vt_data(&in.m), 64),
				 in.m.mh),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipPostSend(in.vi, rdma_desc(&in, 2,
						  VIP_CONTROL_OP_RDMAREAD, 0,
						  vt_data(&in.m), 64),
				 in.m.mh),
		     VIP_INVALID_RDMAREAD);
	say_done(&in);
	initiator_finish(&in);
}

Test(rdma, send_with_immediate_data_reports_it)
{
	struct target_args a = { .disc = "r-simm", .expect_send_imm = 1 };
	struct initiator in;
	VIP_DESCRIPTOR *s;

	initiator_start(&in, &a, VIP_FALSE, VIP_FALSE);
	s = vt_desc(&in.m, 3);
	vt_fill(s, &in.m, vt_data(&in.m), 16);
	s->CS.Control = VIP_CONTROL_IMMEDIATE;
	s->CS.ImmediateData = 77;
	post_and_reap(&in, s);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND,
		     "status 0x%x", s->CS.Status);
	initiator_finish(&in);
}

Test(rdma, fenced_send_waits_for_the_read_before_it)
{
	struct target_args a = { .disc = "r-fence", .mem_read = VIP_TRUE,
				 .vi_read = VIP_TRUE, .expect_tail = 1 };
	struct initiator in;
	char *dst;
	VIP_DESCRIPTOR *rd, *s, *out;

	initiator_start(&in, &a, VIP_FALSE, VIP_TRUE);
	dst = vt_data(&in.m) + REGION;
	memset(dst, 0, REGION);
	rd = rdma_desc(&in, 1, VIP_CONTROL_OP_RDMAREAD, 0, dst, REGION);
	cr_assert_eq(VipPostSend(in.vi, rd, in.m.mh), VIP_SUCCESS);
	/* Sends what the read brings: only right if it waits for it. */
	s = vt_desc(&in.m, 2);
	vt_fill(s, &in.m, dst + REGION - 512, 512);
	s->CS.Control = VIP_CONTROL_QFENCE;
	cr_assert_eq(VipPostSend(in.vi, s, in.m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(in.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, rd);
	cr_assert_eq(VipSendWait(in.vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, s);
	cr_expect_eq(s->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
	initiator_finish(&in);
}
