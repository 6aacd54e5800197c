/* common.c - options, schedule, statistics and output of the benchmarks
 * and the perftest-style tools (common.h). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

static const char *const test_names[] = {
	[T_LAT_SEND] = "lat_send", [T_LAT_WRITE] = "lat_write",
	[T_BW_SEND] = "bw_send", [T_BW_WRITE] = "bw_write",
	[T_CONN] = "conn",
};

const char *bench_test_name(enum bench_test t)
{
	return test_names[t];
}

/* Who speaks in bench_die's lines: the program's label. */
static const char *speaker = "bench";

void bench_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "%s: ", speaker);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

void bench_mem_kib(long *vsz, long *rss)
{
	long page = sysconf(_SC_PAGESIZE) / 1024, r = 0;
	char line[256];
	FILE *f = fopen("/proc/self/statm", "r");

	*vsz = *rss = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", vsz, &r) != 2)
			*vsz = r = 0;
		fclose(f);
	}
	*vsz *= page;
	*rss = r * page;
	f = fopen("/proc/self/smaps_rollup", "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &r) == 1) {
			*rss = r;
			break;
		}
	fclose(f);
}

void bench_set_speaker(const char *prog)
{
	speaker = prog;
}

static void on_alarm(int sig)
{
	static const char msg[] = ": no progress, giving up\n";

	(void)sig;
	/* write(2) alone: a signal handler may not call stdio. */
	if (write(2, speaker, strlen(speaker)) < 0 ||
	    write(2, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(3);
}

void bench_alive(void)
{
	signal(SIGALRM, on_alarm);
	alarm(BENCH_TIMEOUT_S);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s -s [-a ADDR] | -c ADDR  -t TEST [options]\n"
		"  TEST: lat_send lat_write bw_send bw_write conn\n"
		"  -S/-M min/max bytes (1, 1048576), -f size factor (2)\n"
		"  -n most iterations per size (1000), -m fewest (8),\n"
		"  -B bytes per size (iterations = B / size, 16777216)\n"
		"  -w warm-up iterations (100), -d in flight (64),\n"
		"  -r receives posted for bw_send (512), -p port (18600),\n"
		"  -b completions per poll, twin's bandwidth tests (16)\n"
		"  -D device, -i label\n", prog);
	exit(2);
}

void bench_parse(struct bench_opts *o, int argc, char **argv,
		 const char *prog)
{
	int c;
	unsigned int t;

	memset(o, 0, sizeof(*o));
	o->impl = prog;
	speaker = prog;
	o->test = (enum bench_test)-1;
	o->min_size = 1;
	o->max_size = 1 << 20;
	o->factor = 2;
	o->iters = 1000;
	o->min_iters = 8;
	o->budget = 16 << 20;
	o->warmup = 100;
	o->depth = 64;
	o->rx_depth = 512;
	o->port = 18600;
	o->batch = 16;
	while ((c = getopt(argc, argv, "sa:c:t:S:M:f:n:m:B:w:d:r:p:D:i:b:")) !=
	       -1) {
		switch (c) {
		case 's': o->server = 1; break;
		case 'a': case 'c': o->addr = optarg; break;
		case 't':
			for (t = 0; t <= T_CONN; t++)
				if (!strcmp(optarg, test_names[t]))
					o->test = (enum bench_test)t;
			break;
		case 'S': o->min_size = strtoul(optarg, NULL, 0); break;
		case 'M': o->max_size = strtoul(optarg, NULL, 0); break;
		case 'f': o->factor = strtoul(optarg, NULL, 0); break;
		case 'n': o->iters = strtoul(optarg, NULL, 0); break;
		case 'm': o->min_iters = strtoul(optarg, NULL, 0); break;
		case 'B': o->budget = strtoul(optarg, NULL, 0); break;
		case 'w': o->warmup = strtoul(optarg, NULL, 0); break;
		case 'd': o->depth = strtoul(optarg, NULL, 0); break;
		case 'r': o->rx_depth = strtoul(optarg, NULL, 0); break;
		case 'p': o->port = strtoul(optarg, NULL, 0); break;
		case 'D': o->device = optarg; break;
		case 'i': o->impl = optarg; break;
		case 'b': o->batch = strtoul(optarg, NULL, 0); break;
		default: usage(prog);
		}
	}
	if (o->test > T_CONN || !o->addr || !o->min_size ||
	    o->min_size > o->max_size || o->factor < 2 || !o->iters ||
	    !o->min_iters || !o->batch || o->batch > 16 || !o->depth ||
	    o->depth > BENCH_QUEUE_DEPTH / 2 ||
	    !o->rx_depth || o->rx_depth > BENCH_QUEUE_DEPTH / 2 ||
	    o->max_size > (1u << 30))
		usage(prog);
	if (o->test == T_CONN)
		o->min_size = o->max_size = 1;
	/* RDMA-write ping-pong polls the last byte: 1 byte is the least. */
	setvbuf(stdout, NULL, _IOLBF, 0);
}

unsigned long bench_next_size(const struct bench_opts *o, unsigned long size)
{
	if (size >= o->max_size)
		return 0;
	size *= o->factor;
	return size > o->max_size ? o->max_size : size;
}

unsigned long bench_iters(const struct bench_opts *o, unsigned long size)
{
	unsigned long n = o->budget / size;

	if (n > o->iters)
		n = o->iters;
	if (n < o->min_iters)
		n = o->min_iters;
	return n;
}

unsigned long bench_warmup(const struct bench_opts *o, unsigned long size)
{
	unsigned long n = bench_iters(o, size) / 4 + 1;

	return n < o->warmup ? n : o->warmup;
}

void bench_header(const struct bench_opts *o)
{
	if (!o->table)
		printf("impl,test,size,iters,min_us,median_us,avg_us,p99_us,"
		       "MBps,msg_per_s\n");
	else if (o->test == T_BW_SEND || o->test == T_BW_WRITE)
		printf(" %-10s %-13s %-20s %s\n", "#bytes", "#iterations",
		       "BW average[MB/sec]", "MsgRate[Mpps]");
	else
		printf(" %-8s %-12s %-12s %-12s %-16s %-12s %-14s %-22s %s\n",
		       "#bytes", "#iterations", "t_min[usec]", "t_max[usec]",
		       "t_typical[usec]", "t_avg[usec]", "t_stdev[usec]",
		       "99% percentile[usec]", "99.9% percentile[usec]");
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_report_lat(const struct bench_opts *o, unsigned long size,
		      uint64_t *ns, unsigned long n)
{
	double sum = 0, sq = 0, avg, d;
	unsigned long i;

	qsort(ns, n, sizeof(*ns), cmp_u64);
	for (i = 0; i < n; i++)
		sum += ns[i];
	avg = sum / n;
	if (!o->table) {
		printf("%s,%s,%lu,%lu,%.3f,%.3f,%.3f,%.3f,%.3f,%.1f\n",
		       o->impl, bench_test_name(o->test), size, n,
		       ns[0] / 1e3, ns[n / 2] / 1e3, avg / 1e3,
		       ns[n * 99 / 100] / 1e3,
		       size / (ns[n / 2] / 1e9) / (1024.0 * 1024.0),
		       1e9 / ns[n / 2]);
		return;
	}
	for (i = 0; i < n; i++) {
		d = ns[i] - avg;
		sq += d * d;
	}
	printf(" %-8lu %-12lu %-12.2f %-12.2f %-16.2f %-12.2f %-14.2f "
	       "%-22.2f %.2f\n",
	       size, n, ns[0] / 1e3, ns[n - 1] / 1e3, ns[n / 2] / 1e3,
	       avg / 1e3, sqrt(sq / n) / 1e3, ns[n * 99 / 100] / 1e3,
	       ns[n * 999 / 1000] / 1e3);
}

void bench_report_bw(const struct bench_opts *o, unsigned long size,
		     unsigned long n, uint64_t elapsed_ns)
{
	double s = elapsed_ns / 1e9;

	if (o->table)
		/* perftest's MB is 2^20 bytes, its Mpps 10^6 messages. */
		printf(" %-10lu %-13lu %-20.2f %.6f\n", size, n,
		       (double)size * n / s / (1024.0 * 1024.0), n / s / 1e6);
	else
		printf("%s,%s,%lu,%lu,0,0,0,0,%.3f,%.1f\n", o->impl,
		       bench_test_name(o->test), size, n,
		       (double)size * n / s / (1024.0 * 1024.0), n / s);
}
