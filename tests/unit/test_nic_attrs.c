/* test_nic_attrs.c - what VipQueryNic makes of a verbs device's attributes
 * (vip_nic_attrs, pure: devices of any size, no device needed). */
#include <limits.h>

#include <criterion/criterion.h>

#include "internal.h"

static VIP_NIC_ATTRIBUTES attrs_for_max_msg(uint32_t max_msg_sz)
{
	struct map_dev_attr d = { .name = "fake0", .max_msg_sz = max_msg_sz };
	VIP_NIC_ATTRIBUTES a;

	vip_nic_attrs(&d, &a);
	return a;
}

/* VIA programs store MaxTransferSize in an int (vipl-api.md section 5). */
Test(nic_attrs, max_transfer_size_of_2_31_fits_an_int)
{
	VIP_NIC_ATTRIBUTES a = attrs_for_max_msg(0x80000000u); /* new rxe */
	int mts = (int)a.MaxTransferSize;

	cr_expect_eq(a.MaxTransferSize, 0x7fffffffu);
	cr_expect_eq(mts, INT_MAX);
}

Test(nic_attrs, max_transfer_size_of_4g_less_one_fits_an_int)
{
	VIP_NIC_ATTRIBUTES a = attrs_for_max_msg(0xffffffffu); /* mlx5 */

	cr_expect_eq(a.MaxTransferSize, 0x7fffffffu);
}

Test(nic_attrs, smaller_max_transfer_sizes_are_the_devices_own)
{
	cr_expect_eq(attrs_for_max_msg(0x800000u).MaxTransferSize, 0x800000u);
	cr_expect_eq(attrs_for_max_msg(0x7fffffffu).MaxTransferSize,
		     0x7fffffffu);
	cr_expect_eq(attrs_for_max_msg(4096).MaxTransferSize, 4096u);
}

Test(nic_attrs, name_and_caps_come_through)
{
	VIP_NIC_ATTRIBUTES a = attrs_for_max_msg(4096);

	cr_expect_str_eq(a.Name, "fake0");
	cr_expect_eq(a.ThreadSafe, VIP_TRUE);
	cr_expect(a.ReliabilityLevelSupport >= VIP_SERVICE_RELIABLE_RECEPTION);
}
