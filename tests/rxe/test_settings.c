/*
 * test_settings.c - choosing what to use: VIPL_PORT, VIPL_GID_INDEX,
 * VIPL_IP_VERSION and VIPL_IFACE, over the device. The IPv6 cases need
 * the harness's IPv6 address on the device's netdev (VIPL_TEST_ADDR6,
 * set by tests/harness/rxe-run in its qemu guest) and are skipped, saying
 * so, where there is none.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "echo.h"
#include "util.h"

static void clear_settings(void)
{
	unsetenv("VIPL_PORT");
	unsetenv("VIPL_GID_INDEX");
	unsetenv("VIPL_IP_VERSION");
	unsetenv("VIPL_IFACE");
}

TestSuite(settings, .init = clear_settings, .fini = clear_settings,
	  .timeout = 60);

/* The NIC's address as VipQueryNic reports it, in text. */
static void nic_address(VIP_NIC_HANDLE nic, char *text, size_t len,
			unsigned *addr_len)
{
	VIP_NIC_ATTRIBUTES a;

	cr_assert_eq(VipQueryNic(nic, &a), VIP_SUCCESS);
	*addr_len = a.NicAddressLen;
	cr_assert(a.NicAddressLen == 4 || a.NicAddressLen == 16);
	cr_assert_not_null(inet_ntop(a.NicAddressLen == 4 ? AF_INET : AF_INET6,
				     a.LocalNicAddress, text, (socklen_t)len));
}

static const char *addr6_or_skip(void)
{
	const char *a = getenv("VIPL_TEST_ADDR6");

	if (!a || !*a)
		cr_skip_test("no IPv6 address on the device's netdev "
			     "(VIPL_TEST_ADDR6: rxe-run's guest sets one)");
	return a;
}

/* The index of the device's GID for IPv6 address a, from sysfs. */
static int gid_index_of(const char *a)
{
	struct in6_addr want, got;
	char path[256], line[64];
	int i;

	cr_assert_eq(inet_pton(AF_INET6, a, &want), 1);
	for (i = 0; i < 64; i++) {
		FILE *f;

		snprintf(path, sizeof(path),
			 "/sys/class/infiniband/%s/ports/1/gids/%d",
			 getenv("VIPL_DEVICE"), i);
		f = fopen(path, "r");
		if (!f)
			break;
		if (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (inet_pton(AF_INET6, line, &got) == 1 &&
			    !memcmp(&got, &want, sizeof(got))) {
				fclose(f);
				return i;
			}
		}
		fclose(f);
	}
	return -1;
}

Test(settings, port_one_opens_and_a_missing_port_is_refused)
{
	VIP_NIC_HANDLE nic;

	setenv("VIPL_PORT", "1", 1);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
	/* Soft-RoCE and Soft-iWARP devices have one port. */
	setenv("VIPL_PORT", "2", 1);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_INVALID_PARAMETER);
}

Test(settings, values_that_are_none_are_refused)
{
	static const char *const bad[][2] = {
		{ "VIPL_PORT", "0" },	     { "VIPL_PORT", "one" },
		{ "VIPL_PORT", "-1" },	     { "VIPL_GID_INDEX", "x" },
		{ "VIPL_GID_INDEX", "9999" }, { "VIPL_IP_VERSION", "5" },
		{ "VIPL_IFACE", "no/such" }, { "VIPL_IFACE", "vipl_none0" },
	};
	char *dev = strdup(getenv("VIPL_DEVICE"));
	VIP_NIC_HANDLE nic;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		clear_settings();
		/* VIPL_DEVICE, which the harness sets, would win over
		 * VIPL_IFACE. */
		unsetenv("VIPL_DEVICE");
		if (strcmp(bad[i][0], "VIPL_IFACE"))
			setenv("VIPL_DEVICE", dev, 1);
		setenv(bad[i][0], bad[i][1], 1);
		cr_expect_eq(VipOpenNic(NULL, &nic), VIP_INVALID_PARAMETER,
			     "%s=%s", bad[i][0], bad[i][1]);
	}
	setenv("VIPL_DEVICE", dev, 1);
	free(dev);
}

Test(settings, the_interface_picks_its_device)
{
	VIP_NIC_ATTRIBUTES a;
	VIP_NIC_HANDLE nic;
	char ifname[64];
	FILE *f;

	/* The harness's devices are on vipl0 (qemu) or a veth of its own:
	 * ask the kernel which. */
	f = popen("rdma link show 2>/dev/null | awk -v d=\"$VIPL_DEVICE\" "
		  "'$2 ~ \"^\"d\"/\" { for (i = 3; i < NF; i++) "
		  "if ($i == \"netdev\") print $(i + 1) }'",
		  "r");
	cr_assert_not_null(f);
	if (!fgets(ifname, sizeof(ifname), f)) {
		pclose(f);
		cr_skip_test("rdma link names no netdev for %s",
			     getenv("VIPL_DEVICE"));
	}
	pclose(f);
	ifname[strcspn(ifname, "\n")] = '\0';
	/* VIPL_DEVICE names the device in the harness: VIPL_IFACE is for
	 * programs run without it. */
	{
		char *dev = strdup(getenv("VIPL_DEVICE"));

		unsetenv("VIPL_DEVICE");
		setenv("VIPL_IFACE", ifname, 1);
		cr_expect_eq(VipOpenNic("some_other_name", &nic), VIP_SUCCESS);
		cr_expect_eq(VipQueryNic(nic, &a), VIP_SUCCESS);
		cr_expect_str_eq(a.Name, dev);
		cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
		setenv("VIPL_DEVICE", dev, 1);
		free(dev);
	}
}

Test(settings, ip_version_6_gives_the_ipv6_address)
{
	const char *a6 = addr6_or_skip();
	char text[INET6_ADDRSTRLEN];
	VIP_NIC_HANDLE nic;
	unsigned len;

	setenv("VIPL_IP_VERSION", "6", 1);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	nic_address(nic, text, sizeof(text), &len);
	cr_expect_eq(len, 16);
	cr_expect_str_eq(text, a6);
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
	/* And 4 the IPv4 one, as without the setting. */
	setenv("VIPL_IP_VERSION", "4", 1);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	nic_address(nic, text, sizeof(text), &len);
	cr_expect_eq(len, 4);
	cr_expect_str_eq(text, getenv("VIPL_TEST_ADDR"));
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
}

Test(settings, a_gid_index_gives_that_gids_address)
{
	const char *a6 = addr6_or_skip();
	char text[INET6_ADDRSTRLEN], idx[16];
	VIP_NIC_HANDLE nic;
	unsigned len;
	int i;

	if (!strcmp(getenv("VIPL_TEST_TRANSPORT") ? getenv("VIPL_TEST_TRANSPORT")
						  : "rxe",
		    "siw"))
		cr_skip_test("iWARP has one GID, its MAC: no GID to choose");
	i = gid_index_of(a6);
	cr_assert_geq(i, 1, "no GID for %s", a6);
	snprintf(idx, sizeof(idx), "%d", i);
	setenv("VIPL_GID_INDEX", idx, 1);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	nic_address(nic, text, sizeof(text), &len);
	cr_expect_eq(len, 16);
	cr_expect_str_eq(text, a6);
	cr_assert_eq(VipCloseNic(nic), VIP_SUCCESS);
}

/* Two processes connect over IPv6 (HostAddressLen 16 on both sides) and
 * move data both ways. */
Test(settings, data_moves_over_ipv6)
{
	struct echo_args ea = { .disc = "s-ipv6",
				.count = 3,
				.level = VIP_SERVICE_RELIABLE_DELIVERY };
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(VIP_SERVICE_RELIABLE_DELIVERY);
	char text[INET6_ADDRSTRLEN];
	VIP_DESCRIPTOR *s, *r, *d;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	unsigned len;
	pid_t srv;
	int i;

	addr6_or_skip();
	/* Both processes: the child inherits it. */
	setenv("VIPL_IP_VERSION", "6", 1);
	srv = vt_spawn(echo_server, &ea);
	cr_assert_gt(srv, 0);
	nic = vt_open_nic();
	cr_assert_not_null(nic);
	nic_address(nic, text, sizeof(text), &len);
	cr_assert_eq(len, 16);
	vt_mem_init(&m, nic, 8192, NULL);
	cr_assert_not_null(m.base);
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	cr_assert_eq(vt_request(nic, vi, "client", ea.disc), VIP_SUCCESS);
	s = vt_desc(&m, 0);
	r = vt_desc(&m, 1);
	for (i = 0; i < ea.count; i++) {
		char *out = vt_data(&m), *in = vt_data(&m) + 4096;

		memset(out, 'a' + i, 100);
		memset(in, 0, 100);
		vt_fill(r, &m, in, 4096);
		cr_assert_eq(VipPostRecv(vi, r, m.mh), VIP_SUCCESS);
		vt_fill(s, &m, out, 100);
		cr_assert_eq(VipPostSend(vi, s, m.mh), VIP_SUCCESS);
		cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
		cr_assert_eq(VipRecvWait(vi, VT_TIMEOUT_MS, &d), VIP_SUCCESS);
		cr_assert_eq(d->CS.Length, 100);
		cr_assert_eq(in[0], 'a' + i);
		cr_assert_eq(in[99], 'a' + i);
	}
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	cr_expect_eq(vt_join(srv, 30), 0, "server failed");
}
