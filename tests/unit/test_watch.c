/* test_watch.c - when the watcher lets a queue go (vipl/watch.h). */
#include <criterion/criterion.h>

#include "watch.h"

/* Looks until the queue is let go, at most max; taken and found at look
 * i as the pattern says. */
static int looks_until_let_go(int max, bool (*taken)(int), bool (*found)(int))
{
	uint32_t misses = 0;
	int i;

	for (i = 0; i < max; i++)
		if (!vip_watch_keep(&misses, taken(i), found(i)))
			return i + 1;
	return -1;
}

static bool always(int i)
{
	(void)i;
	return true;
}

static bool never(int i)
{
	(void)i;
	return false;
}

static bool every_fourth(int i)
{
	return i % 4 == 3;
}

static bool not_every_fourth(int i)
{
	return !every_fourth(i);
}

static bool every_tenth(int i)
{
	return i % 10 == 0;
}

/* A stream the program polls: it takes work between every two looks, and
 * the watcher, woken by each completion, finds some too. */
Test(watch, a_queue_the_program_polls_is_let_go_though_the_watcher_finds_work)
{
	cr_expect_eq(looks_until_let_go(100000, always, always),
		     VIP_SPUN_MISSES + 1);
	cr_expect_eq(looks_until_let_go(100000, always, every_tenth),
		     VIP_SPUN_MISSES + 1);
}

Test(watch, a_queue_the_program_polls_while_the_watcher_finds_nothing_is_let_go)
{
	cr_expect_eq(looks_until_let_go(100000, always, never),
		     VIP_SPUN_MISSES + 1);
}

/* A spinner that dequeues with Done once it saw DONE, and now and then
 * polls a completion in that way: the watcher keeps serving it. */
Test(watch, a_spinner_that_dequeues_with_done_is_kept)
{
	cr_expect_eq(looks_until_let_go(100000, every_fourth,
					not_every_fourth),
		     -1);
}

Test(watch, a_spinner_that_never_calls_done_is_kept)
{
	cr_expect_eq(looks_until_let_go(100000, never, always), -1);
	cr_expect_eq(looks_until_let_go(100000, never, never), -1);
}
