/*
 * dialect_intel.c - written as Intel/M-VIA era code: CS/DS spelling,
 * explicit memory attributes, an RDMA write with its address segment,
 * descriptors chained by CS.Next. Built (and linked) by the test suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>

static void build_rdma_write(VIP_DESCRIPTOR *desc, VIP_MEM_HANDLE local_mh,
			     void *local, VIP_MEM_HANDLE remote_mh,
			     VIP_UINT64 remote, VIP_UINT32 len)
{
	desc->CS.Control = VIP_CONTROL_OP_RDMAWRITE | VIP_CONTROL_IMMEDIATE;
	desc->CS.SegCount = 2;
	desc->CS.Length = len;
	desc->CS.ImmediateData = 42;
	desc->CS.Next.Address = NULL;
	desc->DS[0].Remote.Data.AddressBits = remote;
	desc->DS[0].Remote.Handle = remote_mh;
	desc->DS[1].Local.Data.Address = local;
	desc->DS[1].Local.Handle = local_mh;
	desc->DS[1].Local.Length = len;
}

int main(int argc, char **argv)
{
	VIP_NIC_HANDLE nic;
	VIP_NIC_ATTRIBUTES attrs;
	VIP_PROTECTION_HANDLE ptag;
	VIP_MEM_ATTRIBUTES mattrs;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *desc;
	char *region;

	(void)argv;
	if (argc > 1)
		return 0; /* built, not run, by default */
	if (VipOpenNic(NULL, &nic) != VIP_SUCCESS)
		return 1;
	VipQueryNic(nic, &attrs);
	VipCreatePtag(nic, &ptag);
	mattrs.Ptag = ptag;
	mattrs.EnableRdmaWrite = VIP_TRUE;
	mattrs.EnableRdmaRead = VIP_FALSE;
	region = aligned_alloc(VIP_DESCRIPTOR_ALIGNMENT, 8192);
	VipRegisterMem(nic, region, 8192, &mattrs, &mh);
	desc = (VIP_DESCRIPTOR *)region;
	build_rdma_write(desc, mh, region + 4096, mh,
			 (VIP_UINT64)(unsigned long)(region + 6144), 128);
	printf("%s: descriptor of %u segments\n", attrs.Name,
	       (unsigned)desc->CS.SegCount);
	VipDeregisterMem(nic, region, mh);
	VipDestroyPtag(nic, ptag);
	VipCloseNic(nic);
	free(region);
	return 0;
}
