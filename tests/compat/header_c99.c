/* Compiled as C99 -pedantic: the header must be clean there too. */
#include <vipl.h>

int vipl_header_c99(void)
{
	VIP_DESCRIPTOR d;

	d.CS.Length = 0;
	d.Control.SegCount = 0;
	return (int)sizeof(d);
}
