/*
 * handle.h - handles as (slot, generation, kind), never raw pointers.
 *
 * A handle value packs the slot's tag (generation << 8 | kind) in its high
 * 32 bits and the slot's number in its low 32. Lookups are lock-free: a stale
 * handle (slot reused or freed), a forged one or one of another kind does
 * not match the slot's tag and yields NULL, never a dangling pointer.
 * The lookup is inline: every post and every Done starts with one, and
 * under emulation a call and its return cost more than the lookup.
 */
#ifndef VIPL_HANDLE_H
#define VIPL_HANDLE_H

#include <stdatomic.h>
#include <stdint.h>

/* Slot numbers are the low 20 bits of a handle: a million live objects. */
#define VIP_HANDLE_SLOT_BITS 20
#define VIP_HANDLE_SLOTS (1u << VIP_HANDLE_SLOT_BITS)

enum vip_kind {
	VIP_KIND_NIC = 1,
	VIP_KIND_PTAG,
	VIP_KIND_VI,
	VIP_KIND_CQ,
	VIP_KIND_CONN,
};

struct vip_slot {
	_Atomic uint32_t tag; /* 0 while free */
	uint32_t gen; /* last generation used; under the table's lock */
	void *obj;
	uint32_t next_free;
	/* Threads holding the object across a sleep (vip_handle_hold): the
	 * slot is not reused, nor the object freed, until they have left. */
	atomic_uint holds;
};

/* Every slot, in one zeroed array that is never freed (handle.c): pages
 * the process never used stay untouched. Slot 0 is never handed out (its
 * tag stays 0, which no handle asks for). */
extern struct vip_slot vip_handle_slots[VIP_HANDLE_SLOTS];

void *vip_handle_new(enum vip_kind kind, void *obj);
/* Makes the handle stale, waits for every hold on it to be released,
 * then frees the slot: once it returns, no holder touches the object. */
void vip_handle_free(const void *handle);
/* Calls fn on every live object of a kind (not on the hot path). */
void vip_handle_each(enum vip_kind kind, void (*fn)(void *obj, void *arg),
		     void *arg);

/* The slot a handle names: its low bits, masked (the mask is the bounds
 * check; a forged handle names some slot, whose tag then decides). */
static inline struct vip_slot *vip_slot_of(const void *handle)
{
	return &vip_handle_slots[(uintptr_t)handle & (VIP_HANDLE_SLOTS - 1)];
}

/*
 * The object a handle names, or NULL if it names none of that kind. The
 * slot's tag holds the kind, so one compare with the tag the handle must
 * carry checks generation and kind at once (a handle whose own kind byte
 * is wrong but whose slot holds a live object of the kind asked for names
 * that object: nothing dangles). A mask, a load and a compare.
 */
static inline void *vip_handle_get(const void *handle, enum vip_kind kind)
{
	uintptr_t v = (uintptr_t)handle;
	uint32_t want = (uint32_t)(v >> 32 & ~(uintptr_t)0xff) | kind;
	struct vip_slot *s = vip_slot_of(handle);

	if (atomic_load_explicit(&s->tag, memory_order_acquire) != want)
		return NULL;
	return s->obj;
}

/*
 * The object a handle names, held until vip_handle_release: for the calls
 * that sleep (the Wait calls), which another thread's destroy must not
 * pull the object from under. The count is taken before the tag is
 * checked, so a destroy that made the handle stale meanwhile either sees
 * the hold or is seen by the check (both sequentially consistent).
 */
static inline void *vip_handle_hold(const void *handle, enum vip_kind kind)
{
	uintptr_t v = (uintptr_t)handle;
	uint32_t want = (uint32_t)(v >> 32 & ~(uintptr_t)0xff) | kind;
	struct vip_slot *s = vip_slot_of(handle);

	atomic_fetch_add(&s->holds, 1);
	if (atomic_load(&s->tag) != want) {
		atomic_fetch_sub(&s->holds, 1);
		return NULL;
	}
	return s->obj;
}

/* Ends a hold taken on handle (which named a live object then). */
static inline void vip_handle_release(const void *handle)
{
	atomic_fetch_sub(&vip_slot_of(handle)->holds, 1);
}

#endif
