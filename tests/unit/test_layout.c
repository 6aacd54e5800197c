/* test_layout.c - the binary layout every VIA program relies on. */
#include <stddef.h>

#include <criterion/criterion.h>

#include <vipl.h>

/* Checked at compile time; the test below reports them in the suite. */
_Static_assert(sizeof(VIP_CONTROL_SEGMENT) == 32, "control segment");
_Static_assert(sizeof(VIP_DATA_SEGMENT) == 16, "data segment");
_Static_assert(sizeof(VIP_ADDRESS_SEGMENT) == 16, "address segment");
_Static_assert(sizeof(VIP_DESCRIPTOR_SEGMENT) == 16, "segment union");
_Static_assert(sizeof(VIP_PVOID64) == 8, "64-bit address");
_Static_assert(sizeof(VIP_DESCRIPTOR) == 64, "descriptor");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, Next) == 0, "Next");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, NextHandle) == 8, "NextHandle");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, SegCount) == 12, "SegCount");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, Control) == 14, "Control");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, Reserved) == 16, "Reserved");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, ImmediateData) == 20, "Imm");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, Length) == 24, "Length");
_Static_assert(offsetof(VIP_CONTROL_SEGMENT, Status) == 28, "Status");
_Static_assert(offsetof(VIP_DATA_SEGMENT, Handle) == 8, "Handle");
_Static_assert(offsetof(VIP_DATA_SEGMENT, Length) == 12, "Length");
_Static_assert(offsetof(VIP_DESCRIPTOR, DS) == 32, "DS");
_Static_assert(offsetof(VIP_DESCRIPTOR, Data) == 32, "Data");
_Static_assert(sizeof(VIP_MEM_HANDLE) == 4, "memory handle");

Test(layout, both_dialects_name_the_same_bytes)
{
	VIP_DESCRIPTOR d;

	cr_expect_eq((void *)&d.CS, (void *)&d.Control);
	cr_expect_eq((void *)&d.DS[0].Local, (void *)&d.Data[0]);
	cr_expect_eq((void *)&d.DS[1].Local.Length, (void *)&d.Data[1].Length);
	cr_expect_eq(offsetof(VIP_DESCRIPTOR, DS[1]), 48);
	cr_expect_eq(sizeof(VIP_DESCRIPTOR), 64);
	cr_expect_eq(sizeof(VIP_CONTROL_SEGMENT), 32);
}

Test(layout, constants_have_their_historical_values)
{
	cr_expect_eq(VIP_SUCCESS, 0);
	cr_expect_eq(VIP_NO_MATCH, 14);
	cr_expect_eq(VIP_NOT_REACHABLE, 15);
	cr_expect_eq(VIP_ERROR_NOT_SUPPORTED, 16);
	cr_expect_eq(VIP_ERROR, 17);
	cr_expect_eq(VIP_STATUS_ERROR_MASK, 0x1FE);
	cr_expect_eq(VIP_STATUS_OP_MASK, 0x70000);
	cr_expect_eq(VIP_CONTROL_RESERVED, 0xFFF0);
	cr_expect_eq(VIP_SERVICE_DFC, 0x8000);
	cr_expect_eq(VIP_DESCRIPTOR_ALIGNMENT, 64);
	cr_expect_eq(VIP_INFINITE, 0xFFFFFFFFul);
	cr_expect_eq(VIP_STATE_ERROR, 3);
	cr_expect_eq(VIP_ERROR_CATASTROPHIC, 10);
}
