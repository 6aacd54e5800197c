/* errors.c - the one place errno values become VIP_RETURN codes. */
#include <errno.h>
#include <limits.h>

#include "internal.h"

static const struct {
	int err;
	VIP_RETURN ret;
} errno_table[] = {
	{ 0, VIP_SUCCESS },
	{ EINVAL, VIP_INVALID_PARAMETER },
	{ EFAULT, VIP_INVALID_PARAMETER },
	{ ENODEV, VIP_INVALID_PARAMETER },
	{ ENOENT, VIP_INVALID_PARAMETER },
	{ ENOMEM, VIP_ERROR_RESOURCE },
	{ ENOSPC, VIP_ERROR_RESOURCE },
	{ EAGAIN, VIP_ERROR_RESOURCE },
	{ EMFILE, VIP_ERROR_RESOURCE },
	{ ENFILE, VIP_ERROR_RESOURCE },
	{ EADDRINUSE, VIP_ERROR_RESOURCE },
	{ EADDRNOTAVAIL, VIP_ERROR_RESOURCE },
	{ EBUSY, VIP_INVALID_STATE },
	{ ETIMEDOUT, VIP_TIMEOUT },
	{ ECONNREFUSED, VIP_REJECT },
	{ EHOSTUNREACH, VIP_NOT_REACHABLE },
	{ ENETUNREACH, VIP_NOT_REACHABLE },
	{ ENOTSUP, VIP_ERROR_NOT_SUPPORTED },
	{ EPROTO, VIP_ERROR },
	{ ECONNABORTED, VIP_ERROR },
	{ ECONNRESET, VIP_ERROR },
};

VIP_RETURN vip_from_errno(int err)
{
	unsigned int i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(errno_table) / sizeof(errno_table[0]); i++)
		if (errno_table[i].err == err)
			return errno_table[i].ret;
	return VIP_ERROR_RESOURCE;
}

static const char *const return_names[] = {
	[VIP_SUCCESS] = "VIP_SUCCESS",
	[VIP_NOT_DONE] = "VIP_NOT_DONE",
	[VIP_INVALID_PARAMETER] = "VIP_INVALID_PARAMETER",
	[VIP_ERROR_RESOURCE] = "VIP_ERROR_RESOURCE",
	[VIP_TIMEOUT] = "VIP_TIMEOUT",
	[VIP_REJECT] = "VIP_REJECT",
	[VIP_INVALID_RELIABILITY_LEVEL] = "VIP_INVALID_RELIABILITY_LEVEL",
	[VIP_INVALID_MTU] = "VIP_INVALID_MTU",
	[VIP_INVALID_QOS] = "VIP_INVALID_QOS",
	[VIP_INVALID_PTAG] = "VIP_INVALID_PTAG",
	[VIP_INVALID_RDMAREAD] = "VIP_INVALID_RDMAREAD",
	[VIP_DESCRIPTOR_ERROR] = "VIP_DESCRIPTOR_ERROR",
	[VIP_INVALID_STATE] = "VIP_INVALID_STATE",
	[VIP_ERROR_NAMESERVICE] = "VIP_ERROR_NAMESERVICE",
	[VIP_NO_MATCH] = "VIP_NO_MATCH",
	[VIP_NOT_REACHABLE] = "VIP_NOT_REACHABLE",
	[VIP_ERROR_NOT_SUPPORTED] = "VIP_ERROR_NOT_SUPPORTED",
	[VIP_ERROR] = "VIP_ERROR",
};

const char *vip_return_name(VIP_RETURN ret)
{
	unsigned int i = (unsigned int)ret;

	if (i < sizeof(return_names) / sizeof(return_names[0]) &&
	    return_names[i])
		return return_names[i];
	return NULL;
}

int vip_timeout_ms(VIP_ULONG timeout)
{
	if (timeout >= VIP_INFINITE)
		return -1;
	return timeout > INT_MAX ? INT_MAX : (int)timeout;
}

/* What the error callback hears when a completion breaks a connection. */
VIP_ERROR_CODE vip_error_code(const VIP_DESCRIPTOR *d, bool recv,
			      uint32_t status)
{
	uint16_t op = recv ? VIP_CONTROL_OP_SENDRECV
			   : d->CS.Control & VIP_CONTROL_OP_MASK;

	if (status & VIP_STATUS_RDMA_PROT_ERROR)
		return op == VIP_CONTROL_OP_RDMAREAD ? VIP_ERROR_RDMAR_PROT
						     : VIP_ERROR_RDMAW_PROT;
	/* A send the peer had no receive descriptor for. */
	if (status & VIP_STATUS_REMOTE_DESC_ERROR)
		return VIP_ERROR_RECVQ_EMPTY;
	if (status & VIP_STATUS_TRANSPORT_ERROR)
		return op == VIP_CONTROL_OP_SENDRECV ? VIP_ERROR_CONN_LOST
						     : VIP_ERROR_RDMA_TRANSPORT;
	/* Format, protection and length errors: the descriptor itself. */
	return VIP_ERROR_POST_DESC;
}

bool vip_event_error(enum map_dev_event ev, VIP_RESOURCE_CODE *resource,
		     VIP_ERROR_CODE *code)
{
	switch (ev) {
	case MAP_EV_PORT_DOWN:
		/* Every connection through the port is lost or soon will be;
		 * the VIs hear it themselves when theirs breaks. */
		*resource = VIP_RESOURCE_NIC;
		*code = VIP_ERROR_CONN_LOST;
		return true;
	case MAP_EV_DEVICE_FATAL:
		*resource = VIP_RESOURCE_NIC;
		*code = VIP_ERROR_CATASTROPHIC;
		return true;
	case MAP_EV_CQ_ERROR:
		/* Completions were lost: no VIPL object can be trusted to
		 * finish its work. */
		*resource = VIP_RESOURCE_CQ;
		*code = VIP_ERROR_CATASTROPHIC;
		return true;
	default:
		return false; /* a port coming back up needs no handler */
	}
}
