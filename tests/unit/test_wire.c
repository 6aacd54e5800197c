/* test_wire.c - the connection private data format (mapping/wire.c). */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "wire.h"

static struct map_conn_info sample(void)
{
	struct map_conn_info i;

	memset(&i, 0, sizeof(i));
	i.level = VIP_SERVICE_RELIABLE_RECEPTION;
	i.max_transfer = 0x01020304;
	i.rdma_write = true;
	i.disc_len = 5;
	memcpy(i.disc, "hello", 5);
	i.src_disc_len = 2;
	memcpy(i.src_disc, "me", 2);
	return i;
}

Test(wire, request_round_trips_every_field)
{
	struct map_conn_info in = sample(), out;
	uint8_t buf[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	size_t len = wire_build(buf, WIRE_REQUEST, 0, &in);

	cr_assert_eq(len, WIRE_HEADER_LEN + 7);
	cr_assert_eq(wire_parse(buf, len, &kind, &reason, &out), 0);
	cr_expect_eq(kind, WIRE_REQUEST);
	cr_expect_eq(out.level, in.level);
	cr_expect_eq(out.max_transfer, in.max_transfer);
	cr_expect(out.rdma_write);
	cr_expect(!out.rdma_read);
	cr_expect_eq(out.disc_len, 5);
	cr_expect_eq(memcmp(out.disc, "hello", 5), 0);
	cr_expect_eq(out.src_disc_len, 2);
	cr_expect_eq(memcmp(out.src_disc, "me", 2), 0);
}

Test(wire, layout_is_big_endian_and_fixed)
{
	struct map_conn_info in = sample();
	uint8_t buf[WIRE_MAX_LEN];

	wire_build(buf, WIRE_REQUEST, 0, &in);
	cr_expect_eq(buf[0], 0x56);
	cr_expect_eq(buf[1], 0x49);
	cr_expect_eq(buf[2], WIRE_VERSION);
	cr_expect_eq(buf[3], WIRE_REQUEST);
	cr_expect_eq(buf[4], 0);
	cr_expect_eq(buf[5], VIP_SERVICE_RELIABLE_RECEPTION);
	cr_expect_eq(buf[6], 0x1);
	cr_expect_eq(buf[8], 1);
	cr_expect_eq(buf[11], 4);
	cr_expect_eq(buf[12], 5);
	cr_expect_eq(buf[13], 2);
	cr_expect_eq(memcmp(buf + 16, "hellome", 7), 0);
}

Test(wire, reject_carries_its_reason)
{
	struct map_conn_info none = { 0 }, out;
	uint8_t buf[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	size_t len = wire_build(buf, WIRE_REJECT, MAP_REJECT_LEVEL, &none);

	cr_assert_eq(wire_parse(buf, len, &kind, &reason, &out), 0);
	cr_expect_eq(kind, WIRE_REJECT);
	cr_expect_eq(reason, MAP_REJECT_LEVEL);
}

Test(wire, trailing_padding_is_accepted)
{
	struct map_conn_info in = sample(), out;
	uint8_t buf[56] = { 0 };
	enum wire_kind kind;
	uint8_t reason;

	wire_build(buf, WIRE_REQUEST, 0, &in);
	cr_expect_eq(wire_parse(buf, sizeof(buf), &kind, &reason, &out), 0);
}

Test(wire, malformed_messages_are_refused)
{
	struct map_conn_info in = sample(), out;
	uint8_t buf[WIRE_MAX_LEN], bad[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	size_t len = wire_build(buf, WIRE_REQUEST, 0, &in), i;

	cr_expect_eq(wire_parse(NULL, 0, &kind, &reason, &out), EBADMSG);
	for (i = 0; i < len; i++) /* every truncation */
		cr_expect_eq(wire_parse(buf, i, &kind, &reason, &out), EBADMSG,
			     "length %zu", i);
	memcpy(bad, buf, len);
	bad[0] ^= 1; /* magic */
	cr_expect_eq(wire_parse(bad, len, &kind, &reason, &out), EBADMSG);
	memcpy(bad, buf, len);
	bad[2] = 2; /* a version we do not know */
	cr_expect_eq(wire_parse(bad, len, &kind, &reason, &out), EBADMSG);
	memcpy(bad, buf, len);
	bad[3] = 9; /* kind */
	cr_expect_eq(wire_parse(bad, len, &kind, &reason, &out), EBADMSG);
	memcpy(bad, buf, len);
	bad[6] = 0x80; /* unknown flag */
	cr_expect_eq(wire_parse(bad, len, &kind, &reason, &out), EBADMSG);
	memcpy(bad, buf, len);
	bad[12] = WIRE_DISC_MAX + 1; /* discriminator too long */
	cr_expect_eq(wire_parse(bad, sizeof(bad), &kind, &reason, &out),
		     EBADMSG);
	memcpy(bad, buf, len);
	bad[3] = WIRE_ACCEPT; /* an accept carries no discriminator */
	cr_expect_eq(wire_parse(bad, len, &kind, &reason, &out), EBADMSG);
}

Test(wire, discriminators_pick_stable_ports_in_range)
{
	uint16_t a = map_disc_port((const uint8_t *)"abc", 3);
	uint16_t b = map_disc_port((const uint8_t *)"abd", 3);

	cr_expect_eq(a, map_disc_port((const uint8_t *)"abc", 3));
	cr_expect_neq(a, b);
	cr_expect_geq(a, 20000);
	cr_expect_lt(a, 20000 + 8192);
	cr_expect_geq(map_disc_port(NULL, 0), 20000);
}

/* A request says how long its requester waits: 10 ms units at offset 14,
 * 0xffff for ever; a sender that wrote 0 there said nothing. */
static int32_t patience_through_wire(int32_t ms, uint16_t *raw)
{
	struct map_conn_info in = sample(), out;
	uint8_t buf[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	size_t len;

	in.patience_ms = ms;
	len = wire_build(buf, WIRE_REQUEST, 0, &in);
	*raw = (uint16_t)(buf[14] << 8 | buf[15]);
	cr_assert_eq(wire_parse(buf, len, &kind, &reason, &out), 0);
	return out.patience_ms;
}

Test(wire, a_request_carries_its_requesters_patience)
{
	struct map_conn_info in = sample(), out;
	uint8_t buf[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	uint16_t raw;
	size_t len;

	cr_expect_eq(patience_through_wire(5000, &raw), 5000);
	cr_expect_eq(raw, 500);
	cr_expect_eq(patience_through_wire(-1, &raw), -1);
	cr_expect_eq(raw, 0xffff);
	cr_expect_eq(patience_through_wire(3, &raw), 10); /* at least a unit */
	cr_expect_eq(patience_through_wire(700000, &raw), -1); /* past 655 s */
	cr_expect_eq(patience_through_wire(MAP_PATIENCE_UNKNOWN, &raw),
		     MAP_PATIENCE_UNKNOWN);
	cr_expect_eq(raw, 0);
	/* An older sender's zero, and answers, say nothing. */
	len = wire_build(buf, WIRE_REQUEST, 0, &in);
	buf[14] = buf[15] = 0;
	cr_assert_eq(wire_parse(buf, len, &kind, &reason, &out), 0);
	cr_expect_eq(out.patience_ms, MAP_PATIENCE_UNKNOWN);
	len = wire_build(buf, WIRE_ACCEPT, 0, &in);
	cr_expect_eq(buf[14] | buf[15], 0);
	cr_assert_eq(wire_parse(buf, len, &kind, &reason, &out), 0);
	cr_expect_eq(out.patience_ms, MAP_PATIENCE_UNKNOWN);
}
