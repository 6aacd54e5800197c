/* util.c - helpers of the device tests. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>


#include "util.h"

#define DESC_SLOT 128 /* 32-byte control + 6 segments, 64-aligned */
#define DESC_SLOTS 64

static VIP_RETURN open_nic(VIP_NIC_HANDLE *nic)
{
	VIP_RETURN ret = VipOpenNic(NULL, nic);

	if (ret != VIP_SUCCESS) {
		fprintf(stderr, "VipOpenNic: %d (VIPL_DEVICE=%s)\n", ret,
			getenv("VIPL_DEVICE") ? getenv("VIPL_DEVICE") : "");
		*nic = NULL;
	}
	return ret;
}

VIP_NIC_HANDLE vt_open_nic(void)
{
	VIP_NIC_HANDLE nic = NULL;

	open_nic(&nic);
	return nic;
}

void vt_mem_init(struct vt_mem *m, VIP_NIC_HANDLE nic, size_t len,
		 VIP_MEM_ATTRIBUTES *attrs)
{
	m->nic = nic;
	m->len = DESC_SLOT * DESC_SLOTS + len;
	if (posix_memalign((void **)&m->base, 4096, m->len))
		m->base = NULL;
	if (m->base)
		memset(m->base, 0, m->len);
	m->mh = 0;
	if (m->base && VipRegisterMem(nic, m->base, m->len, attrs, &m->mh) !=
			       VIP_SUCCESS) {
		free(m->base);
		m->base = NULL;
	}
}

VIP_RETURN vt_mem_fini(struct vt_mem *m)
{
	VIP_RETURN ret;

	if (!m->base)
		return VIP_SUCCESS;
	ret = VipDeregisterMem(m->nic, m->base, m->mh);
	free(m->base);
	m->base = NULL;
	return ret;
}

VIP_DESCRIPTOR *vt_desc(struct vt_mem *m, int i)
{
	VIP_DESCRIPTOR *d = (VIP_DESCRIPTOR *)(m->base + i * DESC_SLOT);

	memset(d, 0, DESC_SLOT);
	return d;
}

VIP_DESCRIPTOR *vt_desc_at(struct vt_mem *m, int i)
{
	return (VIP_DESCRIPTOR *)(m->base + i * DESC_SLOT);
}

char *vt_data(struct vt_mem *m)
{
	return m->base + DESC_SLOT * DESC_SLOTS;
}

VIP_VI_ATTRIBUTES vt_vi_attrs(VIP_RELIABILITY_LEVEL level)
{
	VIP_VI_ATTRIBUTES va;

	memset(&va, 0, sizeof(va));
	va.ReliabilityLevel = level;
	va.MaxTransferSize = 1 << 20;
	return va;
}

VIP_NET_ADDRESS *vt_addr(VIP_NIC_HANDLE nic, const char *disc)
{
	size_t dl = strlen(disc);
	VIP_NET_ADDRESS *a = calloc(1, sizeof(*a) + 16 + dl);
	VIP_NIC_ATTRIBUTES na;

	if (nic && VipQueryNic(nic, &na) == VIP_SUCCESS) {
		a->HostAddressLen = na.NicAddressLen;
		memcpy(a->HostAddress, na.LocalNicAddress, na.NicAddressLen);
	}
	a->DiscriminatorLen = dl;
	memcpy(a->HostAddress + a->HostAddressLen, disc, dl);
	return a;
}

VIP_NET_ADDRESS *vt_addr_buf(void)
{
	return calloc(1, sizeof(VIP_NET_ADDRESS) + 16 + 64);
}

void vt_fill(VIP_DESCRIPTOR *d, struct vt_mem *m, void *buf, unsigned len)
{
	d->CS.SegCount = 1;
	d->CS.Length = len;
	d->DS[0].Local.Data.Address = buf;
	d->DS[0].Local.Handle = m->mh;
	d->DS[0].Local.Length = len;
}

VIP_RETURN vt_accept(VIP_NIC_HANDLE nic, const char *disc, VIP_VI_HANDLE vi)
{
	VIP_NET_ADDRESS *local = vt_addr(nic, disc), *remote = vt_addr_buf();
	VIP_VI_ATTRIBUTES ra;
	VIP_CONN_HANDLE conn;
	VIP_RETURN ret;

	ret = VipConnectWait(nic, local, VT_TIMEOUT_MS, remote, &ra, &conn);
	if (ret == VIP_SUCCESS)
		ret = VipConnectAccept(conn, vi);
	free(local);
	free(remote);
	return ret;
}

VIP_RETURN vt_connect(VIP_NIC_HANDLE nic, const char *disc,
		      VIP_VI_ATTRIBUTES *va, VIP_VI_HANDLE *vi)
{
	VIP_RETURN ret = VipCreateVi(nic, va, NULL, NULL, vi);

	if (ret != VIP_SUCCESS)
		return ret;
	return vt_request(nic, *vi, "client", disc);
}

VIP_RETURN vt_request(VIP_NIC_HANDLE nic, VIP_VI_HANDLE vi, const char *local,
		      const char *disc)
{
	VIP_NET_ADDRESS *la = local ? vt_addr(nic, local) : NULL,
			*remote = vt_addr(nic, disc);
	struct timespec t0, t1;
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN ret;
	int tries;

	/* As VIA programs do: the server may not wait yet, so ask again
	 * while the answer is "no match" (at least VT_TIMEOUT_MS: the
	 * tries are counted, and each takes its 5 ms pause and more). */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (tries = 0; tries < VT_TIMEOUT_MS / 5; tries++) {
		ret = VipConnectRequest(vi, la, remote, 5000, &ra);
		if (ret != VIP_NO_MATCH)
			break;
		usleep(5000);
	}
	/* A failure says what it was and when: in a CI log that is all
	 * there is to go on. */
	if (ret != VIP_SUCCESS) {
		clock_gettime(CLOCK_MONOTONIC, &t1);
		fprintf(stderr,
			"vt_request: \"%s\" asking \"%s\": VIP_RETURN %d after %d "
			"tries, %ld ms\n",
			local ? local : "-", disc, (int)ret,
			tries + (tries < VT_TIMEOUT_MS / 5),
			(long)((t1.tv_sec - t0.tv_sec) * 1000 +
			       (t1.tv_nsec - t0.tv_nsec) / 1000000));
	}
	free(la);
	free(remote);
	return ret;
}

int vt_vi_state(VIP_VI_HANDLE vi)
{
	VIP_VI_ATTRIBUTES va;
	VIP_BOOLEAN se, re;
	VIP_VI_STATE st;
	VIP_RETURN ret = VipQueryVi(vi, &st, &va, &se, &re);

	if (ret != VIP_SUCCESS) {
		fprintf(stderr, "VipQueryVi: %d\n", ret);
		return -1;
	}
	return st;
}

VIP_RETURN vt_end_open(struct vt_end *e, size_t len, VIP_VI_ATTRIBUTES *va)
{
	VIP_RETURN ret;

	memset(e, 0, sizeof(*e));
	ret = open_nic(&e->nic);
	if (ret != VIP_SUCCESS)
		return ret;
	if (len) {
		vt_mem_init(&e->m, e->nic, len, NULL);
		if (!e->m.base) {
			fprintf(stderr, "vt_end_open: no %zu-byte arena\n", len);
			ret = VIP_ERROR_RESOURCE;
			goto err_nic;
		}
	}
	if (va) {
		ret = VipCreateVi(e->nic, va, NULL, NULL, &e->vi);
		if (ret != VIP_SUCCESS) {
			fprintf(stderr, "vt_end_open: VipCreateVi: %d\n", ret);
			goto err_mem;
		}
	}
	return VIP_SUCCESS;

err_mem:
	vt_mem_fini(&e->m);
err_nic:
	VipCloseNic(e->nic);
	memset(e, 0, sizeof(*e));
	return ret;
}

/* One step of closing an end: says what failed, keeps the first failure. */
static VIP_RETURN close_step(VIP_RETURN first, VIP_RETURN ret,
			     const char *what)
{
	if (ret != VIP_SUCCESS)
		fprintf(stderr, "vt_end_close: %s: %d\n", what, ret);
	return first != VIP_SUCCESS ? first : ret;
}

static VIP_RETURN end_close(struct vt_end *e, VIP_RETURN ret)
{
	ret = close_step(ret, vt_mem_fini(&e->m), "VipDeregisterMem");
	ret = close_step(ret, VipCloseNic(e->nic), "VipCloseNic");
	memset(e, 0, sizeof(*e));
	return ret;
}

VIP_RETURN vt_end_close(struct vt_end *e)
{
	VIP_RETURN ret = VIP_SUCCESS;

	/* Unguarded: a missing VI is a failure here. */
	ret = close_step(ret, VipDisconnect(e->vi), "VipDisconnect");
	ret = close_step(ret, VipDestroyVi(e->vi), "VipDestroyVi");
	return end_close(e, ret);
}

VIP_RETURN vt_end_close_idle(struct vt_end *e)
{
	VIP_RETURN ret = VIP_SUCCESS;

	if (e->vi)
		ret = close_step(ret, VipDestroyVi(e->vi), "VipDestroyVi");
	return end_close(e, ret);
}

int vt_iwarp(void)
{
	const char *t = getenv("VIPL_TEST_TRANSPORT");

	return t && !strcmp(t, "siw");
}

static void read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "r");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* The hex digits of s, without its colons, lower case, at most max. */
static void hex_only(const char *s, char *out, size_t max)
{
	size_t n = 0;

	for (; *s && n + 1 < max; s++)
		if (*s != ':')
			out[n++] = (char)tolower((unsigned char)*s);
	out[n] = '\0';
}

void vt_netdev(const char *dev, char *out, size_t len)
{
	char path[PATH_MAX], line[128], mac[16], want[16];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path),
		 "/sys/class/infiniband/%s/ports/1/gid_attrs/ndevs/0", dev);
	read_line(path, out, len);
	if (out[0])
		return;
	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/ports/1/gids/0",
		 dev);
	read_line(path, line, sizeof(line));
	hex_only(line, want, 13); /* the MAC: the GID's first 6 bytes */
	if (strlen(want) != 12 || !strcmp(want, "000000000000"))
		return;
	d = opendir("/sys/class/net");
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/net/%s/address",
			 e->d_name);
		read_line(path, line, sizeof(line));
		hex_only(line, mac, sizeof(mac));
		if (!strcmp(mac, want)) {
			snprintf(out, len, "%s", e->d_name);
			break;
		}
	}
	closedir(d);
}
