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

int map_mr_reg(struct map_pd *pd, void *addr, size_t len, int access,
	       struct map_mr **out, uint32_t *key)
{
	int flags = IBV_ACCESS_LOCAL_WRITE;
	struct map_mr *mr;

	if (access & MAP_ACCESS_REMOTE_WRITE)
		flags |= IBV_ACCESS_REMOTE_WRITE;
	if (access & MAP_ACCESS_REMOTE_READ)
		flags |= IBV_ACCESS_REMOTE_READ;

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
