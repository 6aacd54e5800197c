/*
 * test_smi_clan.c - autodiscovery as Giganet programs call it: compiled
 * with VIPL_CLAN_AUTODISCOVERY, ADAddrArray is an array of addresses.
 */
#define VIPL_CLAN_AUTODISCOVERY
#include <string.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(nic_clan, .timeout = 60);

Test(nic_clan, autodiscovery_fills_an_array_of_addresses)
{
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NIC_ATTRIBUTES na;
	VIP_AUTODISCOVERY_LIST list;
	/* Room for two addresses of up to 16 bytes, back to back; filled
	 * with a marker that must not survive in the first. */
	union {
		VIP_NET_ADDRESS a;
		unsigned char bytes[2 * (sizeof(VIP_NET_ADDRESS) + 16)];
	} room;

	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	memset(&room, 0xA5, sizeof(room));
	list.ADAddrArray = &room.a;
	list.NumAdAddrs = 2;
	cr_assert_eq(VipQuerySystemManagementInfo(nic, VIP_SMI_AUTODISCOVERY,
						  &list),
		     VIP_SUCCESS);
	cr_expect_eq(list.NumAdAddrs, 1);
	cr_expect_eq(list.NumberOfHops, 0);
	cr_expect_eq(room.a.HostAddressLen, na.NicAddressLen);
	cr_expect_eq(room.a.DiscriminatorLen, 0);
	cr_expect_eq(memcmp(room.a.HostAddress, na.LocalNicAddress,
			    na.NicAddressLen),
		     0);
	list.ADAddrArray = NULL;
	cr_expect_eq(VipQuerySystemManagementInfo(nic, VIP_SMI_AUTODISCOVERY,
						  &list),
		     VIP_INVALID_PARAMETER);
	VipCloseNic(nic);
}
