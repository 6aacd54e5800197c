/*
 * fork.c - what fork() may do to a program that uses verbs.
 *
 * Registered memory is pinned: the device reads and writes those physical
 * pages. A fork() used to share them copy-on-write with the child, so the
 * first of the two to write one got a new page, and when that was the
 * parent, the device kept using the old page, now the child's: the
 * parent's receives vanished and its sends carried stale data. Linux now
 * copies pinned pages into the child at fork time instead (work finished
 * in 5.12), and says so through netlink from 5.13 on, which libibverbs
 * reports (rdma-core 35 and later) as IBV_FORK_UNNEEDED. Where the kernel
 * does not say so, ibv_fork_init() keeps registered pages out of children
 * altogether (MADV_DONTFORK). That costs an madvise() per registration and
 * leaves children without those pages, so it is done only where needed,
 * and before anything is registered or mapped for a device (libibverbs
 * refuses after that). A program that set RDMAV_FORK_SAFE, or called
 * ibv_fork_init() itself, is left as it is.
 *
 * The child cannot use verbs through what it inherited: librdmacm keeps
 * the device contexts it opened for the whole process, so a child asking
 * for devices would get the parent's, whose commands the kernel refuses
 * from another process (EACCES, and only at the first post). Opening a
 * device in such a child fails at once instead; after exec() the child
 * starts afresh.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "internal.h"

static pthread_once_t fork_once = PTHREAD_ONCE_INIT;
static pid_t owner; /* whose libibverbs and librdmacm state this is */

static void fork_prepare_once(void)
{
	owner = getpid();
	/* Failure (too late, or no MADV_DONTFORK) leaves things as they
	 * were: the program still runs, its children just must not live
	 * alongside transfers. */
	if (ibv_is_fork_initialized() == IBV_FORK_DISABLED)
		(void)ibv_fork_init();
}

int map_fork_prepare(void)
{
	pthread_once(&fork_once, fork_prepare_once);
	return getpid() == owner ? 0 : EACCES;
}
