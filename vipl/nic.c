/* nic.c - VipOpenNic, VipCloseNic, VipQueryNic, the error callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct vip_nic *vip_nic_get(VIP_NIC_HANDLE h)
{
	return vip_handle_get(h, VIP_KIND_NIC);
}

static uint32_t min_u32(uint64_t a, uint64_t b)
{
	return (uint32_t)(a < b ? a : b);
}

/* On the device event thread. */
static void device_event(void *arg, enum map_dev_event ev)
{
	VIP_RESOURCE_CODE resource;
	VIP_ERROR_CODE code;

	if (vip_event_error(ev, &resource, &code))
		vip_report_error(arg, NULL, NULL, resource, code);
}

/*
 * What the calling thread's last VipOpenNic has to tell the tracer: why it
 * failed, or which device a VIA name (or VIPL_DEVICE) opened. Written on
 * open only, never on the hot path.
 */
static _Thread_local char open_note[192];

const char *vip_nic_open_note(void)
{
	return open_note;
}

/* The name VipOpenNic goes by: VIPL_DEVICE overrides the program's. */
struct open_name {
	const char *name;
	bool from_env;
	struct vip_devname dn;
};

static void note_failure(const struct open_name *on, int err)
{
	const struct vip_devname *dn = &on->dn;
	char who[96] = "";
	char why[96];

	if (on->name && *on->name)
		snprintf(who, sizeof(who), "%s\"%s\": ",
			 on->from_env ? "VIPL_DEVICE=" : "", on->name);
	if (err == EINVAL)
		snprintf(why, sizeof(why), "no device has such a name");
	else if (err == ENOENT)
		snprintf(why, sizeof(why), "no network interface %s",
			 dn->name);
	else if (err == ENODEV && dn->kind == VIP_DEVNAME_NETDEV)
		snprintf(why, sizeof(why), "no verbs device is bound to %s",
			 dn->name);
	else if (err == ENODEV && dn->kind == VIP_DEVNAME_INDEX)
		snprintf(why, sizeof(why), "no verbs device number %u "
			 "(counting from 0)", dn->index);
	else if (err == ENODEV && dn->kind == VIP_DEVNAME_VERBS)
		snprintf(why, sizeof(why), "no verbs device of that name");
	else if (err == ENODEV)
		snprintf(why, sizeof(why), "no verbs device");
	else
		snprintf(why, sizeof(why), "%s", strerror(err));
	snprintf(open_note, sizeof(open_note), "%s%s", who, why);
}

static struct map_dev_sel dev_sel(const struct vip_devname *dn)
{
	struct map_dev_sel sel = { .by = MAP_DEV_FIRST };

	switch (dn->kind) {
	case VIP_DEVNAME_DEFAULT:
		break;
	case VIP_DEVNAME_VERBS:
		sel.by = MAP_DEV_NAME;
		sel.name = dn->name;
		break;
	case VIP_DEVNAME_NETDEV:
	case VIP_DEVNAME_LOOPBACK:
		sel.by = MAP_DEV_NETDEV;
		sel.name = dn->name;
		break;
	case VIP_DEVNAME_INDEX:
		sel.by = MAP_DEV_INDEX;
		sel.index = dn->index;
		break;
	}
	return sel;
}

/*
 * Opens the device a name of either era picks (devname.c). VIPL_DEVICE,
 * read at each call, wins over the program's name so that a program with
 * a name we cannot map runs unchanged.
 */
static int open_dev(const VIP_CHAR *program_name, struct open_name *on,
		    struct map_dev **dev)
{
	const char *env = getenv("VIPL_DEVICE");
	struct vip_devsettings set;
	struct map_dev_sel sel;
	int err;

	err = vip_devsettings_parse(getenv("VIPL_PORT"),
				    getenv("VIPL_GID_INDEX"),
				    getenv("VIPL_IP_VERSION"),
				    getenv("VIPL_IFACE"), &set);
	if (err) {
		snprintf(open_note, sizeof(open_note),
			 "VIPL_PORT, VIPL_GID_INDEX, VIPL_IP_VERSION or "
			 "VIPL_IFACE holds a value that is none");
		return err;
	}
	on->from_env = env && *env;
	on->name = on->from_env ? env : program_name;
	err = vip_devname_parse(on->name, &on->dn);
	if (err)
		goto err_note;
	sel = dev_sel(&on->dn);
	/* VIPL_IFACE picks the device unless VIPL_DEVICE names one. */
	if (set.iface && !on->from_env) {
		sel.by = MAP_DEV_NETDEV;
		sel.name = set.iface;
	}
	sel.port = set.port;
	sel.gid_index = set.gid_index;
	sel.ip_version = set.ip_version;
	err = map_dev_open(&sel, dev);
	if (err && set.iface && sel.name == set.iface) {
		snprintf(open_note, sizeof(open_note),
			 "VIPL_IFACE=%s: %s", set.iface,
			 err == ENOENT ? "no such network interface"
				       : "no verbs device is bound to it");
		return err;
	}
	if (err == EINVAL) {
		snprintf(open_note, sizeof(open_note),
			 "the device has no port %u or no GID %d "
			 "(VIPL_PORT, VIPL_GID_INDEX)",
			 set.port ? set.port : 1, set.gid_index);
		return err;
	}
	/* M-VIA's /dev/via_lo reached this host only: with no device on lo,
	 * any device does (docs/porting.md). */
	if ((err == ENODEV || err == ENOENT) &&
	    on->dn.kind == VIP_DEVNAME_LOOPBACK) {
		sel.by = MAP_DEV_FIRST;
		err = map_dev_open(&sel, dev);
	}
	if (err)
		goto err_note;
	return 0;

err_note:
	note_failure(on, err);
	return err;
}

/* Says which device opened when the name given was not its own. */
static void note_success(const VIP_CHAR *program_name,
			 const struct open_name *on, const char *opened)
{
	if (!program_name || !*program_name || !strcmp(program_name, opened))
		return;
	if (on->from_env)
		snprintf(open_note, sizeof(open_note),
			 "opened %s: VIPL_DEVICE=%s overrides the name",
			 opened, on->name);
	else
		snprintf(open_note, sizeof(open_note), "opened %s", opened);
}

VIP_RETURN VipOpenNic(const VIP_CHAR *DeviceName, VIP_NIC_HANDLE *NicHandle)
{
	struct open_name on;
	struct vip_nic *nic;
	int err;

	open_note[0] = '\0';
	if (!NicHandle)
		return VIP_INVALID_PARAMETER;
	nic = calloc(1, sizeof(*nic));
	if (!nic)
		return VIP_ERROR_RESOURCE;
	atomic_init(&nic->mr_epoch, 1);
	err = open_dev(DeviceName, &on, &nic->dev);
	if (err)
		goto err_free;
	err = map_dev_query(nic->dev, &nic->attr);
	if (err)
		goto err_dev;
	note_success(DeviceName, &on, nic->attr.name);
	/* NULL ptags (Giganet programs) select this one. */
	nic->default_ptag.nic = nic;
	err = map_pd_alloc(nic->dev, &nic->default_ptag.pd);
	if (err)
		goto err_dev;
	err = vip_mr_table_init(&nic->mrs, nic->attr.max_mr);
	if (err)
		goto err_pd;
	pthread_mutex_init(&nic->lock, NULL);
	pthread_mutex_init(&nic->orphans_lock, NULL);
	nic->handle = vip_handle_new(VIP_KIND_NIC, nic);
	if (!nic->handle) {
		err = ENOMEM;
		goto err_table;
	}
	/* The handler reports with the handle, so it starts after it. */
	err = map_dev_watch(nic->dev, device_event, nic);
	if (err)
		goto err_handle;
	vip_progress_start(nic);
	*NicHandle = nic->handle;
	return VIP_SUCCESS;

err_handle:
	vip_handle_free(nic->handle);
err_table:
	pthread_mutex_destroy(&nic->orphans_lock);
	pthread_mutex_destroy(&nic->lock);
	free(nic->mrs.slots);
err_pd:
	map_pd_free(nic->default_ptag.pd);
err_dev:
	map_dev_close(nic->dev);
err_free:
	free(nic);
	return vip_from_errno(err);
}

/* VipCloseNic tears down whatever the program left on the NIC. */
static void close_conn(void *obj, void *arg)
{
	struct vip_conn *c = obj;
	bool no = false;

	/* One an accept or a reject is answering is theirs to free. */
	if (c->nic != arg ||
	    !atomic_compare_exchange_strong(&c->claimed, &no, true))
		return;
	map_conn_reject(c->mc, MAP_REJECT_BY_PEER);
	vip_handle_free(c->handle);
	free(c);
}

static void close_vi(void *obj, void *arg)
{
	struct vip_vi *vi = obj;

	if (vi->nic != arg)
		return;
	vip_peer_reap(vi);
	vip_vi_drop_connection(vi);
	vip_vi_destroy(vi);
}

static void close_cq(void *obj, void *arg)
{
	struct vip_cq *cq = obj;

	if (cq->nic == arg)
		vip_cq_destroy(cq);
}

static void close_ptag(void *obj, void *arg)
{
	struct vip_ptag *pt = obj;

	if (pt->nic != arg)
		return;
	map_pd_free(pt->pd);
	vip_handle_free(pt->handle);
	free(pt);
}

VIP_RETURN VipCloseNic(VIP_NIC_HANDLE NicHandle)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);

	if (!nic)
		return VIP_INVALID_PARAMETER;
	map_dev_unwatch(nic->dev); /* no more reports to a closing NIC */
	/* VipConnectWait callers return (they hold the NIC meanwhile). */
	atomic_store(&nic->closing, true);
	map_conn_kick(nic->dev);
	vip_handle_free(nic->handle);
	vip_handle_each(VIP_KIND_CONN, close_conn, nic);
	vip_handle_each(VIP_KIND_VI, close_vi, nic);
	vip_handle_each(VIP_KIND_CQ, close_cq, nic);
	vip_notify_close_nic(nic);
	vip_progress_stop(nic);
	vip_mr_table_release(nic);
	vip_handle_each(VIP_KIND_PTAG, close_ptag, nic);
	map_pd_free(nic->default_ptag.pd);
	map_dev_close(nic->dev);
	pthread_mutex_destroy(&nic->orphans_lock);
	pthread_mutex_destroy(&nic->lock);
	free(nic);
	return VIP_SUCCESS;
}

/*
 * The address can appear after open (rxe gets its GID from the netdev), so
 * queries look again; the limits never change. Only the address bytes are
 * rewritten, under the lock, so a thread reading the limits meanwhile (or
 * holding LocalNicAddress) never sees a cleared struct.
 */
void vip_nic_refresh_addr(struct vip_nic *nic)
{
	struct map_dev_attr now;

	if (map_dev_query(nic->dev, &now))
		return;
	pthread_mutex_lock(&nic->lock);
	if (now.addr_len != nic->attr.addr_len ||
	    memcmp(now.addr, nic->attr.addr, now.addr_len)) {
		memcpy(nic->attr.addr, now.addr, sizeof(now.addr));
		nic->attr.addr_len = now.addr_len;
	}
	pthread_mutex_unlock(&nic->lock);
}

/*
 * A verbs device's attributes as VIPL reports them (pure: unit-tested in
 * tests/unit/test_nic_attrs.c). The address is the caller's to copy.
 */
void vip_nic_attrs(const struct map_dev_attr *d, VIP_NIC_ATTRIBUTES *a)
{
	memset(a, 0, sizeof(*a));
	snprintf(a->Name, sizeof(a->Name), "%s", d->name);
	a->HardwareVersion = d->hw_ver;
	a->ProviderVersion = VIPL_PROVIDER_VERSION;
	a->NicAddressLen = d->addr_len;
	a->LocalNicAddress = d->addr;
	a->ThreadSafe = VIP_TRUE;
	a->MaxDiscriminatorLen = VIPL_DISC_MAX;
	a->MaxRegisterBytes = d->max_mr_size;
	a->MaxRegisterRegions = d->max_mr;
	a->MaxRegisterBlockBytes = d->max_mr_size;
	a->MaxVI = d->max_qp;
	a->MaxDescriptorsPerQueue = min_u32(d->max_qp_wr, VIPL_QUEUE_DEPTH);
	a->MaxSegmentsPerDesc = min_u32(d->max_sge, VIPL_MAX_SEGMENTS);
	a->MaxCQ = d->max_cq;
	a->MaxCQEntries = d->max_cqe;
	/* Programs keep it in an int; VipCreateVi checks against this. */
	a->MaxTransferSize = min_u32(d->max_msg_sz, VIPL_MAX_TRANSFER);
	a->NativeMTU = d->mtu;
	a->MaxPtags = d->max_pd ? d->max_pd - 1 : 0; /* one is the default */
	/* Unreliable runs on UC queue pairs, both reliable levels on RC;
	 * RDMA read needs RC. */
	a->ReliabilityLevelSupport = VIP_SERVICE_UNRELIABLE |
				     VIP_SERVICE_RELIABLE_DELIVERY |
				     VIP_SERVICE_RELIABLE_RECEPTION;
	a->RDMAReadSupport = d->max_qp_rd_atom
				     ? VIP_SERVICE_RELIABLE_DELIVERY |
					       VIP_SERVICE_RELIABLE_RECEPTION
				     : 0;
}

VIP_RETURN VipQueryNic(VIP_NIC_HANDLE NicHandle, VIP_NIC_ATTRIBUTES *a)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);

	if (!nic || !a)
		return VIP_INVALID_PARAMETER;
	vip_nic_refresh_addr(nic);
	vip_nic_attrs(&nic->attr, a);
	return VIP_SUCCESS;
}

static const char *const error_names[] = {
	[VIP_ERROR_POST_DESC] = "VIP_ERROR_POST_DESC",
	[VIP_ERROR_CONN_LOST] = "VIP_ERROR_CONN_LOST",
	[VIP_ERROR_RECVQ_EMPTY] = "VIP_ERROR_RECVQ_EMPTY",
	[VIP_ERROR_VI_OVERRUN] = "VIP_ERROR_VI_OVERRUN",
	[VIP_ERROR_RDMAW_PROT] = "VIP_ERROR_RDMAW_PROT",
	[VIP_ERROR_RDMAW_DATA] = "VIP_ERROR_RDMAW_DATA",
	[VIP_ERROR_RDMAW_ABORT] = "VIP_ERROR_RDMAW_ABORT",
	[VIP_ERROR_RDMAR_PROT] = "VIP_ERROR_RDMAR_PROT",
	[VIP_ERROR_COMP_PROT] = "VIP_ERROR_COMP_PROT",
	[VIP_ERROR_RDMA_TRANSPORT] = "VIP_ERROR_RDMA_TRANSPORT",
	[VIP_ERROR_CATASTROPHIC] = "VIP_ERROR_CATASTROPHIC",
};

/* VIPL's default: say it on stderr (vipl-api.md section 2). */
static void default_error_handler(VIP_PVOID ctx, VIP_ERROR_DESCRIPTOR *e)
{
	unsigned int code = e->ErrorCode;

	const char *name =
		code <= VIP_ERROR_CATASTROPHIC ? error_names[code] : "error";

	(void)ctx;
	if (e->ResourceCode == VIP_RESOURCE_NIC ||
	    e->ResourceCode == VIP_RESOURCE_CQ)
		fprintf(stderr, "libvipl: %s on the %s of NIC %p\n", name,
			e->ResourceCode == VIP_RESOURCE_NIC ? "device" : "CQs",
			e->NicHandle);
	else
		fprintf(stderr, "libvipl: %s on VI %p (descriptor %p)\n",
			name, e->ViHandle, (void *)e->DescriptorPtr);
}

void vip_report_error(struct vip_nic *nic, struct vip_vi *vi,
		      VIP_DESCRIPTOR *desc, VIP_RESOURCE_CODE resource,
		      VIP_ERROR_CODE code)
{
	VIP_ERROR_DESCRIPTOR e = {
		.NicHandle = nic->handle,
		.ViHandle = vi ? vi->handle : NULL,
		.DescriptorPtr = desc,
		.OpCode = desc ? desc->CS.Control & VIP_CONTROL_OP_MASK : 0,
		.ResourceCode = resource,
		.ErrorCode = code,
	};
	VIP_ERROR_HANDLER handler;
	VIP_PVOID context;

	pthread_mutex_lock(&nic->lock);
	handler = nic->error_handler ? nic->error_handler
				     : default_error_handler;
	context = nic->error_context;
	pthread_mutex_unlock(&nic->lock);
	handler(context, &e);
}

VIP_RETURN VipErrorCallback(VIP_NIC_HANDLE NicHandle, VIP_PVOID Context,
			    VIP_ERROR_HANDLER Handler)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);

	if (!nic)
		return VIP_INVALID_PARAMETER;
	pthread_mutex_lock(&nic->lock);
	nic->error_handler = Handler ? Handler : default_error_handler;
	nic->error_context = Handler ? Context : NULL;
	pthread_mutex_unlock(&nic->lock);
	return VIP_SUCCESS;
}

/*
 * Autodiscovery for both layouts of ADAddrArray: Intel's array of pointers
 * to addresses (first = the first pointer) and Giganet's array of
 * addresses (first = the array itself).
 */
static VIP_RETURN autodiscovery(VIP_NIC_HANDLE NicHandle, VIP_ULONG InfoType,
				VIP_AUTODISCOVERY_LIST *list, bool clan)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	VIP_NET_ADDRESS *a;

	if (!nic || !list || InfoType != VIP_SMI_AUTODISCOVERY)
		return VIP_INVALID_PARAMETER;
	if (!list->NumAdAddrs || !list->ADAddrArray)
		return VIP_INVALID_PARAMETER;
	a = clan ? (VIP_NET_ADDRESS *)list->ADAddrArray : list->ADAddrArray[0];
	if (!a)
		return VIP_INVALID_PARAMETER;
	vip_nic_refresh_addr(nic);
	/* Without a fabric manager the only address we know for sure is the
	 * NIC's own; no hop away. */
	list->NumberOfHops = 0;
	list->NumAdAddrs = 0;
	if (!nic->attr.addr_len)
		return VIP_SUCCESS;
	a->HostAddressLen = nic->attr.addr_len;
	a->DiscriminatorLen = 0;
	memcpy(a->HostAddress, nic->attr.addr, nic->attr.addr_len);
	list->NumAdAddrs = 1;
	return VIP_SUCCESS;
}

VIP_RETURN VipQuerySystemManagementInfo(VIP_NIC_HANDLE NicHandle,
					VIP_ULONG InfoType,
					VIP_PVOID SysManInfo)
{
	return autodiscovery(NicHandle, InfoType, SysManInfo, false);
}

/* What vipl.h names VipQuerySystemManagementInfo under
 * VIPL_CLAN_AUTODISCOVERY: the same list struct, Giganet's array. */
VIP_RETURN VipQuerySystemManagementInfoClan(VIP_NIC_HANDLE NicHandle,
					    VIP_ULONG InfoType,
					    VIP_PVOID SysManInfo)
{
	return autodiscovery(NicHandle, InfoType, SysManInfo, true);
}
