/* addr.c - VIP_NET_ADDRESS: host address bytes, then the discriminator. */
#include "internal.h"

bool vip_addr_valid(const VIP_NET_ADDRESS *a, unsigned int max_disc)
{
	if (!a)
		return false;
	/* 4 (IPv4) or 16 (IPv6) bytes; 0 means "this NIC's own address". */
	if (a->HostAddressLen != 0 && a->HostAddressLen != 4 &&
	    a->HostAddressLen != 16)
		return false;
	return a->DiscriminatorLen <= max_disc;
}

const uint8_t *vip_addr_disc(const VIP_NET_ADDRESS *a)
{
	return a->HostAddress + a->HostAddressLen;
}
