/* test_vi.c - VI creation, queries and posting rules on an unconnected VI. */
#include <string.h>
#include <sys/mman.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(vi, .timeout = 60);

static VIP_NIC_HANDLE nic;
static struct vt_mem mem;

static void setup(void)
{
	nic = vt_open_nic();
	cr_assert_not_null(nic);
	vt_mem_init(&mem, nic, 65536, NULL);
	cr_assert_not_null(mem.base);
}

static void teardown(void)
{
	vt_mem_fini(&mem);
	VipCloseNic(nic);
}

static VIP_VI_HANDLE make_vi(void)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_VI_HANDLE vi = NULL;

	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	return vi;
}

Test(vi, create_query_destroy, .init = setup, .fini = teardown)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_RECEPTION), qa;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	va.EnableRdmaWrite = VIP_TRUE;
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(st, VIP_STATE_IDLE);
	cr_expect_eq(qa.ReliabilityLevel, VIP_SERVICE_RELIABLE_RECEPTION);
	cr_expect_eq(qa.MaxTransferSize, 1u << 20);
	cr_expect_eq(qa.EnableRdmaWrite, VIP_TRUE);
	cr_expect_eq(se, VIP_TRUE);
	cr_expect_eq(re, VIP_TRUE);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_INVALID_PARAMETER);
}

Test(vi, bad_attributes_get_their_codes, .init = setup, .fini = teardown)
{
	VIP_VI_ATTRIBUTES va;
	VIP_NIC_ATTRIBUTES na;
	VIP_VI_HANDLE vi;

	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY |
			 VIP_SERVICE_RELIABLE_RECEPTION);
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, &vi),
		     VIP_INVALID_RELIABILITY_LEVEL);
	va = vt_vi_attrs(0);
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, &vi),
		     VIP_INVALID_RELIABILITY_LEVEL);
	va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	va.MaxTransferSize = na.MaxTransferSize + 1;
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_INVALID_MTU);
	va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	va.Ptag = (VIP_PROTECTION_HANDLE)&va;
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_INVALID_PTAG);
	va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	cr_expect_eq(VipCreateVi(nic, NULL, NULL, NULL, &vi),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, NULL),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreateVi(NULL, &va, NULL, NULL, &vi),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreateVi(nic, &va, (VIP_CQ_HANDLE)&va, NULL, &vi),
		     VIP_INVALID_PARAMETER);
}

Test(vi, unreliable_vis_exist_but_not_with_rdma_read, .init = setup,
     .fini = teardown)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_UNRELIABLE);
	VIP_NIC_ATTRIBUTES na;
	VIP_VI_HANDLE vi;

	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_expect(na.ReliabilityLevelSupport & VIP_SERVICE_UNRELIABLE);
	cr_expect_eq(na.RDMAReadSupport & VIP_SERVICE_UNRELIABLE, 0);
	va.EnableRdmaRead = VIP_TRUE;
	cr_expect_eq(VipCreateVi(nic, &va, NULL, NULL, &vi),
		     VIP_INVALID_RDMAREAD);
	va.EnableRdmaRead = VIP_FALSE;
	va.EnableRdmaWrite = VIP_TRUE;
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
}

Test(vi, explicit_ptag_must_match_the_memory, .init = setup,
     .fini = teardown)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_PROTECTION_HANDLE pt;
	VIP_VI_HANDLE vi;
	VIP_DESCRIPTOR *d;

	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	va.Ptag = pt;
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	/* mem is in the default ptag: its descriptors cannot serve vi. */
	d = vt_desc(&mem, 0);
	vt_fill(d, &mem, vt_data(&mem), 64);
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_STATE);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
}

Test(vi, send_on_unconnected_vi_is_invalid_state, .init = setup,
     .fini = teardown)
{
	VIP_VI_HANDLE vi = make_vi();
	VIP_DESCRIPTOR *d = vt_desc(&mem, 0);

	vt_fill(d, &mem, vt_data(&mem), 64);
	cr_expect_eq(VipPostSend(vi, d, mem.mh), VIP_INVALID_STATE);
	VipDestroyVi(vi);
}

Test(vi, receives_can_be_posted_before_connecting, .init = setup,
     .fini = teardown)
{
	VIP_VI_HANDLE vi = make_vi();
	VIP_DESCRIPTOR *d = vt_desc(&mem, 0), *out = NULL;
	VIP_VI_ATTRIBUTES qa;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;

	vt_fill(d, &mem, vt_data(&mem), 64);
	cr_assert_eq(VipPostRecv(vi, d, mem.mh), VIP_SUCCESS);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(re, VIP_FALSE);
	cr_expect_eq(se, VIP_TRUE);
	cr_expect_eq(VipRecvDone(vi, &out), VIP_NOT_DONE);
	cr_expect_eq(VipRecvWait(vi, 0, &out), VIP_TIMEOUT);
	cr_expect_eq(VipRecvWait(vi, 50, &out), VIP_TIMEOUT);
	cr_expect_eq(d->CS.Status, 0);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
}

Test(vi, malformed_descriptors_are_refused, .init = setup, .fini = teardown)
{
	VIP_VI_HANDLE vi = make_vi();
	VIP_NIC_ATTRIBUTES na;
	VIP_DESCRIPTOR *d;

	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	d = vt_desc(&mem, 0);
	vt_fill(d, &mem, vt_data(&mem), 64);
	d->CS.SegCount = na.MaxSegmentsPerDesc + 1;
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(d->CS.Status, VIP_STATUS_FORMAT_ERROR);

	d = vt_desc(&mem, 1);
	vt_fill(d, &mem, vt_data(&mem), 64);
	d->CS.Control = 0x0100; /* a reserved bit */
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_DESCRIPTOR_ERROR);

	d = vt_desc(&mem, 2);
	vt_fill(d, &mem, vt_data(&mem), 64);
	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE; /* not on a receive */
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_DESCRIPTOR_ERROR);

	/* Not 64-byte aligned, NULL, or outside the named region. */
	cr_expect_eq(VipPostRecv(vi, (VIP_DESCRIPTOR *)(mem.base + 8), mem.mh),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipPostRecv(vi, NULL, mem.mh), VIP_INVALID_PARAMETER);
	d = vt_desc(&mem, 3);
	vt_fill(d, &mem, vt_data(&mem), 64);
	cr_expect_eq(VipPostRecv(vi, d, mem.mh + 1), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipPostRecv(NULL, d, mem.mh), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipPostRecv(nic, d, mem.mh), VIP_INVALID_PARAMETER);
	VipDestroyVi(vi);
}

Test(vi, unregistered_descriptor_memory_is_refused, .init = setup,
     .fini = teardown)
{
	VIP_VI_HANDLE vi = make_vi();
	VIP_DESCRIPTOR *d = aligned_alloc(64, 128);

	memset(d, 0, 128);
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_INVALID_PARAMETER);
	free(d);
	VipDestroyVi(vi);
}

/* A post reads the whole descriptor: segments that run past the end of
 * its region are refused, here where the next page is not even mapped. */
Test(vi, descriptor_segments_past_the_region_are_refused, .init = setup,
     .fini = teardown)
{
	long page = sysconf(_SC_PAGESIZE);
	VIP_VI_HANDLE vi = make_vi();
	VIP_DESCRIPTOR *d;
	VIP_MEM_HANDLE mh;
	char *p;

	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(p, MAP_FAILED);
	cr_assert_eq(munmap(p + page, page), 0);
	memset(p, 0, page);
	cr_assert_eq(VipRegisterMem(nic, p, page, NULL, &mh), VIP_SUCCESS);
	/* The region's last 64 bytes: room for the control segment and two
	 * segments, not for 3 or 16. */
	d = (VIP_DESCRIPTOR *)(p + page - 64);
	d->CS.SegCount = 16;
	cr_expect_eq(VipPostRecv(vi, d, mh), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipPostSend(vi, d, mh), VIP_INVALID_PARAMETER);
	d->CS.SegCount = 3;
	cr_expect_eq(VipPostRecv(vi, d, mh), VIP_INVALID_PARAMETER);
	VipDestroyVi(vi);
	VipDeregisterMem(nic, p, mh);
	munmap(p, page);
}

Test(vi, done_and_wait_need_their_pointers, .init = setup, .fini = teardown)
{
	VIP_VI_HANDLE vi = make_vi();
	VIP_DESCRIPTOR *out;

	cr_expect_eq(VipSendDone(vi, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipRecvDone(vi, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipSendWait(vi, 0, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipRecvWait(NULL, 0, &out), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipSendDone(vi, &out), VIP_NOT_DONE);
	VipDestroyVi(vi);
	cr_expect_eq(VipSendDone(vi, &out), VIP_INVALID_PARAMETER);
}

Test(vi, user_data_is_kept_per_vi, .init = setup, .fini = teardown)
{
	VIP_VI_HANDLE a = make_vi(), b = make_vi();
	int x, y;

	cr_expect_null(VipGetUserData(a));
	VipSetUserData(a, &x);
	VipSetUserData(b, &y);
	cr_expect_eq(VipGetUserData(a), &x);
	cr_expect_eq(VipGetUserData(b), &y);
	VipDestroyVi(a);
	cr_expect_null(VipGetUserData(a));
	VipSetUserData(a, &x); /* stale: ignored, no crash */
	VipDestroyVi(b);
}

Test(vi, attributes_change_on_an_idle_vi, .init = setup, .fini = teardown)
{
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY), qa;
	VIP_PROTECTION_HANDLE pt;
	VIP_VI_HANDLE vi;
	VIP_VI_STATE st;
	VIP_BOOLEAN se, re;
	VIP_DESCRIPTOR *d;

	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_RECEPTION;
	va.EnableRdmaWrite = VIP_TRUE;
	va.EnableRdmaRead = VIP_TRUE;
	va.MaxTransferSize = 4096;
	va.Ptag = pt;
	cr_assert_eq(VipSetViAttributes(vi, &va), VIP_SUCCESS);
	cr_assert_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_SUCCESS);
	cr_expect_eq(qa.ReliabilityLevel, VIP_SERVICE_RELIABLE_RECEPTION);
	cr_expect_eq(qa.EnableRdmaWrite, VIP_TRUE);
	cr_expect_eq(qa.EnableRdmaRead, VIP_TRUE);
	cr_expect_eq(qa.MaxTransferSize, 4096);
	cr_expect_eq(qa.Ptag, pt);
	/* The VI is in pt now: pt is in use, and mem (default ptag) is not
	 * its memory any more. */
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_STATE);
	d = vt_desc(&mem, 0);
	vt_fill(d, &mem, vt_data(&mem), 64);
	cr_expect_eq(VipPostRecv(vi, d, mem.mh), VIP_INVALID_PARAMETER);

	/* Bad attributes change nothing. */
	va.ReliabilityLevel = 0x3;
	cr_expect_eq(VipSetViAttributes(vi, &va), VIP_INVALID_RELIABILITY_LEVEL);
	cr_expect_eq(VipSetViAttributes(vi, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipSetViAttributes(NULL, &va), VIP_INVALID_PARAMETER);

	/* Back to the default ptag: allowed while no descriptor is posted. */
	va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	cr_assert_eq(VipSetViAttributes(vi, &va), VIP_SUCCESS);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	cr_assert_eq(VipPostRecv(vi, d, mem.mh), VIP_SUCCESS);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	va.Ptag = pt;
	cr_expect_eq(VipSetViAttributes(vi, &va), VIP_INVALID_STATE);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
}
