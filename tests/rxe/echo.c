/* echo.c - the echo server of the data tests (runs in a child). */
#include <string.h>
#include <time.h>

#include "echo.h"

int echo_server(void *arg)
{
	struct echo_args *a = arg;
	unsigned long mts = a->max_transfer ? a->max_transfer : 1ul << 20;
	unsigned rlen = a->recv_len ? a->recv_len : mts;
	VIP_VI_ATTRIBUTES va = vt_vi_attrs(a->level);
	VIP_NIC_HANDLE nic = vt_open_nic();
	VIP_DESCRIPTOR *d, *s, *out;
	char *reply;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
	int i;

	VT_CHECK(nic);
	va.MaxTransferSize = mts;
	vt_mem_init(&m, nic, (a->count + 1) * (size_t)rlen + mts, NULL);
	VT_CHECK(m.base);
	/* Receives first: one per message, plus one that the disconnect
	 * will flush. */
	for (i = 0; i <= a->count; i++) {
		d = vt_desc(&m, i);
		vt_fill(d, &m, vt_data(&m) + (size_t)i * rlen, rlen);
	}
	VT_CHECK(VipCreateVi(nic, &va, NULL, NULL, &vi) == VIP_SUCCESS);
	for (i = 0; i <= a->count; i++)
		VT_CHECK(VipPostRecv(vi, vt_desc_at(&m, i), m.mh) ==
			 VIP_SUCCESS);
	{
		VIP_NET_ADDRESS *local = vt_addr(nic, a->disc);
		VIP_NET_ADDRESS *remote = vt_addr_buf();
		VIP_VI_ATTRIBUTES ra;
		VIP_CONN_HANDLE conn;

		VT_CHECK(VipConnectWait(nic, local, VT_TIMEOUT_MS, remote, &ra,
					&conn) == VIP_SUCCESS);
		VIP_RETURN ar = VipConnectAccept(conn, vi);

		if (ar != VIP_SUCCESS)
			fprintf(stderr, "echo: VipConnectAccept returned %d\n", ar);
		VT_CHECK(ar == VIP_SUCCESS);
		free(local);
		free(remote);
	}
	for (i = 0; i < a->count; i++) {
		VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
		VT_CHECK(out == vt_desc_at(&m, i));
		VT_CHECK(out->CS.Status == (VIP_STATUS_DONE |
					    VIP_STATUS_OP_RECEIVE));
		if (a->delay_ms) {
			struct timespec ts = { 0, a->delay_ms * 1000000L };

			nanosleep(&ts, NULL);
		}
		s = vt_desc(&m, 63);
		reply = vt_data(&m) + (size_t)(a->count + 1) * rlen;
		memcpy(reply, vt_data(&m) + (size_t)i * rlen, out->CS.Length);
		vt_fill(s, &m, reply, out->CS.Length);
		if (!out->CS.Length)
			s->CS.SegCount = 0;
		{
			VIP_RETURN pr = VipPostSend(vi, s, m.mh);

			if (pr != VIP_SUCCESS)
				fprintf(stderr, "echo: VipPostSend returned %d\n",
					pr);
			VT_CHECK(pr == VIP_SUCCESS);
		}
		VT_CHECK(VipSendWait(vi, VT_TIMEOUT_MS, &out) == VIP_SUCCESS);
		VT_CHECK(out == s);
		VT_CHECK(out->CS.Status == (VIP_STATUS_DONE | VIP_STATUS_OP_SEND));
	}
	/* The client disconnects: our last receive is flushed. */
	VT_CHECK(VipRecvWait(vi, VT_TIMEOUT_MS, &out) == VIP_DESCRIPTOR_ERROR);
	VT_CHECK(out->CS.Status & VIP_STATUS_DESC_FLUSHED_ERROR);
	VT_CHECK(vt_vi_state(vi) == VIP_STATE_ERROR);
	VT_CHECK(VipDisconnect(vi) == VIP_SUCCESS);
	VT_CHECK(vt_vi_state(vi) == VIP_STATE_IDLE);
	VT_CHECK(VipDestroyVi(vi) == VIP_SUCCESS);
	vt_mem_fini(&m);
	VT_CHECK(VipCloseNic(nic) == VIP_SUCCESS);
	return 0;
}
