/*
 * conn.c - client-server connections: VipConnectWait, VipConnectAccept,
 * VipConnectReject, VipConnectRequest, VipDisconnect.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define ACCEPT_TIMEOUT_MS 10000

void vip_info_from_vi(struct map_conn_info *info, const struct vip_vi *vi)
{
	memset(info, 0, sizeof(*info));
	info->level = vi->attrs.ReliabilityLevel & ~VIP_SERVICE_DFC;
	info->max_transfer = (uint32_t)vi->attrs.MaxTransferSize;
	info->rdma_write = vi->attrs.EnableRdmaWrite;
	info->rdma_read = vi->attrs.EnableRdmaRead;
}

void vip_attrs_from_info(VIP_VI_ATTRIBUTES *a,
			    const struct map_conn_info *info)
{
	memset(a, 0, sizeof(*a));
	a->ReliabilityLevel = info->level;
	a->MaxTransferSize = info->max_transfer;
	a->EnableRdmaWrite = info->rdma_write;
	a->EnableRdmaRead = info->rdma_read;
}

/*
 * The accepting side's rule, for client-server and peer-to-peer alike: the
 * levels and the max transfer sizes must be equal (as VIA required), and
 * RDMA read must be enabled on both VIs or on neither, since verbs reserves
 * read resources on both ends when the connection forms. RDMA write may
 * differ: each VI only says whether it lets the peer write into it. On a
 * mismatch the request is refused with the reason, so the requester hears
 * the same code.
 */
VIP_RETURN vip_check_peer(struct map_conn *mc,
			  const struct map_conn_info *peer,
			  const struct map_conn_info *mine)
{
	enum map_reject_reason why;

	if (peer->level != mine->level)
		why = MAP_REJECT_LEVEL;
	else if (peer->max_transfer != mine->max_transfer)
		why = MAP_REJECT_MTU;
	else if (!peer->rdma_read != !mine->rdma_read)
		why = MAP_REJECT_RDMA_READ;
	else
		return VIP_SUCCESS;
	map_conn_reject(mc, why);
	return vip_reject_code(why);
}

/* A lost connection on a device that flushes once (iWARP): what it
 * still holds, or is given from now on, it will never complete. The QP
 * goes to its error state here too (the connection manager flushes an
 * established connection only), under both queue locks so that it is
 * the VI's QP on mc. */
static void strand_if_flushed_once(struct vip_vi *vi)
{
	struct map_conn *mc;
	bool once;

	vip_spin_lock(&vi->sq.lock);
	vip_spin_lock(&vi->rq.lock);
	mc = vi->conn;
	once = mc && !vi->sq.paused && map_qp_flushes_once(vi->qp);
	if (once)
		map_qp_flush(vi->qp);
	vip_spin_unlock(&vi->rq.lock);
	vip_spin_unlock(&vi->sq.lock);
	if (once) {
		vip_queue_strand(&vi->sq, mc);
		vip_queue_strand(&vi->rq, mc);
	}
}

/* On the connection manager's thread: the peer left or the link broke. */
static void connection_lost(void *vi_handle)
{
	struct vip_vi *vi = vip_handle_get(vi_handle, VIP_KIND_VI);
	int expected = VIP_STATE_CONNECTED;

	if (!vi)
		return;
	atomic_compare_exchange_strong(&vi->state, &expected, VIP_STATE_ERROR);
	strand_if_flushed_once(vi);
	if (vi->broken)
		vip_report_error(vi->nic, vi, vi->broken_desc,
				 VIP_RESOURCE_DESCRIPTOR, vi->broken_code);
	else
		vip_report_error(vi->nic, vi, NULL, VIP_RESOURCE_VI,
				 VIP_ERROR_CONN_LOST);
}

void vip_vi_broken(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_ERROR_CODE code)
{
	int expected = VIP_STATE_CONNECTED;

	if (!atomic_compare_exchange_strong(&vi->state, &expected,
					    VIP_STATE_ERROR))
		return; /* broken already: report the first cause only */
	vi->broken_code = code;
	vi->broken_desc = d;
	vi->broken = true;
	if (vi->conn)
		map_conn_break(vi->conn);
}

void vip_vi_flushed(struct vip_vi *vi)
{
	int expected = VIP_STATE_CONNECTED;

	/* The device flushed on its own: the peer's end is gone (iWARP's
	 * TCP close flushes before rdma_cm says so), or the QP fell into its
	 * error state by a local error it reported as a flush (Linux 6.12's
	 * rxe, queue.c). Ending the connection tells the peer in the second
	 * case and is a no-op in the first; the error callback hears it
	 * when the connection manager confirms. */
	if (atomic_compare_exchange_strong(&vi->state, &expected,
					   VIP_STATE_ERROR) &&
	    vi->conn)
		map_conn_break(vi->conn);
}

/* Sets (with the VI's state: a disconnect sees both or neither) or takes
 * the VI's connection, under both queue locks so that whoever holds
 * either sees it whole (internal.h). */
static struct map_conn *swap_conn(struct vip_vi *vi, struct map_conn *mc)
{
	struct map_conn *old;

	vip_spin_lock(&vi->sq.lock);
	vip_spin_lock(&vi->rq.lock);
	old = vi->conn;
	vi->conn = mc;
	if (mc) {
		atomic_store(&vi->state, VIP_STATE_CONNECTED);
	} else if (old) {
		/* Nothing more reaches the device until the VI has a new
		 * QP (vip_vi_renew). */
		vip_queue_pause(&vi->sq);
		vip_queue_pause(&vi->rq);
	}
	vip_spin_unlock(&vi->rq.lock);
	vip_spin_unlock(&vi->sq.lock);
	return old;
}

void vip_vi_connected(struct vip_vi *vi, struct map_conn *mc)
{
	vi->broken = false;
	/* Lost already: the callback runs now, and the VI reports Error
	 * (vip_vi_state) once connected. */
	map_conn_on_lost(mc, connection_lost, vi->handle);
	swap_conn(vi, mc);
	/* Lost before it was the VI's: the callback could not strand it. */
	if (map_conn_lost(mc))
		strand_if_flushed_once(vi);
}

VIP_RETURN VipConnectWait(VIP_NIC_HANDLE NicHandle, VIP_NET_ADDRESS *LocalAddr,
			  VIP_ULONG Timeout, VIP_NET_ADDRESS *RemoteAddr,
			  VIP_VI_ATTRIBUTES *RemoteViAttribs,
			  VIP_CONN_HANDLE *ConnHandle)
{
	uint8_t peer_addr[MAP_ADDR_MAX];
	uint16_t peer_len = 0;
	struct vip_nic *nic;
	struct vip_conn *c;
	int err;

	if (!vip_addr_valid(LocalAddr, VIPL_DISC_MAX) || !RemoteAddr ||
	    !RemoteViAttribs || !ConnHandle)
		return VIP_INVALID_PARAMETER;
	/* Held while it sleeps: a VipCloseNic meanwhile wakes it (closing)
	 * and frees the NIC only once it has left. */
	nic = vip_handle_hold(NicHandle, VIP_KIND_NIC);
	if (!nic)
		return VIP_INVALID_PARAMETER;
	c = calloc(1, sizeof(*c));
	if (!c) {
		vip_handle_release(NicHandle);
		return VIP_ERROR_RESOURCE;
	}
	c->nic = nic;
	err = map_conn_wait(nic->dev, LocalAddr->HostAddress,
			    LocalAddr->HostAddressLen, vip_addr_disc(LocalAddr),
			    LocalAddr->DiscriminatorLen, vip_timeout_ms(Timeout),
			    &c->mc, &c->peer, peer_addr, &peer_len,
			    &nic->closing);
	if (!err && atomic_load(&nic->closing)) {
		map_conn_reject(c->mc, MAP_REJECT_BY_PEER);
		err = ECANCELED;
	}
	if (err) {
		free(c);
		vip_handle_release(NicHandle);
		return err == ECANCELED ? VIP_INVALID_PARAMETER
					: vip_from_errno(err);
	}
	c->handle = vip_handle_new(VIP_KIND_CONN, c);
	if (!c->handle) {
		map_conn_reject(c->mc, MAP_REJECT_BY_PEER);
		free(c);
		vip_handle_release(NicHandle);
		return VIP_ERROR_RESOURCE;
	}
	/* The requester's address: its host and its own discriminator. */
	RemoteAddr->HostAddressLen = peer_len;
	RemoteAddr->DiscriminatorLen = c->peer.src_disc_len;
	memcpy(RemoteAddr->HostAddress, peer_addr, peer_len);
	memcpy(RemoteAddr->HostAddress + peer_len, c->peer.src_disc,
	       c->peer.src_disc_len);
	vip_attrs_from_info(RemoteViAttribs, &c->peer);
	*ConnHandle = c->handle;
	/* Last: from here on VipCloseNic may find c and free it. */
	vip_handle_release(NicHandle);
	return VIP_SUCCESS;
}

static void conn_free(struct vip_conn *c)
{
	vip_handle_free(c->handle);
	free(c);
}

/* The caller's to answer, or NULL: used already, or being answered by
 * another thread or taken by VipCloseNic. */
static struct vip_conn *vip_conn_claim(VIP_CONN_HANDLE h)
{
	struct vip_conn *c = vip_handle_get(h, VIP_KIND_CONN);
	bool no = false;

	if (!c || !atomic_compare_exchange_strong(&c->claimed, &no, true))
		return NULL;
	return c;
}

static VIP_RETURN accept_on(struct vip_conn *c, struct vip_vi *vi)
{
	struct map_conn_info mine;
	VIP_RETURN rc;
	int err;
	int expected = VIP_STATE_IDLE;

	/* One connection at a time: two accepts on one VI, or an accept and
	 * a request, cannot both go on. */
	if (!atomic_compare_exchange_strong(&vi->state, &expected,
					    VIP_STATE_CONNECT_PENDING)) {
		atomic_store(&c->claimed, false); /* still the program's */
		return VIP_INVALID_STATE;
	}
	vip_info_from_vi(&mine, vi);
	/* The connection is refused, and the handle used up, on a mismatch:
	 * the requester learns why from the reject. */
	if ((rc = vip_check_peer(c->mc, &c->peer, &mine)) != VIP_SUCCESS) {
		conn_free(c);
		atomic_store(&vi->state, VIP_STATE_IDLE);
		return rc;
	}
	err = map_conn_accept(c->mc, vi->qp, &mine, ACCEPT_TIMEOUT_MS);
	if (err) {
		map_conn_close(c->mc);
		conn_free(c);
		vip_vi_reset(vi);
		atomic_store(&vi->state, VIP_STATE_IDLE);
		return vip_from_errno(err);
	}
	vip_vi_connected(vi, c->mc);
	conn_free(c);
	return VIP_SUCCESS;
}

VIP_RETURN VipConnectAccept(VIP_CONN_HANDLE ConnHandle, VIP_VI_HANDLE ViHandle)
{
	struct vip_vi *vi = vip_handle_hold(ViHandle, VIP_KIND_VI);
	struct vip_conn *c;
	VIP_RETURN rc;

	/* The VI is held while the accept waits for the requester: a
	 * VipCloseNic meanwhile frees it only once the accept has left. */
	if (!vi)
		return VIP_INVALID_PARAMETER;
	c = vip_conn_claim(ConnHandle);
	if (!c || vi->nic != c->nic) {
		if (c)
			atomic_store(&c->claimed, false);
		vip_handle_release(ViHandle);
		return VIP_INVALID_PARAMETER;
	}
	rc = accept_on(c, vi);
	vip_handle_release(ViHandle);
	return rc;
}

VIP_RETURN VipConnectReject(VIP_CONN_HANDLE ConnHandle)
{
	struct vip_conn *c = vip_conn_claim(ConnHandle);

	if (!c)
		return VIP_INVALID_PARAMETER;
	map_conn_reject(c->mc, MAP_REJECT_BY_PEER);
	conn_free(c);
	return VIP_SUCCESS;
}

VIP_RETURN vip_reject_code(enum map_reject_reason why)
{
	switch (why) {
	case MAP_REJECT_NO_MATCH:
		return VIP_NO_MATCH;
	case MAP_REJECT_LEVEL:
		return VIP_INVALID_RELIABILITY_LEVEL;
	case MAP_REJECT_MTU:
		return VIP_INVALID_MTU;
	case MAP_REJECT_RDMA_READ:
		return VIP_INVALID_RDMAREAD;
	default:
		return VIP_REJECT;
	}
}

static VIP_RETURN request_on(struct vip_vi *vi, VIP_NET_ADDRESS *LocalAddr,
			     VIP_NET_ADDRESS *RemoteAddr, VIP_ULONG Timeout,
			     VIP_VI_ATTRIBUTES *RemoteViAttribs);

VIP_RETURN VipConnectRequest(VIP_VI_HANDLE ViHandle, VIP_NET_ADDRESS *LocalAddr,
			     VIP_NET_ADDRESS *RemoteAddr, VIP_ULONG Timeout,
			     VIP_VI_ATTRIBUTES *RemoteViAttribs)
{
	struct vip_vi *vi;
	VIP_RETURN rc;

	if (!RemoteViAttribs || !vip_addr_valid(RemoteAddr, VIPL_DISC_MAX) ||
	    !RemoteAddr->HostAddressLen ||
	    (LocalAddr && !vip_addr_valid(LocalAddr, VIPL_DISC_MAX)))
		return VIP_INVALID_PARAMETER;
	/* Held while it waits for the answer: VipCloseNic wakes it (the
	 * VI's closing flag) and frees the VI only once it has left. */
	vi = vip_handle_hold(ViHandle, VIP_KIND_VI);
	if (!vi)
		return VIP_INVALID_PARAMETER;
	rc = request_on(vi, LocalAddr, RemoteAddr, Timeout, RemoteViAttribs);
	vip_handle_release(ViHandle);
	return rc;
}

static VIP_RETURN request_on(struct vip_vi *vi, VIP_NET_ADDRESS *LocalAddr,
			     VIP_NET_ADDRESS *RemoteAddr, VIP_ULONG Timeout,
			     VIP_VI_ATTRIBUTES *RemoteViAttribs)
{
	enum map_reject_reason why = MAP_REJECT_BY_PEER;
	struct map_conn_info mine, peer;
	struct map_conn *mc;
	int expected = VIP_STATE_IDLE;
	int err;

	if (!atomic_compare_exchange_strong(&vi->state, &expected,
					    VIP_STATE_CONNECT_PENDING))
		return VIP_INVALID_STATE;

	vip_info_from_vi(&mine, vi);
	mine.disc_len = RemoteAddr->DiscriminatorLen;
	memcpy(mine.disc, vip_addr_disc(RemoteAddr), mine.disc_len);
	if (LocalAddr) {
		mine.src_disc_len = LocalAddr->DiscriminatorLen;
		memcpy(mine.src_disc, vip_addr_disc(LocalAddr),
		       mine.src_disc_len);
	}
	err = map_conn_request(vi->nic->dev, vi->qp,
			       LocalAddr ? LocalAddr->HostAddress : NULL,
			       LocalAddr ? LocalAddr->HostAddressLen : 0,
			       RemoteAddr->HostAddress, RemoteAddr->HostAddressLen,
			       &mine, vip_timeout_ms(Timeout), false, &mc, &peer,
			       &why, &vi->wake.closing, vip_vi_fresh_qp, vi);
	if (!err && atomic_load(&vi->wake.closing)) {
		map_conn_close(mc);
		err = ECANCELED;
	}
	/* Being destroyed (VipCloseNic): the destroy takes it from here. */
	if (err == ECANCELED)
		return VIP_INVALID_PARAMETER;
	if (err) {
		vip_vi_reset(vi);
		atomic_store(&vi->state, VIP_STATE_IDLE);
		return err == ECONNREFUSED ? vip_reject_code(why)
					   : vip_from_errno(err);
	}
	vip_attrs_from_info(RemoteViAttribs, &peer);
	vip_vi_connected(vi, mc);
	return VIP_SUCCESS;
}

/*
 * The connection is taken first (one thread gets it: two disconnects at
 * once free nothing twice) and the queues paused with it, before the QP
 * is touched: from then on a send is refused, never handed to a QP on
 * its way to the next connection. The VI leaves with a new QP.
 */
bool vip_vi_drop_connection(struct vip_vi *vi)
{
	struct map_conn *mc = swap_conn(vi, NULL);

	if (!mc)
		return false;
	map_qp_flush(vi->qp); /* again: receives posted since the CM's */
	map_conn_close(mc);
	vip_vi_renew(vi, true);
	return true;
}

VIP_RETURN VipDisconnect(VIP_VI_HANDLE ViHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	bool cancelled;

	if (!vi)
		return VIP_INVALID_PARAMETER;
	/* A peer request under way is given up (it may have connected just
	 * before: then that connection goes too). */
	cancelled = vip_peer_reap(vi);
	if (vip_vi_drop_connection(vi))
		return VIP_SUCCESS;
	/* No connection, or another thread is ending it. */
	return cancelled ? VIP_SUCCESS : VIP_INVALID_STATE;
}
