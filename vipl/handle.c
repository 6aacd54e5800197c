/*
 * handle.c - creating and freeing handles (lookups are inline, handle.h).
 * Slots live in chunks that are allocated once and never freed.
 */
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define CHUNK_SLOTS VIP_HANDLE_CHUNK_SLOTS
#define MAX_CHUNKS VIP_HANDLE_MAX_CHUNKS

struct vip_slot *_Atomic vip_handle_chunks[VIP_HANDLE_MAX_CHUNKS];

static struct {
	pthread_mutex_t lock;
	uint32_t nchunks;
	uint32_t free_head; /* index + 1; 0: none */
} table = { .lock = PTHREAD_MUTEX_INITIALIZER };

static int grow(void)
{
	struct vip_slot *chunk;
	uint32_t base, i;

	if (table.nchunks == MAX_CHUNKS)
		return -1;
	chunk = calloc(CHUNK_SLOTS, sizeof(*chunk));
	if (!chunk)
		return -1;
	base = table.nchunks * CHUNK_SLOTS;
	for (i = 0; i < CHUNK_SLOTS; i++)
		chunk[i].next_free = i + 1 < CHUNK_SLOTS ? base + i + 2 : 0;
	table.free_head = base + 1;
	atomic_store_explicit(&vip_handle_chunks[table.nchunks], chunk,
			      memory_order_release);
	table.nchunks++;
	return 0;
}

void *vip_handle_new(enum vip_kind kind, void *obj)
{
	struct vip_slot *s;
	uint32_t idx, tag;

	pthread_mutex_lock(&table.lock);
	if (!table.free_head && grow()) {
		pthread_mutex_unlock(&table.lock);
		return NULL;
	}
	idx = table.free_head - 1;
	s = vip_slot_at(idx);
	table.free_head = s->next_free;
	/* 24 bits of generation; never 0 so no tag is ever 0. */
	s->gen = (s->gen + 1) & 0xffffff;
	if (!s->gen)
		s->gen = 1;
	tag = s->gen << 8 | kind;
	s->obj = obj;
	atomic_store_explicit(&s->tag, tag, memory_order_release);
	pthread_mutex_unlock(&table.lock);
	return (void *)((uintptr_t)tag << 32 | (uintptr_t)(idx + 1));
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
	uint32_t idx = (uint32_t)v - 1;
	struct vip_slot *s;
	bool mine = false;

	pthread_mutex_lock(&table.lock);
	s = vip_slot_at(idx);
	if (s && atomic_load(&s->tag) == (uint32_t)(v >> 32)) {
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
	table.free_head = idx + 1;
	pthread_mutex_unlock(&table.lock);
}

void vip_handle_each(enum vip_kind kind, void (*fn)(void *obj, void *arg),
		     void *arg)
{
	uint32_t i, n;

	pthread_mutex_lock(&table.lock);
	n = table.nchunks * CHUNK_SLOTS;
	pthread_mutex_unlock(&table.lock);
	for (i = 0; i < n; i++) {
		struct vip_slot *s = vip_slot_at(i);
		uint32_t tag = atomic_load(&s->tag);

		if (tag && (tag & 0xff) == kind)
			fn(s->obj, arg);
	}
}

/* Chunks stay for the life of the process (lookups may race with exit);
 * free them at unload so leak checkers see a clean exit. */
__attribute__((destructor)) static void handle_table_release(void)
{
	uint32_t i;

	for (i = 0; i < table.nchunks; i++)
		free(vip_handle_chunks[i]);
}
