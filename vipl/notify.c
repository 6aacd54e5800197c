/*
 * notify.c - VipSendNotify, VipRecvNotify, VipCQNotify: one-shot callbacks
 * on a thread of ours (vipl-api.md section 3, "Notify").
 *
 * Each armed notify gets a thread that waits like VipRecvWait/VipCQWait,
 * dequeues what completed, calls the handler and ends. A handler may arm
 * the next notify from inside itself (the usual pattern); destroying the
 * queue or CQ cancels a pending one.
 *
 * A handler may also destroy the object it serves (a VI disconnected and
 * destroyed from its last receive's callback, a CQ with it). So what the
 * thread touches after its handler, its run, is allocated apart from the
 * object; a run whose object went away (or that re-armed its object from
 * its handler) becomes an orphan of the NIC, joined later, at the latest
 * by VipCloseNic.
 */
#include <stdlib.h>

#include "internal.h"

struct vip_notify_run {
	pthread_t thread;
	void *obj; /* the vip_queue or vip_cq served */
	VIP_PVOID context;
	VIP_VI_CALLBACK vi_handler;
	VIP_CQ_CALLBACK cq_handler;
	atomic_bool cancel;
	/* Set as the thread's last touch of the run: joining it is quick. */
	atomic_bool exited;
	/* The thread itself detached it (VipCloseNic from its handler): it
	 * frees the run on its way out. */
	bool self_free;
	struct vip_notify_run *next; /* in nic->orphans */
};

void vip_notify_init(struct vip_notify *n, struct vip_nic *nic)
{
	pthread_mutex_init(&n->lock, NULL);
	n->nic = nic;
	n->run = NULL;
}

/* Cancels again: a handler running during the first cancel may have
 * armed a new notify before it was joined. */
void vip_notify_fini(struct vip_notify *n)
{
	vip_notify_cancel(n);
	pthread_mutex_destroy(&n->lock);
}

static bool is_self(const struct vip_notify_run *run)
{
	return pthread_equal(pthread_self(), run->thread);
}

static void join_run(struct vip_notify_run *run)
{
	pthread_join(run->thread, NULL);
	free(run);
}

/* Hands run (the calling thread's own) to the NIC, and joins the orphans
 * whose threads have ended meanwhile, so that they do not pile up. */
static void orphan(struct vip_nic *nic, struct vip_notify_run *run)
{
	struct vip_notify_run *done = NULL, **pp, *o;

	pthread_mutex_lock(&nic->orphans_lock);
	for (pp = &nic->orphans; (o = *pp);) {
		if (atomic_load(&o->exited)) {
			*pp = o->next;
			o->next = done;
			done = o;
		} else {
			pp = &o->next;
		}
	}
	run->next = nic->orphans;
	nic->orphans = run;
	pthread_mutex_unlock(&nic->orphans_lock);
	while ((o = done)) {
		done = o->next;
		join_run(o);
	}
}

void vip_notify_close_nic(struct vip_nic *nic)
{
	struct vip_notify_run *o, *list;

	pthread_mutex_lock(&nic->orphans_lock);
	list = nic->orphans;
	nic->orphans = NULL;
	pthread_mutex_unlock(&nic->orphans_lock);
	while ((o = list)) {
		list = o->next;
		if (is_self(o)) {
			/* Closing from a handler: that thread ends soon. */
			pthread_detach(o->thread);
			o->self_free = true;
		} else {
			join_run(o);
		}
	}
}

/* The thread's end: nothing of the object is touched any more. */
static void *run_end(struct vip_notify_run *run)
{
	if (run->self_free)
		free(run);
	else
		atomic_store(&run->exited, true);
	return NULL;
}

void vip_notify_cancel(struct vip_notify *n)
{
	struct vip_notify_run *run;
	bool join = false;

	pthread_mutex_lock(&n->lock);
	run = n->run;
	n->run = NULL;
	if (run) {
		atomic_store(&run->cancel, true);
		if (is_self(run))
			orphan(n->nic, run); /* its handler destroys the object */
		else
			join = true;
	}
	pthread_mutex_unlock(&n->lock);
	/* Not under the lock: the thread takes it to re-arm. It wakes at
	 * once: the destroy closed the object's wake first. */
	if (join)
		join_run(run);
}

static VIP_RETURN arm(struct vip_notify *n, void *(*fn)(void *), void *obj,
		      VIP_PVOID context, VIP_VI_CALLBACK vi_handler,
		      VIP_CQ_CALLBACK cq_handler)
{
	struct vip_notify_run *run, *old;
	VIP_RETURN ret = VIP_SUCCESS;

	pthread_mutex_lock(&n->lock);
	old = n->run;
	if (old && is_self(old)) {
		orphan(n->nic, old); /* re-armed from inside the handler */
	} else if (old && atomic_load(&old->exited)) {
		join_run(old);
	} else if (old) {
		ret = VIP_INVALID_STATE; /* a notify is armed already */
		goto out;
	}
	n->run = NULL;
	run = calloc(1, sizeof(*run));
	if (!run) {
		ret = VIP_ERROR_RESOURCE;
		goto out;
	}
	run->obj = obj;
	run->context = context;
	run->vi_handler = vi_handler;
	run->cq_handler = cq_handler;
	atomic_init(&run->cancel, false);
	atomic_init(&run->exited, false);
	/* The lock is held until run->thread is written: whoever compares
	 * it takes the lock first. */
	if (pthread_create(&run->thread, NULL, fn, run)) {
		free(run);
		ret = VIP_ERROR_RESOURCE;
	} else {
		n->run = run;
	}
out:
	pthread_mutex_unlock(&n->lock);
	return ret;
}

/* ------------------------------------------------------- work queues */

struct queue_attempt {
	struct vip_notify_run *run;
	VIP_DESCRIPTOR **out;
};

static VIP_RETURN attempt_queue(void *arg)
{
	struct queue_attempt *a = arg;

	if (atomic_load(&a->run->cancel))
		return VIP_ERROR;
	return vip_queue_done(a->run->obj, a->out);
}

static void *queue_thread(void *arg)
{
	struct vip_notify_run *run = arg;
	struct vip_queue *q = run->obj;
	VIP_DESCRIPTOR *d = NULL;
	struct queue_attempt a = { run, &d };
	VIP_RETURN r = vip_wait(&q->vi->wake, q->cq, VIP_INFINITE,
				attempt_queue, &a);

	/* An errored descriptor is dequeued too: it is the handler's. The
	 * handler may destroy the VI: q is not touched after it. */
	if (r == VIP_SUCCESS || r == VIP_DESCRIPTOR_ERROR)
		run->vi_handler(run->context, q->vi->nic->handle,
				q->vi->handle, d);
	return run_end(run);
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
	struct vip_notify_run *run;
	VIP_VI_HANDLE *vi;
	VIP_BOOLEAN *recv;
};

static VIP_RETURN attempt_cq(void *arg)
{
	struct cq_attempt *a = arg;

	if (atomic_load(&a->run->cancel))
		return VIP_ERROR;
	return vip_cq_done(a->run->obj, a->vi, a->recv);
}

static void *cq_thread(void *arg)
{
	struct vip_notify_run *run = arg;
	struct vip_cq *cq = run->obj;
	VIP_VI_HANDLE vi = NULL;
	VIP_BOOLEAN recv = VIP_FALSE;
	struct cq_attempt a = { run, &vi, &recv };

	/* The handler may destroy its VI and the CQ: cq is not touched
	 * after it. */
	if (vip_wait(&cq->wake, cq->mcq, VIP_INFINITE, attempt_cq, &a) ==
	    VIP_SUCCESS)
		run->cq_handler(run->context, cq->nic->handle, vi, recv);
	return run_end(run);
}

VIP_RETURN VipCQNotify(VIP_CQ_HANDLE CQHandle, VIP_PVOID Context,
		       VIP_CQ_CALLBACK Handler)
{
	struct vip_cq *cq = vip_cq_get(CQHandle);

	if (!cq || !Handler)
		return VIP_INVALID_PARAMETER;
	return arm(&cq->notify, cq_thread, cq, Context, NULL, Handler);
}
