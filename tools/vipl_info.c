/*
 * vipl_info - list the NICs libvipl can open and what VipQueryNic says of
 * each, as ibv_devinfo does for verbs devices.
 *
 *   vipl_info [-v] [-d NAME]
 *
 * VIPL has no call that enumerates NICs (VipOpenNic takes a name), so the
 * names come from libibverbs' device list; everything printed comes from
 * VipOpenNic and VipQueryNic. Keys are the VIP_NIC_ATTRIBUTES field names.
 *
 * Exit codes: 0 every NIC listed, 1 a NIC could not be opened or queried,
 * 2 usage error, 3 no NIC found (or none named NAME).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>
#include <vipl.h>

enum { EXIT_NIC = 1, EXIT_USAGE = 2, EXIT_NONE = 3 };

static const char *const return_names[] = {
	"VIP_SUCCESS",
	"VIP_NOT_DONE",
	"VIP_INVALID_PARAMETER",
	"VIP_ERROR_RESOURCE",
	"VIP_TIMEOUT",
	"VIP_REJECT",
	"VIP_INVALID_RELIABILITY_LEVEL",
	"VIP_INVALID_MTU",
	"VIP_INVALID_QOS",
	"VIP_INVALID_PTAG",
	"VIP_INVALID_RDMAREAD",
	"VIP_DESCRIPTOR_ERROR",
	"VIP_INVALID_STATE",
	"VIP_ERROR_NAMESERVICE",
	"VIP_NO_MATCH",
	"VIP_NOT_REACHABLE",
	"VIP_ERROR_NOT_SUPPORTED",
	"VIP_ERROR",
};

static const char *return_name(VIP_RETURN r)
{
	unsigned int i = (unsigned int)r;

	return i < sizeof(return_names) / sizeof(return_names[0])
		       ? return_names[i]
		       : "unknown VIP_RETURN";
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: vipl_info [-v] [-d NAME]\n"
		"List the NICs libvipl can open and their VIPL attributes "
		"(VipQueryNic).\n"
		"  -d NAME  only the NIC NAME (a verbs device name, e.g. rxe0)\n"
		"  -v       every field of VIP_NIC_ATTRIBUTES\n"
		"  -h       this help\n"
		"Exit: 0 ok, 1 a NIC could not be opened or queried, 2 usage, "
		"3 no NIC found.\n");
}

/* 4 bytes: IPv4, 16: IPv6, else the bytes in hex. */
static void print_address(const VIP_NIC_ATTRIBUTES *a)
{
	char text[INET6_ADDRSTRLEN];
	unsigned int i;

	if (a->NicAddressLen == 0 || !a->LocalNicAddress) {
		printf("(none)\n");
		return;
	}
	if ((a->NicAddressLen == 4 &&
	     inet_ntop(AF_INET, a->LocalNicAddress, text, sizeof(text))) ||
	    (a->NicAddressLen == 16 &&
	     inet_ntop(AF_INET6, a->LocalNicAddress, text, sizeof(text)))) {
		printf("%s\n", text);
		return;
	}
	for (i = 0; i < a->NicAddressLen; i++)
		printf("%s%02x", i ? ":" : "", a->LocalNicAddress[i]);
	printf("\n");
}

static void print_levels(VIP_RELIABILITY_LEVEL l)
{
	static const struct {
		VIP_RELIABILITY_LEVEL bit;
		const char *name;
	} names[] = {
		{ VIP_SERVICE_UNRELIABLE, "UNRELIABLE" },
		{ VIP_SERVICE_RELIABLE_DELIVERY, "RELIABLE_DELIVERY" },
		{ VIP_SERVICE_RELIABLE_RECEPTION, "RELIABLE_RECEPTION" },
	};
	const char *sep = "";
	unsigned int i;

	printf("0x%x (", (unsigned int)l);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (l & names[i].bit) {
			printf("%s%s", sep, names[i].name);
			sep = " ";
		}
	}
	printf("%s)\n", *sep ? "" : "none");
}

#define FIELD(name) printf("\t%-25s", #name ":")

static void print_nic(const VIP_NIC_ATTRIBUTES *a, int verbose)
{
	printf("nic:\t%s\n", a->Name);
	if (verbose) {
		FIELD(Name);
		printf("%s\n", a->Name);
		FIELD(HardwareVersion);
		printf("0x%lx\n", a->HardwareVersion);
		FIELD(ProviderVersion);
		printf("0x%08lx (%lu.%lu.%lu)\n", a->ProviderVersion,
		       a->ProviderVersion >> 16,
		       (a->ProviderVersion >> 8) & 0xff,
		       a->ProviderVersion & 0xff);
		FIELD(NicAddressLen);
		printf("%u\n", (unsigned int)a->NicAddressLen);
	}
	FIELD(LocalNicAddress);
	print_address(a);
	FIELD(ThreadSafe);
	printf("%s\n", a->ThreadSafe ? "yes" : "no");
	FIELD(MaxDiscriminatorLen);
	printf("%u\n", (unsigned int)a->MaxDiscriminatorLen);
	if (verbose) {
		FIELD(MaxRegisterBytes);
		printf("%lu\n", a->MaxRegisterBytes);
		FIELD(MaxRegisterRegions);
		printf("%lu\n", a->MaxRegisterRegions);
		FIELD(MaxRegisterBlockBytes);
		printf("%lu\n", a->MaxRegisterBlockBytes);
	}
	FIELD(MaxVI);
	printf("%lu\n", a->MaxVI);
	if (verbose) {
		FIELD(MaxDescriptorsPerQueue);
		printf("%lu\n", a->MaxDescriptorsPerQueue);
	}
	FIELD(MaxSegmentsPerDesc);
	printf("%lu\n", a->MaxSegmentsPerDesc);
	if (verbose) {
		FIELD(MaxCQ);
		printf("%lu\n", a->MaxCQ);
	}
	FIELD(MaxCQEntries);
	printf("%lu\n", a->MaxCQEntries);
	FIELD(MaxTransferSize);
	printf("%lu\n", a->MaxTransferSize);
	if (verbose) {
		FIELD(NativeMTU);
		printf("%lu\n", a->NativeMTU);
		FIELD(MaxPtags);
		printf("%lu\n", a->MaxPtags);
	}
	FIELD(ReliabilityLevelSupport);
	print_levels(a->ReliabilityLevelSupport);
	FIELD(RDMAReadSupport);
	print_levels(a->RDMAReadSupport);
}

/* Opens one NIC through VIPL and prints it; 0 or EXIT_NIC. */
static int show(const char *name, int verbose)
{
	VIP_NIC_ATTRIBUTES attrs;
	VIP_NIC_HANDLE nic;
	VIP_RETURN ret;

	ret = VipOpenNic(name, &nic);
	if (ret != VIP_SUCCESS) {
		fprintf(stderr, "vipl_info: %s: VipOpenNic: %s\n", name,
			return_name(ret));
		return EXIT_NIC;
	}
	ret = VipQueryNic(nic, &attrs);
	if (ret != VIP_SUCCESS) {
		fprintf(stderr, "vipl_info: %s: VipQueryNic: %s\n", name,
			return_name(ret));
		VipCloseNic(nic);
		return EXIT_NIC;
	}
	print_nic(&attrs, verbose);
	VipCloseNic(nic);
	return 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	struct ibv_device **list;
	int verbose = 0, n = 0, shown = 0, status = 0, c, i;

	while ((c = getopt(argc, argv, "d:vh")) != -1) {
		switch (c) {
		case 'd':
			only = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vipl_info: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}

	list = ibv_get_device_list(&n);
	if (!list || n == 0) {
		fprintf(stderr, "vipl_info: no RDMA device found\n");
		if (list)
			ibv_free_device_list(list);
		return EXIT_NONE;
	}
	for (i = 0; i < n; i++) {
		const char *name = ibv_get_device_name(list[i]);

		if (only && strcmp(only, name))
			continue;
		if (shown++)
			printf("\n");
		fflush(stdout);
		if (show(name, verbose))
			status = EXIT_NIC;
	}
	ibv_free_device_list(list);
	if (!shown) {
		fprintf(stderr, "vipl_info: no NIC named %s\n", only);
		return EXIT_NONE;
	}
	return status;
}
