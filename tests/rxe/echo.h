/* echo.h - a VIPL echo server run in a child process by the data tests. */
#ifndef VIPL_TEST_ECHO_H
#define VIPL_TEST_ECHO_H

#include "util.h"

struct echo_args {
	const char *disc;
	int count; /* messages to echo before waiting for the disconnect */
	VIP_RELIABILITY_LEVEL level;
	unsigned long max_transfer; /* 0: 1 MiB */
	unsigned recv_len; /* receive buffer per message; 0: max_transfer */
	int delay_ms; /* pause before each reply */
};

/* Accepts one connection, echoes count messages, then checks that the
 * client's disconnect flushes its last receive and puts the VI in Error. */
int echo_server(void *arg);

#endif
