/*
 * fuzz_wire.c - libFuzzer target for the connection private data parser
 * (mapping/wire.c). The bytes come from the peer, so wire_parse() must
 * refuse anything malformed without reading past len, and whatever it
 * accepts must mean exactly what wire_build() would send for it.
 *
 * Built by tests/fuzz/run.sh. The same file with -DFUZZ_WIRE_SEEDS is the
 * program that writes the seed corpus (valid messages of every kind), so
 * the seeds follow the format when it changes and git keeps no binaries.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

#ifdef FUZZ_WIRE_SEEDS /* write valid messages into the directory argv[1] */

static int seed_no;

static void seed_write(const char *dir, const uint8_t *buf, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/seed-%02d", dir, seed_no++);
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f)) {
		perror(path);
		exit(1);
	}
}

static void seed(const char *dir, enum wire_kind kind, uint8_t reason,
		 unsigned dl, unsigned sl, bool padded)
{
	struct map_conn_info i;
	uint8_t buf[56] = { 0 }; /* what rdma_cm delivers for a request */
	size_t len;

	memset(&i, 0, sizeof(i));
	i.level = kind == WIRE_REQUEST ? VIP_SERVICE_RELIABLE_DELIVERY
				       : VIP_SERVICE_RELIABLE_RECEPTION;
	i.max_transfer = 1u << 20;
	i.rdma_write = dl & 1;
	i.rdma_read = sl & 1;
	i.disc_len = dl;
	memcpy(i.disc, "discriminator-ab", dl);
	i.src_disc_len = sl;
	memcpy(i.src_disc, "0123456789abcdef", sl);
	len = wire_build(buf, kind, reason, &i);
	seed_write(dir, buf, padded ? sizeof(buf) : len);
}

int main(int argc, char **argv)
{
	static const unsigned discs[][2] = {
		{ 0, 0 }, { 5, 2 }, { 1, 16 }, { 16, 0 }, { 16, 16 },
	};
	unsigned d, r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR\n", argv[0]);
		return 2;
	}
	for (d = 0; d < sizeof(discs) / sizeof(discs[0]); d++) {
		seed(argv[1], WIRE_REQUEST, 0, discs[d][0], discs[d][1], false);
		seed(argv[1], WIRE_REQUEST, 0, discs[d][0], discs[d][1], true);
	}
	seed(argv[1], WIRE_ACCEPT, 0, 0, 0, false);
	seed(argv[1], WIRE_ACCEPT, 0, 0, 0, true);
	for (r = MAP_REJECT_BY_PEER; r <= MAP_REJECT_RDMA_READ; r++)
		seed(argv[1], WIRE_REJECT, r, 0, 0, false);
	return 0;
}

#else /* the fuzz target */

/* abort() rather than assert(): the check must survive -DNDEBUG. */
#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			abort();                                               \
		}                                                              \
	} while (0)

static void check_fields(enum wire_kind kind, const struct map_conn_info *i)
{
	CHECK(kind >= WIRE_REQUEST && kind <= WIRE_REJECT);
	CHECK(i->disc_len <= WIRE_DISC_MAX);
	CHECK(i->src_disc_len <= WIRE_DISC_MAX);
	/* Only a request addresses a discriminator (wire.h). */
	CHECK(kind == WIRE_REQUEST || (!i->disc_len && !i->src_disc_len));
}

static void check_same(const struct map_conn_info *a,
		       const struct map_conn_info *b)
{
	CHECK(a->level == b->level);
	CHECK(a->max_transfer == b->max_transfer);
	CHECK(a->rdma_write == b->rdma_write);
	CHECK(a->rdma_read == b->rdma_read);
	CHECK(a->disc_len == b->disc_len);
	CHECK(a->src_disc_len == b->src_disc_len);
	CHECK(!memcmp(a->disc, b->disc, a->disc_len));
	CHECK(!memcmp(a->src_disc, b->src_disc, a->src_disc_len));
	CHECK(a->patience_ms == b->patience_ms);
}

/*
 * An accepted message, rebuilt, must give the same bytes (all but trailing
 * padding, and bytes 14-15 of an answer, which only a request uses) and
 * parse back to the same fields.
 */
static void check_round_trip(const uint8_t *data, size_t len,
			     enum wire_kind kind, uint8_t reason,
			     const struct map_conn_info *info)
{
	uint8_t buf[WIRE_MAX_LEN];
	struct map_conn_info again;
	enum wire_kind kind2;
	uint8_t reason2;
	size_t n, body = (size_t)info->disc_len + info->src_disc_len;

	CHECK(WIRE_HEADER_LEN + body <= len);
	n = wire_build(buf, kind, reason, info);
	CHECK(n == WIRE_HEADER_LEN + body);
	CHECK(!memcmp(buf, data, 14));
	if (kind == WIRE_REQUEST)
		CHECK(!memcmp(buf + 14, data + 14, 2)); /* the patience */
	else
		CHECK(!buf[14] && !buf[15]);
	CHECK(!memcmp(buf + WIRE_HEADER_LEN, data + WIRE_HEADER_LEN, body));
	CHECK(wire_parse(buf, n, &kind2, &reason2, &again) == 0);
	CHECK(kind2 == kind);
	CHECK(reason2 == reason);
	check_same(info, &again);
}

/*
 * The other direction: whatever we send parses back. The input, read as
 * a map_conn_info, covers discriminators longer than fit (wire_build
 * clamps them to WIRE_DISC_MAX).
 */
static void check_build(const uint8_t *data, size_t len)
{
	struct map_conn_info in, out;
	uint8_t buf[WIRE_MAX_LEN];
	enum wire_kind kind;
	uint8_t reason;
	size_t n;

	if (len < 12)
		return;
	memset(&in, 0, sizeof(in));
	in.level = (uint16_t)(data[0] << 8 | data[1]);
	in.max_transfer = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
			  (uint32_t)data[4] << 8 | data[5];
	in.rdma_write = data[6] & 1;
	in.rdma_read = data[6] & 2;
	in.disc_len = data[7] % (sizeof(in.disc) + 1);
	in.src_disc_len = data[8] % (sizeof(in.src_disc) + 1);
	/* Any patience, for ever (-1) and not said (-2) included. */
	in.patience_ms = (int32_t)((uint32_t)data[11] << 16 | data[10] << 8 |
				   data[9]) - 2;
	memcpy(in.disc, data, len < sizeof(in.disc) ? len : sizeof(in.disc));
	memcpy(in.src_disc, data + len / 2,
	       len - len / 2 < sizeof(in.src_disc) ? len - len / 2
						   : sizeof(in.src_disc));
	n = wire_build(buf, WIRE_REQUEST + data[9] % 3, data[10], &in);
	CHECK(n <= WIRE_MAX_LEN);
	CHECK(wire_parse(buf, n, &kind, &reason, &out) == 0);
	check_fields(kind, &out);
	CHECK(kind == WIRE_REQUEST + data[9] % 3);
	CHECK(reason == data[10]);
	CHECK(out.level == in.level && out.max_transfer == in.max_transfer);
	CHECK(out.rdma_write == in.rdma_write && out.rdma_read == in.rdma_read);
	if (kind != WIRE_REQUEST)
		return;
	CHECK(out.disc_len == (in.disc_len < WIRE_DISC_MAX ? in.disc_len
							   : WIRE_DISC_MAX));
	CHECK(!memcmp(out.disc, in.disc, out.disc_len));
	CHECK(out.src_disc_len == (in.src_disc_len < WIRE_DISC_MAX
					   ? in.src_disc_len
					   : WIRE_DISC_MAX));
	CHECK(!memcmp(out.src_disc, in.src_disc, out.src_disc_len));
	/* In 10 ms units, at least one; past 655 s or -1: for ever. */
	if (in.patience_ms == MAP_PATIENCE_UNKNOWN || in.patience_ms == -1)
		CHECK(out.patience_ms == in.patience_ms);
	else if (in.patience_ms / WIRE_PATIENCE_UNIT_MS >= WIRE_PATIENCE_FOREVER)
		CHECK(out.patience_ms == -1);
	else
		CHECK(out.patience_ms ==
		      (in.patience_ms < WIRE_PATIENCE_UNIT_MS
			       ? WIRE_PATIENCE_UNIT_MS
			       : in.patience_ms / WIRE_PATIENCE_UNIT_MS *
					 WIRE_PATIENCE_UNIT_MS));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct map_conn_info info;
	enum wire_kind kind;
	uint8_t reason;
	/* A copy of exactly len bytes: ASan then catches any read past it. */
	uint8_t *copy = malloc(len ? len : 1);

	if (!copy)
		return 0;
	memcpy(copy, data, len);
	if (wire_parse(copy, len, &kind, &reason, &info) == 0) {
		check_fields(kind, &info);
		check_round_trip(copy, len, kind, reason, &info);
	}
	check_build(copy, len);
	free(copy);
	return 0;
}

#endif /* FUZZ_WIRE_SEEDS */
