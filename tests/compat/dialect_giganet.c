/*
 * dialect_giganet.c - written as Giganet cLAN era code: Control/Data
 * spelling, volatile segments, NULL memory attributes and ptag, the extra
 * typedefs, VipGetUserData/VipSetUserData. Built by the test suite.
 */
#include <stdio.h>
#include <stdlib.h>

#include <vipl.h>

static VIP_VI_ATTRIBUTES default_vi_attribs = {
	VIP_SERVICE_RELIABLE_DELIVERY, 32768, NULL, NULL, VIP_FALSE, VIP_FALSE
};

static void on_error(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *err)
{
	(void)ctx;
	fprintf(stderr, "error %d\n", (int)err->ErrorCode);
}

int main(void)
{
	VIP_ERROR_HANDLER handler = on_error;
	VIP_VI_CALLBACK vi_cb = NULL;
	VIP_CQ_CALLBACK cq_cb = NULL;
	VIP_EVENT_HANDLE ev = NULL;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *d;
	volatile VIP_DATA_SEGMENT *seg;
	VIP_SHORT s = 0;
	VIP_LONG l = 0;
	VIP_WCHAR w = L'v';
	char *buf;
	int rc = 0;

	(void)vi_cb, (void)cq_cb, (void)ev, (void)s, (void)l, (void)w;
	if (VipOpenNic(NULL, &nic) != VIP_SUCCESS)
		return 1;
	VipErrorCallback(nic, NULL, handler);
	buf = aligned_alloc(64, 4096);
	if (VipRegisterMem(nic, buf, 4096, NULL, &mh) != VIP_SUCCESS)
		rc = 2;
	if (!rc && VipCreateVi(nic, &default_vi_attribs, NULL, NULL, &vi) !=
			   VIP_SUCCESS)
		rc = 3;
	if (!rc) {
		d = (VIP_DESCRIPTOR *)buf;
		d->Control.SegCount = 1;
		d->Control.Control = VIP_CONTROL_OP_SENDRECV;
		seg = &d->Data[0];
		seg->Data.Address = buf + 1024;
		seg->Handle = mh;
		seg->Length = 1024;
		VipSetUserData(vi, buf);
		if (VipGetUserData(vi) != buf ||
		    VipPostRecv(vi, d, mh) != VIP_SUCCESS)
			rc = 4;
		VipDestroyVi(vi);
	}
	VipDeregisterMem(nic, buf, mh);
	VipCloseNic(nic);
	free(buf);
	printf("giganet dialect program: %s\n", rc ? "failed" : "ok");
	return rc;
}
