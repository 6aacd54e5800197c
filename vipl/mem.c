/*
 * mem.c - protection tags and memory registration.
 *
 * A VIP_MEM_HANDLE is the region's verbs key: the peer can name our region
 * in an address segment with no translation, and a data segment's handle
 * goes to the device as is. The NIC keeps its regions in an open-addressing
 * table by key so that VipPostSend can check the descriptor's own handle
 * without a search or a lock.
 */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

struct vip_mr vip_mr_gone;

struct vip_ptag *vip_ptag_resolve(struct vip_nic *nic, VIP_PROTECTION_HANDLE h)
{
	struct vip_ptag *pt;

	if (!h)
		return &nic->default_ptag;
	pt = vip_handle_get(h, VIP_KIND_PTAG);
	return pt && pt->nic == nic ? pt : NULL;
}

VIP_RETURN VipCreatePtag(VIP_NIC_HANDLE NicHandle, VIP_PROTECTION_HANDLE *out)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_ptag *pt;
	int err;

	if (!nic || !out)
		return VIP_INVALID_PARAMETER;
	pt = calloc(1, sizeof(*pt));
	if (!pt)
		return VIP_ERROR_RESOURCE;
	pt->nic = nic;
	err = map_pd_alloc(nic->dev, &pt->pd);
	if (err) {
		free(pt);
		return vip_from_errno(err);
	}
	pt->handle = vip_handle_new(VIP_KIND_PTAG, pt);
	if (!pt->handle) {
		map_pd_free(pt->pd);
		free(pt);
		return VIP_ERROR_RESOURCE;
	}
	*out = pt->handle;
	return VIP_SUCCESS;
}

VIP_RETURN VipDestroyPtag(VIP_NIC_HANDLE NicHandle, VIP_PROTECTION_HANDLE h)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_ptag *pt;

	if (!nic || !h)
		return VIP_INVALID_PARAMETER;
	pt = vip_ptag_resolve(nic, h);
	if (!pt)
		return VIP_INVALID_PTAG;
	if (atomic_load(&pt->users))
		return VIP_INVALID_STATE;
	if (map_pd_free(pt->pd))
		return VIP_INVALID_STATE;
	vip_handle_free(pt->handle);
	free(pt);
	return VIP_SUCCESS;
}

/* ------------------------------------------------------------- table */

int vip_mr_table_init(struct vip_mr_table *t, uint32_t max_regions)
{
	uint32_t n = 64;

	if (max_regions > 65536)
		max_regions = 65536;
	while (n < 2 * max_regions)
		n <<= 1;
	t->slots = calloc(n, sizeof(*t->slots));
	if (!t->slots)
		return ENOMEM;
	t->mask = n - 1;
	t->live = 0;
	return 0;
}

/* Caller holds nic->lock. Removed slots are reused; lookups stop at an
 * empty slot or after one lap, so they stay bounded either way. */
static int table_insert(struct vip_mr_table *t, struct vip_mr *mr)
{
	struct vip_mr *cur;
	uint32_t i;

	if (t->live >= t->mask / 2)
		return ENOSPC;
	for (i = vip_mr_hash(mr->key) & t->mask;; i = (i + 1) & t->mask) {
		cur = atomic_load(&t->slots[i].mr);
		if (!cur || cur == &vip_mr_gone)
			break;
	}
	t->live++;
	atomic_store_explicit(&t->slots[i].key, mr->key, memory_order_relaxed);
	atomic_store_explicit(&t->slots[i].mr, mr, memory_order_release);
	return 0;
}

static void table_remove(struct vip_mr_table *t, struct vip_mr *mr)
{
	uint32_t i;

	for (i = vip_mr_hash(mr->key) & t->mask; atomic_load(&t->slots[i].mr);
	     i = (i + 1) & t->mask) {
		if (atomic_load(&t->slots[i].mr) == mr) {
			atomic_store_explicit(&t->slots[i].mr, &vip_mr_gone,
					      memory_order_release);
			t->live--;
			return;
		}
	}
}

void vip_mr_table_release(struct vip_nic *nic)
{
	struct vip_mr_table *t = &nic->mrs;
	uint32_t i;

	for (i = 0; i <= t->mask; i++) {
		struct vip_mr *mr = atomic_load(&t->slots[i].mr);

		if (mr && mr != &vip_mr_gone) {
			map_mr_dereg(mr->mr);
			atomic_fetch_sub(&mr->ptag->users, 1);
			free(mr);
		}
	}
	free(t->slots);
	t->slots = NULL;
}

/* ------------------------------------------------------------ memory */

VIP_RETURN VipRegisterMem(VIP_NIC_HANDLE NicHandle, VIP_PVOID VirtualAddress,
			  VIP_ULONG Length, VIP_MEM_ATTRIBUTES *MemAttrs,
			  VIP_MEM_HANDLE *MemHandle)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_mr *mr;
	int access = 0, err;

	if (!nic || !VirtualAddress || !Length || !MemHandle)
		return VIP_INVALID_PARAMETER;
	if (Length > nic->attr.max_mr_size)
		return VIP_ERROR_RESOURCE;
	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return VIP_ERROR_RESOURCE;
	/* NULL attributes (Giganet): default ptag, no RDMA. */
	mr->ptag = vip_ptag_resolve(nic, MemAttrs ? MemAttrs->Ptag : NULL);
	if (!mr->ptag) {
		free(mr);
		return VIP_INVALID_PTAG;
	}
	mr->rdma_write = MemAttrs && MemAttrs->EnableRdmaWrite;
	mr->rdma_read = MemAttrs && MemAttrs->EnableRdmaRead;
	if (mr->rdma_write)
		access |= MAP_ACCESS_REMOTE_WRITE;
	if (mr->rdma_read)
		access |= MAP_ACCESS_REMOTE_READ;
	mr->start = VirtualAddress;
	mr->len = Length;

	err = map_mr_reg(mr->ptag->pd, VirtualAddress, Length, access, &mr->mr,
			 &mr->key);
	if (err) {
		free(mr);
		return err == EFAULT ? VIP_INVALID_PARAMETER
				     : vip_from_errno(err);
	}
	pthread_mutex_lock(&nic->lock);
	err = table_insert(&nic->mrs, mr);
	pthread_mutex_unlock(&nic->lock);
	if (err) {
		map_mr_dereg(mr->mr);
		free(mr);
		return VIP_ERROR_RESOURCE;
	}
	atomic_fetch_add(&mr->ptag->users, 1);
	*MemHandle = mr->key;
	return VIP_SUCCESS;
}

VIP_RETURN VipDeregisterMem(VIP_NIC_HANDLE NicHandle, VIP_PVOID VirtualAddress,
			    VIP_MEM_HANDLE MemHandle)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_mr *mr;

	if (!nic)
		return VIP_INVALID_PARAMETER;
	pthread_mutex_lock(&nic->lock);
	mr = vip_mr_find(nic, MemHandle);
	if (!mr || mr->start != (uint8_t *)VirtualAddress) {
		pthread_mutex_unlock(&nic->lock);
		return VIP_INVALID_PARAMETER;
	}
	table_remove(&nic->mrs, mr);
	/* After the removal: a post that read the old epoch and then found
	 * the region cached it under that epoch, now stale. */
	vip_mr_epoch_bump(nic);
	pthread_mutex_unlock(&nic->lock);
	map_mr_dereg(mr->mr);
	atomic_fetch_sub(&mr->ptag->users, 1);
	free(mr);
	return VIP_SUCCESS;
}

VIP_RETURN VipQueryMem(VIP_NIC_HANDLE NicHandle, VIP_PVOID Address,
		       VIP_MEM_HANDLE MemHandle, VIP_MEM_ATTRIBUTES *MemAttrs)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	uint8_t *p = Address;
	struct vip_mr *mr;

	if (!nic || !MemAttrs)
		return VIP_INVALID_PARAMETER;
	pthread_mutex_lock(&nic->lock);
	mr = vip_mr_find(nic, MemHandle);
	if (!mr || p < mr->start || p >= mr->start + mr->len) {
		pthread_mutex_unlock(&nic->lock);
		return VIP_INVALID_PARAMETER;
	}
	MemAttrs->Ptag = mr->ptag->handle;
	MemAttrs->EnableRdmaWrite = mr->rdma_write;
	MemAttrs->EnableRdmaRead = mr->rdma_read;
	pthread_mutex_unlock(&nic->lock);
	return VIP_SUCCESS;
}

VIP_RETURN VipSetMemAttributes(VIP_NIC_HANDLE NicHandle, VIP_PVOID Address,
			       VIP_MEM_HANDLE MemHandle,
			       VIP_MEM_ATTRIBUTES *MemAttrs)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct vip_ptag *ptag;
	struct vip_mr *mr;
	int access = 0, err;

	if (!nic || !MemAttrs)
		return VIP_INVALID_PARAMETER;
	ptag = vip_ptag_resolve(nic, MemAttrs->Ptag);
	if (!ptag)
		return VIP_INVALID_PTAG;
	if (MemAttrs->EnableRdmaWrite)
		access |= MAP_ACCESS_REMOTE_WRITE;
	if (MemAttrs->EnableRdmaRead)
		access |= MAP_ACCESS_REMOTE_READ;
	pthread_mutex_lock(&nic->lock);
	mr = vip_mr_find(nic, MemHandle);
	if (!mr || mr->start != (uint8_t *)Address) {
		pthread_mutex_unlock(&nic->lock);
		return VIP_INVALID_PARAMETER;
	}
	/* The handle is the key: it must survive the change (see mr.c). */
	err = map_mr_modify(mr->mr, ptag->pd, access);
	if (!err) {
		if (ptag != mr->ptag) {
			atomic_fetch_sub(&mr->ptag->users, 1);
			atomic_fetch_add(&ptag->users, 1);
			mr->ptag = ptag;
		}
		mr->rdma_write = MemAttrs->EnableRdmaWrite;
		mr->rdma_read = MemAttrs->EnableRdmaRead;
		vip_mr_epoch_bump(nic);
	}
	pthread_mutex_unlock(&nic->lock);
	if (err == EIO)
		return VIP_ERROR_RESOURCE; /* handle lost: register again */
	return vip_from_errno(err);
}
