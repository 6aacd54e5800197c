/* test_desc.c - descriptor checks and completion statuses (pure logic). */
#include <string.h>

#include <criterion/criterion.h>

#include "internal.h"

static _Alignas(64) unsigned char storage[256];

static VIP_DESCRIPTOR *desc(unsigned nseg, const unsigned *lens)
{
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)storage;
	VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	unsigned i, total = 0;

	memset(storage, 0, sizeof(storage));
	d->CS.SegCount = nseg;
	for (i = 0; i < nseg; i++) {
		seg[i].Local.Length = lens[i];
		total += lens[i];
	}
	d->CS.Length = total;
	return d;
}

Test(desc, send_lengths_must_add_up)
{
	unsigned lens[3] = { 10, 20, 30 };
	VIP_DESCRIPTOR *d = desc(3, lens);

	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_SUCCESS);
	d->CS.Length = 59;
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_DESCRIPTOR_ERROR);
}

Test(desc, zero_length_send_is_legal)
{
	VIP_DESCRIPTOR *d = desc(0, NULL);

	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_SUCCESS);
	cr_expect_eq(vip_desc_check_recv(d, 16), VIP_SUCCESS);
}

Test(desc, too_many_segments_or_bytes_are_errors)
{
	unsigned lens[4] = { 1, 1, 1, 1 };
	VIP_DESCRIPTOR *d = desc(4, lens);

	cr_expect_eq(vip_desc_check_send(d, 3, 1000), VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(vip_desc_check_recv(d, 3), VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(vip_desc_check_send(d, 4, 3), VIP_DESCRIPTOR_ERROR);
	cr_expect_eq(vip_desc_check_send(d, 4, 4), VIP_SUCCESS);
}

Test(desc, reserved_control_bits_are_errors)
{
	VIP_DESCRIPTOR *d = desc(0, NULL);

	d->CS.Control = 0x0010;
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_DESCRIPTOR_ERROR);
	d->CS.Control = VIP_CONTROL_OP_RESERVED;
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_DESCRIPTOR_ERROR);
	d->CS.Control = VIP_CONTROL_IMMEDIATE | VIP_CONTROL_QFENCE;
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_SUCCESS);
	d->CS.Control = VIP_CONTROL_OP_RDMAREAD;
	cr_expect_eq(vip_desc_check_recv(d, 16), VIP_DESCRIPTOR_ERROR);
}

Test(desc, rdma_needs_its_address_segment)
{
	unsigned lens[2] = { 999, 64 };
	VIP_DESCRIPTOR *d = desc(0, NULL);

	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_DESCRIPTOR_ERROR);
	d = desc(2, lens);
	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	d->CS.Length = 64; /* the address segment carries no data */
	cr_expect_eq(vip_desc_check_send(d, 16, 1000), VIP_SUCCESS);
}

Test(desc, send_check_tells_whether_segments_lie_in_a_region)
{
	static uint8_t mem[4096];
	struct vip_desc_region r = { .key = 7, .start = mem, .len = 1024 };
	unsigned lens[3] = { 0, 100, 100 };
	VIP_DESCRIPTOR *d = desc(3, lens);
	VIP_DESCRIPTOR_SEGMENT *seg = map_desc_segs(d);
	bool inside = false;

	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	/* The address segment names the peer's memory: never looked at. */
	seg[0].Remote.Handle = 99;
	seg[1].Local.Handle = seg[2].Local.Handle = 7;
	seg[1].Local.Data.Address = mem;
	seg[2].Local.Data.Address = mem + 924; /* ends at the region's end */
	cr_expect_eq(vip_desc_check_send_in(d, 16, 1000, &r, &inside),
		     VIP_SUCCESS);
	cr_expect(inside);
	seg[2].Local.Data.Address = mem + 925; /* one byte past it */
	cr_expect_eq(vip_desc_check_send_in(d, 16, 1000, &r, &inside),
		     VIP_SUCCESS);
	cr_expect_not(inside);
	seg[2].Local.Data.Address = mem + 100;
	seg[2].Local.Handle = 8; /* another region's key */
	cr_expect_eq(vip_desc_check_send_in(d, 16, 1000, &r, &inside),
		     VIP_SUCCESS);
	cr_expect_not(inside);
}

Test(desc, completion_status_names_done_and_the_operation)
{
	VIP_DESCRIPTOR *d = desc(0, NULL);

	cr_expect_eq(vip_desc_status(d, false, 0),
		     VIP_STATUS_DONE | VIP_STATUS_OP_SEND);
	d->CS.Control = VIP_CONTROL_OP_RDMAWRITE;
	cr_expect_eq(vip_desc_status(d, false, 0),
		     VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_WRITE);
	d->CS.Control = VIP_CONTROL_OP_RDMAREAD;
	cr_expect_eq(vip_desc_status(d, false, VIP_STATUS_TRANSPORT_ERROR),
		     VIP_STATUS_DONE | VIP_STATUS_OP_RDMA_READ |
			     VIP_STATUS_TRANSPORT_ERROR);
	cr_expect_eq(vip_desc_status(d, true, VIP_STATUS_IMMEDIATE),
		     VIP_STATUS_DONE | VIP_STATUS_OP_RECEIVE |
			     VIP_STATUS_IMMEDIATE);
	cr_expect_eq(vip_desc_status(d, true, VIP_STATUS_OP_REMOTE_RDMA_WRITE |
						      VIP_STATUS_IMMEDIATE),
		     VIP_STATUS_DONE | VIP_STATUS_OP_REMOTE_RDMA_WRITE |
			     VIP_STATUS_IMMEDIATE);
}

Test(status, verbs_completion_codes_map_to_vipl_bits)
{
	cr_expect_eq(map_wc_status_to_vip(0 /* IBV_WC_SUCCESS */), 0);
	cr_expect_eq(map_wc_status_to_vip(1 /* LOC_LEN_ERR */),
		     VIP_STATUS_LENGTH_ERROR);
	cr_expect_eq(map_wc_status_to_vip(4 /* LOC_PROT_ERR */),
		     VIP_STATUS_PROTECTION_ERROR);
	cr_expect_eq(map_wc_status_to_vip(5 /* WR_FLUSH_ERR */),
		     VIP_STATUS_DESC_FLUSHED_ERROR);
	cr_expect_eq(map_wc_status_to_vip(10 /* REM_ACCESS_ERR */),
		     VIP_STATUS_RDMA_PROT_ERROR);
	cr_expect_eq(map_wc_status_to_vip(12 /* RETRY_EXC_ERR */),
		     VIP_STATUS_TRANSPORT_ERROR);
	cr_expect_eq(map_wc_status_to_vip(13 /* RNR_RETRY_EXC_ERR */),
		     VIP_STATUS_REMOTE_DESC_ERROR);
	/* Unknown codes never read as success. */
	cr_expect_eq(map_wc_status_to_vip(999), VIP_STATUS_TRANSPORT_ERROR);
	cr_expect_eq(map_wc_status_to_vip(-1), VIP_STATUS_TRANSPORT_ERROR);
}

Test(errors_table, errno_values_map_to_vip_codes)
{
	cr_expect_eq(vip_from_errno(0), VIP_SUCCESS);
	cr_expect_eq(vip_from_errno(22 /* EINVAL */), VIP_INVALID_PARAMETER);
	cr_expect_eq(vip_from_errno(-12 /* -ENOMEM */), VIP_ERROR_RESOURCE);
	cr_expect_eq(vip_from_errno(110 /* ETIMEDOUT */), VIP_TIMEOUT);
	cr_expect_eq(vip_timeout_ms(VIP_INFINITE), -1);
	cr_expect_eq(vip_timeout_ms(~0ul), -1);
	cr_expect_eq(vip_timeout_ms(0), 0);
	cr_expect_eq(vip_timeout_ms(1500), 1500);
}

Test(addr, host_length_and_discriminator_are_checked)
{
	_Alignas(8) unsigned char raw[64] = { 0 };
	VIP_NET_ADDRESS *a = (VIP_NET_ADDRESS *)raw;

	a->HostAddressLen = 4;
	a->DiscriminatorLen = 3;
	memcpy(a->HostAddress, "\x0a\x00\x00\x01" "abc", 7);
	cr_expect(vip_addr_valid(a, 16));
	cr_expect_eq(memcmp(vip_addr_disc(a), "abc", 3), 0);
	a->HostAddressLen = 16;
	cr_expect(vip_addr_valid(a, 16));
	a->HostAddressLen = 6;
	cr_expect(!vip_addr_valid(a, 16));
	a->HostAddressLen = 4;
	a->DiscriminatorLen = 17;
	cr_expect(!vip_addr_valid(a, 16));
	cr_expect(!vip_addr_valid(NULL, 16));
}
