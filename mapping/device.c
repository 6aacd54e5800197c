/* device.c - NIC: a verbs device context shared with rdma_cm. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAP_PORT 1

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };

int map_dev_open(const char *name, struct map_dev **out)
{
	struct ibv_context **list;
	struct map_dev *dev;
	int i, n = 0, err;

	err = map_fork_prepare();
	if (err)
		return err;
	list = rdma_get_devices(&n);
	if (!list)
		return errno ? errno : ENODEV;
	for (i = 0; i < n; i++) {
		if (!name || !*name ||
		    !strcmp(ibv_get_device_name(list[i]->device), name))
			break;
	}
	if (i == n) {
		rdma_free_devices(list);
		return ENODEV;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		rdma_free_devices(list);
		return ENOMEM;
	}
	dev->ctx = list[i];
	dev->list = list;
	dev->port = MAP_PORT;
	pthread_mutex_init(&dev->lock, NULL);
	*out = dev;
	return 0;
}

void map_dev_close(struct map_dev *dev)
{
	map_dev_unwatch(dev);
	map_cm_stop(dev);
	pthread_mutex_destroy(&dev->lock);
	rdma_free_devices(dev->list);
	free(dev);
}

/* The port's IP address: an IPv4-mapped GID first, else a global IPv6. */
static void find_addr(struct map_dev *dev, int gid_tbl_len,
		      struct map_dev_attr *attr)
{
	union ibv_gid gid;
	int i;

	attr->addr_len = 0;
	for (i = 0; i < gid_tbl_len; i++) {
		if (ibv_query_gid(dev->ctx, dev->port, i, &gid))
			break;
		if (!memcmp(gid.raw, v4_mapped_prefix, 12)) {
			memcpy(attr->addr, gid.raw + 12, 4);
			attr->addr_len = 4;
			return;
		}
		if (!attr->addr_len && gid.raw[0] != 0 &&
		    !(gid.raw[0] == 0xfe && (gid.raw[1] & 0xc0) == 0x80)) {
			memcpy(attr->addr, gid.raw, 16);
			attr->addr_len = 16;
		}
	}
}

int map_dev_query(struct map_dev *dev, struct map_dev_attr *attr)
{
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	int ret;

	ret = ibv_query_device(dev->ctx, &da);
	if (ret)
		return ret;
	ret = ibv_query_port(dev->ctx, dev->port, &pa);
	if (ret)
		return ret;

	memset(attr, 0, sizeof(*attr));
	strncpy(attr->name, ibv_get_device_name(dev->ctx->device),
		sizeof(attr->name) - 1);
	attr->hw_ver = da.hw_ver;
	attr->fw_ver_num = strtoull(da.fw_ver, NULL, 10);
	attr->max_mr_size = da.max_mr_size;
	attr->max_mr = da.max_mr;
	attr->max_qp = da.max_qp;
	attr->max_qp_wr = da.max_qp_wr;
	attr->max_sge = da.max_sge;
	attr->max_cq = da.max_cq;
	attr->max_cqe = da.max_cqe;
	attr->max_pd = da.max_pd;
	attr->max_qp_rd_atom = da.max_qp_rd_atom;
	attr->max_msg_sz = pa.max_msg_sz;
	attr->mtu = 128u << pa.active_mtu;
	find_addr(dev, pa.gid_tbl_len, attr);
	return 0;
}
