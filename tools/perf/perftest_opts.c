/*
 * perftest_opts.c - the command line of the perftest-style tools
 * (vipl_send_lat, vipl_write_lat, vipl_send_bw, vipl_write_bw): the
 * options ib_send_lat's users know, mapped onto the benchmark's own.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define DEF_PORT 18515
#define DEF_ITERS 1000
#define DEF_LAT_SIZE 2
#define DEF_BW_SIZE 65536
#define DEF_TX_DEPTH 128
#define DEF_RX_DEPTH 512
/* -a: perftest's sizes, 2 bytes to 8 MiB. */
#define ALL_MIN 2
#define ALL_MAX (1ul << 23)
#define MOST_SIZE (1ul << 30)

static const char *const tool_names[] = {
	[T_LAT_SEND] = "vipl_send_lat", [T_LAT_WRITE] = "vipl_write_lat",
	[T_BW_SEND] = "vipl_send_bw", [T_BW_WRITE] = "vipl_write_bw",
};

static void usage(const char *prog, int bw, int status)
{
	fprintf(status ? stderr : stdout,
		"Usage:\n"
		"  %s            start a server and wait for a client\n"
		"  %s <host>     connect to the server at <host>\n"
		"Options (give the server the same -s, -a, -n%s):\n"
		"  -d, --ib-dev=<dev>      verbs device (libvipl's default)\n"
		"  -i, --ib-port=<port>    device port (sets VIPL_PORT)\n"
		"  -x, --gid-index=<n>     GID index (sets VIPL_GID_INDEX)\n"
		"  -p, --port=<port>       server port, the discriminator "
		"(%d)\n"
		"  -s, --size=<bytes>      message size (%d)\n"
		"  -a, --all               every size from 2 to 8388608\n"
		"  -n, --iters=<n>         iterations per size (%d)\n"
		"%s"
		"  -e, --events            sleep in VipSendWait/VipRecvWait, "
		"not poll\n"
		"  -F, --CPU-freq          accepted; the clock is "
		"CLOCK_MONOTONIC\n"
		"      --report            CSV lines instead of the table\n"
		"  -h, --help\n",
		prog, prog, bw ? ", -t, -r" : "", DEF_PORT,
		bw ? DEF_BW_SIZE : DEF_LAT_SIZE, DEF_ITERS,
		bw ? "  -t, --tx-depth=<n>      operations in flight (128)\n"
		     "  -r, --rx-depth=<n>      receives the server keeps "
		     "posted (512)\n"
		   : "");
	exit(status);
}

/* A whole number in [lo, hi], else the usage. */
static unsigned long number(const char *prog, int bw, const char *what,
			    const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be %lu to %lu, not \"%s\"\n",
			prog, what, lo, hi, s);
		usage(prog, bw, 2);
	}
	return v;
}

void perf_parse(struct bench_opts *o, int argc, char **argv,
		enum bench_test test)
{
	static const struct option longs[] = {
		{ "ib-dev", required_argument, NULL, 'd' },
		{ "ib-port", required_argument, NULL, 'i' },
		{ "gid-index", required_argument, NULL, 'x' },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "all", no_argument, NULL, 'a' },
		{ "iters", required_argument, NULL, 'n' },
		{ "tx-depth", required_argument, NULL, 't' },
		{ "rx-depth", required_argument, NULL, 'r' },
		{ "events", no_argument, NULL, 'e' },
		{ "CPU-freq", no_argument, NULL, 'F' },
		{ "report", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = tool_names[test];
	int bw = test == T_BW_SEND || test == T_BW_WRITE;
	const char *shorts = bw ? "d:i:x:p:s:an:t:r:eFh" : "d:i:x:p:s:an:eFh";
	unsigned long size = bw ? DEF_BW_SIZE : DEF_LAT_SIZE;
	int c, all = 0;

	memset(o, 0, sizeof(*o));
	o->impl = prog;
	bench_set_speaker(prog);
	o->test = test;
	o->table = 1;
	o->iters = DEF_ITERS;
	o->depth = DEF_TX_DEPTH;
	o->rx_depth = DEF_RX_DEPTH;
	o->port = DEF_PORT;
	o->batch = 1;
	o->warmup = 100;
	o->factor = 2;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case 'd': o->device = optarg; break;
		case 'i':
			number(prog, bw, "the port", optarg, 1, 255);
			setenv("VIPL_PORT", optarg, 1);
			break;
		case 'x':
			number(prog, bw, "the GID index", optarg, 0, 65535);
			setenv("VIPL_GID_INDEX", optarg, 1);
			break;
		case 'p':
			o->port = number(prog, bw, "the port", optarg, 0,
					 999999);
			break;
		case 's':
			size = number(prog, bw, "the size", optarg, 1,
				      MOST_SIZE);
			break;
		case 'a': all = 1; break;
		case 'n':
			o->iters = number(prog, bw, "the iterations", optarg,
					  1, 100000000);
			break;
		case 't':
			o->depth = number(prog, bw, "the tx depth", optarg, 1,
					  BENCH_QUEUE_DEPTH / 2);
			break;
		case 'r':
			o->rx_depth = number(prog, bw, "the rx depth", optarg,
					     1, BENCH_QUEUE_DEPTH / 2);
			break;
		case 'e': o->events = 1; break;
		case 'F': break;
		case 'R': o->table = 0; break;
		case 'h': usage(prog, bw, 0); break;
		default: usage(prog, bw, 2);
		}
	}
	if (optind < argc - 1)
		usage(prog, bw, 2);
	o->addr = optind < argc ? argv[optind] : NULL;
	o->server = !o->addr;
	o->min_size = all ? ALL_MIN : size;
	o->max_size = all ? ALL_MAX : size;
	/* -n iterations at every size, as perftest does. */
	o->min_iters = o->iters;
	o->budget = (unsigned long)-1;
	setvbuf(stdout, NULL, _IOLBF, 0);
}
