/* consumer.c - a program built against the installed libvipl. */
#include <stdio.h>

#include <vipl.h>

int main(void)
{
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES attrs;

	if (VipOpenNic(NULL, &nic) != VIP_SUCCESS)
		return 1;
	if (VipQueryNic(nic, &attrs) != VIP_SUCCESS)
		return 2;
	printf("%s: max transfer %lu bytes\n", attrs.Name,
	       attrs.MaxTransferSize);
	return VipCloseNic(nic) == VIP_SUCCESS ? 0 : 3;
}
