/*
 * test_events.c - asynchronous device events reach the error callback.
 *
 * The port goes down by taking its network interface down, so this only
 * runs on a device the harness made for the run (rxe in the qemu guest or
 * on a veth of its own), never on a real NIC of the machine.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(events, .timeout = 90);

struct heard {
	atomic_int count;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_RESOURCE_CODE resource;
	VIP_ERROR_CODE code;
};

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	struct heard *h = ctx;

	h->nic = e->NicHandle;
	h->vi = e->ViHandle;
	h->resource = e->ResourceCode;
	h->code = e->ErrorCode;
	atomic_fetch_add(&h->count, 1);
}

/* First line of a sysfs file of the device's port 1, or "". */
static void port_file(const char *name, char *out, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/%s",
		 getenv("VIPL_DEVICE"), name);
	out[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

static int link_set(const char *netdev, const char *state)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "ip link set dev %s %s", netdev, state);
	return system(cmd);
}

/* Polls cond every 10 ms for up to seconds; true if it held. */
static bool within(int seconds, bool (*cond)(void *), void *arg)
{
	struct timespec ms10 = { 0, 10000000 };
	int i;

	for (i = 0; i < seconds * 100; i++) {
		if (cond(arg))
			return true;
		nanosleep(&ms10, NULL);
	}
	return cond(arg);
}

static bool heard_one(void *arg)
{
	return atomic_load(&((struct heard *)arg)->count) > 0;
}

static bool port_active(void *arg)
{
	char state[64];

	(void)arg;
	port_file("state", state, sizeof(state));
	return strstr(state, "ACTIVE") != NULL;
}

/* The device's address as it was (LocalNicAddress dies with its NIC). */
struct address {
	unsigned len;
	unsigned char bytes[16];
};

static bool address_back(void *arg)
{
	const struct address *before = arg;
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_NIC_ATTRIBUTES now;
	bool same;

	if (!nic)
		return false;
	same = VipQueryNic(nic, &now) == VIP_SUCCESS &&
	       now.NicAddressLen == before->len &&
	       !memcmp(now.LocalNicAddress, before->bytes, before->len);
	VipCloseNic(nic);
	return same;
}

Test(events, port_down_reaches_the_error_callback)
{
	const char *mode = getenv("RXE_RUN_MODE");
	struct heard h = { 0 };
	struct address before;
	VIP_NIC_ATTRIBUTES na;
	VIP_NIC_HANDLE nic;
	char netdev[64];

	if (!mode || (strcmp(mode, "qemu") && strcmp(mode, "host-rxe")) ||
	    geteuid() != 0)
		cr_skip_test("needs root on a device the harness created");
	vt_netdev(getenv("VIPL_DEVICE"), netdev, sizeof(netdev));
	cr_assert(netdev[0], "no network interface under the device");
	cr_assert(port_active(NULL), "port not active to begin with");

	nic = vt_open_nic();
	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_assert_leq(na.NicAddressLen, sizeof(before.bytes));
	before.len = na.NicAddressLen;
	memcpy(before.bytes, na.LocalNicAddress, before.len);
	cr_assert_eq(VipErrorCallback(nic, &h, on_error), VIP_SUCCESS);
	cr_assert_eq(link_set(netdev, "down"), 0);
	cr_expect(within(10, heard_one, &h), "no event for the port going down");
	cr_expect_eq(link_set(netdev, "up"), 0);
	cr_assert(within(20, port_active, NULL), "port did not come back");

	cr_expect_eq(atomic_load(&h.count), 1, "events heard: %d",
		     atomic_load(&h.count));
	cr_expect_eq(h.nic, nic);
	cr_expect_null(h.vi);
	cr_expect_eq(h.resource, VIP_RESOURCE_NIC);
	cr_expect_eq(h.code, VIP_ERROR_CONN_LOST);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	/* The next tests need the device as it was. */
	cr_assert(within(20, address_back, &before),
		  "the device's address did not come back");
}
