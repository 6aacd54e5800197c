/* test_nic.c - VipOpenNic, VipQueryNic, VipCloseNic on the rxe device. */
#include <arpa/inet.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(nic, .timeout = 60);

Test(nic, open_default_device_reports_its_attributes)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NIC_ATTRIBUTES a;
	const char *want = getenv("VIPL_DEVICE");
	const char *addr = getenv("VIPL_TEST_ADDR");
	struct in_addr in;

	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &a), VIP_SUCCESS);
	if (want)
		cr_expect_str_eq(a.Name, want);
	cr_expect_eq(a.NicAddressLen, 4);
	if (addr && inet_pton(AF_INET, addr, &in) == 1)
		cr_expect_eq(memcmp(a.LocalNicAddress, &in, 4), 0);
	cr_expect_eq(a.ThreadSafe, VIP_TRUE);
	cr_expect_eq(a.MaxDiscriminatorLen, 16);
	cr_expect_geq(a.MaxTransferSize, 1u << 20);
	cr_expect_geq(a.MaxSegmentsPerDesc, 2);
	cr_expect_geq(a.MaxDescriptorsPerQueue, 64);
	cr_expect_geq(a.NativeMTU, 256);
	cr_expect_gt(a.MaxVI, 0);
	cr_expect_gt(a.MaxRegisterBytes, 0);
	cr_expect(a.ReliabilityLevelSupport & VIP_SERVICE_RELIABLE_DELIVERY);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
}

Test(nic, open_by_name_finds_the_same_device)
{
	VIP_NIC_HANDLE nic, nic2;
	VIP_NIC_ATTRIBUTES a, b;

	nic = vt_open_nic();
	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &a), VIP_SUCCESS);
	cr_assert_eq(VipOpenNic(a.Name, &nic2), VIP_SUCCESS);
	cr_assert_eq(VipQueryNic(nic2, &b), VIP_SUCCESS);
	cr_expect_str_eq(a.Name, b.Name);
	cr_expect_neq(nic, nic2);
	cr_expect_eq(VipCloseNic(nic2), VIP_SUCCESS);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
}

Test(nic, open_unknown_device_is_invalid_parameter)
{
	VIP_NIC_HANDLE nic = NULL;

	/* VIPL_DEVICE (the harness sets it) would override the name. */
	unsetenv("VIPL_DEVICE");
	cr_expect_eq(VipOpenNic("no_such_device0", &nic),
		     VIP_INVALID_PARAMETER);
	cr_expect_null(nic);
}

Test(nic, open_without_handle_pointer_is_invalid_parameter)
{
	cr_expect_eq(VipOpenNic(NULL, NULL), VIP_INVALID_PARAMETER);
}

Test(nic, closed_handle_is_stale)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NIC_ATTRIBUTES a;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
	cr_expect_eq(VipCloseNic(nic), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryNic(nic, &a), VIP_INVALID_PARAMETER);
}

Test(nic, forged_and_wrong_kind_handles_are_invalid_parameter)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_PROTECTION_HANDLE pt;
	VIP_NIC_ATTRIBUTES a;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	cr_expect_eq(VipQueryNic(NULL, &a), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryNic((VIP_NIC_HANDLE)&a, &a),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryNic((VIP_NIC_HANDLE)0x1234567800000001ul, &a),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryNic(pt, &a), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQueryNic(nic, NULL), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_SUCCESS);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
}

Test(nic, close_releases_what_the_program_left)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	VIP_PROTECTION_HANDLE pt;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	VIP_VI_STATE st;
	VIP_VI_ATTRIBUTES qa;
	VIP_BOOLEAN se, re;

	cr_assert_not_null(nic);
	cr_assert_eq(VipCreatePtag(nic, &pt), VIP_SUCCESS);
	vt_mem_init(&m, nic, 4096, NULL);
	cr_assert_not_null(m.base);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
	/* Everything that belonged to the NIC is gone with it. */
	cr_expect_eq(VipQueryVi(vi, &st, &qa, &se, &re), VIP_INVALID_PARAMETER);
	cr_expect_eq(VipDestroyPtag(nic, pt), VIP_INVALID_PARAMETER);
	free(m.base);
}

Test(nic, autodiscovery_reports_the_nic_address)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NIC_ATTRIBUTES na;
	VIP_AUTODISCOVERY_LIST list;
	VIP_NET_ADDRESS *slots[2];
	int i;

	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	for (i = 0; i < 2; i++)
		slots[i] = calloc(1, sizeof(VIP_NET_ADDRESS) + 16);
	list.ADAddrArray = slots;
	list.NumAdAddrs = 2;
	cr_assert_eq(VipQuerySystemManagementInfo(nic, VIP_SMI_AUTODISCOVERY,
						  &list),
		     VIP_SUCCESS);
	cr_expect_eq(list.NumAdAddrs, 1);
	cr_expect_eq(list.NumberOfHops, 0);
	cr_expect_eq(slots[0]->HostAddressLen, na.NicAddressLen);
	cr_expect_eq(memcmp(slots[0]->HostAddress, na.LocalNicAddress,
			    na.NicAddressLen),
		     0);
	cr_expect_eq(VipQuerySystemManagementInfo(nic, 99, &list),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipQuerySystemManagementInfo(nic, VIP_SMI_AUTODISCOVERY,
						  NULL),
		     VIP_INVALID_PARAMETER);
	list.NumAdAddrs = 0;
	cr_expect_eq(VipQuerySystemManagementInfo(nic, VIP_SMI_AUTODISCOVERY,
						  &list),
		     VIP_INVALID_PARAMETER);
	for (i = 0; i < 2; i++)
		free(slots[i]);
	VipCloseNic(nic);
}
