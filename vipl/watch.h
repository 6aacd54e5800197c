/*
 * watch.h - what the watcher (progress.c) decides about a queue it serves
 * (a spun queue), apart from the looking: pure, so tests/unit checks it.
 */
#ifndef VIPL_WATCH_H
#define VIPL_WATCH_H

#include <stdbool.h>
#include <stdint.h>

/* Looks at which the program took completions itself before a spun queue
 * is let go. */
#define VIP_SPUN_MISSES 64

/*
 * One look at a spun queue: taken, the program was at the queue (it took
 * completions since the last look, or holds the queue's lock now); found,
 * this look's poll found work. Returns whether the watcher keeps serving
 * the queue.
 *
 * Only a look at which the program was not there and we found work
 * starts the count again. A spinner that dequeues with Done once it saw
 * DONE is there now and then; a program that polls its queue (a stream)
 * is there between nearly every two looks, while the watcher, woken by
 * each completion, also finds some: counting those as ours would keep
 * such a queue for good, a wake-up per completion.
 */
static inline bool vip_watch_keep(uint32_t *misses, bool taken, bool found)
{
	if (taken)
		return ++*misses <= VIP_SPUN_MISSES;
	if (found)
		*misses = 0;
	return true;
}

#endif
