/*
 * notify.c - VipSendNotify, VipRecvNotify, VipCQNotify: one-shot callbacks
 * on a thread of ours (vipl-api.md section 3, "Notify").
 *
 * Each armed notify gets a thread that waits like VipRecvWait/VipCQWait,
 * dequeues what completed, calls the handler and ends. A handler may arm
 * the next notify from inside itself (the usual pattern); destroying the
 * queue or CQ cancels a pending one.
 */
#include <stdlib.h>

#include "internal.h"

void vip_notify_init(struct vip_notify *n)
{
	pthread_mutex_init(&n->lock, NULL);
	n->started = false;
	atomic_store(&n->finished, false);
	atomic_store(&n->cancel, false);
}

/* With n->lock held: forget the previous thread. Returns false while it
 * is still waiting (a notify is armed already). */
static bool reap_locked(struct vip_notify *n)
{
	if (!n->started)
		return true;
	if (pthread_equal(pthread_self(), n->thread)) {
		/* Re-armed from inside the handler: that thread ends soon. */
		pthread_detach(n->thread);
	} else if (atomic_load(&n->finished)) {
		pthread_join(n->thread, NULL);
	} else {
		return false;
	}
	n->started = false;
	return true;
}

void vip_notify_cancel(struct vip_notify *n)
{
	bool join = false;
	pthread_t thread;

	pthread_mutex_lock(&n->lock);
	if (n->started) {
		atomic_store(&n->cancel, true);
		thread = n->thread;
		if (pthread_equal(pthread_self(), thread))
			pthread_detach(thread);
		else
			join = true;
		n->started = false;
	}
	pthread_mutex_unlock(&n->lock);
	/* Not under the lock: the thread takes it to start and to end. */
	if (join)
		pthread_join(thread, NULL);
}

static VIP_RETURN arm(struct vip_notify *n, void *(*fn)(void *), void *arg,
		      VIP_PVOID context, VIP_VI_CALLBACK vi_handler,
		      VIP_CQ_CALLBACK cq_handler)
{
	VIP_RETURN ret = VIP_SUCCESS;

	pthread_mutex_lock(&n->lock);
	if (!reap_locked(n)) {
		ret = VIP_INVALID_STATE;
		goto out;
	}
	n->context = context;
	n->vi_handler = vi_handler;
	n->cq_handler = cq_handler;
	atomic_store(&n->finished, false);
	atomic_store(&n->cancel, false);
	n->gen++;
	if (pthread_create(&n->thread, NULL, fn, arg))
		ret = VIP_ERROR_RESOURCE;
	else
		n->started = true;
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* The thread's arming, read once at its start (arm() holds the lock
 * until the thread exists). */
static unsigned int my_gen(struct vip_notify *n)
{
	unsigned int gen;

	pthread_mutex_lock(&n->lock);
	gen = n->gen;
	pthread_mutex_unlock(&n->lock);
	return gen;
}

/* A thread re-armed from its own handler was detached: it must not mark
 * its successor finished. */
static void mark_finished(struct vip_notify *n, unsigned int gen)
{
	pthread_mutex_lock(&n->lock);
	if (n->gen == gen)
		atomic_store(&n->finished, true);
	pthread_mutex_unlock(&n->lock);
}

/* ------------------------------------------------------- work queues */

struct queue_attempt {
	struct vip_queue *q;
	VIP_DESCRIPTOR **out;
};

static VIP_RETURN attempt_queue(void *arg)
{
	struct queue_attempt *a = arg;

	if (atomic_load(&a->q->notify.cancel))
		return VIP_ERROR;
	return vip_queue_done(a->q, a->out);
}

static void *queue_thread(void *arg)
{
	struct vip_queue *q = arg;
	struct vip_notify *n = &q->notify;
	VIP_DESCRIPTOR *d = NULL;
	struct queue_attempt a = { q, &d };
	unsigned int gen = my_gen(n);
	VIP_VI_CALLBACK handler = n->vi_handler;
	VIP_PVOID context = n->context;
	VIP_RETURN r = vip_wait(q->cq, VIP_INFINITE, attempt_queue, &a);

	/* An errored descriptor is dequeued too: it is the handler's. */
	if (r == VIP_SUCCESS || r == VIP_DESCRIPTOR_ERROR)
		handler(context, q->vi->nic->handle, q->vi->handle, d);
	mark_finished(n, gen);
	return NULL;
}

static VIP_RETURN queue_notify(VIP_VI_HANDLE h, bool recv, VIP_PVOID context,
			       VIP_VI_CALLBACK handler)
{
	struct vip_vi *vi = vip_handle_get(h, VIP_KIND_VI);
	struct vip_queue *q;

	if (!vi || !handler)
		return VIP_INVALID_PARAMETER;
	q = recv ? &vi->rq : &vi->sq;
	return arm(&q->notify, queue_thread, q, context, handler, NULL);
}

VIP_RETURN VipSendNotify(VIP_VI_HANDLE ViHandle, VIP_PVOID Context,
			 VIP_VI_CALLBACK Handler)
{
	return queue_notify(ViHandle, false, Context, Handler);
}

VIP_RETURN VipRecvNotify(VIP_VI_HANDLE ViHandle, VIP_PVOID Context,
			 VIP_VI_CALLBACK Handler)
{
	return queue_notify(ViHandle, true, Context, Handler);
}

/* ---------------------------------------------------- completion queues */

struct cq_attempt {
	struct vip_cq *cq;
	VIP_VI_HANDLE *vi;
	VIP_BOOLEAN *recv;
};

static VIP_RETURN attempt_cq(void *arg)
{
	struct cq_attempt *a = arg;

	if (atomic_load(&a->cq->notify.cancel))
		return VIP_ERROR;
	return vip_cq_done(a->cq, a->vi, a->recv);
}

static void *cq_thread(void *arg)
{
	struct vip_cq *cq = arg;
	struct vip_notify *n = &cq->notify;
	VIP_VI_HANDLE vi = NULL;
	VIP_BOOLEAN recv = VIP_FALSE;
	struct cq_attempt a = { cq, &vi, &recv };
	unsigned int gen = my_gen(n);
	VIP_CQ_CALLBACK handler = n->cq_handler;
	VIP_PVOID context = n->context;

	if (vip_wait(cq->mcq, VIP_INFINITE, attempt_cq, &a) == VIP_SUCCESS)
		handler(context, cq->nic->handle, vi, recv);
	mark_finished(n, gen);
	return NULL;
}

VIP_RETURN VipCQNotify(VIP_CQ_HANDLE CQHandle, VIP_PVOID Context,
		       VIP_CQ_CALLBACK Handler)
{
	struct vip_cq *cq = vip_cq_get(CQHandle);

	if (!cq || !Handler)
		return VIP_INVALID_PARAMETER;
	return arm(&cq->notify, cq_thread, cq, Context, NULL, Handler);
}
