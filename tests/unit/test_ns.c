/*
 * test_ns.c - the name service (vipl/ns.c): VIPL_HOSTS first, then the
 * system resolver. Every call takes a NIC handle, so these tests open the
 * verbs device and run over rxe like the tests in tests/rxe.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "vipl.h"

TestSuite(ns, .timeout = 60);

/* Two addresses for one name, an IPv6 name, and lines to skip. */
static const char hosts_text[] =
	"# the name service test's hosts\n"
	"192.0.2.10\ttwin.vipl.test twin   # first of two\n"
	"\n"
	"not-an-address broken.vipl.test\n"
	"  192.0.2.11 twin.vipl.test\n"
	"2001:db8::7 six.vipl.test six\n";

static VIP_NIC_HANDLE nic;
static char hosts_path[] = "/tmp/vipl-ns-XXXXXX";
/* Room for any host address plus bytes that must stay untouched. */
static union {
	VIP_NET_ADDRESS a;
	uint8_t bytes[sizeof(VIP_NET_ADDRESS) + 64];
} addr;
/* Its host address bytes, reached through the union rather than through
 * HostAddress[1], whose declared bound they run past. */
#define HOST (addr.bytes + offsetof(VIP_NET_ADDRESS, HostAddress))

static void write_hosts(const char *text)
{
	FILE *f = fopen(hosts_path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(setenv("VIPL_HOSTS", hosts_path, 1), 0);
}

static void setup(void)
{
	int fd = mkstemp(hosts_path);

	cr_assert_geq(fd, 0);
	close(fd);
	write_hosts(hosts_text);
	cr_assert_eq(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	memset(&addr, 0xaa, sizeof(addr));
}

static void teardown(void)
{
	VipCloseNic(nic);
	unlink(hosts_path);
	unsetenv("VIPL_HOSTS");
}

/* addr holds exactly this host address and no discriminator. */
static void expect_host(int family, const char *text)
{
	uint8_t want[16];
	int len = family == AF_INET ? 4 : 16;

	cr_assert_eq(inet_pton(family, text, want), 1);
	cr_expect_eq(addr.a.HostAddressLen, len);
	cr_expect_eq(addr.a.DiscriminatorLen, 0);
	cr_expect_eq(memcmp(HOST, want, len), 0, "not %s", text);
}

static VIP_RETURN by_name(const char *name, VIP_ULONG index)
{
	return VipNSGetHostByName(nic, (VIP_CHAR *)name, &addr.a, index);
}

static void set_host(int family, const char *text)
{
	int len = family == AF_INET ? 4 : 16;

	addr.a.HostAddressLen = len;
	addr.a.DiscriminatorLen = 0;
	cr_assert_eq(inet_pton(family, text, HOST), 1);
}

Test(ns, name_index_picks_each_address_of_a_name, .init = setup,
     .fini = teardown)
{
	cr_assert_eq(by_name("twin.vipl.test", 0), VIP_SUCCESS);
	expect_host(AF_INET, "192.0.2.10");
	cr_assert_eq(by_name("twin.vipl.test", 1), VIP_SUCCESS);
	expect_host(AF_INET, "192.0.2.11");
}

Test(ns, index_past_the_last_address_is_a_nameservice_error, .init = setup,
     .fini = teardown)
{
	cr_expect_eq(by_name("twin.vipl.test", 2), VIP_ERROR_NAMESERVICE);
	cr_expect_eq(by_name("six.vipl.test", 1), VIP_ERROR_NAMESERVICE);
	cr_expect_eq(by_name("twin.vipl.test", ~0ul), VIP_ERROR_NAMESERVICE);
}

Test(ns, ipv6_name_gives_sixteen_bytes, .init = setup, .fini = teardown)
{
	cr_assert_eq(by_name("six.vipl.test", 0), VIP_SUCCESS);
	expect_host(AF_INET6, "2001:db8::7");
}

Test(ns, aliases_and_any_case_find_the_entry, .init = setup,
     .fini = teardown)
{
	cr_assert_eq(by_name("six", 0), VIP_SUCCESS);
	expect_host(AF_INET6, "2001:db8::7");
	cr_assert_eq(by_name("TWIN", 0), VIP_SUCCESS);
	expect_host(AF_INET, "192.0.2.10");
}

Test(ns, get_host_by_name_writes_no_discriminator, .init = setup,
     .fini = teardown)
{
	size_t i;

	cr_assert_eq(by_name("twin", 0), VIP_SUCCESS);
	cr_expect_eq(addr.a.DiscriminatorLen, 0);
	for (i = 4; i < sizeof(addr.bytes) - sizeof(VIP_NET_ADDRESS); i++)
		cr_expect_eq(HOST[i], 0xaa, "byte %zu", i);
}

Test(ns, malformed_lines_are_skipped, .init = setup, .fini = teardown)
{
	cr_expect_eq(by_name("broken.vipl.test", 0), VIP_ERROR_NAMESERVICE);
}

Test(ns, unknown_name_is_a_nameservice_error, .init = setup,
     .fini = teardown)
{
	/* .invalid never resolves (RFC 6761). */
	cr_expect_eq(by_name("no-such-host.invalid", 0),
		     VIP_ERROR_NAMESERVICE);
}

Test(ns, localhost_resolves_through_the_system_resolver, .init = setup,
     .fini = teardown)
{
	uint8_t loopback[4] = { 127, 0, 0, 1 };
	VIP_ULONG i;
	bool found = false;

	for (i = 0; !found && by_name("localhost", i) == VIP_SUCCESS; i++)
		found = addr.a.HostAddressLen == 4 &&
			!memcmp(HOST, loopback, 4);
	cr_expect(found, "127.0.0.1 is not among localhost's %lu addresses",
		  i);
}

Test(ns, a_missing_hosts_file_leaves_the_system_resolver, .init = setup,
     .fini = teardown)
{
	cr_assert_eq(setenv("VIPL_HOSTS", "/nonexistent/vipl-hosts", 1), 0);
	cr_expect_eq(by_name("localhost", 0), VIP_SUCCESS);
	cr_expect_eq(by_name("twin.vipl.test", 0), VIP_ERROR_NAMESERVICE);
}

/* Index 0 must be usable with the NIC, and fit a buffer sized by it. */
Test(ns, addresses_of_the_nics_family_come_first, .init = setup,
     .fini = teardown)
{
	VIP_NIC_ATTRIBUTES na;

	write_hosts("2001:db8::1 mixed\n192.0.2.20 mixed\n");
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_assert_eq(by_name("mixed", 0), VIP_SUCCESS);
	if (na.NicAddressLen == 16)
		expect_host(AF_INET6, "2001:db8::1");
	else
		expect_host(AF_INET, "192.0.2.20");
	cr_assert_eq(by_name("mixed", 1), VIP_SUCCESS);
	if (na.NicAddressLen == 16)
		expect_host(AF_INET, "192.0.2.20");
	else
		expect_host(AF_INET6, "2001:db8::1");
}

Test(ns, reverse_lookup_gives_the_entrys_first_name, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = sizeof(name);

	set_host(AF_INET, "192.0.2.11");
	cr_assert_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_SUCCESS);
	cr_expect_str_eq(name, "twin.vipl.test");
	cr_expect_eq(len, sizeof("twin.vipl.test")); /* with its NUL */
	len = sizeof(name);
	set_host(AF_INET6, "2001:db8::7");
	cr_assert_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_SUCCESS);
	cr_expect_str_eq(name, "six.vipl.test");
}

Test(ns, reverse_lookup_ignores_the_discriminator, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = sizeof(name);

	set_host(AF_INET, "192.0.2.10");
	addr.a.DiscriminatorLen = 3;
	memcpy(HOST + 4, "abc", 3);
	cr_assert_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_SUCCESS);
	cr_expect_str_eq(name, "twin.vipl.test");
}

Test(ns, host_length_zero_names_this_nic, .init = setup, .fini = teardown)
{
	VIP_NIC_ATTRIBUTES na;
	char text[INET6_ADDRSTRLEN], line[128], name[64];
	VIP_ULONG len = sizeof(name);

	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_assert(na.NicAddressLen == 4 || na.NicAddressLen == 16);
	cr_assert_not_null(inet_ntop(na.NicAddressLen == 4 ? AF_INET : AF_INET6,
				     na.LocalNicAddress, text, sizeof(text)));
	snprintf(line, sizeof(line), "%s me.vipl.test\n", text);
	write_hosts(line);
	addr.a.HostAddressLen = 0;
	addr.a.DiscriminatorLen = 0;
	cr_assert_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_SUCCESS);
	cr_expect_str_eq(name, "me.vipl.test");
}

Test(ns, name_len_too_small_reports_the_size_needed, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = 5;

	memset(name, 'x', sizeof(name));
	set_host(AF_INET, "192.0.2.10");
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(len, sizeof("twin.vipl.test"));
	cr_expect_eq(name[0], 'x'); /* nothing written */
	len = sizeof("twin.vipl.test") - 1; /* no room for the NUL */
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(len, sizeof("twin.vipl.test"));
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_SUCCESS); /* the size it asked for is enough */
	cr_expect_str_eq(name, "twin.vipl.test");
}

Test(ns, null_name_with_zero_len_asks_for_the_size, .init = setup,
     .fini = teardown)
{
	VIP_ULONG len = 0;

	set_host(AF_INET, "192.0.2.10");
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, NULL, &len),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(len, sizeof("twin.vipl.test"));
}

Test(ns, unknown_address_is_a_nameservice_error, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = sizeof(name);

	set_host(AF_INET, "192.0.2.99"); /* TEST-NET-1: named nowhere */
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_ERROR_NAMESERVICE);
}

Test(ns, null_pointers_are_invalid_parameters, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = sizeof(name);

	cr_expect_eq(VipNSGetHostByName(nic, NULL, &addr.a, 0),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipNSGetHostByName(nic, (VIP_CHAR *)"twin", NULL, 0),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(by_name("", 0), VIP_INVALID_PARAMETER);
	set_host(AF_INET, "192.0.2.10");
	cr_expect_eq(VipNSGetHostByAddr(nic, NULL, name, &len),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, NULL, &len),
		     VIP_INVALID_PARAMETER);
	cr_expect_eq(len, sizeof(name)); /* not a size query: untouched */
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, NULL),
		     VIP_INVALID_PARAMETER);
}

Test(ns, host_address_of_another_length_is_invalid, .init = setup,
     .fini = teardown)
{
	char name[64];
	VIP_ULONG len = sizeof(name);

	set_host(AF_INET, "192.0.2.10");
	addr.a.HostAddressLen = 6;
	cr_expect_eq(VipNSGetHostByAddr(nic, &addr.a, name, &len),
		     VIP_INVALID_PARAMETER);
}

Test(ns, bad_nic_handles_are_invalid_parameters, .init = setup,
     .fini = teardown)
{
	VIP_NIC_HANDLE stale, bad[3];
	char name[64];
	VIP_ULONG len = sizeof(name);
	int i;

	cr_assert_eq(VipOpenNic(NULL, &stale), VIP_SUCCESS);
	cr_assert_eq(VipCloseNic(stale), VIP_SUCCESS);
	bad[0] = NULL;
	bad[1] = stale;
	bad[2] = (VIP_NIC_HANDLE)&len; /* forged */
	set_host(AF_INET, "192.0.2.10");
	for (i = 0; i < 3; i++) {
		cr_expect_eq(VipNSInit(bad[i], NULL), VIP_INVALID_PARAMETER);
		cr_expect_eq(VipNSGetHostByName(bad[i], (VIP_CHAR *)"twin",
						&addr.a, 0),
			     VIP_INVALID_PARAMETER);
		cr_expect_eq(VipNSGetHostByAddr(bad[i], &addr.a, name, &len),
			     VIP_INVALID_PARAMETER);
		cr_expect_eq(VipNSShutdown(bad[i]), VIP_INVALID_PARAMETER);
	}
}

Test(ns, init_and_shutdown_bracket_lookups, .init = setup, .fini = teardown)
{
	cr_expect_eq(VipNSInit(nic, NULL), VIP_SUCCESS);
	cr_expect_eq(by_name("twin", 0), VIP_SUCCESS);
	cr_expect_eq(VipNSShutdown(nic), VIP_SUCCESS);
}

Test(ns, lookups_work_without_init, .init = setup, .fini = teardown)
{
	cr_expect_eq(by_name("twin.vipl.test", 1), VIP_SUCCESS);
	expect_host(AF_INET, "192.0.2.11");
}
