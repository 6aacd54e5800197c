/* mr.c - protection tags (PDs) and memory regions (MRs). */
#include <errno.h>
#include <stdlib.h>

#include "internal.h"

int map_pd_alloc(struct map_dev *dev, struct map_pd **out)
{
	struct map_pd *pd = calloc(1, sizeof(*pd));

	if (!pd)
		return ENOMEM;
	pd->dev = dev;
	pd->pd = ibv_alloc_pd(dev->ctx);
	if (!pd->pd) {
		int err = errno ? errno : ENOMEM;

		free(pd);
		return err;
	}
	*out = pd;
	return 0;
}

int map_pd_free(struct map_pd *pd)
{
	/* The kernel refuses (EBUSY) while MRs or QPs still use the PD. */
	int ret = ibv_dealloc_pd(pd->pd);

	if (ret)
		return ret;
	free(pd);
	return 0;
}

static int ibv_access(int access)
{
	int flags = IBV_ACCESS_LOCAL_WRITE;

	if (access & MAP_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE;
	if (access & MAP_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;
	return flags;
}

int map_mr_reg(struct map_pd *pd, void *addr, size_t len, int access,
	       struct map_mr **out, uint32_t *key)
{
	int flags = ibv_access(access);
	struct map_mr *mr;

	mr = calloc(1, sizeof(*mr));
	if (!mr)
		return ENOMEM;
	mr->mr = ibv_reg_mr(pd->pd, addr, len, flags);
	if (!mr->mr) {
		int err = errno ? errno : ENOMEM;

		free(mr);
		return err;
	}
	/*
	 * One 32-bit handle serves both ends, so the peer's address segment
	 * can name this region: that needs rkey == lkey whenever remote
	 * access exists (true of rxe, siw and mlx5). Refuse a device that
	 * differs rather than hand out a handle that fails at the peer.
	 */
	if ((flags & ~IBV_ACCESS_LOCAL_WRITE) && mr->mr->rkey != mr->mr->lkey) {
		ibv_dereg_mr(mr->mr);
		free(mr);
		return ENOTSUP;
	}
	mr->access = access;
	*key = mr->mr->lkey;
	*out = mr;
	return 0;
}

int map_mr_dereg(struct map_mr *mr)
{
	int ret = ibv_dereg_mr(mr->mr);

	if (ret)
		return ret;
	free(mr);
	return 0;
}

int map_mr_modify(struct map_mr *mr, struct map_pd *pd, int access)
{
	uint32_t old_key = mr->mr->lkey;
	struct ibv_pd *old_pd = mr->mr->pd;
	int old_access = mr->access;
	int ret;

	ret = ibv_rereg_mr(mr->mr, IBV_REREG_MR_CHANGE_PD |
				   IBV_REREG_MR_CHANGE_ACCESS,
			   pd->pd, NULL, 0, ibv_access(access));
	if (ret)
		return ret == IBV_REREG_MR_ERR_INPUT ? EINVAL : ENOTSUP;
	if (mr->mr->lkey == old_key &&
	    (!(access & (MAP_ACCESS_REMOTE_WRITE | MAP_ACCESS_REMOTE_READ)) ||
	     mr->mr->rkey == old_key)) {
		mr->access = access;
		return 0;
	}
	/* Programs hold the old handle: put things back as they were. If
	 * the key comes back, the device just cannot change a region in
	 * place; if not, the handle no longer reaches the region (EIO: the
	 * program must register it again). */
	ret = ibv_rereg_mr(mr->mr, IBV_REREG_MR_CHANGE_PD |
					   IBV_REREG_MR_CHANGE_ACCESS,
			   old_pd, NULL, 0, ibv_access(old_access));
	if (!ret && mr->mr->lkey == old_key)
		return ENOTSUP;
	return EIO;
}
