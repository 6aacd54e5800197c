/* test_devname.c - the device names VIA programs hard-code (vipl/devname.c,
 * pure: no device needed). */
#include <errno.h>

#include <criterion/criterion.h>

#include "internal.h"

static struct vip_devname parse_ok(const char *name)
{
	struct vip_devname dn;

	cr_assert_eq(vip_devname_parse(name, &dn), 0, "%s", name);
	return dn;
}

Test(devname, null_and_empty_pick_the_default_device)
{
	cr_expect_eq(parse_ok(NULL).kind, VIP_DEVNAME_DEFAULT);
	cr_expect_eq(parse_ok("").kind, VIP_DEVNAME_DEFAULT);
}

Test(devname, mvia_names_a_network_interface)
{
	struct vip_devname dn = parse_ok("/dev/via_eth0");

	cr_expect_eq(dn.kind, VIP_DEVNAME_NETDEV);
	cr_expect_str_eq(dn.name, "eth0");
	dn = parse_ok("/dev/via_vipl0");
	cr_expect_eq(dn.kind, VIP_DEVNAME_NETDEV);
	cr_expect_str_eq(dn.name, "vipl0");
	dn = parse_ok("/dev/via_enp0s31f6");
	cr_expect_str_eq(dn.name, "enp0s31f6");
}

Test(devname, mvia_lo_is_loopback)
{
	struct vip_devname dn = parse_ok("/dev/via_lo");

	cr_expect_eq(dn.kind, VIP_DEVNAME_LOOPBACK);
	cr_expect_str_eq(dn.name, "lo");
	/* Only lo itself: "lo0" is some other interface. */
	cr_expect_eq(parse_ok("/dev/via_lo0").kind, VIP_DEVNAME_NETDEV);
}

Test(devname, mvia_without_a_usable_interface_name_is_invalid)
{
	struct vip_devname dn;

	cr_expect_eq(vip_devname_parse("/dev/via_", &dn), EINVAL);
	cr_expect_eq(vip_devname_parse("/dev/via_a/b", &dn), EINVAL);
	/* 16 bytes: one more than an interface name can have. */
	cr_expect_eq(vip_devname_parse("/dev/via_0123456789abcdef", &dn),
		     EINVAL);
	cr_expect_eq(parse_ok("/dev/via_0123456789abcde").kind,
		     VIP_DEVNAME_NETDEV);
}

Test(devname, clan_names_the_nth_device)
{
	struct vip_devname dn = parse_ok("/dev/clanvi0");

	cr_expect_eq(dn.kind, VIP_DEVNAME_INDEX);
	cr_expect_eq(dn.index, 0);
	dn = parse_ok("/dev/clanvi3");
	cr_expect_eq(dn.kind, VIP_DEVNAME_INDEX);
	cr_expect_eq(dn.index, 3);
	dn = parse_ok("clanvi0");
	cr_expect_eq(dn.kind, VIP_DEVNAME_INDEX);
	cr_expect_eq(dn.index, 0);
	dn = parse_ok("clanvi12");
	cr_expect_eq(dn.index, 12);
}

Test(devname, vigm_vinic_alone_is_the_first_device)
{
	struct vip_devname dn = parse_ok("VINIC");

	cr_expect_eq(dn.kind, VIP_DEVNAME_INDEX);
	cr_expect_eq(dn.index, 0);
	dn = parse_ok("VINIC0");
	cr_expect_eq(dn.kind, VIP_DEVNAME_INDEX);
	cr_expect_eq(dn.index, 0);
	dn = parse_ok("VINIC7");
	cr_expect_eq(dn.index, 7);
}

Test(devname, a_bad_clan_number_is_invalid_under_dev)
{
	struct vip_devname dn;

	cr_expect_eq(vip_devname_parse("/dev/clanvi", &dn), EINVAL);
	cr_expect_eq(vip_devname_parse("/dev/clanvi-1", &dn), EINVAL);
	cr_expect_eq(vip_devname_parse("/dev/clanvi 1", &dn), EINVAL);
	/* Past any host's device count, and no overflow. */
	cr_expect_eq(vip_devname_parse("/dev/clanvi99999999999", &dn),
		     EINVAL);
	cr_expect_eq(vip_devname_parse("/dev/rxe0", &dn), EINVAL);
}

Test(devname, other_names_are_verbs_device_names)
{
	struct vip_devname dn = parse_ok("rxe0");

	cr_expect_eq(dn.kind, VIP_DEVNAME_VERBS);
	cr_expect_str_eq(dn.name, "rxe0");
	cr_expect_eq(parse_ok("mlx5_0").kind, VIP_DEVNAME_VERBS);
	cr_expect_eq(parse_ok("nosuch").kind, VIP_DEVNAME_VERBS);
	/* Near misses of the VIA names stay verbs names (and will not be
	 * found unless a device has that name). */
	cr_expect_eq(parse_ok("clanvi").kind, VIP_DEVNAME_VERBS);
	cr_expect_eq(parse_ok("clanvi_x").kind, VIP_DEVNAME_VERBS);
	cr_expect_eq(parse_ok("VINICx").kind, VIP_DEVNAME_VERBS);
	cr_expect_eq(parse_ok("vinic0").kind, VIP_DEVNAME_VERBS);
}

Test(devname, settings_unset_or_empty_leave_the_defaults)
{
	struct vip_devsettings s;

	cr_assert_eq(vip_devsettings_parse(NULL, "", NULL, "", &s), 0);
	cr_expect_eq(s.port, 0);
	cr_expect_eq(s.gid_index, -1);
	cr_expect_eq(s.ip_version, 0);
	cr_expect_null(s.iface);
}

Test(devname, settings_take_what_other_stacks_users_write)
{
	struct vip_devsettings s;

	cr_assert_eq(vip_devsettings_parse("2", "3", "6", "eth1", &s), 0);
	cr_expect_eq(s.port, 2);
	cr_expect_eq(s.gid_index, 3);
	cr_expect_eq(s.ip_version, 6);
	cr_expect_str_eq(s.iface, "eth1");
	cr_assert_eq(vip_devsettings_parse(NULL, "0", "ipv4", NULL, &s), 0);
	cr_expect_eq(s.gid_index, 0);
	cr_expect_eq(s.ip_version, 4);
	cr_assert_eq(vip_devsettings_parse(NULL, NULL, "ipv6", NULL, &s), 0);
	cr_expect_eq(s.ip_version, 6);
}

Test(devname, settings_that_are_none_are_errors)
{
	struct vip_devsettings s;

	cr_expect_eq(vip_devsettings_parse("0", NULL, NULL, NULL, &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse("256", NULL, NULL, NULL, &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse("1x", NULL, NULL, NULL, &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse(NULL, "-1", NULL, NULL, &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse(NULL, "70000", NULL, NULL, &s),
		     EINVAL);
	cr_expect_eq(vip_devsettings_parse(NULL, NULL, "5", NULL, &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse(NULL, NULL, NULL, "a/b", &s), EINVAL);
	cr_expect_eq(vip_devsettings_parse(NULL, NULL, NULL,
					   "an_interface_name_too_long", &s),
		     EINVAL);
}
