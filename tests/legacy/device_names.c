/*
 * device_names.c - the device names VIA programs hard-code open the verbs
 * device they meant (vipl-api.md section 5): M-VIA's /dev/via_<netdev>,
 * Giganet cLAN's /dev/clanvi<N> and clanvi<N>, VI-GM's VINIC and VINIC<N>;
 * VIPL_DEVICE overrides any of them; a name of no device is
 * VIP_INVALID_PARAMETER and the trace says which devices there are.
 *
 * Over the harness's device ($VIPL_DEVICE, rxe0 in the guest, bound to
 * netdev vipl0 there, and the only device, so also the first).
 */
#include <dirent.h>
#include <limits.h>
#include <regex.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>

#include <criterion/criterion.h>

#include "util.h"

#define LEGACY_TIMEOUT 60

/* The harness's device: every name below must reach it. */
static void device(char *name, size_t len)
{
	const char *d = getenv("VIPL_DEVICE");

	snprintf(name, len, "%s", d && *d ? d : "rxe0");
}

/* The network interface behind port 1 of dev (first GID), or "". */
static void netdev_of(const char *dev, char *out, size_t len)
{
	vt_netdev(dev, out, len);
}

/* VipOpenNic(name) as the program passes it, VIPL_DEVICE unset; the
 * opened NIC's Name into got. */
static VIP_RETURN open_name(const char *name, char *got, size_t len)
{
	VIP_NIC_HANDLE nic = NULL;
	VIP_NIC_ATTRIBUTES a;
	VIP_RETURN r;

	got[0] = '\0';
	r = VipOpenNic(name, &nic);
	if (r != VIP_SUCCESS) {
		cr_expect_null(nic, "a failed open set the handle");
		return r;
	}
	cr_assert_eq(VipQueryNic(nic, &a), VIP_SUCCESS);
	snprintf(got, len, "%s", a.Name);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	return r;
}

#define EXPECT_OPENS(name, want)                                               \
	do {                                                                   \
		char got_[64];                                                 \
		cr_expect_eq(open_name(name, got_, sizeof(got_)),              \
			     VIP_SUCCESS, "VipOpenNic(%s)", #name);            \
		cr_expect_str_eq(got_, want, "VipOpenNic(%s) opened %s",       \
				 #name, got_);                                 \
	} while (0)

Test(legacy, via_era_names_open_the_device_they_name,
     .timeout = LEGACY_TIMEOUT)
{
	char dev[64], nd[64], mvia[96], first[64];

	device(dev, sizeof(dev));
	netdev_of(dev, nd, sizeof(nd));
	cr_assert(nd[0], "no network interface under %s", dev);
	unsetenv("VIPL_DEVICE");
	/* The first device (the guest's only one). */
	cr_assert_eq(open_name(NULL, first, sizeof(first)), VIP_SUCCESS);
	cr_expect_str_eq(first, dev, "more than one device here?");

	snprintf(mvia, sizeof(mvia), "/dev/via_%s", nd);
	EXPECT_OPENS(mvia, dev);
	EXPECT_OPENS("/dev/clanvi0", first);
	EXPECT_OPENS("clanvi0", first);
	EXPECT_OPENS("VINIC", first);
	EXPECT_OPENS("VINIC0", first);
	EXPECT_OPENS(dev, dev);
	EXPECT_OPENS("", first);
	/* No device on lo: M-VIA's loopback takes the first. */
	EXPECT_OPENS("/dev/via_lo", first);
}

Test(legacy, via_era_names_of_no_device_are_invalid_parameter,
     .timeout = LEGACY_TIMEOUT)
{
	static const char *const names[] = {
		"/dev/via_eth9", "/dev/clanvi7", "clanvi7", "VINIC7",
		"nosuch",	 "/dev/via_",	 "/dev/clanvi",
	};
	char got[64];
	size_t i;

	unsetenv("VIPL_DEVICE");
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_expect_eq(open_name(names[i], got, sizeof(got)),
			     VIP_INVALID_PARAMETER, "VipOpenNic(%s) opened %s",
			     names[i], got);
}

/* An interface that exists but carries no verbs device: /dev/via_<it>
 * must not fall back on some other device. */
Test(legacy, mvia_name_of_an_interface_without_device_is_invalid_parameter,
     .timeout = LEGACY_TIMEOUT)
{
	char dev[64], nd[64], name[300], got[64];
	struct dirent *e;
	DIR *d;
	bool tried = false;

	device(dev, sizeof(dev));
	netdev_of(dev, nd, sizeof(nd));
	unsetenv("VIPL_DEVICE");
	d = opendir("/sys/class/net");
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "lo") ||
		    !strcmp(e->d_name, nd))
			continue;
		snprintf(name, sizeof(name), "/dev/via_%s", e->d_name);
		cr_expect_eq(open_name(name, got, sizeof(got)),
			     VIP_INVALID_PARAMETER, "%s opened %s", name, got);
		tried = true;
	}
	closedir(d);
	if (!tried)
		cr_skip_test("no interface here without a verbs device");
}

Test(legacy, vipl_device_overrides_the_name_the_program_passes,
     .timeout = LEGACY_TIMEOUT)
{
	char dev[64], got[64];

	device(dev, sizeof(dev));
	setenv("VIPL_DEVICE", dev, 1);
	cr_expect_eq(open_name("/dev/via_eth9", got, sizeof(got)),
		     VIP_SUCCESS);
	cr_expect_str_eq(got, dev);
	cr_expect_eq(open_name("nosuch", got, sizeof(got)), VIP_SUCCESS);
	cr_expect_str_eq(got, dev);
	cr_expect_eq(open_name(NULL, got, sizeof(got)), VIP_SUCCESS);
	cr_expect_str_eq(got, dev);
	/* VIPL_DEVICE may hold a VIA name too. */
	setenv("VIPL_DEVICE", "/dev/clanvi0", 1);
	cr_expect_eq(open_name("nosuch", got, sizeof(got)), VIP_SUCCESS);
	cr_expect_str_eq(got, dev);
	/* And a name of no device there fails whatever the program says. */
	setenv("VIPL_DEVICE", "nosuch", 1);
	cr_expect_eq(open_name(dev, got, sizeof(got)),
		     VIP_INVALID_PARAMETER);
}

/* ------------------------------------------------- the failed open's trace */

static void trace_prog_path(char *path, size_t len)
{
	const char *dir = getenv("VIPL_TRACE_PROG_DIR");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir && *dir) {
		cr_assert_lt(snprintf(path, len, "%s/vipl_trace_prog", dir),
			     (int)len);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	cr_assert_lt(snprintf(path, len, "%s/vipl_trace_prog", self),
		     (int)len);
}

/* Runs "vipl_trace_prog open name" with VIPL_TRACE=1 and VIPL_DEVICE
 * unset; returns what it wrote (free() it). */
static char *traced_open(const char *name)
{
	char prog[PATH_MAX], out[] = "/tmp/vipl-devname-XXXXXX";
	char *buf = calloc(1, 65536);
	pid_t pid;
	FILE *f;
	int fd;

	trace_prog_path(prog, sizeof(prog));
	cr_assert_eq(access(prog, X_OK), 0, "no program at %s", prog);
	fd = mkstemp(out);
	cr_assert_geq(fd, 0);
	fflush(NULL);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("VIPL_TRACE", "1", 1);
		unsetenv("VIPL_DEVICE");
		if (dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(126);
		execl(prog, prog, "open", name, (char *)NULL);
		_exit(127);
	}
	close(fd);
	cr_assert_eq(vt_join(pid, 30), 0);
	f = fopen(out, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(buf);
	buf[fread(buf, 1, 65535, f)] = '\0';
	fclose(f);
	unlink(out);
	return buf;
}

static bool has_line(const char *log, const char *re)
{
	regex_t rx;
	bool found;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB | REG_NEWLINE),
		     0, "bad regex %s", re);
	found = regexec(&rx, log, 0, NULL, 0) == 0;
	regfree(&rx);
	return found;
}

#define OPEN_LINE                                                              \
	"^vipl\\[[0-9]+\\] [0-9]+\\.[0-9]{6} VipOpenNic\\(name=\"%s\", "      \
	"nic=\\?\\) = VIP_INVALID_PARAMETER \\(%s; devices: %s \\(%s\\)\\)$"

Test(legacy, failed_open_trace_says_why_and_lists_the_devices,
     .timeout = LEGACY_TIMEOUT)
{
	char dev[64], nd[64], re[512], *log;

#ifdef VIPL_NO_TRACE
	cr_skip_test("libvipl built without the tracer (VIPL_TRACE=OFF)");
#endif
	device(dev, sizeof(dev));
	netdev_of(dev, nd, sizeof(nd));
	cr_assert(nd[0], "no network interface under %s", dev);

	log = traced_open("nosuch");
	snprintf(re, sizeof(re), OPEN_LINE, "nosuch",
		 "\"nosuch\": no verbs device of that name", dev, nd);
	cr_expect(has_line(log, re), "no line matches %s in:\n%s", re, log);
	free(log);

	log = traced_open("/dev/via_eth9");
	snprintf(re, sizeof(re), OPEN_LINE, "/dev/via_eth9",
		 "\"/dev/via_eth9\": no network interface eth9", dev, nd);
	cr_expect(has_line(log, re), "no line matches %s in:\n%s", re, log);
	free(log);

	log = traced_open("VINIC7");
	snprintf(re, sizeof(re), OPEN_LINE, "VINIC7",
		 "\"VINIC7\": no verbs device number 7 \\(counting from 0\\)",
		 dev, nd);
	cr_expect(has_line(log, re), "no line matches %s in:\n%s", re, log);
	free(log);
}

/* ------------------------------------- a program opening by a VIA name */

#define PROG_MSG "opened by a VIA name"
#define PROG_DISC "devname-prog"

/* The server, as an M-VIA program: its NIC by its interface's name. */
static int prog_server(void *arg)
{
	const char *name = arg;
	VIP_VI_ATTRIBUTES va;
	VIP_NIC_ATTRIBUTES na;
	VIP_DESCRIPTOR *d, *out;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	struct vt_mem m;

	VT_CHECK(VipOpenNic(name, &nic) == VIP_SUCCESS);
	VT_CHECK(VipQueryNic(nic, &na) == VIP_SUCCESS);
	vt_mem_init(&m, nic, 4096, NULL);
	VT_CHECK(m.base);
	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	va.MaxTransferSize = na.MaxTransferSize;
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	d = vt_desc(&m, 0);
	vt_fill(d, &m, vt_data(&m), 4096);
	VT_CHECK(VipPostRecv(vi, d, m.mh) == VIP_SUCCESS);
	VT_CHECK(vt_accept(nic, PROG_DISC, vi) == VIP_SUCCESS);
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
	VT_CHECK(out == d);
	VT_CHECK(d->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE));
	VT_CHECK(d->CS.Length == sizeof(PROG_MSG));
	VT_CHECK(!memcmp(vt_data(&m), PROG_MSG, sizeof(PROG_MSG)));
	/* Wait for the client to go before tearing down. */
	d = vt_desc(&m, 1);
	vt_fill(d, &m, vt_data(&m), 64);
	VT_CHECK(VipPostRecv(vi, d, m.mh) == VIP_SUCCESS);
	VipRecvWait(vi, VT_TIMEOUT_MS, &out);
	VipDisconnect(vi);
	VipDestroyVi(vi);
	vt_mem_fini(&m);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}

Test(legacy, program_on_a_via_name_connects_and_sends,
     .timeout = LEGACY_TIMEOUT)
{
	char dev[64], nd[64], mvia[96];
	VIP_VI_ATTRIBUTES va;
	VIP_NIC_ATTRIBUTES na;
	VIP_DESCRIPTOR *d, *out;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	struct vt_mem m;
	VIP_RETURN r;
	pid_t server;
	int tries;

	device(dev, sizeof(dev));
	netdev_of(dev, nd, sizeof(nd));
	cr_assert(nd[0], "no network interface under %s", dev);
	unsetenv("VIPL_DEVICE");
	snprintf(mvia, sizeof(mvia), "/dev/via_%s", nd);
	server = vt_spawn(prog_server, mvia);
	cr_assert_gt(server, 0);

	/* The client, as a cLAN program: the first cLAN NIC. */
	cr_assert_eq(VipOpenNic("/dev/clanvi0", &nic), VIP_SUCCESS);
	cr_assert_eq(VipQueryNic(nic, &na), VIP_SUCCESS);
	cr_expect_str_eq(na.Name, dev);
	vt_mem_init(&m, nic, 4096, NULL);
	cr_assert_not_null(m.base);
	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	va.MaxTransferSize = na.MaxTransferSize;
	cr_assert_eq(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);
	/* As VIA programs do: retry until the server waits. */
	tries = 0;
	do
		r = vt_request(nic, vi, "client", PROG_DISC);
	while (r == VIP_NO_MATCH && ++tries < 20000); /* ~40 s at most */
	cr_assert_eq(r, VIP_SUCCESS);
	d = vt_desc(&m, 0);
	memcpy(vt_data(&m), PROG_MSG, sizeof(PROG_MSG));
	vt_fill(d, &m, vt_data(&m), sizeof(PROG_MSG));
	cr_assert_eq(VipPostSend(vi, d, m.mh), VIP_SUCCESS);
	cr_assert_eq(VipSendWait(vi, VT_TIMEOUT_MS, &out), VIP_SUCCESS);
	cr_expect_eq(out, d);
	cr_expect_eq(d->CS.Status, VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
	cr_expect_eq(VipDisconnect(vi), VIP_SUCCESS);
	cr_expect_eq(VipDestroyVi(vi), VIP_SUCCESS);
	vt_mem_fini(&m);
	cr_expect_eq(VipCloseNic(nic), VIP_SUCCESS);
	cr_expect_eq(vt_join(server, 30), 0, "the server failed");
}
