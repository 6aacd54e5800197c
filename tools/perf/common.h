/*
 * common.h - what the benchmark protocol on libvipl (vipl_perf.c: the
 * perftest-style tools and vipl_bench) and its raw-verbs twin
 * (tests/bench/verbs_bench.c) share: options, the size and iteration
 * schedule, timing, statistics and output. Nothing here touches libvipl
 * or verbs, so both programs measure the same way and differ only in the
 * data path.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum bench_test {
	T_LAT_SEND,	/* send/receive ping-pong */
	T_LAT_WRITE,	/* RDMA write ping-pong, polling memory */
	T_BW_SEND,	/* streaming sends, depth in flight */
	T_BW_WRITE,	/* streaming RDMA writes, depth in flight */
	T_CONN,		/* connect/accept/disconnect cycles */
};

struct bench_opts {
	int server;
	const char *addr;	/* client: the server's; server: bind here */
	const char *device;	/* verbs device (twin: informational) */
	const char *impl;	/* label for the CSV lines */
	enum bench_test test;
	unsigned long min_size, max_size, factor;
	unsigned long iters;	/* most iterations per size */
	unsigned long min_iters;
	unsigned long budget;	/* bytes per size: iters = budget / size */
	unsigned long warmup;
	unsigned int depth;	/* bandwidth: operations in flight */
	unsigned int rx_depth;	/* bw_send: receives the server keeps posted */
	unsigned int port;	/* twin: rdma_cm port; VIPL: discriminator */
	unsigned int batch;	/* twin, bandwidth: completions per poll */
	int table;		/* perftest's table, not CSV lines */
	int events;		/* wait for completions (Wait), not Done */
};

/* Queue pair shape both programs use, libvipl's own choice (nic.c, qp.c,
 * cm.c): 1024 work requests per queue, 16 segments, 128 bytes inline, RNR
 * timer 20.48 ms and 6 retries, 6 transport retries, ACK timeout exponent
 * at most 18 (1.07 s). */
#define BENCH_QUEUE_DEPTH 1024
#define BENCH_MAX_SGE 16
#define BENCH_MAX_INLINE 128
#define BENCH_MIN_RNR_TIMER 22
#define BENCH_RNR_RETRY 6
#define BENCH_RETRY_COUNT 6
#define BENCH_ACK_TIMEOUT_MAX 18
#define BENCH_TIMEOUT_S 60

/* vipl_bench's and the twins' options (-t picks the test). */
void bench_parse(struct bench_opts *o, int argc, char **argv,
		 const char *prog);
/* The perftest-style tools' options (perftest_opts.c): the test is the
 * tool's; a host makes a client, none a server. */
void perf_parse(struct bench_opts *o, int argc, char **argv,
		enum bench_test test);
const char *bench_test_name(enum bench_test t);
/* Next size in the schedule, 0 after the last. */
unsigned long bench_next_size(const struct bench_opts *o, unsigned long size);
/* Timed iterations at size (the same on both sides). */
unsigned long bench_iters(const struct bench_opts *o, unsigned long size);
/* Untimed ones before them: -w, but no more than a quarter of those. */
unsigned long bench_warmup(const struct bench_opts *o, unsigned long size);

static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CSV: impl,test,size,iters,min_us,median_us,avg_us,p99_us,MBps,msg_per_s;
 * or, with o->table, the column heads of perftest's table. */
void bench_header(const struct bench_opts *o);
/* Latency samples (ns, one per iteration: half a round trip for
 * ping-pongs, a whole cycle for connections); sorts them. */
void bench_report_lat(const struct bench_opts *o, unsigned long size,
		      uint64_t *ns, unsigned long n);
void bench_report_bw(const struct bench_opts *o, unsigned long size,
		     unsigned long n, uint64_t elapsed_ns);

/* This process's address space and resident set, KiB. The resident set
 * is smaps_rollup's (a walk of the page tables): statm's lags on kernels
 * that count it per thread (before 6.2), and a process that mapped
 * rxe's queues without faulting much since read them as not resident. */
void bench_mem_kib(long *vsz, long *rss);

/* The name bench_die's lines start with (the parsers set it). */
void bench_set_speaker(const char *prog);
/* Dies with a message (benchmarks have no error recovery). */
void bench_die(const char *fmt, ...)
	__attribute__((noreturn, format(printf, 1, 2)));
/* Watchdog: the process ends after BENCH_TIMEOUT_S without progress. */
void bench_alive(void);

#endif
