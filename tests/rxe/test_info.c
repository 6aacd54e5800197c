/*
 * test_info.c - tools/vipl_info run as a user would, its output checked
 * against what VipQueryNic says of the same device.
 *
 * The binary is $VIPL_TOOLS_DIR/vipl_info, else ../tools/vipl_info next to
 * this runner (build/tests/vipl_tests -> build/tools).
 */
#include <arpa/inet.h>
#include <limits.h>
#include <string.h>
#include <sys/wait.h>

#include <criterion/criterion.h>

#include "util.h"

TestSuite(info, .timeout = 60);

#define OUT_MAX (1 << 16)

static void tool_path(char *path, size_t len)
{
	const char *env = getenv("VIPL_TOOLS_DIR");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		cr_assert_lt(snprintf(path, len, "%s/vipl_info", env), (int)len);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	slash = strrchr(self, '/');
	cr_assert_not_null(slash);
	*slash = '\0';
	cr_assert_lt(snprintf(path, len, "%s/../tools/vipl_info", self),
		     (int)len);
}

/* Runs vipl_info ARGS (stderr merged into stdout); returns its exit code
 * and its output (free() it). */
static int run_info(const char *args, char **out)
{
	char path[PATH_MAX], cmd[PATH_MAX + 256];
	size_t n = 0, r;
	FILE *p;
	int status;

	tool_path(path, sizeof(path));
	cr_assert_eq(access(path, X_OK), 0, "no vipl_info at %s", path);
	snprintf(cmd, sizeof(cmd), "'%s' %s 2>&1", path, args);
	*out = calloc(1, OUT_MAX);
	cr_assert_not_null(*out);
	fflush(NULL);
	p = popen(cmd, "r");
	cr_assert_not_null(p, "popen %s", cmd);
	while (n < OUT_MAX - 1 && (r = fread(*out + n, 1, OUT_MAX - 1 - n, p)))
		n += r;
	status = pclose(p);
	cr_assert(WIFEXITED(status), "%s did not exit", cmd);
	return WEXITSTATUS(status);
}

/* The value printed for key ("\tKey: value"), or NULL. */
static const char *field(const char *out, const char *key, char *val,
			 size_t len)
{
	char pat[64];
	const char *p, *end;

	snprintf(pat, sizeof(pat), "\t%s:", key);
	p = strstr(out, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	p += strspn(p, " \t");
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	if ((size_t)(end - p) >= len)
		return NULL;
	memcpy(val, p, end - p);
	val[end - p] = '\0';
	return val;
}

static unsigned long num_field(const char *out, const char *key)
{
	char val[128];

	cr_assert_not_null(field(out, key, val, sizeof(val)), "no %s in:\n%s",
			   key, out);
	return strtoul(val, NULL, 0);
}

/* The attributes, and the address as text (LocalNicAddress points into
 * the NIC, gone once it is closed: set to NULL here). */
static void query(VIP_NIC_ATTRIBUTES *na, char *addr, size_t len)
{
	VIP_NIC_HANDLE nic = vt_open_nic();

	cr_assert_not_null(nic);
	cr_assert_eq(VipQueryNic(nic, na), VIP_SUCCESS);
	cr_assert_eq(na->NicAddressLen, 4, "rxe here has an IPv4 address");
	cr_assert_not_null(inet_ntop(AF_INET, na->LocalNicAddress, addr, len));
	na->LocalNicAddress = NULL;
	VipCloseNic(nic);
}

#define EXPECT_NUM(out, na, f)                                                 \
	cr_expect_eq(num_field(out, #f), (unsigned long)(na).f,                \
		     #f ": vipl_info says %lu, VipQueryNic %lu",               \
		     num_field(out, #f), (unsigned long)(na).f)

Test(info, verbose_output_is_every_field_of_vip_query_nic)
{
	VIP_NIC_ATTRIBUTES na;
	char args[128], val[128], addr[INET6_ADDRSTRLEN], *out;

	query(&na, addr, sizeof(addr));
	snprintf(args, sizeof(args), "-v -d %s", na.Name);
	cr_assert_eq(run_info(args, &out), 0, "vipl_info %s said:\n%s", args,
		     out);
	snprintf(val, sizeof(val), "nic:\t%s\n", na.Name);
	cr_expect_eq(strncmp(out, val, strlen(val)), 0, "first line of:\n%s",
		     out);
	cr_expect_str_eq(field(out, "Name", val, sizeof(val)), na.Name);
	EXPECT_NUM(out, na, HardwareVersion);
	EXPECT_NUM(out, na, ProviderVersion);
	EXPECT_NUM(out, na, NicAddressLen);
	cr_expect_str_eq(field(out, "LocalNicAddress", val, sizeof(val)),
			 addr);
	cr_expect_str_eq(field(out, "ThreadSafe", val, sizeof(val)),
			 na.ThreadSafe ? "yes" : "no");
	EXPECT_NUM(out, na, MaxDiscriminatorLen);
	EXPECT_NUM(out, na, MaxRegisterBytes);
	EXPECT_NUM(out, na, MaxRegisterRegions);
	EXPECT_NUM(out, na, MaxRegisterBlockBytes);
	EXPECT_NUM(out, na, MaxVI);
	EXPECT_NUM(out, na, MaxDescriptorsPerQueue);
	EXPECT_NUM(out, na, MaxSegmentsPerDesc);
	EXPECT_NUM(out, na, MaxCQ);
	EXPECT_NUM(out, na, MaxCQEntries);
	EXPECT_NUM(out, na, MaxTransferSize);
	EXPECT_NUM(out, na, NativeMTU);
	EXPECT_NUM(out, na, MaxPtags);
	EXPECT_NUM(out, na, ReliabilityLevelSupport);
	EXPECT_NUM(out, na, RDMAReadSupport);
	/* The levels are named too. */
	cr_expect_str_eq(field(out, "ReliabilityLevelSupport", val,
			       sizeof(val)),
			 "0x7 (UNRELIABLE RELIABLE_DELIVERY RELIABLE_RECEPTION)");
	free(out);
}

Test(info, default_output_is_the_summary_of_each_nic)
{
	VIP_NIC_ATTRIBUTES na;
	char val[128], want[128], addr[INET6_ADDRSTRLEN], *out;

	query(&na, addr, sizeof(addr));
	cr_assert_eq(run_info("", &out), 0, "vipl_info said:\n%s", out);
	snprintf(want, sizeof(want), "nic:\t%s\n", na.Name);
	cr_expect_not_null(strstr(out, want), "no '%s' in:\n%s", want, out);
	EXPECT_NUM(out, na, MaxTransferSize);
	EXPECT_NUM(out, na, MaxSegmentsPerDesc);
	EXPECT_NUM(out, na, MaxVI);
	EXPECT_NUM(out, na, MaxCQEntries);
	EXPECT_NUM(out, na, MaxDiscriminatorLen);
	EXPECT_NUM(out, na, ReliabilityLevelSupport);
	EXPECT_NUM(out, na, RDMAReadSupport);
	cr_expect_str_eq(field(out, "LocalNicAddress", val, sizeof(val)),
			 addr);
	cr_expect_not_null(field(out, "ThreadSafe", val, sizeof(val)));
	/* -v only */
	cr_expect_null(field(out, "MaxPtags", val, sizeof(val)));
	cr_expect_null(field(out, "HardwareVersion", val, sizeof(val)));
	free(out);
}

Test(info, unknown_nic_name_exits_3)
{
	char *out;

	cr_expect_eq(run_info("-d no_such_nic", &out), 3, "said:\n%s", out);
	cr_expect_not_null(strstr(out, "no NIC named no_such_nic"), "said:\n%s",
			   out);
	free(out);
}

Test(info, bad_usage_exits_2_and_help_exits_0)
{
	char *out;

	cr_expect_eq(run_info("-q", &out), 2, "said:\n%s", out);
	cr_expect_not_null(strstr(out, "Usage: vipl_info"));
	free(out);
	cr_expect_eq(run_info("extra", &out), 2, "said:\n%s", out);
	free(out);
	cr_expect_eq(run_info("-h", &out), 0, "said:\n%s", out);
	cr_expect_not_null(strstr(out, "Usage: vipl_info"));
	free(out);
}
