/* test_handle.c - handles: stale, forged and wrong-kind lookups miss. */
#include <pthread.h>
#include <time.h>

#include <criterion/criterion.h>

#include "internal.h"

Test(handle, lookup_finds_the_object_of_its_kind_only)
{
	int obj;
	void *h = vip_handle_new(VIP_KIND_VI, &obj);

	cr_assert_not_null(h);
	cr_expect_eq(vip_handle_get(h, VIP_KIND_VI), &obj);
	cr_expect_null(vip_handle_get(h, VIP_KIND_NIC));
	cr_expect_null(vip_handle_get(h, VIP_KIND_CQ));
	vip_handle_free(h);
}

Test(handle, freed_handles_stay_stale_when_the_slot_is_reused)
{
	int a, b;
	void *ha = vip_handle_new(VIP_KIND_CQ, &a), *hb;

	vip_handle_free(ha);
	cr_expect_null(vip_handle_get(ha, VIP_KIND_CQ));
	hb = vip_handle_new(VIP_KIND_CQ, &b); /* same slot, new generation */
	cr_expect_neq(ha, hb);
	cr_expect_null(vip_handle_get(ha, VIP_KIND_CQ));
	cr_expect_eq(vip_handle_get(hb, VIP_KIND_CQ), &b);
	vip_handle_free(ha); /* double free of a stale handle: no effect */
	cr_expect_eq(vip_handle_get(hb, VIP_KIND_CQ), &b);
	vip_handle_free(hb);
}

Test(handle, forged_values_miss)
{
	int x;

	cr_expect_null(vip_handle_get(NULL, VIP_KIND_NIC));
	cr_expect_null(vip_handle_get(&x, VIP_KIND_NIC));
	cr_expect_null(vip_handle_get((void *)~0ul, VIP_KIND_NIC));
	cr_expect_null(vip_handle_get((void *)0x0000010100000001ul,
				      VIP_KIND_NIC));
	cr_expect_null(vip_handle_get((void *)0x00000101fffffffful,
				      VIP_KIND_NIC));
}

Test(handle, thousands_of_handles_are_distinct)
{
	enum { N = 10000 };
	static void *h[N];
	static int obj[N];
	int i;

	for (i = 0; i < N; i++)
		h[i] = vip_handle_new(VIP_KIND_PTAG, &obj[i]);
	for (i = 0; i < N; i++)
		cr_assert_eq(vip_handle_get(h[i], VIP_KIND_PTAG), &obj[i]);
	for (i = 0; i < N; i++)
		vip_handle_free(h[i]);
	for (i = 0; i < N; i++)
		cr_assert_null(vip_handle_get(h[i], VIP_KIND_PTAG));
}

/* A holder that lets go after a while (the Wait calls hold their VI). */
struct holder {
	void *h;
	atomic_bool released;
};

static void *release_later(void *arg)
{
	struct holder *ho = arg;
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	nanosleep(&pause, NULL);
	atomic_store(&ho->released, true);
	vip_handle_release(ho->h);
	return NULL;
}

Test(handle, free_waits_for_holders_and_stale_handles_cannot_be_held)
{
	int obj;
	struct holder ho = { vip_handle_new(VIP_KIND_VI, &obj), false };
	pthread_t t;

	cr_assert_not_null(ho.h);
	cr_assert_eq(vip_handle_hold(ho.h, VIP_KIND_VI), &obj);
	cr_expect_null(vip_handle_hold(ho.h, VIP_KIND_CQ), "wrong kind");
	cr_assert_eq(pthread_create(&t, NULL, release_later, &ho), 0);
	vip_handle_free(ho.h);
	cr_expect(atomic_load(&ho.released), "freed while held");
	cr_expect_null(vip_handle_hold(ho.h, VIP_KIND_VI));
	cr_expect_null(vip_handle_get(ho.h, VIP_KIND_VI));
	pthread_join(t, NULL);
	cr_expect_null(vip_handle_hold(NULL, VIP_KIND_VI));
}
