/* util.h - shared helpers of the device tests (tests/rxe). */
#ifndef VIPL_TEST_UTIL_H
#define VIPL_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <vipl.h>

#define VT_TIMEOUT_MS 20000

/* A registered arena: descriptors first, then data. */
struct vt_mem {
	VIP_NIC_HANDLE nic;
	char *base;
	size_t len;
	VIP_MEM_HANDLE mh;
};

VIP_NIC_HANDLE vt_open_nic(void);
void vt_mem_init(struct vt_mem *m, VIP_NIC_HANDLE nic, size_t len,
		 VIP_MEM_ATTRIBUTES *attrs);
/* Deregisters and frees m (if registered); VipDeregisterMem's code. */
VIP_RETURN vt_mem_fini(struct vt_mem *m);
/* The i-th 64-byte-aligned descriptor slot (room for 6 segments). */
VIP_DESCRIPTOR *vt_desc(struct vt_mem *m, int i);
/* The i-th slot as it is (not cleared). */
VIP_DESCRIPTOR *vt_desc_at(struct vt_mem *m, int i);
/* Data area: everything after the 64 descriptor slots. */
char *vt_data(struct vt_mem *m);
VIP_VI_ATTRIBUTES vt_vi_attrs(VIP_RELIABILITY_LEVEL level);
/* An address on this NIC (or host length 0) with the given discriminator;
 * free() it. */
VIP_NET_ADDRESS *vt_addr(VIP_NIC_HANDLE nic, const char *disc);
/* A buffer large enough for any address a peer reports. */
VIP_NET_ADDRESS *vt_addr_buf(void);

/* The network interface under verbs device dev (port 1) into out, or ""
 * if none: RoCE's GID table names it; an iWARP device's GID is the
 * interface's MAC. */
void vt_netdev(const char *dev, char *out, size_t len);

/* The device under test is iWARP (the harness's VIPL_TEST_TRANSPORT=siw). */
int vt_iwarp(void);
/* In a Criterion test: skip, saying why, where iWARP cannot do what the
 * test needs. */
#define VT_SKIP_ON_IWARP(why)                                                  \
	do {                                                                   \
		if (vt_iwarp())                                                \
			cr_skip_test("over iWARP (siw): %s", why);             \
	} while (0)

/* Why a test of an error the peer finds skips over iWARP. */
#define VT_IWARP_TCP_COMPLETES                                                 \
	"a send completes once TCP has it, so an error at the peer ends the "  \
	"connection instead of coming back in the send's CS.Status "           \
	"(porting.md)"

/* Segment i of d, past the two VIP_DESCRIPTOR declares (see mapping.h). */
static inline VIP_DATA_SEGMENT *vt_seg(VIP_DESCRIPTOR *d, int i)
{
	return (VIP_DATA_SEGMENT *)((uintptr_t)d + sizeof(VIP_CONTROL_SEGMENT) +
				    i * sizeof(VIP_DATA_SEGMENT));
}

/* One segment over [buf, buf+len) in m. */
void vt_fill(VIP_DESCRIPTOR *d, struct vt_mem *m, void *buf, unsigned len);

/* Runs fn in a child process (fresh NIC there); returns its pid. The
 * child's exit status is 0 on success, else the failing line. Spawn before
 * the parent opens a NIC: verbs state does not survive fork. A child its
 * test gives up on prints where it is and exits VT_CHILD_STUCK (child.c). */
pid_t vt_spawn(int (*fn)(void *arg), void *arg);
/* Waits for the child (bounded) and returns its exit status, or -1. */
int vt_join(pid_t pid, int timeout_s);
#define VT_CHILD_STUCK 251 /* above VT_CHECK's codes */

/* For children, where Criterion's asserts do not report. */
#define VT_CHECK(cond)                                                         \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "child check failed at %s:%d: %s\n",   \
				__FILE__, __LINE__, #cond);                    \
			return __LINE__ % 250 + 1;                             \
		}                                                              \
	} while (0)

/* Server half used by many tests: wait for a request to disc and accept
 * it on vi. */
VIP_RETURN vt_accept(VIP_NIC_HANDLE nic, const char *disc, VIP_VI_HANDLE vi);
/* Client half: connect a fresh VI to disc on this host. */
VIP_RETURN vt_connect(VIP_NIC_HANDLE nic, const char *disc,
		      VIP_VI_ATTRIBUTES *va, VIP_VI_HANDLE *vi);
/* Connects vi, made on nic (receives posted first where the peer sends at
 * once), to disc on this host; local names our discriminator, NULL gives
 * no local address (VIPL allows it). */
VIP_RETURN vt_request(VIP_NIC_HANDLE nic, VIP_VI_HANDLE vi, const char *local,
		      const char *disc);

/* vi's state, or -1 (no state) where VipQueryVi fails, for tests that
 * only look at the state. */
int vt_vi_state(VIP_VI_HANDLE vi);

/* One side of most tests: a NIC, an arena registered on it, a VI. */
struct vt_end {
	VIP_NIC_HANDLE nic;
	struct vt_mem m;
	VIP_VI_HANDLE vi;
};

/* Opens a NIC, registers an arena of len data bytes (0: none) and, given
 * va, creates an idle VI (a client's comes from vt_connect on e->nic).
 * VIP_SUCCESS, or the failing step's code with nothing left open. Parents
 * spawn their children first. */
VIP_RETURN vt_end_open(struct vt_end *e, size_t len, VIP_VI_ATTRIBUTES *va);
/* Disconnects the VI (connected or in Error), destroys it, deregisters the
 * arena and closes the NIC. Every step runs; the first failure is named on
 * stderr and returned. */
VIP_RETURN vt_end_close(struct vt_end *e);
/* The same without VipDisconnect, which an idle VI refuses: for a VI that
 * never connected or was disconnected already, or none. */
VIP_RETURN vt_end_close_idle(struct vt_end *e);

#endif
