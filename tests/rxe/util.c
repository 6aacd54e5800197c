/* util.c - helpers of the device tests. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>


#include "util.h"

#define DESC_SLOT 128 /* 32-byte control + 6 segments, 64-aligned */
#define DESC_SLOTS 64

VIP_NIC_HANDLE vt_open_nic(void)
{
	VIP_NIC_HANDLE nic = NULL;
	VIP_RETURN ret = VipOpenNic(NULL, &nic);

	if (ret != VIP_SUCCESS) {
		fprintf(stderr, "VipOpenNic: %d (VIPL_DEVICE=%s)\n", ret,
			getenv("VIPL_DEVICE") ? getenv("VIPL_DEVICE") : "");
		return NULL;
	}
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

void vt_mem_fini(struct vt_mem *m)
{
	if (!m->base)
		return;
	VipDeregisterMem(m->nic, m->base, m->mh);
	free(m->base);
	m->base = NULL;
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

pid_t vt_spawn(int (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0)
		_exit(fn(arg));
	return pid;
}

int vt_join(pid_t pid, int timeout_s)
{
	struct timespec pause = { 0, 10 * 1000 * 1000 };
	int status, i;

	for (i = 0; i < timeout_s * 100; i++) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (r < 0 && errno != EINTR)
			return -1;
		nanosleep(&pause, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
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
	VIP_NET_ADDRESS *local = vt_addr(nic, "client"),
			*remote = vt_addr(nic, disc);
	VIP_VI_ATTRIBUTES ra;
	VIP_RETURN ret;

	ret = VipCreateVi(nic, va, NULL, NULL, vi);
	if (ret == VIP_SUCCESS)
		ret = VipConnectRequest(*vi, local, remote, VT_TIMEOUT_MS, &ra);
	free(local);
	free(remote);
	return ret;
}
