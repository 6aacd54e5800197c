/* wire.c - build and parse the private data of wire.h. */
#include <errno.h>
#include <string.h>

#include "wire.h"

#define FLAG_RDMA_WRITE 0x1
#define FLAG_RDMA_READ 0x2

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

/* Milliseconds (-1: for ever) to the wire's 10 ms units, at least 1;
 * 0 for MAP_PATIENCE_UNKNOWN, as a sender that says nothing writes. */
static uint16_t patience_units(int32_t ms)
{
	if (ms == MAP_PATIENCE_UNKNOWN)
		return 0;
	if (ms < 0 || ms / WIRE_PATIENCE_UNIT_MS >= WIRE_PATIENCE_FOREVER)
		return WIRE_PATIENCE_FOREVER;
	return ms < WIRE_PATIENCE_UNIT_MS ? 1 : ms / WIRE_PATIENCE_UNIT_MS;
}

static int32_t patience_ms(uint16_t units)
{
	if (units == WIRE_PATIENCE_FOREVER)
		return -1;
	return units ? units * WIRE_PATIENCE_UNIT_MS : MAP_PATIENCE_UNKNOWN;
}

size_t wire_build(uint8_t *buf, enum wire_kind kind, uint8_t reason,
		  const struct map_conn_info *info)
{
	unsigned dl = 0, sl = 0;

	memset(buf, 0, WIRE_MAX_LEN);
	put16(buf, WIRE_MAGIC);
	buf[2] = WIRE_VERSION;
	buf[3] = kind;
	put16(buf + 4, info->level);
	buf[6] = (info->rdma_write ? FLAG_RDMA_WRITE : 0) |
		 (info->rdma_read ? FLAG_RDMA_READ : 0);
	buf[7] = reason;
	put32(buf + 8, info->max_transfer);
	if (kind == WIRE_REQUEST) {
		put16(buf + 14, patience_units(info->patience_ms));
		dl = info->disc_len < WIRE_DISC_MAX ? info->disc_len
						    : WIRE_DISC_MAX;
		sl = info->src_disc_len < WIRE_DISC_MAX ? info->src_disc_len
							: WIRE_DISC_MAX;
		memcpy(buf + WIRE_HEADER_LEN, info->disc, dl);
		memcpy(buf + WIRE_HEADER_LEN + dl, info->src_disc, sl);
	}
	buf[12] = dl;
	buf[13] = sl;
	return WIRE_HEADER_LEN + dl + sl;
}

int wire_parse(const void *data, size_t len, enum wire_kind *kind,
	       uint8_t *reason, struct map_conn_info *info)
{
	const uint8_t *buf = data;
	unsigned dl, sl;

	if (!buf || len < WIRE_HEADER_LEN)
		return EBADMSG;
	if (get16(buf) != WIRE_MAGIC || buf[2] != WIRE_VERSION)
		return EBADMSG;
	if (buf[3] < WIRE_REQUEST || buf[3] > WIRE_REJECT)
		return EBADMSG;
	if (buf[6] & ~(FLAG_RDMA_WRITE | FLAG_RDMA_READ))
		return EBADMSG;
	dl = buf[12];
	sl = buf[13];
	if (dl > WIRE_DISC_MAX || sl > WIRE_DISC_MAX ||
	    WIRE_HEADER_LEN + dl + sl > len)
		return EBADMSG;
	if (buf[3] != WIRE_REQUEST && (dl || sl))
		return EBADMSG;

	memset(info, 0, sizeof(*info));
	*kind = buf[3];
	*reason = buf[7];
	info->level = get16(buf + 4);
	info->rdma_write = buf[6] & FLAG_RDMA_WRITE;
	info->rdma_read = buf[6] & FLAG_RDMA_READ;
	info->max_transfer = get32(buf + 8);
	info->disc_len = dl;
	info->src_disc_len = sl;
	info->patience_ms = buf[3] == WIRE_REQUEST ? patience_ms(get16(buf + 14))
						   : MAP_PATIENCE_UNKNOWN;
	memcpy(info->disc, buf + WIRE_HEADER_LEN, dl);
	memcpy(info->src_disc, buf + WIRE_HEADER_LEN + dl, sl);
	return 0;
}
