/*
 * trace_prog.c - a few VIPL calls, some meant to fail, for the tracer's
 * tests (test_trace.c runs it with VIPL_TRACE set or not). One process, no
 * peer: it posts a receive, then a send on the idle VI (VIP_INVALID_STATE)
 * and deregisters a handle that does not exist (VIP_INVALID_PARAMETER),
 * and polls for a receive that cannot come (VIP_NOT_DONE).
 * Exits 0 if every call returned what it should.
 *
 * "vipl_trace_prog open NAME" only opens (and closes) the NIC NAME names,
 * for the device name tests (tests/legacy/device_names.c); it prints the
 * return code and exits 0 whatever it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vipl.h>

#define EXPECT(call, want)                                                     \
	do {                                                                   \
		VIP_RETURN r_ = (call);                                        \
		if (r_ != (want)) {                                            \
			fprintf(stderr, "trace_prog: %s returned %d\n", #call, \
				(int)r_);                                      \
			return 1;                                              \
		}                                                              \
	} while (0)

static int open_only(const char *name)
{
	VIP_NIC_HANDLE nic;
	VIP_RETURN r = VipOpenNic(name, &nic);

	printf("trace_prog: VipOpenNic(%s) returned %d\n", name, (int)r);
	if (r == VIP_SUCCESS)
		VipCloseNic(nic);
	return 0;
}

int main(int argc, char **argv)
{
	VIP_VI_ATTRIBUTES va;
	VIP_NIC_HANDLE nic;
	VIP_VI_HANDLE vi;
	VIP_MEM_HANDLE mh;
	VIP_DESCRIPTOR *rd, *sd;
	char *mem;

	if (argc == 3 && !strcmp(argv[1], "open"))
		return open_only(argv[2]);
	mem = aligned_alloc(4096, 8192);
	if (!mem)
		return 1;
	memset(mem, 0, 8192);
	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = VIP_SERVICE_RELIABLE_DELIVERY;
	va.MaxTransferSize = 4096;
	EXPECT(VipOpenNic(NULL, &nic), VIP_SUCCESS);
	EXPECT(VipRegisterMem(nic, mem, 8192, NULL, &mh), VIP_SUCCESS);
	EXPECT(VipCreateVi(nic, &va, NULL, NULL, &vi), VIP_SUCCESS);

	rd = (VIP_DESCRIPTOR *)mem;
	rd->CS.SegCount = 1;
	rd->DS[0].Local.Data.Address = mem + 4096;
	rd->DS[0].Local.Handle = mh;
	rd->DS[0].Local.Length = 2048;
	EXPECT(VipPostRecv(vi, rd, mh), VIP_SUCCESS);

	sd = (VIP_DESCRIPTOR *)(mem + 64);
	sd->CS.Control = VIP_CONTROL_OP_SENDRECV | VIP_CONTROL_IMMEDIATE;
	sd->CS.ImmediateData = 0xbeef;
	sd->CS.SegCount = 1;
	sd->CS.Length = 100;
	sd->DS[0].Local.Data.Address = mem + 6144;
	sd->DS[0].Local.Handle = mh;
	sd->DS[0].Local.Length = 100;
	EXPECT(VipPostSend(vi, sd, mh), VIP_INVALID_STATE);
	EXPECT(VipDeregisterMem(nic, mem, mh ^ 0x5a5a0000), VIP_INVALID_PARAMETER);

	/* Nothing arrives on an idle VI (five polls: the trace logs one and
	 * counts the rest); destroying it drops the receive. */
	for (int i = 0; i < 5; i++)
		EXPECT(VipRecvDone(vi, &rd), VIP_NOT_DONE);
	EXPECT(VipDestroyVi(vi), VIP_SUCCESS);
	EXPECT(VipDeregisterMem(nic, mem, mh), VIP_SUCCESS);
	EXPECT(VipCloseNic(nic), VIP_SUCCESS);
	free(mem);
	printf("trace_prog: every call returned what it should\n");
	return 0;
}
