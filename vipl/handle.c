/*
 * handle.c - creating and freeing handles (lookups are inline, handle.h).
 * Slots are one static array: a slot number is never reused for another
 * array, so a lookup needs no bounds check but the handle's mask.
 */
#include <time.h>

#include "internal.h"

struct vip_slot vip_handle_slots[VIP_HANDLE_SLOTS];

static struct {
	pthread_mutex_t lock;
	uint32_t used; /* slots 1..used have been handed out at least once */
	uint32_t free_head; /* a freed slot's number; 0: none */
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

void *vip_handle_new(enum vip_kind kind, void *obj)
{
	struct vip_slot *s;
	uint32_t idx, tag;

	pthread_mutex_lock(&table.lock);
	if (table.free_head) {
		idx = table.free_head;
		table.free_head = vip_handle_slots[idx].next_free;
	} else if (table.used + 1 < VIP_HANDLE_SLOTS) {
		idx = ++table.used;
	} else {
		pthread_mutex_unlock(&table.lock);
		return NULL;
	}
	s = &vip_handle_slots[idx];
	/* 24 bits of generation; never 0 so no tag is ever 0. */
	s->gen = (s->gen + 1) & 0xffffff;
	if (!s->gen)
		s->gen = 1;
	tag = s->gen << 8 | kind;
	s->obj = obj;
	atomic_store_explicit(&s->tag, tag, memory_order_release);
	pthread_mutex_unlock(&table.lock);
	return (void *)((uintptr_t)tag << 32 | (uintptr_t)idx);
}

/* A holder leaves once the object's wake-up reached it (wait.c): a
 * short sleep per look. */
static void wait_unheld(struct vip_slot *s)
{
	struct timespec nap = { 0, 100000 };

	while (atomic_load(&s->holds))
		nanosleep(&nap, NULL);
}

void vip_handle_free(const void *handle)
{
	uintptr_t v = (uintptr_t)handle;
	struct vip_slot *s = vip_slot_of(handle);
	bool mine = false;

	pthread_mutex_lock(&table.lock);
	if (atomic_load(&s->tag) == (uint32_t)(v >> 32) && s->tag) {
		atomic_store(&s->tag, 0);
		mine = true;
	}
	pthread_mutex_unlock(&table.lock);
	if (!mine)
		return;
	/* Not under the table's lock: holders may take a while to wake. */
	wait_unheld(s);
	pthread_mutex_lock(&table.lock);
	s->obj = NULL;
	s->next_free = table.free_head;
	table.free_head = (uint32_t)(s - vip_handle_slots);
	pthread_mutex_unlock(&table.lock);
}

void vip_handle_each(enum vip_kind kind, void (*fn)(void *obj, void *arg),
		     void *arg)
{
	uint32_t i, n;

	pthread_mutex_lock(&table.lock);
	n = table.used;
	pthread_mutex_unlock(&table.lock);
	for (i = 1; i <= n; i++) {
		struct vip_slot *s = &vip_handle_slots[i];
		uint32_t tag = atomic_load(&s->tag);

		if (tag && (tag & 0xff) == kind)
			fn(s->obj, arg);
	}
}
