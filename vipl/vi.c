/* vi.c - VipCreateVi, VipDestroyVi, VipQueryVi and per-VI user data. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Flags VIPL accepts on a level and ignores: Giganet's DFC, Argonne's ACK. */
#define IGNORED_LEVEL_FLAGS (VIP_SERVICE_DFC | VIP_SERVICE_ACK)

static bool one_level(VIP_RELIABILITY_LEVEL level)
{
	level &= ~IGNORED_LEVEL_FLAGS;
	return level == VIP_SERVICE_UNRELIABLE ||
	       level == VIP_SERVICE_RELIABLE_DELIVERY ||
	       level == VIP_SERVICE_RELIABLE_RECEPTION;
}

/* Checks a against the NIC, whose attributes it leaves in *na. */
static VIP_RETURN check_attrs(struct vip_nic *nic, VIP_VI_ATTRIBUTES *a,
			      VIP_NIC_ATTRIBUTES *na, struct vip_ptag **ptag)
{
	VipQueryNic(nic->handle, na);
	if (!one_level(a->ReliabilityLevel))
		return VIP_INVALID_RELIABILITY_LEVEL;
	if (!(a->ReliabilityLevel & na->ReliabilityLevelSupport))
		return VIP_INVALID_RELIABILITY_LEVEL;
	if (a->MaxTransferSize > na->MaxTransferSize)
		return VIP_INVALID_MTU;
	if (a->EnableRdmaRead && !(a->ReliabilityLevel & na->RDMAReadSupport))
		return VIP_INVALID_RDMAREAD;
	*ptag = vip_ptag_resolve(nic, a->Ptag);
	return *ptag ? VIP_SUCCESS : VIP_INVALID_PTAG;
}

/* A queue's verbs CQ: its VIPL CQ's, or one of its own. */
static int queue_cq(struct vip_vi *vi, struct vip_cq *vcq, uint32_t depth,
		    struct map_cq **cq)
{
	if (vcq) {
		*cq = vcq->mcq;
		return 0;
	}
	return map_cq_create(vi->nic->dev, depth, cq);
}

static void queue_cq_release(struct vip_queue *q)
{
	if (q->vcq) {
		vip_cq_detach(q->vcq, q);
		return;
	}
	map_cq_destroy(q->cq);
}

/* The queue pair a VI with attributes a needs. */
static struct map_qp_cfg qp_cfg(const struct vip_vi *vi,
				const VIP_VI_ATTRIBUTES *a)
{
	struct map_qp_cfg cfg = {
		/* Giganet's DFC flag has no effect: UC or RC by level alone. */
		.level = a->ReliabilityLevel & ~VIP_SERVICE_DFC,
		.depth = vi->sq.mask + 1,
		.max_sge = vi->max_seg,
		.rdma_write = a->EnableRdmaWrite,
		.rdma_read = a->EnableRdmaRead,
	};

	return cfg;
}

static bool is_unreliable(VIP_RELIABILITY_LEVEL level)
{
	return (level & ~VIP_SERVICE_DFC) == VIP_SERVICE_UNRELIABLE;
}

static int create_queues(struct vip_vi *vi, uint32_t depth,
			 struct vip_cq *svcq, struct vip_cq *rvcq)
{
	struct map_qp_cfg cfg;
	struct map_cq *scq, *rcq;
	int err;

	err = queue_cq(vi, svcq, depth, &scq);
	if (err)
		return err;
	err = queue_cq(vi, rvcq, depth, &rcq);
	if (err)
		goto err_scq;
	err = vip_queue_init(&vi->sq, vi, depth, scq, svcq, false);
	if (err)
		goto err_rcq;
	err = vip_queue_init(&vi->rq, vi, depth, rcq, rvcq, true);
	if (err)
		goto err_sq;
	cfg = qp_cfg(vi, &vi->attrs);
	err = map_qp_create(vi->ptag->pd, scq, rcq, &cfg, &vi->qp);
	if (err)
		goto err_rq;
	vip_vi_qp_changed(vi);
	/* A CQ grows to hold what the queues on it can have outstanding. */
	if (svcq && (err = vip_cq_attach(svcq, &vi->sq)))
		goto err_qp;
	if (rvcq && (err = vip_cq_attach(rvcq, &vi->rq)))
		goto err_attach;
	return 0;

err_attach:
	if (svcq)
		vip_cq_detach(svcq, &vi->sq);
err_qp:
	map_qp_destroy(vi->qp);
err_rq:
	vip_queue_fini(&vi->rq);
err_sq:
	vip_queue_fini(&vi->sq);
err_rcq:
	if (!rvcq)
		map_cq_destroy(rcq);
err_scq:
	if (!svcq)
		map_cq_destroy(scq);
	return err;
}

/* NULL is no CQ; anything else must be a CQ of this NIC. */
static bool resolve_cq(struct vip_nic *nic, VIP_CQ_HANDLE h,
		       struct vip_cq **out)
{
	*out = h ? vip_cq_get(h) : NULL;
	return !h || (*out && (*out)->nic == nic);
}

VIP_RETURN VipCreateVi(VIP_NIC_HANDLE NicHandle, VIP_VI_ATTRIBUTES *ViAttribs,
		       VIP_CQ_HANDLE SendCQHandle, VIP_CQ_HANDLE RecvCQHandle,
		       VIP_VI_HANDLE *ViHandle)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	VIP_NIC_ATTRIBUTES na;
	struct vip_cq *svcq, *rvcq;
	struct vip_ptag *ptag;
	struct vip_vi *vi;
	VIP_RETURN ret;
	int err;

	if (!nic || !ViAttribs || !ViHandle ||
	    !resolve_cq(nic, SendCQHandle, &svcq) ||
	    !resolve_cq(nic, RecvCQHandle, &rvcq))
		return VIP_INVALID_PARAMETER;
	ret = check_attrs(nic, ViAttribs, &na, &ptag);
	if (ret != VIP_SUCCESS)
		return ret;

	vi = calloc(1, sizeof(*vi));
	if (!vi)
		return VIP_ERROR_RESOURCE;
	vi->nic = nic;
	vi->ptag = ptag;
	vi->attrs = *ViAttribs;
	/* ACK is dropped here, so a peer compares the bare level. */
	vi->attrs.ReliabilityLevel &= ~VIP_SERVICE_ACK;
	/* 0 asks for the most the NIC can do. */
	if (!vi->attrs.MaxTransferSize)
		vi->attrs.MaxTransferSize = na.MaxTransferSize;
	vi->max_seg = na.MaxSegmentsPerDesc;
	atomic_store(&vi->state, VIP_STATE_IDLE);
	vip_wake_init(&vi->wake);

	err = create_queues(vi, na.MaxDescriptorsPerQueue, svcq, rvcq);
	if (err) {
		free(vi);
		return vip_from_errno(err);
	}
	vi->max_inline = map_qp_max_inline(vi->qp);
	vi->handle = vip_handle_new(VIP_KIND_VI, vi);
	if (!vi->handle) {
		vi->handle = NULL;
		vip_vi_destroy(vi);
		return VIP_ERROR_RESOURCE;
	}
	atomic_fetch_add(&ptag->users, 1);
	vip_progress_add(vi);
	*ViHandle = vi->handle;
	return VIP_SUCCESS;
}

static void lock_queues(struct vip_vi *vi)
{
	vip_spin_lock(&vi->sq.lock);
	vip_spin_lock(&vi->rq.lock);
}

static void unlock_queues(struct vip_vi *vi)
{
	vip_spin_unlock(&vi->rq.lock);
	vip_spin_unlock(&vi->sq.lock);
}

static void progress_shared_cqs(struct vip_vi *vi)
{
	if (vi->sq.vcq)
		vip_cq_progress(vi->sq.vcq);
	if (vi->rq.vcq)
		vip_cq_progress(vi->rq.vcq);
}

/* Frees the VI's resources; its handle too if it has one. */
void vip_vi_destroy(struct vip_vi *vi)
{
	/* Threads in VipSendWait/RecvWait and notify threads return, and
	 * so does a VipConnectRequest (VipCloseNic destroys VIs in any
	 * state). */
	vip_wake_close(&vi->wake);
	map_conn_kick(vi->nic->dev);
	/* A peer request nobody collected (it failed, or it connected and
	 * the VI was disconnected since): its thread and memory go too. */
	vip_peer_reap(vi);
	vip_progress_remove(vi);
	/* Pending notify threads use the queues: stop them first. */
	vip_notify_cancel(&vi->sq.notify);
	vip_notify_cancel(&vi->rq.notify);
	if (vi->handle) {
		vip_handle_free(vi->handle); /* waits for the waiters to leave */
		atomic_fetch_sub(&vi->ptag->users, 1);
	}
	/* A request or an accept that connected as the destroy began. */
	vip_vi_drop_connection(vi);
	/* An idle VI's QP makes no more completions: take those still in a
	 * shared CQ now, while the queues they name exist. */
	progress_shared_cqs(vi);
	/* siw flushes what a QP still holds into its CQs as it destroys it
	 * (receives posted on an idle VI): in a shared CQ those would name
	 * queues about to be freed. A destroyed QP completes nothing more,
	 * so they are dropped now, the queues matching no QP any more. */
	map_qp_destroy(vi->qp);
	lock_queues(vi);
	vi->sq.qp_num = vi->rq.qp_num = MAP_QP_NUM_NONE;
	unlock_queues(vi);
	progress_shared_cqs(vi);
	queue_cq_release(&vi->sq);
	queue_cq_release(&vi->rq);
	vip_queue_fini(&vi->sq);
	vip_queue_fini(&vi->rq);
	vip_wake_fini(&vi->wake);
	free(vi);
}

VIP_RETURN VipDestroyVi(VIP_VI_HANDLE ViHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	int expected = VIP_STATE_IDLE;

	if (!vi)
		return VIP_INVALID_PARAMETER;
	/* Taken from Idle in one step: a connect another thread starts on
	 * it now finds it no longer Idle, and two destroys cannot both run. */
	if (!atomic_compare_exchange_strong(&vi->state, &expected,
					    VIP_STATE_DESTROYING))
		return VIP_INVALID_STATE;
	vip_vi_destroy(vi);
	return VIP_SUCCESS;
}

VIP_VI_STATE vip_vi_state(struct vip_vi *vi)
{
	VIP_VI_STATE s = atomic_load(&vi->state);
	bool lost = false;

	/* The connection manager notices a lost peer; report it here. The
	 * queue lock keeps the connection from being freed meanwhile. */
	if (s == VIP_STATE_CONNECTED) {
		vip_spin_lock(&vi->rq.lock);
		lost = vi->conn && map_conn_lost(vi->conn);
		vip_spin_unlock(&vi->rq.lock);
	}
	return lost ? VIP_STATE_ERROR : s;
}

/* Completes q's descriptors from done to end as flushed; q->lock held. */
static void flush_ring(struct vip_queue *q, uint32_t end)
{
	while (q->done != end) {
		VIP_DESCRIPTOR *d = q->ring[q->done++ & q->mask];

		/* As a flush the device reported (complete(), queue.c): a
		 * flushed receive took no bytes, whatever CS.Length held. */
		if (q->recv)
			d->CS.Length = 0;
		d->CS.Status = vip_desc_status(d, q->recv,
					       VIP_STATUS_DESC_FLUSHED_ERROR);
	}
}

#define FLUSH_WAIT_NS 2000000000ull

/* Lets the device's flush complete what the old QP holds (as programs
 * that read a CQ expect: each flushed descriptor there), for a while. */
static void wait_flushed(struct vip_vi *vi)
{
	uint64_t deadline = vip_now_ns() + FLUSH_WAIT_NS;
	struct vip_queue *q[2] = { &vi->sq, &vi->rq };
	bool pending;
	int i;

	/* A device that flushes once has its flush in the CQ as soon as its
	 * QP is in error, and will complete nothing more: one look. */
	if (map_qp_flushes_once(vi->qp)) {
		map_qp_flush(vi->qp);
		vip_queue_progress(q[0]);
		vip_queue_progress(q[1]);
		return;
	}
	for (i = 0; i < 2; i++) {
		for (;;) {
			vip_spin_lock(&q[i]->lock);
			pending = q[i]->done != q[i]->submitted;
			vip_spin_unlock(&q[i]->lock);
			if (!pending || vip_now_ns() >= deadline)
				break;
			vip_queue_progress(q[i]);
		}
	}
}

/*
 * A queue pair is not reused across connections: rxe's user library
 * writes a work request into the queue before the kernel refuses it (a
 * send posted as the QP left RTS), a reset leaves it there, and the next
 * connection would carry it to the next peer. So the old QP goes, once
 * its queues are paused (and, the connection over, its flush has had
 * time to come), and what it completed is applied (it makes no
 * completion once destroyed); whatever it still held is ours to flush or
 * to post again on the new one. Only when no new QP can be had is the
 * old one reset instead. A QP that never left INIT (a request refused
 * before it was touched) is kept as it is.
 */
void vip_vi_renew(struct vip_vi *vi, bool flush)
{
	struct map_qp_cfg cfg = qp_cfg(vi, &vi->attrs);
	struct map_qp *old = vi->qp, *qp;
	bool dropped = false; /* the device holds none of our receives */

	lock_queues(vi);
	vip_queue_pause(&vi->sq);
	vip_queue_pause(&vi->rq);
	unlock_queues(vi);
	if (flush || map_qp_left_init(old)) {
		dropped = true;
		if (flush)
			wait_flushed(vi);
		if (map_qp_create(vi->ptag->pd, vi->sq.cq, vi->rq.cq, &cfg,
				  &qp)) {
			map_qp_reset(old); /* drops what it held, silently */
		} else {
			lock_queues(vi);
			vi->qp = qp;
			vip_vi_qp_changed(vi);
			vi->max_inline = map_qp_max_inline(qp);
			unlock_queues(vi);
			map_qp_destroy(old);
		}
		vip_queue_progress(&vi->sq);
		vip_queue_progress(&vi->rq);
	}
	lock_queues(vi);
	/* No send outlives its connection: those left are flushed. */
	flush_ring(&vi->sq, vi->sq.tail);
	vi->sq.submitted = vi->sq.tail;
	if (flush)
		flush_ring(&vi->rq, vi->rq.submitted);
	/* Receives the old QP still held (or, flushed, those posted while
	 * it went) belong to the next connection. */
	vip_queue_repost(&vi->rq, dropped ? vi->rq.done : vi->rq.submitted);
	if (flush)
		atomic_store(&vi->state, VIP_STATE_IDLE);
	vi->sq.paused = false;
	vi->rq.paused = false;
	vi->sq.stranded = false;
	vi->rq.stranded = false;
	unlock_queues(vi);
}

void vip_vi_reset(struct vip_vi *vi)
{
	vip_vi_renew(vi, false);
}

struct map_qp *vip_vi_fresh_qp(void *vi)
{
	vip_vi_reset(vi);
	return ((struct vip_vi *)vi)->qp;
}

static bool queue_empty(struct vip_queue *q)
{
	bool empty;

	vip_spin_lock(&q->lock);
	empty = q->head == q->tail;
	vip_spin_unlock(&q->lock);
	return empty;
}

VIP_RETURN VipQueryVi(VIP_VI_HANDLE ViHandle, VIP_VI_STATE *State,
		      VIP_VI_ATTRIBUTES *Attrs, VIP_BOOLEAN *ViSendQEmpty,
		      VIP_BOOLEAN *ViRecvQEmpty)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);

	if (!vi || !State || !Attrs || !ViSendQEmpty || !ViRecvQEmpty)
		return VIP_INVALID_PARAMETER;
	*State = vip_vi_state(vi);
	*Attrs = vi->attrs;
	*ViSendQEmpty = queue_empty(&vi->sq);
	*ViRecvQEmpty = queue_empty(&vi->rq);
	return VIP_SUCCESS;
}

VIP_PVOID VipGetUserData(VIP_VI_HANDLE ViHandle)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);

	return vi ? vi->user_data : NULL;
}

void VipSetUserData(VIP_VI_HANDLE ViHandle, VIP_PVOID Data)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);

	if (vi)
		vi->user_data = Data;
}

/* A new protection tag, or a move between unreliable (UC) and reliable
 * (RC), needs a new queue pair: a QP's PD and type are fixed. */
static VIP_RETURN rebuild_qp(struct vip_vi *vi, struct vip_ptag *ptag,
			     const VIP_VI_ATTRIBUTES *next)
{
	struct map_qp_cfg cfg = qp_cfg(vi, next);
	struct map_qp *qp;
	int err;

	if (vi->sq.head != vi->sq.tail || vi->rq.head != vi->rq.tail)
		return VIP_INVALID_STATE; /* descriptors would be lost */
	err = map_qp_create(ptag->pd, vi->sq.cq, vi->rq.cq, &cfg, &qp);
	if (err)
		return vip_from_errno(err);
	map_qp_destroy(vi->qp);
	vi->qp = qp;
	vip_vi_qp_changed(vi);
	vi->max_inline = map_qp_max_inline(qp);
	atomic_fetch_sub(&vi->ptag->users, 1);
	atomic_fetch_add(&ptag->users, 1);
	vi->ptag = ptag;
	return VIP_SUCCESS;
}

VIP_RETURN VipSetViAttributes(VIP_VI_HANDLE ViHandle, VIP_VI_ATTRIBUTES *Attrs)
{
	struct vip_vi *vi = vip_handle_get(ViHandle, VIP_KIND_VI);
	VIP_VI_ATTRIBUTES next;
	VIP_NIC_ATTRIBUTES na;
	struct vip_ptag *ptag;
	VIP_RETURN ret;
	int err;

	if (!vi || !Attrs)
		return VIP_INVALID_PARAMETER;
	if (vip_vi_state(vi) != VIP_STATE_IDLE)
		return VIP_INVALID_STATE;
	ret = check_attrs(vi->nic, Attrs, &na, &ptag);
	if (ret != VIP_SUCCESS)
		return ret;
	next = *Attrs;
	next.ReliabilityLevel &= ~VIP_SERVICE_ACK;
	if (!next.MaxTransferSize)
		next.MaxTransferSize = na.MaxTransferSize;
	if (ptag != vi->ptag || is_unreliable(next.ReliabilityLevel) !=
					is_unreliable(vi->attrs.ReliabilityLevel)) {
		ret = rebuild_qp(vi, ptag, &next);
		if (ret != VIP_SUCCESS)
			return ret;
	} else if (!next.EnableRdmaWrite != !vi->attrs.EnableRdmaWrite ||
	    !next.EnableRdmaRead != !vi->attrs.EnableRdmaRead) {
		err = map_qp_set_access(vi->qp, next.EnableRdmaWrite,
					next.EnableRdmaRead);
		if (err)
			return vip_from_errno(err);
	}
	vi->attrs = next;
	vip_mr_epoch_bump(vi->nic); /* its queues' cached regions: old ptag */
	return VIP_SUCCESS;
}
