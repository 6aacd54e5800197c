// Compiled as C++11 -pedantic: C++ VIA programs include the same header.
#include <vipl.h>

static_assert(sizeof(VIP_DESCRIPTOR) == 64, "descriptor layout");
static_assert(sizeof(VIP_CONTROL_SEGMENT) == 32, "control segment");

int vipl_header_cxx(void)
{
	VIP_DESCRIPTOR d = VIP_DESCRIPTOR();
	VIP_DESCRIPTOR copy = d; // programs copy descriptor templates

	copy.CS.Length = 1;
	return copy.Control.Length == 1 ? 0 : 1;
}
