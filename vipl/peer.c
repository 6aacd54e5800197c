/*
 * peer.c - peer-to-peer connections: VipConnectPeerRequest,
 * VipConnectPeerDone, VipConnectPeerWait.
 *
 * Both sides name each other and neither is the server. On rdma_cm one
 * side must connect and the other accept, so both pick roles the same
 * way: the end whose (host address, discriminator) sorts lower connects,
 * the other waits for a request from exactly that peer. The connect
 * retries until the other side listens and the listener holds a request
 * until its waiter comes, so the connection forms whichever side starts
 * first, or both at once. The work runs on a thread of its own; Done
 * polls it and Wait joins it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct peer_end {
	uint8_t host[16];
	uint16_t host_len;
	uint8_t disc[VIPL_DISC_MAX];
	uint16_t disc_len;
};

struct vip_peer {
	pthread_t thread;
	atomic_bool finished;
	atomic_bool cancel; /* VipDisconnect or VipCloseNic gave up on it */
	struct vip_vi *vi;
	struct peer_end local, remote;
	int timeout_ms;
	VIP_RETURN result;
	VIP_VI_ATTRIBUTES remote_attrs;
};

static void end_from_addr(struct peer_end *e, const VIP_NET_ADDRESS *a,
			  const struct map_dev_attr *nic)
{
	memset(e, 0, sizeof(*e));
	if (a->HostAddressLen) {
		e->host_len = a->HostAddressLen;
		memcpy(e->host, a->HostAddress, a->HostAddressLen);
	} else {
		e->host_len = nic->addr_len;
		memcpy(e->host, nic->addr, nic->addr_len);
	}
	e->disc_len = a->DiscriminatorLen;
	memcpy(e->disc, vip_addr_disc(a), a->DiscriminatorLen);
}

/* Total order on ends: host bytes, then discriminator bytes. */
static int end_cmp(const struct peer_end *a, const struct peer_end *b)
{
	int c;

	if (a->host_len != b->host_len)
		return a->host_len < b->host_len ? -1 : 1;
	c = memcmp(a->host, b->host, a->host_len);
	if (c)
		return c;
	if (a->disc_len != b->disc_len)
		return a->disc_len < b->disc_len ? -1 : 1;
	return memcmp(a->disc, b->disc, a->disc_len);
}

static uint64_t now_ms(void)
{
	return vip_now_ns() / 1000000;
}

static int remaining(uint64_t deadline_ms, int timeout_ms)
{
	uint64_t now = now_ms();

	if (timeout_ms < 0)
		return -1;
	return now >= deadline_ms ? 0 : (int)(deadline_ms - now);
}

static VIP_RETURN connect_active(struct vip_peer *p)
{
	struct vip_vi *vi = p->vi;
	enum map_reject_reason why = MAP_REJECT_BY_PEER;
	struct map_conn_info mine, peer;
	struct map_conn *mc;
	int err;

	vip_info_from_vi(&mine, vi);
	mine.disc_len = p->remote.disc_len;
	memcpy(mine.disc, p->remote.disc, p->remote.disc_len);
	mine.src_disc_len = p->local.disc_len;
	memcpy(mine.src_disc, p->local.disc, p->local.disc_len);
	err = map_conn_request(vi->nic->dev, vi->qp, p->local.host,
			       p->local.host_len, p->remote.host,
			       p->remote.host_len, &mine, p->timeout_ms, true,
			       &mc, &peer, &why, &p->cancel, vip_vi_fresh_qp, vi);
	if (err)
		return err == ECONNREFUSED ? vip_reject_code(why)
					   : vip_from_errno(err);
	vip_attrs_from_info(&p->remote_attrs, &peer);
	vip_vi_connected(vi, mc);
	return VIP_SUCCESS;
}

/* Waits for the request of exactly our peer; refuses strangers. */
static VIP_RETURN connect_passive(struct vip_peer *p)
{
	struct vip_vi *vi = p->vi;
	struct map_conn_info mine, peer;
	uint8_t addr[MAP_ADDR_MAX];
	uint16_t addr_len;
	struct map_conn *mc;
	uint64_t deadline;
	VIP_RETURN rc;
	int err;

	deadline = now_ms() + (p->timeout_ms < 0 ? 0 : p->timeout_ms);
	vip_info_from_vi(&mine, vi);
	for (;;) {
		err = map_conn_wait(vi->nic->dev, p->local.host,
				    p->local.host_len, p->local.disc,
				    p->local.disc_len,
				    remaining(deadline, p->timeout_ms), &mc,
				    &peer, addr, &addr_len, &p->cancel);
		/* The peer did not come in time: no match, as the
		 * connecting side hears (vipl-api.md section 5). */
		if (err == ETIMEDOUT)
			return VIP_NO_MATCH;
		if (err)
			return vip_from_errno(err);
		if (peer.src_disc_len != p->remote.disc_len ||
		    memcmp(peer.src_disc, p->remote.disc, p->remote.disc_len) ||
		    addr_len != p->remote.host_len ||
		    memcmp(addr, p->remote.host, addr_len)) {
			map_conn_reject(mc, MAP_REJECT_NO_MATCH);
			continue;
		}
		if ((rc = vip_check_peer(mc, &peer, &mine)) != VIP_SUCCESS)
			return rc;
		err = map_conn_accept(mc, vi->qp, &mine, 10000);
		if (!err)
			break;
		map_conn_close(mc);
		if (err != ETIMEDOUT)
			return vip_from_errno(err);
		/* That request's sender gave up as we answered; its next
		 * one may still come in our time. */
		vip_vi_reset(vi);
	}
	vip_attrs_from_info(&p->remote_attrs, &peer);
	vip_vi_connected(vi, mc);
	return VIP_SUCCESS;
}

static void *peer_thread(void *arg)
{
	struct vip_peer *p = arg;

	p->result = end_cmp(&p->local, &p->remote) < 0 ? connect_active(p)
						       : connect_passive(p);
	if (p->result != VIP_SUCCESS) {
		vip_vi_reset(p->vi);
		atomic_store(&p->vi->state, VIP_STATE_IDLE);
	}
	atomic_store(&p->finished, true);
	return NULL;
}

VIP_RETURN VipConnectPeerRequest(VIP_VI_HANDLE ViHandle,
				 VIP_NET_ADDRESS *LocalAddr,
				 VIP_NET_ADDRESS *RemoteAddr, VIP_ULONG Timeout)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	int expected = VIP_STATE_IDLE;
	struct vip_peer *p;

	if (!vi || !vip_addr_valid(LocalAddr, VIPL_DISC_MAX) ||
	    !vip_addr_valid(RemoteAddr, VIPL_DISC_MAX) ||
	    !RemoteAddr->HostAddressLen)
		return VIP_INVALID_PARAMETER;
	p = calloc(1, sizeof(*p));
	if (!p)
		return VIP_ERROR_RESOURCE;
	p->vi = vi;
	p->timeout_ms = vip_timeout_ms(Timeout);
	vip_nic_refresh_addr(vi->nic);
	end_from_addr(&p->local, LocalAddr, &vi->nic->attr);
	end_from_addr(&p->remote, RemoteAddr, &vi->nic->attr);
	if (!end_cmp(&p->local, &p->remote)) {
		free(p); /* a VI cannot be its own peer */
		return VIP_INVALID_PARAMETER;
	}
	if (atomic_load(&vi->peer) ||
	    !atomic_compare_exchange_strong(&vi->state, &expected,
					    VIP_STATE_CONNECT_PENDING)) {
		free(p);
		return VIP_INVALID_STATE;
	}
	atomic_store(&vi->peer, p);
	if (pthread_create(&p->thread, NULL, peer_thread, p)) {
		atomic_store(&vi->peer, NULL);
		atomic_store(&vi->state, VIP_STATE_IDLE);
		free(p);
		return VIP_ERROR_RESOURCE;
	}
	return VIP_SUCCESS;
}

/* Collects a request taken from its VI: its result, the peer's
 * attributes. */
static VIP_RETURN collect(struct vip_peer *p, VIP_VI_ATTRIBUTES *attrs)
{
	VIP_RETURN ret;

	pthread_join(p->thread, NULL);
	ret = p->result;
	if (ret == VIP_SUCCESS && attrs)
		*attrs = p->remote_attrs;
	free(p);
	return ret;
}

VIP_RETURN VipConnectPeerDone(VIP_VI_HANDLE ViHandle,
			      VIP_VI_ATTRIBUTES *RemoteViAttribs)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_peer *p;

	if (!vi || !RemoteViAttribs)
		return VIP_INVALID_PARAMETER;
	p = atomic_load(&vi->peer);
	if (!p)
		return VIP_INVALID_STATE;
	if (!atomic_load(&p->finished))
		return VIP_NOT_DONE;
	/* Two threads may both see it finished: one collects it. */
	if (!atomic_compare_exchange_strong(&vi->peer, &p, NULL))
		return VIP_INVALID_STATE;
	return collect(p, RemoteViAttribs);
}

VIP_RETURN VipConnectPeerWait(VIP_VI_HANDLE ViHandle,
			      VIP_VI_ATTRIBUTES *RemoteViAttribs)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	struct vip_peer *p;

	if (!vi || !RemoteViAttribs)
		return VIP_INVALID_PARAMETER;
	p = atomic_exchange(&vi->peer, NULL);
	if (!p)
		return VIP_INVALID_STATE;
	return collect(p, RemoteViAttribs);
}

bool vip_peer_reap(struct vip_vi *vi)
{
	struct vip_peer *p = atomic_exchange(&vi->peer, NULL);

	if (!p)
		return false;
	atomic_store(&p->cancel, true);
	map_conn_kick(vi->nic->dev);
	collect(p, NULL);
	return true;
}
