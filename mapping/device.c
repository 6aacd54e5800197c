/* device.c - NIC: a verbs device context shared with rdma_cm. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netpacket/packet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MAP_PORT 1

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };

/* Every valid GID entry of ctx, each port's (free() it), or NULL. */
static struct ibv_gid_entry *gid_table(struct ibv_context *ctx, ssize_t *n)
{
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	struct ibv_gid_entry *e;
	size_t max = 0;
	int p;

	*n = 0;
	if (ibv_query_device(ctx, &da))
		return NULL;
	for (p = 1; p <= da.phys_port_cnt; p++)
		if (!ibv_query_port(ctx, (uint8_t)p, &pa))
			max += (size_t)pa.gid_tbl_len;
	e = max ? calloc(max, sizeof(*e)) : NULL;
	if (!e)
		return NULL;
	*n = ibv_query_gid_table(ctx, e, max, 0);
	if (*n <= 0) {
		*n = 0;
		free(e);
		return NULL;
	}
	return e;
}

/*
 * iWARP devices (siw, Chelsio, Intel in iWARP mode) have no RoCE GID
 * table: their one GID is the MAC address of the interface they run on,
 * and the kernel names no netdev beside it. That interface is found by
 * its MAC; its index, or 0.
 */
static unsigned int iwarp_ifindex(struct ibv_context *ctx, uint8_t port)
{
	struct ifaddrs *ifs, *ifa;
	unsigned int ifindex = 0;
	union ibv_gid gid;

	if (ctx->device->transport_type != IBV_TRANSPORT_IWARP ||
	    ibv_query_gid(ctx, port, 0, &gid) || getifaddrs(&ifs))
		return 0;
	for (ifa = ifs; ifa && !ifindex; ifa = ifa->ifa_next) {
		const struct sockaddr_ll *ll = (void *)ifa->ifa_addr;

		if (ll && ll->sll_family == AF_PACKET && ll->sll_halen == 6 &&
		    !memcmp(ll->sll_addr, gid.raw, 6))
			ifindex = (unsigned int)ll->sll_ifindex;
	}
	freeifaddrs(ifs);
	return ifindex;
}

/* The first IPv4 address of interface ifindex, else its first global
 * IPv6 one, into attr (addr_len 0 when it has neither); ip_version 4 or 6
 * (VIPL_IP_VERSION) takes only that family's. */
static void ifindex_addr(unsigned int ifindex, int ip_version,
			 struct map_dev_attr *attr)
{
	char want[IF_NAMESIZE];
	struct ifaddrs *ifs, *ifa;

	attr->addr_len = 0;
	if (!if_indextoname(ifindex, want) || getifaddrs(&ifs))
		return;
	for (ifa = ifs; ifa && attr->addr_len != 4; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || strcmp(ifa->ifa_name, want))
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET && ip_version != 6) {
			const struct sockaddr_in *in = (void *)ifa->ifa_addr;

			memcpy(attr->addr, &in->sin_addr, 4);
			attr->addr_len = 4;
		} else if (ifa->ifa_addr->sa_family == AF_INET6 &&
			   !attr->addr_len && ip_version != 4) {
			const struct sockaddr_in6 *in6 = (void *)ifa->ifa_addr;
			const uint8_t *a = in6->sin6_addr.s6_addr;

			if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
				continue; /* link-local: no route to it */
			memcpy(attr->addr, a, 16);
			attr->addr_len = 16;
		}
	}
	freeifaddrs(ifs);
}

/*
 * The port of ctx bound to interface ifindex, or 0. RoCE devices (rxe
 * among them) name the netdev behind each GID; InfiniBand ports have none,
 * so only /dev/via_<name> on Ethernet finds a device.
 */
/* Whether gid is an address interface ifname has (IPv4 as ::ffff:a.b.c.d):
 * every GID rxe and RoCE NICs derive from a netdev is one of its own. */
static bool gid_on_iface(const union ibv_gid *gid, const char *ifname,
			 const struct ifaddrs *ifs)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	const struct ifaddrs *ifa;

	for (ifa = ifs; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || strcmp(ifa->ifa_name, ifname))
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET) {
			const struct sockaddr_in *in = (void *)ifa->ifa_addr;

			if (!memcmp(gid->raw, v4mapped, 12) &&
			    !memcmp(gid->raw + 12, &in->sin_addr, 4))
				return true;
		} else if (ifa->ifa_addr->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (void *)ifa->ifa_addr;

			if (!memcmp(gid->raw, in6->sin6_addr.s6_addr, 16))
				return true;
		}
	}
	return false;
}

/*
 * The port of ctx bound to interface ifindex, or 0. Interface numbers are
 * per network namespace, and every namespace sees every device (rdma's
 * shared mode): a device on another namespace's interface of the same
 * number is no match, so strictly the GID must also be one of the
 * interface's addresses; a second, loose pass (ifindex alone) serves
 * interfaces without addresses.
 */
static uint8_t port_on_netdev(struct ibv_context *ctx, unsigned int ifindex,
			      bool strict)
{
	char ifname[IF_NAMESIZE];
	struct ifaddrs *ifs = NULL;
	struct ibv_gid_entry *e;
	uint8_t port = 0;
	ssize_t i, n;

	if (strict && (!if_indextoname(ifindex, ifname) || getifaddrs(&ifs)))
		return 0;
	e = gid_table(ctx, &n);
	for (i = 0; i < n; i++) {
		if (e[i].ndev_ifindex == ifindex &&
		    (!strict || gid_on_iface(&e[i].gid, ifname, ifs))) {
			port = (uint8_t)e[i].port_num;
			break;
		}
	}
	free(e);
	if (ifs)
		freeifaddrs(ifs);
	if (!port && iwarp_ifindex(ctx, MAP_PORT) == ifindex)
		port = MAP_PORT;
	return port;
}

/* The port of list[i] sel picks, or 0 if it picks another device. */
static uint8_t pick(const struct map_dev_sel *sel, struct ibv_context *ctx,
		    int i, unsigned int ifindex, bool strict)
{
	switch (sel->by) {
	case MAP_DEV_FIRST:
		return MAP_PORT;
	case MAP_DEV_NAME:
		return strcmp(ibv_get_device_name(ctx->device), sel->name)
			       ? 0
			       : MAP_PORT;
	case MAP_DEV_NETDEV:
		return port_on_netdev(ctx, ifindex, strict);
	case MAP_DEV_INDEX:
		return (unsigned int)i == sel->index ? MAP_PORT : 0;
	}
	return 0;
}

static bool port_exists(struct ibv_context *ctx, unsigned int port)
{
	struct ibv_device_attr da;

	return port <= 255 && !ibv_query_device(ctx, &da) &&
	       port <= da.phys_port_cnt;
}

/* A GID the settings name must hold an address (RoCE: an IP). */
static bool gid_exists(struct ibv_context *ctx, uint8_t port, int index)
{
	struct ibv_port_attr pa;
	union ibv_gid gid;
	static const union ibv_gid zero;

	if (index < 0)
		return true;
	return !ibv_query_port(ctx, port, &pa) && index < pa.gid_tbl_len &&
	       !ibv_query_gid(ctx, port, index, &gid) &&
	       memcmp(&gid, &zero, sizeof(gid));
}

int map_dev_open(const struct map_dev_sel *sel, struct map_dev **out)
{
	struct ibv_context **list;
	unsigned int ifindex = 0;
	struct map_dev *dev;
	uint8_t port = 0;
	int i, n = 0, err;

	/* Before any other verbs call (fork.c). */
	err = map_fork_prepare();
	if (err)
		return err;
	if (sel->by == MAP_DEV_NETDEV) {
		ifindex = if_nametoindex(sel->name);
		if (!ifindex)
			return ENOENT;
	}
	list = rdma_get_devices(&n);
	if (!list)
		return errno ? errno : ENODEV;
	for (i = 0; i < n && !port; i++)
		port = pick(sel, list[i], i, ifindex, true);
	if (!port && sel->by == MAP_DEV_NETDEV)
		for (i = 0; i < n && !port; i++)
			port = pick(sel, list[i], i, ifindex, false);
	if (!port) {
		rdma_free_devices(list);
		return ENODEV;
	}
	if (sel->port)
		port = port_exists(list[i - 1], sel->port) ? (uint8_t)sel->port
							   : 0;
	if (!port || !gid_exists(list[i - 1], port, sel->gid_index)) {
		rdma_free_devices(list);
		return EINVAL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev) {
		rdma_free_devices(list);
		return ENOMEM;
	}
	dev->ctx = list[i - 1];
	dev->list = list;
	dev->port = port;
	dev->gid_index = sel->gid_index;
	dev->ip_version = sel->ip_version;
	dev->iwarp = dev->ctx->device->transport_type == IBV_TRANSPORT_IWARP;
	pthread_mutex_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->iw_lock, NULL);
	*out = dev;
	return 0;
}

bool map_dev_is_iwarp(const struct map_dev *dev)
{
	return dev->ctx->device->transport_type == IBV_TRANSPORT_IWARP;
}

/* Appends " (if1, if2)": the interfaces ctx's ports are bound to. */
static size_t put_netdevs(char *buf, size_t len, struct ibv_context *ctx)
{
	char name[IF_NAMESIZE];
	struct ibv_gid_entry *e;
	size_t off = 0;
	ssize_t i, j, n;
	int w;

	e = gid_table(ctx, &n);
	for (i = 0; i < n; i++) {
		if (!e[i].ndev_ifindex || !if_indextoname(e[i].ndev_ifindex,
							  name))
			continue;
		for (j = 0; j < i; j++)
			if (e[j].ndev_ifindex == e[i].ndev_ifindex)
				break;
		if (j < i)
			continue; /* said already */
		w = snprintf(buf + off, len - off, "%s%s", off ? ", " : " (",
			     name);
		if (w < 0 || (size_t)w >= len - off) {
			buf[off] = '\0'; /* no half name */
			break;
		}
		off += (size_t)w;
	}
	free(e);
	if (!off && if_indextoname(iwarp_ifindex(ctx, MAP_PORT), name) &&
	    strlen(name) + 3 < len)
		off = (size_t)snprintf(buf, len, " (%s", name);
	if (off && off + 1 < len) {
		buf[off++] = ')';
		buf[off] = '\0';
	}
	return off;
}

void map_dev_list(char *buf, size_t len)
{
	struct ibv_context **list;
	size_t off = 0;
	int i, n = 0, w;

	if (!len)
		return;
	snprintf(buf, len, "none");
	list = rdma_get_devices(&n);
	if (!list)
		return;
	for (i = 0; i < n && off + 1 < len; i++) {
		w = snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
			     ibv_get_device_name(list[i]->device));
		if (w < 0 || (size_t)w >= len - off)
			break;
		off += (size_t)w;
		off += put_netdevs(buf + off, len - off, list[i]);
	}
	rdma_free_devices(list);
}

void map_dev_close(struct map_dev *dev)
{
	map_dev_unwatch(dev);
	map_cm_stop(dev);
	pthread_mutex_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->iw_lock);
	rdma_free_devices(dev->list);
	free(dev);
}

/* GID gid's IP address into attr, if it is one of the family asked for
 * (0: either); link-local IPv6 GIDs have no route to them. */
static bool gid_addr(const union ibv_gid *gid, int ip_version,
		     struct map_dev_attr *attr)
{
	if (!memcmp(gid->raw, v4_mapped_prefix, 12)) {
		if (ip_version == 6)
			return false;
		memcpy(attr->addr, gid->raw + 12, 4);
		attr->addr_len = 4;
		return true;
	}
	if (ip_version == 4 || gid->raw[0] == 0 ||
	    (gid->raw[0] == 0xfe && (gid->raw[1] & 0xc0) == 0x80))
		return false;
	memcpy(attr->addr, gid->raw, 16);
	attr->addr_len = 16;
	return true;
}

/* The port's IP address: the GID the settings name; else an IPv4-mapped
 * GID first, then a global IPv6 one (only those with VIPL_IP_VERSION 6);
 * for iWARP, the address of the interface the device runs on. */
static void find_addr(struct map_dev *dev, int gid_tbl_len,
		      struct map_dev_attr *attr)
{
	struct map_dev_attr v6 = { .addr_len = 0 };
	union ibv_gid gid;
	unsigned int ifindex;
	int i;

	attr->addr_len = 0;
	if (map_dev_is_iwarp(dev)) {
		ifindex = iwarp_ifindex(dev->ctx, dev->port);
		if (ifindex)
			ifindex_addr(ifindex, dev->ip_version, attr);
		return;
	}
	if (dev->gid_index >= 0) {
		if (!ibv_query_gid(dev->ctx, dev->port, dev->gid_index, &gid))
			gid_addr(&gid, dev->ip_version, attr);
		return;
	}
	for (i = 0; i < gid_tbl_len; i++) {
		if (ibv_query_gid(dev->ctx, dev->port, i, &gid))
			break;
		if (dev->ip_version != 6 && gid_addr(&gid, 4, attr))
			return;
		if (dev->ip_version != 4 && !v6.addr_len)
			gid_addr(&gid, 6, &v6);
	}
	if (v6.addr_len) {
		memcpy(attr->addr, v6.addr, 16);
		attr->addr_len = 16;
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
	/* iWARP: a segment of each message, and a send queue entry of each
	 * RDMA write with immediate data, are ours (iwarp.c). */
	if (dev->iwarp) {
		attr->max_qp_wr = da.max_qp_wr / 2;
		attr->max_sge = da.max_sge > 1 ? da.max_sge - 1 : 0;
	}
	attr->max_cq = da.max_cq;
	attr->max_cqe = da.max_cqe;
	attr->max_pd = da.max_pd;
	attr->max_qp_rd_atom = da.max_qp_rd_atom;
	attr->max_msg_sz = pa.max_msg_sz;
	attr->mtu = 128u << pa.active_mtu;
	find_addr(dev, pa.gid_tbl_len, attr);
	return 0;
}
