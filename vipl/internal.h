/*
 * internal.h - libvipl's VIPL-side objects. No verbs here: everything the
 * device does goes through mapping/mapping.h.
 */
#ifndef VIPL_INTERNAL_H
#define VIPL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* First: the implementations take internal names (see the file). */
#include "impl_names.h"

#include "mapping.h"
#include "vipl.h"

#define VIPL_PROVIDER_VERSION 0x00010000UL /* 1.0.0 */
#define VIPL_DISC_MAX 16 /* MaxDiscriminatorLen: what fits in wire.h */
#define VIPL_QUEUE_DEPTH 1024 /* descriptors per work queue, at most */
#define VIPL_MAX_SEGMENTS 16 /* segments per descriptor, at most */
/* MaxTransferSize, at most: VIA programs keep it in an int (vipl-api.md
 * section 5), and rxe's max_msg_sz of 2^31 would turn negative there. */
#define VIPL_MAX_TRANSFER 0x7fffffffu

/* ------------------------------------------------------------ handles */

#include "handle.h"

/* Hot-path helpers: inlined even where gcc would not, so that a post or a
 * Done is one function (calls and returns are what emulation pays most
 * for, docs/performance.md). Error paths are kept out of line. */
#define VIP_INLINE static inline __attribute__((always_inline))
#define VIP_COLD __attribute__((cold, noinline))

/* ------------------------------------------------------------- locks */

/*
 * A work queue's lock: a test-and-set spin lock, inline. It is taken once
 * per post and per Done, uncontended unless two threads share a queue;
 * pthread's spin lock is a call into libc through the PLT each time.
 */
typedef atomic_bool vip_spin;

#if defined(__x86_64__) || defined(__i386__)
#define vip_cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define vip_cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define vip_cpu_relax() ((void)0)
#endif

static inline void vip_spin_init(vip_spin *l)
{
	atomic_init(l, false);
}

static inline void vip_spin_lock(vip_spin *l)
{
	while (atomic_exchange_explicit(l, true, memory_order_acquire))
		while (atomic_load_explicit(l, memory_order_relaxed))
			vip_cpu_relax();
}

/* Takes l if it is free, without waiting. */
static inline bool vip_spin_trylock(vip_spin *l)
{
	return !atomic_load_explicit(l, memory_order_relaxed) &&
	       !atomic_exchange_explicit(l, true, memory_order_acquire);
}

static inline void vip_spin_unlock(vip_spin *l)
{
	atomic_store_explicit(l, false, memory_order_release);
}

/* ------------------------------------------------------------ objects */

/*
 * What a destroy tells the threads sleeping on an object (wait.c): it is
 * closing (they return VIP_INVALID_PARAMETER, as a call made after the
 * destroy would), and a file descriptor that becomes readable then, made
 * at the first sleep only (VIA programs may keep thousands of VIs).
 */
struct vip_wake {
	atomic_bool closing;
	atomic_int fd; /* an eventfd, or -1 */
};

struct vip_nic;

struct vip_ptag {
	void *handle; /* NULL for a NIC's default ptag */
	struct vip_nic *nic;
	struct map_pd *pd;
	atomic_int users; /* regions and VIs using it */
};

struct vip_mr {
	uint32_t key; /* the VIP_MEM_HANDLE */
	uint8_t *start;
	size_t len;
	struct vip_ptag *ptag;
	struct map_mr *mr;
	bool rdma_write;
	bool rdma_read;
};

/* Open-addressing table of a NIC's regions, by key; lock-free lookups. */
struct vip_mr_slot {
	_Atomic uint32_t key;
	struct vip_mr *_Atomic mr; /* NULL: never used; &vip_mr_gone: removed */
};

struct vip_mr_table {
	struct vip_mr_slot *slots;
	uint32_t mask;
	uint32_t live; /* regions in the table; at most half of it */
};

enum vip_progress_mode {
	VIP_PROGRESS_OFF, /* VIPL_PROGRESS=0 */
	VIP_PROGRESS_WATCH, /* the default: find unpolled queues, serve them */
	VIP_PROGRESS_FULL, /* VIPL_PROGRESS=1: poll every queue, always */
};
/* The progress thread's name, per mode (vipl(7)). */
#define VIP_WATCH_THREAD_NAME "vipl-watch"
#define VIP_PROGRESS_THREAD_NAME "vipl-progress"

struct vip_nic {
	void *handle;
	struct map_dev *dev;
	struct map_dev_attr attr;
	struct vip_ptag default_ptag;
	pthread_mutex_t lock; /* the mr table's writers, the error handler */
	struct vip_mr_table mrs;
	/* Moves on whenever a region a queue may have cached stops being
	 * what it was (deregistered, new ptag) or a VI's ptag changes; starts
	 * at 1, so that an empty cache (epoch 0) never matches. */
	atomic_uint mr_epoch;
	VIP_ERROR_HANDLER error_handler;
	VIP_PVOID error_context;
	/* progress.c: a thread that writes descriptor statuses for programs
	 * that spin on them instead of calling Done. */
	enum vip_progress_mode progress_mode;
	bool progress; /* VIPL_PROGRESS=1: poll all the time */
	atomic_bool progress_stop;
	/* VipCloseNic is under way: a VipConnectWait returns. */
	atomic_bool closing;
	pthread_t progress_thread;
	int progress_wake[2]; /* a byte here wakes the watcher */
	atomic_int vis_waiters; /* threads waiting for vis_lock */
	pthread_mutex_t vis_lock; /* the list below; held during a sweep */
	struct vip_vi *vis;
	/* notify.c: threads whose object was destroyed (or re-armed) from
	 * their own handler, to be joined; VipCloseNic joins the last. */
	pthread_mutex_t orphans_lock;
	struct vip_notify_run *orphans;
};

/* A one-shot callback armed by VipSendNotify/VipRecvNotify/VipCQNotify,
 * run on a thread of ours once the next completion arrives. The thread's
 * own state (a run, notify.c) is allocated apart: its handler may free the
 * object this lives in. */
struct vip_notify_run;

struct vip_notify {
	pthread_mutex_t lock;
	struct vip_nic *nic; /* where runs whose object went are joined */
	struct vip_notify_run *run; /* armed last, not yet joined */
};

/* A VIPL completion queue: which VI queue completed what, in order. */
struct vip_cq_entry {
	void *vi_handle; /* checked when read: the VI may be gone */
	bool recv;
};

struct vip_cq {
	void *handle;
	struct vip_nic *nic;
	struct map_cq *mcq; /* shared by every work queue on this CQ */
	vip_spin lock; /* polling mcq, and the entries; held briefly */
	struct vip_cq_entry *entries;
	uint32_t mask, head, tail;
	uint32_t size; /* EntryCount */
	/* Descriptors the work queues on it can have outstanding, together
	 * (their rings' sizes): the verbs CQ (up to the device's maximum) and
	 * the entries are sized for size + depth, so that no completion is
	 * lost (VIA calls a CQ overrun catastrophic). */
	uint32_t depth;
	uint32_t dev_entries; /* the verbs CQ's size */
	bool overran; /* an entry was lost: report it (outside the lock) */
	atomic_int users; /* work queues on it */
	/* VipCQDone and VipCQWait calls (relaxed): the watcher leaves the
	 * queues of a CQ the program polls to the program (progress.c). */
	atomic_uint polls;
	struct vip_notify notify;
	struct vip_wake wake; /* for the threads in VipCQWait */
};

/*
 * What completing a descriptor needs, kept from its post: while posted, a
 * descriptor is still the program's memory, which the program or a peer
 * allowed to RDMA-write it may change; completion reads only what the post
 * checked (the descriptor and these many segments lie in registered
 * memory).
 */
struct vip_posted {
	uint64_t cap; /* receives: the bytes the posted segments hold */
	uint16_t control; /* CS.Control as posted (sends: a receive has none) */
	uint16_t nseg; /* CS.SegCount as posted */
};

/* One work queue: descriptors in posting order, from head to tail. */
struct vip_queue {
	vip_spin lock;
	VIP_DESCRIPTOR **ring;
	struct vip_posted *posted; /* beside ring, slot for slot */
	uint32_t mask;
	uint32_t head; /* next to dequeue */
	uint32_t done; /* completed up to here */
	uint32_t submitted; /* handed to the device up to here */
	uint32_t tail; /* next to post */
	struct map_cq *cq; /* where its completions appear */
	struct vip_cq *vcq; /* the VIPL CQ it is on, or NULL */
	struct vip_vi *vi;
	bool recv;
	uint32_t cq_unread; /* its entries not yet read from vcq (vcq->lock) */
	struct vip_notify notify;
	/* The VI's queue pair is being replaced or reset (vip_vi_renew):
	 * nothing reaches the device; sends are refused, receives wait in
	 * the ring (held) for the next queue pair. q->lock. */
	bool paused;
	/* Its QP is in error on a device that flushes once
	 * (map_qp_flushes_once): what is posted completes flushed here, not
	 * on the device. Until the VI's next QP; q->lock. */
	bool stranded;
	/* The watcher's (progress.c), under nic->vis_lock: whether the
	 * program leaves this queue unpolled (it spins on CS.Status), what
	 * done was at the last look, and looks at which the program was at
	 * the queue (watch.h). */
	bool spun;
	uint32_t seen_done;
	uint32_t misses;
	uint32_t seen_cq_polls; /* vcq->polls at the last look */
	/* The region the last descriptor posted here lay in, checked then
	 * (registered, the VI's ptag), and the NIC's mr_epoch at that time
	 * (q->lock): programs keep their descriptors and buffers in a few
	 * regions, so a post usually needs no table lookup. */
	uint32_t mr_key, mr_epoch;
	const uint8_t *mr_start, *mr_end;
	/* The VI's QP's number (q->lock): completions of a QP the VI had
	 * before (vip_vi_renew) belong to no descriptor posted since. */
	uint32_t qp_num;
};

struct vip_vi {
	void *handle;
	struct vip_nic *nic;
	struct vip_ptag *ptag;
	VIP_VI_ATTRIBUTES attrs;
	_Atomic int state; /* VIP_VI_STATE as set by this layer, or: */
#define VIP_STATE_DESTROYING (-1) /* VipDestroyVi has taken it */
	/* Both change only with both queue locks held (sq, then rq), so
	 * either lock is enough to use them; a post reaches the device only
	 * under its queue's lock, on a VI whose state allows it. */
	struct map_qp *qp;
	struct map_conn *conn;
	struct vip_queue sq, rq;
	uint32_t max_seg; /* segments per descriptor */
	uint32_t max_inline; /* sends up to this size go inline */
	VIP_PVOID user_data;
	struct vip_vi *next, **pprev; /* in nic->vis */
	/* A VipConnectPeerRequest under way; taken (swapped for NULL) by the
	 * one caller that collects it. */
	_Atomic(struct vip_peer *) peer;
	/* The error that broke the connection, for the error callback. */
	VIP_ERROR_CODE broken_code;
	VIP_DESCRIPTOR *broken_desc;
	bool broken;
	struct vip_wake wake; /* for the threads in VipSendWait/RecvWait */
};

struct vip_conn {
	void *handle;
	struct vip_nic *nic;
	struct map_conn *mc;
	struct map_conn_info peer;
	/* Taken by the one accept or reject that answers it (or by
	 * VipCloseNic): a second caller finds it used. */
	atomic_bool claimed;
};

/* ------------------------------------------------------------ helpers */

VIP_RETURN vip_from_errno(int err);
/* The name of a return code ("VIP_SUCCESS"...), NULL for no such code. */
const char *vip_return_name(VIP_RETURN ret);
/* The error callback's code for a descriptor that completed in error. */
VIP_ERROR_CODE vip_error_code(const VIP_DESCRIPTOR *d, bool recv,
			      uint32_t status);
/* Hands an asynchronous error to the NIC's error callback. */
void vip_report_error(struct vip_nic *nic, struct vip_vi *vi,
		      VIP_DESCRIPTOR *desc, VIP_RESOURCE_CODE resource,
		      VIP_ERROR_CODE code);
/* The error callback's resource and code for a device event; false when
 * the event is not an error. */
bool vip_event_error(enum map_dev_event ev, VIP_RESOURCE_CODE *resource,
		     VIP_ERROR_CODE *code);
/* CLOCK_MONOTONIC in nanoseconds (wait.c). */
uint64_t vip_now_ns(void);
/* Milliseconds for the mapping layer: -1 for VIP_INFINITE. */
int vip_timeout_ms(VIP_ULONG timeout);

struct vip_nic *vip_nic_get(VIP_NIC_HANDLE h);
/* What VipQueryNic reports for a device with attributes d (pure). */
void vip_nic_attrs(const struct map_dev_attr *d, VIP_NIC_ATTRIBUTES *a);
void vip_nic_refresh_addr(struct vip_nic *nic);
struct vip_ptag *vip_ptag_resolve(struct vip_nic *nic,
				  VIP_PROTECTION_HANDLE h);

/* mem.c */
int vip_mr_table_init(struct vip_mr_table *t, uint32_t max_regions);
/* After a region or a VI's ptag changed: every queue's cache is stale. */
static inline void vip_mr_epoch_bump(struct vip_nic *nic)
{
	atomic_fetch_add_explicit(&nic->mr_epoch, 1, memory_order_release);
}
void vip_mr_table_release(struct vip_nic *nic);
extern struct vip_mr vip_mr_gone; /* marks a removed table slot */

static inline uint32_t vip_mr_hash(uint32_t key)
{
	return key * 2654435761u; /* Knuth's multiplicative hash */
}

/* The region registered under key, or NULL. Lock-free, and inline: every
 * post looks up the descriptor's region. */
static inline struct vip_mr *vip_mr_find(struct vip_nic *nic, uint32_t key)
{
	const struct vip_mr_table *t = &nic->mrs;
	uint32_t i, n;

	for (i = vip_mr_hash(key) & t->mask, n = 0; n <= t->mask;
	     i = (i + 1) & t->mask, n++) {
		struct vip_mr *mr = atomic_load_explicit(&t->slots[i].mr,
							 memory_order_acquire);

		if (!mr)
			return NULL;
		if (mr != &vip_mr_gone &&
		    atomic_load_explicit(&t->slots[i].key,
					 memory_order_relaxed) == key)
			return mr;
	}
	return NULL;
}

/* desc.h: descriptor checks and statuses (pure, inline) */
#include "desc.h"

/* addr.c: pure (unit-tested) */
bool vip_addr_valid(const VIP_NET_ADDRESS *a, unsigned int max_disc);
const uint8_t *vip_addr_disc(const VIP_NET_ADDRESS *a);

/* devname.c: the device names of the VIA era (pure, unit-tested) */
enum vip_devname_kind {
	VIP_DEVNAME_DEFAULT, /* NULL or "": the first device */
	VIP_DEVNAME_VERBS, /* name: a verbs device name */
	VIP_DEVNAME_NETDEV, /* name: M-VIA's /dev/via_<name> */
	VIP_DEVNAME_LOOPBACK, /* M-VIA's /dev/via_lo (name "lo") */
	VIP_DEVNAME_INDEX, /* index: cLAN's clanvi<N>, VI-GM's VINIC<N> */
};

struct vip_devname {
	enum vip_devname_kind kind;
	const char *name; /* points into the string parsed */
	unsigned int index;
};

/* 0, or EINVAL for a name no device can have (/dev/via_ alone...). */
int vip_devname_parse(const char *name, struct vip_devname *out);

/* VIPL_PORT, VIPL_GID_INDEX, VIPL_IP_VERSION, VIPL_IFACE (devname.c). */
struct vip_devsettings {
	unsigned int port; /* 0: ours to choose */
	int gid_index; /* -1: ours to choose */
	int ip_version; /* 0, 4 or 6 */
	const char *iface; /* NULL, or the interface whose device to open */
};

/* 0, or EINVAL for a value that is not a port (1-255), a GID index, an
 * IP version (4, 6, ipv4, ipv6) or an interface name. */
int vip_devsettings_parse(const char *port, const char *gid_index,
			  const char *ip_version, const char *iface,
			  struct vip_devsettings *out);
/* nic.c: why the calling thread's last VipOpenNic failed or what it
 * opened instead of the name given ("" when there is nothing to say),
 * for the tracer. */
const char *vip_nic_open_note(void);

/* vi.c / queue.c */
VIP_VI_STATE vip_vi_state(struct vip_vi *vi);
int vip_queue_init(struct vip_queue *q, struct vip_vi *vi, uint32_t depth,
		   struct map_cq *cq, struct vip_cq *vcq, bool recv);
void vip_queue_fini(struct vip_queue *q);
/* Polls the queue's CQ and applies what completed (lock not held). */
void vip_queue_progress(struct vip_queue *q);
/* The same, unless the queue's lock (its VIPL CQ's, if it has one) is
 * held: then nothing, and false. For the progress thread: the holder is
 * the program, posting or polling, and a post holds it across the
 * provider's post, a system call on rxe. */
bool vip_queue_try_progress(struct vip_queue *q);
/* Writes one completion into q's oldest incomplete descriptor (q->lock
 * held); false if it belonged to none (a stray, or its QP is gone). */
bool vip_queue_complete(struct vip_queue *q, const struct map_completion *c);

/* post.c: hands held (fenced) descriptors to the device once their fence
 * has cleared (q->lock held). */
void vip_queue_submit_held(struct vip_queue *q);
/* seg lies in registered memory of the VI's ptag (error paths and sends
 * whose data is not in the descriptor's region). */
static inline bool vip_range_ok(struct vip_vi *vi, uint32_t key, uint64_t addr,
				uint32_t len)
{
	const struct vip_mr *mr = vip_mr_find(vi->nic, key);

	return mr && mr->ptag == vi->ptag && addr >= (uintptr_t)mr->start &&
	       addr - (uintptr_t)mr->start <= mr->len &&
	       len <= mr->len - (addr - (uintptr_t)mr->start);
}

/* The same for a segment in the program's memory, each field read once. */
static inline bool vip_segment_ok(struct vip_vi *vi,
				  const VIP_DATA_SEGMENT *seg)
{
	return vip_range_ok(vi, seg->Handle, seg->Data.AddressBits,
			    seg->Length);
}

/* Puts receives from..q->tail on the VI's (new) QP; q->lock held. */
void vip_queue_repost(struct vip_queue *q, uint32_t from);
/* Stops q's posts from reaching the device; q->lock held. */
static inline void vip_queue_pause(struct vip_queue *q)
{
	q->paused = true;
	q->mr_epoch = 0; /* no fast path: posts go where paused is seen */
}
/* After a connection ended (flush) or an attempt failed: a fresh queue
 * pair for the next connection. What the old one completed is applied;
 * what else was posted completes flushed (flush) or, for receives
 * posted on a VI not connected yet, goes to the new one. flush: the VI
 * is idle on return. */
void vip_vi_renew(struct vip_vi *vi, bool flush);
/* The same after a failed attempt: the receives are kept. */
void vip_vi_reset(struct vip_vi *vi);
/* For map_conn_request, between attempts: the VI (a struct vip_vi *) reset,
 * its new QP returned. */
struct map_qp *vip_vi_fresh_qp(void *vi);

/* vi's connection mc is lost and its QP in error on a device that
 * flushes once: what the device no longer completes, q's descriptors
 * from the oldest incomplete to the newest, completes flushed (CQ entry
 * included), and so will what is posted until the next QP. Nothing if
 * the VI has left mc meanwhile; mc NULL: q is stranded already, and
 * what was posted since completes. No lock held. */
void vip_queue_strand(struct vip_queue *q, const struct map_conn *mc);

/* Dequeues the oldest completed descriptor, polling if need be. */
VIP_RETURN vip_queue_done(struct vip_queue *q, VIP_DESCRIPTOR **out);

/* progress.c */
void vip_progress_start(struct vip_nic *nic);
void vip_progress_stop(struct vip_nic *nic);
void vip_progress_add(struct vip_vi *vi);
void vip_progress_remove(struct vip_vi *vi);

/* notify.c */
void vip_notify_init(struct vip_notify *n, struct vip_nic *nic);
/* Stops a pending callback (before its queue or CQ goes away); from the
 * callback's own thread, hands that thread to the NIC. */
void vip_notify_cancel(struct vip_notify *n);
/* Cancels (again) and frees what the notify holds. */
void vip_notify_fini(struct vip_notify *n);
/* Joins the notify threads handed to the NIC (VipCloseNic, last). */
void vip_notify_close_nic(struct vip_nic *nic);

/* cq.c */
VIP_RETURN vip_cq_done(struct vip_cq *cq, VIP_VI_HANDLE *vi, VIP_BOOLEAN *recv);
struct vip_cq *vip_cq_get(VIP_CQ_HANDLE h);
/* Polls the shared CQ: completions go to their queues and become entries. */
void vip_cq_progress(struct vip_cq *cq);
/* The same unless cq->lock is held: then false (vip_queue_try_progress). */
bool vip_cq_try_progress(struct vip_cq *cq);
/* One entry for a descriptor of q completed without the device (cq->lock
 * held, q->lock not). */
void vip_cq_push(struct vip_cq *cq, struct vip_queue *q);
void vip_cq_destroy(struct vip_cq *cq);
/* A work queue joins or leaves cq: its verbs CQ and entries grow to hold
 * what the queues on it can have outstanding. 0 or an errno value. */
int vip_cq_attach(struct vip_cq *cq, struct vip_queue *q);
void vip_cq_detach(struct vip_cq *cq, struct vip_queue *q);

/* wait.c: poll attempt() for a while, then sleep on cq's channel, until
 * w's object closes. */
VIP_RETURN vip_wait(struct vip_wake *w, struct map_cq *cq, VIP_ULONG timeout,
		    VIP_RETURN (*attempt)(void *arg), void *arg);
void vip_wake_init(struct vip_wake *w);
/* First step of a destroy: every waiter on w returns (and new ones do at
 * once); the object may go once their holds are released. */
void vip_wake_close(struct vip_wake *w);
/* Last step: frees what w holds (no waiter is left). */
void vip_wake_fini(struct vip_wake *w);
/* Ends a connection on vi and returns it to Idle with every descriptor
 * completed (flushed if need be). false: vi had no connection, or
 * another thread is ending it. */
bool vip_vi_drop_connection(struct vip_vi *vi);
/* conn.c, shared with peer.c */
void vip_info_from_vi(struct map_conn_info *info, const struct vip_vi *vi);
void vip_attrs_from_info(VIP_VI_ATTRIBUTES *a,
			 const struct map_conn_info *info);
void vip_vi_connected(struct vip_vi *vi, struct map_conn *mc);
VIP_RETURN vip_reject_code(enum map_reject_reason why);
VIP_RETURN vip_check_peer(struct map_conn *mc,
			  const struct map_conn_info *peer,
			  const struct map_conn_info *mine);
/* peer.c: cancels a peer request under way and waits for it to end;
 * false if there was none. */
bool vip_peer_reap(struct vip_vi *vi);
/* A descriptor error broke vi's connection (queue lock held). */
void vip_vi_broken(struct vip_vi *vi, VIP_DESCRIPTOR *d, VIP_ERROR_CODE code);
/* A descriptor completed flushed: a connected vi is in Error now. */
VIP_COLD void vip_vi_flushed(struct vip_vi *vi);
void vip_vi_destroy(struct vip_vi *vi);

/* After vi->qp was set (both queue locks held, or the VI not in use
 * yet): what its queues' completions are checked against. */
static inline void vip_vi_qp_changed(struct vip_vi *vi)
{
	vi->sq.qp_num = vi->rq.qp_num = map_qp_num(vi->qp);
}

#endif
