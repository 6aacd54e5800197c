/* test_events.c - device events: verbs type -> our kind -> VIPL error. */
#include <infiniband/verbs.h>

#include <criterion/criterion.h>

#include "internal.h"

Test(events, verbs_types_map_to_our_kinds)
{
	cr_expect_eq(map_event_kind(IBV_EVENT_PORT_ERR), MAP_EV_PORT_DOWN);
	cr_expect_eq(map_event_kind(IBV_EVENT_PORT_ACTIVE), MAP_EV_PORT_UP);
	cr_expect_eq(map_event_kind(IBV_EVENT_DEVICE_FATAL),
		     MAP_EV_DEVICE_FATAL);
	cr_expect_eq(map_event_kind(IBV_EVENT_CQ_ERR), MAP_EV_CQ_ERROR);
	/* QP errors are reported through the descriptors they fail. */
	cr_expect_eq(map_event_kind(IBV_EVENT_QP_FATAL), MAP_EV_IGNORED);
	cr_expect_eq(map_event_kind(IBV_EVENT_QP_ACCESS_ERR), MAP_EV_IGNORED);
	cr_expect_eq(map_event_kind(IBV_EVENT_GID_CHANGE), MAP_EV_IGNORED);
	cr_expect_eq(map_event_kind(-1), MAP_EV_IGNORED);
}

Test(events, errors_reach_the_callback_with_vipl_codes)
{
	VIP_RESOURCE_CODE r;
	VIP_ERROR_CODE c;

	cr_assert(vip_event_error(MAP_EV_PORT_DOWN, &r, &c));
	cr_expect_eq(r, VIP_RESOURCE_NIC);
	cr_expect_eq(c, VIP_ERROR_CONN_LOST);
	cr_assert(vip_event_error(MAP_EV_DEVICE_FATAL, &r, &c));
	cr_expect_eq(r, VIP_RESOURCE_NIC);
	cr_expect_eq(c, VIP_ERROR_CATASTROPHIC);
	cr_assert(vip_event_error(MAP_EV_CQ_ERROR, &r, &c));
	cr_expect_eq(r, VIP_RESOURCE_CQ);
	cr_expect_eq(c, VIP_ERROR_CATASTROPHIC);
	cr_expect_not(vip_event_error(MAP_EV_PORT_UP, &r, &c));
	cr_expect_not(vip_event_error(MAP_EV_IGNORED, &r, &c));
}
