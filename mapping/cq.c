/* cq.c - verbs CQs: polling, translation to VIP status bits, sleeping. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "internal.h"

/* How each verbs completion status reads in a VIPL descriptor. */
static const uint32_t wc_status_table[] = {
	[IBV_WC_SUCCESS] = 0,
	[IBV_WC_LOC_LEN_ERR] = VIP_STATUS_LENGTH_ERROR,
	[IBV_WC_LOC_QP_OP_ERR] = VIP_STATUS_FORMAT_ERROR,
	[IBV_WC_LOC_EEC_OP_ERR] = VIP_STATUS_FORMAT_ERROR,
	[IBV_WC_LOC_PROT_ERR] = VIP_STATUS_PROTECTION_ERROR,
	[IBV_WC_WR_FLUSH_ERR] = VIP_STATUS_DESC_FLUSHED_ERROR,
	[IBV_WC_MW_BIND_ERR] = VIP_STATUS_PROTECTION_ERROR,
	[IBV_WC_BAD_RESP_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_LOC_ACCESS_ERR] = VIP_STATUS_PROTECTION_ERROR,
	[IBV_WC_REM_INV_REQ_ERR] = VIP_STATUS_REMOTE_DESC_ERROR,
	[IBV_WC_REM_ACCESS_ERR] = VIP_STATUS_RDMA_PROT_ERROR,
	[IBV_WC_REM_OP_ERR] = VIP_STATUS_REMOTE_DESC_ERROR,
	[IBV_WC_RETRY_EXC_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	/* The peer had no receive descriptor posted. */
	[IBV_WC_RNR_RETRY_EXC_ERR] = VIP_STATUS_REMOTE_DESC_ERROR,
	[IBV_WC_LOC_RDD_VIOL_ERR] = VIP_STATUS_PROTECTION_ERROR,
	[IBV_WC_REM_INV_RD_REQ_ERR] = VIP_STATUS_REMOTE_DESC_ERROR,
	[IBV_WC_REM_ABORT_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_INV_EECN_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_INV_EEC_STATE_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_FATAL_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_RESP_TIMEOUT_ERR] = VIP_STATUS_TRANSPORT_ERROR,
	[IBV_WC_GENERAL_ERR] = VIP_STATUS_TRANSPORT_ERROR,
};

uint32_t map_wc_status_to_vip(int status)
{
	if (status < 0 ||
	    (size_t)status >= sizeof(wc_status_table) / sizeof(wc_status_table[0]))
		return VIP_STATUS_TRANSPORT_ERROR;
	if (status != IBV_WC_SUCCESS && !wc_status_table[status])
		return VIP_STATUS_TRANSPORT_ERROR;
	return wc_status_table[status];
}

int map_cq_create(struct map_dev *dev, int entries, struct map_cq **out)
{
	struct map_cq *cq = calloc(1, sizeof(*cq));
	int err;

	if (!cq)
		return ENOMEM;
	cq->channel = ibv_create_comp_channel(dev->ctx);
	if (!cq->channel)
		goto err_free;
	/* Non-blocking, so that a thread woken with nothing to read (another
	 * waiter took the event) goes back to polling instead of hanging. */
	if (fcntl(cq->channel->fd, F_SETFL,
		  fcntl(cq->channel->fd, F_GETFL) | O_NONBLOCK))
		goto err_channel;
	cq->dev = dev;
	cq->iwarp = dev->iwarp;
	/* iWARP: an RDMA write with immediate data is two work requests,
	 * and both complete when flushed (iwarp.c). */
	if (dev->iwarp)
		entries *= 2;
	cq->cq = ibv_create_cq(dev->ctx, entries, cq, cq->channel, 0);
	if (!cq->cq)
		goto err_channel;
	*out = cq;
	return 0;

err_channel:
	err = errno;
	ibv_destroy_comp_channel(cq->channel);
	errno = err;
err_free:
	err = errno ? errno : ENOMEM;
	free(cq);
	return err;
}

int map_cq_destroy(struct map_cq *cq)
{
	int ret;

	if (atomic_load(&cq->unacked))
		ibv_ack_cq_events(cq->cq, atomic_load(&cq->unacked));
	ret = ibv_destroy_cq(cq->cq);
	if (ret)
		return ret;
	ibv_destroy_comp_channel(cq->channel);
	free(cq);
	return 0;
}

int map_cq_resize(struct map_cq *cq, int entries)
{
	if (cq->iwarp)
		entries *= 2; /* as map_cq_create */
	return ibv_resize_cq(cq->cq, entries);
}

int map_cq_arm(struct map_cq *cq)
{
	return ibv_req_notify_cq(cq->cq, 0);
}

/* Takes one event off cq's channel, if there is one. */
static int take_event(struct map_cq *cq)
{
	struct ibv_cq *ev_cq;
	void *ev_ctx;

	if (ibv_get_cq_event(cq->channel, &ev_cq, &ev_ctx))
		return errno == EAGAIN ? 0 : (errno ? errno : EIO);
	/* Acknowledging takes a mutex in libibverbs: batch it. Several
	 * threads may sleep on one CQ, hence the atomic count. */
	if (atomic_fetch_add(&cq->unacked, 1) + 1 >= 64) {
		unsigned int n = atomic_exchange(&cq->unacked, 0);

		if (n)
			ibv_ack_cq_events(cq->cq, n);
	}
	return 0;
}

int map_cq_block_any(struct map_cq *const *cqs, unsigned int n, int wake_fd,
		     int timeout_ms)
{
	struct pollfd pfd[MAP_BLOCK_ANY_MAX + 1];
	unsigned int i, k = 0;
	int ret;

	if (n > MAP_BLOCK_ANY_MAX)
		n = MAP_BLOCK_ANY_MAX;
	for (i = 0; i < n; i++)
		pfd[k++] = (struct pollfd){ .fd = cqs[i]->channel->fd,
					    .events = POLLIN };
	if (wake_fd >= 0)
		pfd[k++] = (struct pollfd){ .fd = wake_fd, .events = POLLIN };
	do {
		ret = poll(pfd, k, timeout_ms);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		return errno;
	if (ret == 0)
		return ETIMEDOUT;
	for (i = 0; i < n; i++)
		if (pfd[i].revents && (ret = take_event(cqs[i])))
			return ret;
	return 0;
}

int map_cq_block(struct map_cq *cq, int wake_fd, int timeout_ms)
{
	return map_cq_block_any(&cq, 1, wake_fd, timeout_ms);
}
