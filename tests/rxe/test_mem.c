/* test_mem.c - protection tags and memory registration. */
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(mem, .timeout = 60);

Test(mem, ptag_create_and_destroy)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_PROTECTION_HANDLE pt;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	cr_expect_not_null(pt);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	/* Stale now. */
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_PTAG);
	cr_expect_eq(VipCreatePtag(nic, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipCreatePtag(NULL, &pt), VIP_INVALID_PARAMETER);
	VipCloseNic(nic);
}

Test(mem, ptag_in_use_cannot_be_destroyed)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_ATTRIBUTES ma = { 0 };
	VIP_PROTECTION_HANDLE pt;
	struct vt_mem m;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	ma.Ptag = pt;
	vt_mem_init(&m, nic, 4096, &ma);
	cr_assert_not_null(m.base);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_STATE);
	vt_mem_fini(&m);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	VipCloseNic(nic);
}

Test(mem, ptag_of_another_nic_is_invalid_ptag)
{
	VIP_NIC_HANDLE a = vt_open_nic(), b = vt_open_nic();
	VIP_MEM_ATTRIBUTES ma = { 0 };
	VIP_PROTECTION_HANDLE pt;
	VIP_MEM_HANDLE mh;
	static char buf[4096];

	cr_assert(a && b);
	cr_assert_eq(VipCreatePtag(a, &pt), VIP_SUCCESS);
	ma.Ptag = pt;
	cr_expect_eq(VipRegisterMem(b, buf, sizeof(buf), &ma, &mh),
		     VIP_INVALID_PTAG);
	cr_expect_eq(VipDestroyPtag(b, pt), VIP_INVALID_PTAG);
	cr_expect_eq(VipDestroyPtag(a, pt), VIP_SUCCESS);
	VipCloseNic(b);
	VipCloseNic(a);
}

Test(mem, register_query_deregister)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_ATTRIBUTES ma = { 0 }, qa;
	VIP_PROTECTION_HANDLE pt;
	VIP_MEM_HANDLE mh;
	char *buf = malloc(65536);

	cr_assert(nic && buf);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	ma.Ptag = pt;
	ma.EnableRdmaWrite = VIP_TRUE;
	cr_assert_eq(VipRegisterMem(nic, buf, 65536, &ma, &mh), VIP_SUCCESS);
	cr_assert_eq(VipQueryMem(nic, buf + 100, mh, &qa), VIP_SUCCESS);
	cr_expect_eq(qa.Ptag, pt);
	cr_expect_eq(qa.EnableRdmaWrite, VIP_TRUE);
	cr_expect_eq(qa.EnableRdmaRead, VIP_FALSE);
	cr_expect_eq(VipQueryMem(nic, buf + 65536, mh, &qa),
		     VIP_INVALID_PARAMETER);
	/* Deregistration names the start address and the handle. */
	cr_expect_eq(VipDeregisterMem(nic, buf + 1, mh), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDeregisterMem(nic, buf, mh + 1), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDeregisterMem(nic, buf, mh), VIP_SUCCESS);
	cr_expect_eq(VipDeregisterMem(nic, buf, mh), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryMem(nic, buf, mh, &qa), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	free(buf);
	VipCloseNic(nic);
}

Test(mem, null_attributes_select_the_default_ptag)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_ATTRIBUTES qa;
	VIP_MEM_HANDLE mh;
	static char buf[8192];

	cr_assert_not_null(nic);
	cr_assert_eq(VipRegisterMem(nic, buf, sizeof(buf), NULL, &mh),
		     VIP_SUCCESS);
	cr_assert_eq(VipQueryMem(nic, buf, mh, &qa), VIP_SUCCESS);
	cr_expect_null(qa.Ptag);
	cr_expect_eq(qa.EnableRdmaWrite, VIP_FALSE);
	cr_expect_eq(VipDeregisterMem(nic, buf, mh), VIP_SUCCESS);
	VipCloseNic(nic);
}

Test(mem, bad_registrations_are_refused)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_ATTRIBUTES ma = { 0 };
	VIP_MEM_HANDLE mh;
	static char buf[4096];

	cr_assert_not_null(nic);
	cr_expect_eq(VipRegisterMem(nic, NULL, 4096, NULL, &mh),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipRegisterMem(nic, buf, 0, NULL, &mh),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipRegisterMem(nic, buf, sizeof(buf), NULL, NULL),
		     VIP_INVALID_PARAMETER);
	ma.Ptag = (VIP_PROTECTION_HANDLE)buf; /* not a handle */
	cr_expect_eq(VipRegisterMem(nic, buf, sizeof(buf), &ma, &mh),
		     VIP_INVALID_PTAG);
	/* Unmapped memory cannot be pinned. */
	cr_expect_eq(VipRegisterMem(nic, (void *)0x1000, 4096, NULL, &mh),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipRegisterMem(NULL, buf, sizeof(buf), NULL, &mh),
		     VIP_INVALID_PARAMETER);
	VipCloseNic(nic);
}

Test(mem, many_regions_register_and_go)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	enum { N = 200 };
	static char buf[N][256];
	VIP_MEM_HANDLE mh[N];
	int round, i;

	cr_assert_not_null(nic);
	/* Churn: slots freed by deregistration are reused. */
	for (round = 0; round < 5; round++) {
		for (i = 0; i < N; i++)
			cr_assert_eq(VipRegisterMem(nic, buf[i], 256, NULL,
						    &mh[i]),
				     VIP_SUCCESS);
		for (i = 0; i < N; i++)
			cr_assert_eq(VipDeregisterMem(nic, buf[i], mh[i]),
				     VIP_SUCCESS);
	}
	VipCloseNic(nic);
}

Test(mem, attributes_change_and_keep_the_handle)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_MEM_ATTRIBUTES ma = { 0 }, qa;
	VIP_PROTECTION_HANDLE pt;
	VIP_MEM_HANDLE mh;
	char *buf = aligned_alloc(4096, 65536);
	VIP_RETURN ret;

	cr_assert(nic && buf);
	cr_assert_eq(VipRegisterMem(nic, buf, 65536, NULL, &mh), VIP_SUCCESS);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	ma.Ptag = pt;
	ma.EnableRdmaWrite = VIP_TRUE;
	/* Devices that can re-register in place keep the handle; others
	 * (rxe on Linux 6.1) cannot, and the region stays as it was. */
	ret = VipSetMemAttributes(nic, buf, mh, &ma);
	cr_assert(ret == VIP_SUCCESS || ret == VIP_ERROR_NOT_SUPPORTED,
		  "returned %d", ret);
	cr_assert_eq(VipQueryMem(nic, buf, mh, &qa), VIP_SUCCESS);
	if (ret == VIP_SUCCESS) {
		cr_expect_eq(qa.Ptag, pt);
		cr_expect_eq(qa.EnableRdmaWrite, VIP_TRUE);
		cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_STATE);
	} else {
		cr_expect_null(qa.Ptag);
		cr_expect_eq(qa.EnableRdmaWrite, VIP_FALSE);
	}
	cr_expect_eq(VipSetMemAttributes(nic, buf + 1, mh, &ma),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipSetMemAttributes(nic, buf, mh, NULL),
		     VIP_INVALID_PARAMETER);
	ma.Ptag = (VIP_PROTECTION_HANDLE)buf;
	cr_expect_eq(VipSetMemAttributes(nic, buf, mh, &ma), VIP_INVALID_PTAG);
	cr_expect_eq(VipDeregisterMem(nic, buf, mh), VIP_SUCCESS);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	free(buf);
	VipCloseNic(nic);
}
