/*
 * cm_trace.c - VIPL_TRACE_CM=1: what the connection machinery sees and
 * decides (rdma_cm events, requests held, handed out, refused, connect
 * attempts), one line each on stderr, for a connection that does not form
 * and no one can say why. The tracer of the Vip* calls (VIPL_TRACE) sees
 * only what the program asked; this sees what happened on the wire.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cm.h"

static atomic_int trace_on = -1; /* -1: not read yet */

bool cm_tracing(void)
{
	int on = atomic_load_explicit(&trace_on, memory_order_relaxed);

	if (on < 0) {
		const char *v = getenv("VIPL_TRACE_CM");

		on = v && *v && *v != '0';
		atomic_store_explicit(&trace_on, on, memory_order_relaxed);
	}
	return on;
}

void cm_trace(const char *fmt, ...)
{
	char line[256];
	uint64_t now = cm_now_ms();
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "libvipl cm %d %llu.%03llu: ",
		     (int)getpid(), (unsigned long long)(now / 1000),
		     (unsigned long long)(now % 1000));
	va_start(ap, fmt);
	n += vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: the lines of threads and processes sharing a
	 * stderr stay whole. */
	if (write(2, line, (size_t)n) < 0)
		return;
}

const char *cm_trace_disc(const uint8_t *disc, unsigned int len, char *buf,
			  size_t size)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 2 < size; i++)
		buf[n++] = disc[i] >= 0x20 && disc[i] < 0x7f ? (char)disc[i]
							   : '.';
	buf[n] = 0;
	return buf;
}
