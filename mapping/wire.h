/*
 * wire.h - what libvipl puts in rdma_cm private data.
 *
 * Every connection message (request, accept, reject) starts with this
 * 16-byte header, multi-byte fields big-endian:
 *
 *   off size field
 *     0    2 magic          0x5649 ("VI")
 *     2    1 version        WIRE_VERSION (1)
 *     3    1 kind           WIRE_REQUEST, WIRE_ACCEPT, WIRE_REJECT
 *     4    2 level          VIP_RELIABILITY_LEVEL of the sender's VI
 *     6    1 flags          bit 0 RDMA write enabled, bit 1 RDMA read
 *     7    1 reason         enum map_reject_reason on a reject, else 0
 *     8    4 max_transfer   sender's VI MaxTransferSize
 *    12    1 disc_len       discriminator the request is addressed to
 *    13    1 src_disc_len   requester's own discriminator
 *    14    2 patience       requests: how long the requester waits for
 *                           an answer, in units of 10 ms (WIRE_PATIENCE_
 *                           FOREVER: no limit; 0: not said, as senders
 *                           before it wrote); else 0
 *    16    n disc bytes, then src_disc bytes (requests only)
 *
 * A connect request carries at most 56 bytes of private data (rdma_cm over
 * IB CM), so the two discriminators share 40 bytes: WIRE_DISC_MAX each.
 * rdma_cm pads private data with zeros, so a reader accepts trailing bytes.
 * A later version may append fields after the discriminators; version 1
 * readers refuse any other version rather than guess.
 */
#ifndef VIPL_WIRE_H
#define VIPL_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "mapping.h"

#define WIRE_MAGIC 0x5649
#define WIRE_VERSION 1
#define WIRE_HEADER_LEN 16
#define WIRE_DISC_MAX 16
#define WIRE_MAX_LEN (WIRE_HEADER_LEN + 2 * WIRE_DISC_MAX)
#define WIRE_PATIENCE_UNIT_MS 10
#define WIRE_PATIENCE_FOREVER 0xffff

enum wire_kind {
	WIRE_REQUEST = 1,
	WIRE_ACCEPT = 2,
	WIRE_REJECT = 3,
};

/* Writes a message into buf (WIRE_MAX_LEN bytes); returns its length. */
size_t wire_build(uint8_t *buf, enum wire_kind kind, uint8_t reason,
		  const struct map_conn_info *info);

/* Checks every field and length; returns 0, or EBADMSG for anything that
 * is not a well-formed message of this version. */
int wire_parse(const void *buf, size_t len, enum wire_kind *kind,
	       uint8_t *reason, struct map_conn_info *info);

#endif /* VIPL_WIRE_H */
