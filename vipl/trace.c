/*
 * trace.c - VIPL_TRACE: the exported Vip* functions.
 *
 * Each is a thin wrapper around its implementation (vipl_impl_Vip*, see
 * impl_names.h): one predictable branch on a flag, then a tail call. With
 * tracing on, a cold out-of-line function makes the call and logs it as
 * one line: the function, its arguments (out-arguments as the call left
 * them, strace-style), and the return code by name, e.g.
 *
 *   vipl[4242] 12.345678 VipPostSend(vi=0x10003, desc=0x7f..{ctl=0x4
 *   SEND|IMM segs=1 len=64 imm=0x7 seg0=0x7f../0x1a2b/64}, mh=0x1a2b) =
 *   VIP_SUCCESS
 *
 * (one line in the log). A post's descriptor is read before the call
 * (the provider owns it after), and only when it lies in the registered
 * region the call names, so tracing reads nothing the call would not.
 *
 *   VIPL_TRACE=1       lines to stderr
 *   VIPL_TRACE=PATH    lines appended to PATH (O_APPEND: one write per
 *                      line, so processes and threads may share a file)
 *   unset, "" or "0"   off
 *
 * The variable is read once, when the library is loaded. Calls libvipl
 * makes internally go straight to the implementations and are not logged.
 */
#define VIPL_TRACE_WRAPPERS
#include "internal.h"

#ifdef VIPL_NO_TRACE
typedef int vipl_trace_compiled_out; /* the implementations are exported */
#else

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TRACE_HIDDEN __attribute__((visibility("hidden")))
#define TRACE_COLD __attribute__((noinline, cold))

/* Read on every call: keep it one direct load, not through the GOT. */
TRACE_HIDDEN bool vipl_trace_on;
static int trace_fd = -1;

__attribute__((constructor)) static void trace_init(void)
{
	const char *v = getenv("VIPL_TRACE");

	if (!v || !*v || !strcmp(v, "0"))
		return;
	if (!strcmp(v, "1")) {
		trace_fd = STDERR_FILENO;
	} else {
		trace_fd = open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
				0644);
		if (trace_fd < 0) {
			fprintf(stderr, "libvipl: VIPL_TRACE: cannot open %s: "
					"%s\n",
				v, strerror(errno));
			return;
		}
	}
	vipl_trace_on = true;
}

/* ------------------------------------------------------------ one line */

struct line {
	char buf[1024];
	size_t n;
	size_t body; /* where the function name starts, after pid and time */
	bool args; /* an argument is already there: the next takes ", " */
};

/* A polling program calls Done thousands of times: a call that returns
 * VIP_NOT_DONE exactly as the thread's previous one did is counted, not
 * logged, and the count comes out before the thread's next other line. */
static _Thread_local char last_poll[256];
static _Thread_local unsigned long poll_repeats;

static void put(struct line *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct line *l, const char *fmt, ...)
{
	size_t room = sizeof(l->buf) - 1 - l->n; /* keep one for '\n' */
	va_list ap;
	int w;

	if (!room)
		return;
	va_start(ap, fmt);
	w = vsnprintf(l->buf + l->n, room, fmt, ap);
	va_end(ap);
	if (w > 0)
		l->n += (size_t)w < room ? (size_t)w : room - 1;
}

static void begin(struct line *l, const char *fn)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	l->n = 0;
	l->args = false;
	put(l, "vipl[%d] %ld.%06ld ", (int)getpid(), (long)ts.tv_sec,
	    ts.tv_nsec / 1000);
	l->body = l->n;
	put(l, "%s(", fn);
}

/* Starts the next argument: "name=" after the separator. */
static void arg(struct line *l, const char *name)
{
	put(l, "%s%s=", l->args ? ", " : "", name);
	l->args = true;
}

static void emit(struct line *l)
{
	int saved = errno;
	size_t off = 0;
	ssize_t w;

	l->buf[l->n++] = '\n';
	while (off < l->n) {
		w = write(trace_fd, l->buf + off, l->n - off);
		if (w <= 0 && errno != EINTR)
			break;
		if (w > 0)
			off += (size_t)w;
	}
	errno = saved;
}

/* Closes the call: ") = RESULT", then " (note)" if there is one. */
static void end_note(struct line *l, VIP_RETURN r, const char *note)
{
	const char *name = vip_return_name(r);
	const char *body = l->buf + l->body;
	size_t len;

	if (name)
		put(l, ") = %s", name);
	else
		put(l, ") = %d", (int)r);
	if (note && *note)
		put(l, " (%s)", note);
	len = l->n - l->body;
	if (r == VIP_NOT_DONE && len < sizeof(last_poll) &&
	    !strncmp(last_poll, body, len) && !last_poll[len]) {
		poll_repeats++;
		return;
	}
	if (poll_repeats) {
		struct line rep;

		begin(&rep, "");
		rep.n = rep.body;
		put(&rep, "(the call before returned VIP_NOT_DONE %lu more "
			  "times)", poll_repeats);
		emit(&rep);
		poll_repeats = 0;
	}
	if (r == VIP_NOT_DONE && len < sizeof(last_poll)) {
		memcpy(last_poll, body, len);
		last_poll[len] = '\0';
	} else {
		last_poll[0] = '\0';
	}
	emit(l);
}

static void end(struct line *l, VIP_RETURN r)
{
	end_note(l, r, NULL);
}

/* ------------------------------------------------------------ arguments */

static void put_ptr(struct line *l, const char *name, const void *p)
{
	arg(l, name);
	put(l, "%p", p);
}

static void put_ulong(struct line *l, const char *name, unsigned long v)
{
	arg(l, name);
	put(l, "%lu", v);
}

static void put_hex(struct line *l, const char *name, unsigned long v)
{
	arg(l, name);
	put(l, "0x%lx", v);
}

static void put_timeout(struct line *l, VIP_ULONG t)
{
	arg(l, "timeout");
	if (t >= VIP_INFINITE)
		put(l, "INFINITE");
	else
		put(l, "%lu", t);
}

static void put_str(struct line *l, const char *name, const char *s)
{
	unsigned int i;

	arg(l, name);
	if (!s) {
		put(l, "NULL");
		return;
	}
	put(l, "\"");
	for (i = 0; s[i] && i < 64; i++)
		put(l, "%c", s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?');
	put(l, s[i] ? "...\"" : "\"");
}

/* An out-argument: its value if the call succeeded and set it. */
static void put_out_ptr(struct line *l, const char *name, bool ok,
			void *const *p)
{
	arg(l, name);
	if (!p)
		put(l, "NULL");
	else if (ok)
		put(l, "%p", *p);
	else
		put(l, "?");
}

static void put_out_mh(struct line *l, bool ok, const VIP_MEM_HANDLE *mh)
{
	arg(l, "mh");
	if (!mh)
		put(l, "NULL");
	else if (ok)
		put(l, "0x%x", (unsigned int)*mh);
	else
		put(l, "?");
}

/* {10.77.0.1 "disc"}: the host address, then the discriminator. */
static void put_addr(struct line *l, const char *name,
		     const VIP_NET_ADDRESS *a)
{
	char text[INET6_ADDRSTRLEN] = "";
	unsigned int i;

	arg(l, name);
	if (!a) {
		put(l, "NULL");
		return;
	}
	if (a->HostAddressLen > 16 || a->DiscriminatorLen > 64) {
		put(l, "{host len %u, disc len %u}", a->HostAddressLen,
		    a->DiscriminatorLen);
		return;
	}
	if (a->HostAddressLen == 4)
		inet_ntop(AF_INET, a->HostAddress, text, sizeof(text));
	else if (a->HostAddressLen == 16)
		inet_ntop(AF_INET6, a->HostAddress, text, sizeof(text));
	else if (a->HostAddressLen)
		snprintf(text, sizeof(text), "(%u bytes)", a->HostAddressLen);
	put(l, "{%s%s\"", text, *text ? " " : "");
	for (i = 0; i < a->DiscriminatorLen; i++) {
		uint8_t c = a->HostAddress[a->HostAddressLen + i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			put(l, "%c", c);
		else
			put(l, "\\x%02x", c);
	}
	put(l, "\"}");
}

static void put_vi_attrs(struct line *l, const char *name, bool ok,
			 const VIP_VI_ATTRIBUTES *a)
{
	arg(l, name);
	if (!a)
		put(l, "NULL");
	else if (!ok)
		put(l, "%p", (const void *)a);
	else
		put(l, "{level=0x%x mts=%lu ptag=%p rdmaw=%d rdmar=%d}",
		    (unsigned int)a->ReliabilityLevel, a->MaxTransferSize,
		    a->Ptag, a->EnableRdmaWrite, a->EnableRdmaRead);
}

static void put_mem_attrs(struct line *l, bool ok, const VIP_MEM_ATTRIBUTES *a)
{
	arg(l, "attrs");
	if (!a)
		put(l, "NULL");
	else if (!ok)
		put(l, "%p", (const void *)a);
	else
		put(l, "{ptag=%p rdmaw=%d rdmar=%d}", a->Ptag,
		    a->EnableRdmaWrite, a->EnableRdmaRead);
}

/* How many bytes from d lie in the region registered under mh on the VI's
 * NIC (0: none, or the post will refuse it): only those are read. */
static size_t desc_room(VIP_VI_HANDLE vh, const VIP_DESCRIPTOR *d,
			VIP_MEM_HANDLE mh)
{
	struct vip_vi *vi = vip_handle_get(vh, VIP_KIND_VI);
	const uint8_t *p = (const uint8_t *)d;
	struct vip_mr *mr;

	if (!vi || !d || ((uintptr_t)d & (VIP_DESCRIPTOR_ALIGNMENT - 1)))
		return 0;
	mr = vip_mr_find(vi->nic, mh);
	if (!mr || p < mr->start || p >= mr->start + mr->len)
		return 0;
	return (size_t)(mr->start + mr->len - p);
}

static const char *const op_names[] = { "SEND", "RDMAW", "RDMAR", "OP3" };

static void put_seg(struct line *l, unsigned int i,
		    const VIP_DESCRIPTOR_SEGMENT *s)
{
	put(l, " seg%u=%p/0x%x/%u", i, s->Local.Data.Address,
	    (unsigned int)s->Local.Handle, (unsigned int)s->Local.Length);
}

/* A posted descriptor: control bits, segment count, length, immediate
 * data, the first segment (and for RDMA the address segment). Written into
 * its own line before the call. */
static void put_desc_posted(struct line *l, VIP_VI_HANDLE vh,
			    const VIP_DESCRIPTOR *d, VIP_MEM_HANDLE mh,
			    bool recv)
{
	size_t room = desc_room(vh, d, mh);
	const VIP_DESCRIPTOR_SEGMENT *segs;
	unsigned int ctl, op, n;

	arg(l, "desc");
	put(l, "%p", (const void *)d);
	if (room < sizeof(VIP_CONTROL_SEGMENT)) {
		put(l, "{not in region 0x%x}", (unsigned int)mh);
		return;
	}
	ctl = d->CS.Control;
	op = ctl & VIP_CONTROL_OP_MASK;
	n = d->CS.SegCount;
	put(l, "{ctl=0x%x %s%s%s segs=%u len=%u", ctl,
	    recv && op == 0 ? "RECV" : op_names[op],
	    ctl & VIP_CONTROL_IMMEDIATE ? "|IMM" : "",
	    ctl & VIP_CONTROL_QFENCE ? "|QFENCE" : "", n,
	    (unsigned int)d->CS.Length);
	if (ctl & VIP_CONTROL_IMMEDIATE)
		put(l, " imm=0x%x", (unsigned int)d->CS.ImmediateData);
	segs = map_desc_segs(d);
	room -= sizeof(VIP_CONTROL_SEGMENT);
	if (n >= 1 && room >= sizeof(*segs)) {
		if (op == VIP_CONTROL_OP_RDMAWRITE ||
		    op == VIP_CONTROL_OP_RDMAREAD) {
			put(l, " remote=0x%llx/0x%x",
			    (unsigned long long)segs[0].Remote.Data.AddressBits,
			    (unsigned int)segs[0].Remote.Handle);
			if (n >= 2 && room >= 2 * sizeof(*segs))
				put_seg(l, 1, &segs[1]);
		} else {
			put_seg(l, 0, &segs[0]);
		}
	}
	put(l, "}");
}

static const char *status_op(uint32_t status)
{
	switch (status & VIP_STATUS_OP_MASK) {
	case VIP_STATUS_OP_SEND:
		return "SEND";
	case VIP_STATUS_OP_RECEIVE:
		return "RECV";
	case VIP_STATUS_OP_RDMA_WRITE:
		return "RDMAW";
	case VIP_STATUS_OP_REMOTE_RDMA_WRITE:
		return "REMOTE_RDMAW";
	case VIP_STATUS_OP_RDMA_READ:
		return "RDMAR";
	default:
		return "OP?";
	}
}

/* The error bits of a status, by name, as VipSendDone(3) lists them. */
static void put_status_errors(struct line *l, uint32_t status)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} bits[] = {
		{ VIP_STATUS_FORMAT_ERROR, "FORMAT" },
		{ VIP_STATUS_PROTECTION_ERROR, "PROTECTION" },
		{ VIP_STATUS_LENGTH_ERROR, "LENGTH" },
		{ VIP_STATUS_PARTIAL_ERROR, "PARTIAL" },
		{ VIP_STATUS_DESC_FLUSHED_ERROR, "FLUSHED" },
		{ VIP_STATUS_TRANSPORT_ERROR, "TRANSPORT" },
		{ VIP_STATUS_RDMA_PROT_ERROR, "RDMA_PROT" },
		{ VIP_STATUS_REMOTE_DESC_ERROR, "REMOTE_DESC" },
	};
	size_t i;

	for (i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (status & bits[i].bit)
			put(l, "|%s", bits[i].name);
}

/*
 * The descriptor handed back, as it completed: status (operation and error
 * bits by name), length, immediate data. handed: the call dequeued one
 * (VIP_SUCCESS or VIP_DESCRIPTOR_ERROR); otherwise the library set the
 * output to NULL, which prints as NULL (a NULL argument does too, and the
 * return code tells them apart).
 */
static void put_desc_done(struct line *l, bool handed,
			  VIP_DESCRIPTOR *const *dp)
{
	const VIP_DESCRIPTOR *d;
	uint32_t st;

	arg(l, "desc");
	if (!dp || (!handed && !*dp)) {
		put(l, "NULL");
		return;
	}
	if (!handed || !*dp) {
		put(l, "?");
		return;
	}
	d = *dp;
	st = d->CS.Status;
	put(l, "%p{status=0x%x %s%s", (const void *)d, (unsigned int)st,
	    status_op(st), st & VIP_STATUS_IMMEDIATE ? "|IMM" : "");
	put_status_errors(l, st);
	put(l, " len=%u", (unsigned int)d->CS.Length);
	if (st & VIP_STATUS_IMMEDIATE)
		put(l, " imm=0x%x", (unsigned int)d->CS.ImmediateData);
	put(l, "}");
}

/* Done and Wait dequeued a descriptor. */
static bool handed_back(VIP_RETURN r)
{
	return r == VIP_SUCCESS || r == VIP_DESCRIPTOR_ERROR;
}

/* The VI of a CQ entry; none (the library set it NULL) prints NULL. */
static void put_cq_vi(struct line *l, VIP_RETURN r, VIP_VI_HANDLE const *vi)
{
	if (vi && r != VIP_SUCCESS && !*vi) {
		arg(l, "vi");
		put(l, "NULL");
		return;
	}
	put_out_ptr(l, "vi", r == VIP_SUCCESS, vi);
}

static void put_bool_out(struct line *l, const char *name, bool ok,
			 const VIP_BOOLEAN *b)
{
	arg(l, name);
	if (!b)
		put(l, "NULL");
	else if (ok)
		put(l, "%d", *b);
	else
		put(l, "?");
}

/* ------------------------------------------------------------ wrappers */

#define IMPL(name) extern TRACE_HIDDEN __typeof__(name) vipl_impl_##name

/* The exported function: the flag, then a tail call. */
#define WRAP(name, params, args)                                               \
	VIP_RETURN name params                                                 \
	{                                                                      \
		if (__builtin_expect(vipl_trace_on, 0))                        \
			return trace_##name args;                              \
		return vipl_impl_##name args;                                  \
	}

/* A traced call whose arguments are all plain handles or numbers. */
#define TRACE_START(name)                                                      \
	struct line l;                                                         \
	VIP_RETURN r;                                                          \
	begin(&l, #name)

IMPL(VipOpenNic);
static TRACE_COLD VIP_RETURN trace_VipOpenNic(const VIP_CHAR *name,
					      VIP_NIC_HANDLE *nic)
{
	char note[512], devs[320];

	TRACE_START(VipOpenNic);
	r = vipl_impl_VipOpenNic(name, nic);
	put_str(&l, "name", name);
	put_out_ptr(&l, "nic", r == VIP_SUCCESS, nic);
	/* A failed open says why and what there is to open instead. */
	snprintf(note, sizeof(note), "%s", vip_nic_open_note());
	if (r != VIP_SUCCESS && *note) {
		map_dev_list(devs, sizeof(devs));
		snprintf(note, sizeof(note), "%s; devices: %s",
			 vip_nic_open_note(), devs);
	}
	end_note(&l, r, note);
	return r;
}
WRAP(VipOpenNic, (const VIP_CHAR *name, VIP_NIC_HANDLE *nic), (name, nic))

IMPL(VipCloseNic);
static TRACE_COLD VIP_RETURN trace_VipCloseNic(VIP_NIC_HANDLE nic)
{
	TRACE_START(VipCloseNic);
	r = vipl_impl_VipCloseNic(nic);
	put_ptr(&l, "nic", nic);
	end(&l, r);
	return r;
}
WRAP(VipCloseNic, (VIP_NIC_HANDLE nic), (nic))

IMPL(VipQueryNic);
static TRACE_COLD VIP_RETURN trace_VipQueryNic(VIP_NIC_HANDLE nic,
					       VIP_NIC_ATTRIBUTES *a)
{
	TRACE_START(VipQueryNic);
	r = vipl_impl_VipQueryNic(nic, a);
	put_ptr(&l, "nic", nic);
	arg(&l, "attrs");
	if (r == VIP_SUCCESS)
		put(&l, "{name=%.64s mts=%lu segs=%lu}", a->Name,
		    a->MaxTransferSize, a->MaxSegmentsPerDesc);
	else
		put(&l, "%p", (void *)a);
	end(&l, r);
	return r;
}
WRAP(VipQueryNic, (VIP_NIC_HANDLE nic, VIP_NIC_ATTRIBUTES *a), (nic, a))

IMPL(VipCreatePtag);
static TRACE_COLD VIP_RETURN trace_VipCreatePtag(VIP_NIC_HANDLE nic,
						 VIP_PROTECTION_HANDLE *pt)
{
	TRACE_START(VipCreatePtag);
	r = vipl_impl_VipCreatePtag(nic, pt);
	put_ptr(&l, "nic", nic);
	put_out_ptr(&l, "ptag", r == VIP_SUCCESS, pt);
	end(&l, r);
	return r;
}
WRAP(VipCreatePtag, (VIP_NIC_HANDLE nic, VIP_PROTECTION_HANDLE *pt),
     (nic, pt))

IMPL(VipDestroyPtag);
static TRACE_COLD VIP_RETURN trace_VipDestroyPtag(VIP_NIC_HANDLE nic,
						  VIP_PROTECTION_HANDLE pt)
{
	TRACE_START(VipDestroyPtag);
	r = vipl_impl_VipDestroyPtag(nic, pt);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "ptag", pt);
	end(&l, r);
	return r;
}
WRAP(VipDestroyPtag, (VIP_NIC_HANDLE nic, VIP_PROTECTION_HANDLE pt),
     (nic, pt))

IMPL(VipRegisterMem);
static TRACE_COLD VIP_RETURN trace_VipRegisterMem(VIP_NIC_HANDLE nic,
						  VIP_PVOID addr, VIP_ULONG len,
						  VIP_MEM_ATTRIBUTES *ma,
						  VIP_MEM_HANDLE *mh)
{
	TRACE_START(VipRegisterMem);
	r = vipl_impl_VipRegisterMem(nic, addr, len, ma, mh);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "addr", addr);
	put_ulong(&l, "len", len);
	put_mem_attrs(&l, true, ma);
	put_out_mh(&l, r == VIP_SUCCESS, mh);
	end(&l, r);
	return r;
}
WRAP(VipRegisterMem,
     (VIP_NIC_HANDLE nic, VIP_PVOID addr, VIP_ULONG len,
      VIP_MEM_ATTRIBUTES *ma, VIP_MEM_HANDLE *mh),
     (nic, addr, len, ma, mh))

IMPL(VipDeregisterMem);
static TRACE_COLD VIP_RETURN trace_VipDeregisterMem(VIP_NIC_HANDLE nic,
						    VIP_PVOID addr,
						    VIP_MEM_HANDLE mh)
{
	TRACE_START(VipDeregisterMem);
	r = vipl_impl_VipDeregisterMem(nic, addr, mh);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "addr", addr);
	put_hex(&l, "mh", mh);
	end(&l, r);
	return r;
}
WRAP(VipDeregisterMem, (VIP_NIC_HANDLE nic, VIP_PVOID addr, VIP_MEM_HANDLE mh),
     (nic, addr, mh))

IMPL(VipQueryMem);
static TRACE_COLD VIP_RETURN trace_VipQueryMem(VIP_NIC_HANDLE nic,
					       VIP_PVOID addr,
					       VIP_MEM_HANDLE mh,
					       VIP_MEM_ATTRIBUTES *ma)
{
	TRACE_START(VipQueryMem);
	r = vipl_impl_VipQueryMem(nic, addr, mh, ma);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "addr", addr);
	put_hex(&l, "mh", mh);
	put_mem_attrs(&l, r == VIP_SUCCESS, ma);
	end(&l, r);
	return r;
}
WRAP(VipQueryMem,
     (VIP_NIC_HANDLE nic, VIP_PVOID addr, VIP_MEM_HANDLE mh,
      VIP_MEM_ATTRIBUTES *ma),
     (nic, addr, mh, ma))

IMPL(VipSetMemAttributes);
static TRACE_COLD VIP_RETURN trace_VipSetMemAttributes(VIP_NIC_HANDLE nic,
						       VIP_PVOID addr,
						       VIP_MEM_HANDLE mh,
						       VIP_MEM_ATTRIBUTES *ma)
{
	TRACE_START(VipSetMemAttributes);
	r = vipl_impl_VipSetMemAttributes(nic, addr, mh, ma);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "addr", addr);
	put_hex(&l, "mh", mh);
	put_mem_attrs(&l, true, ma);
	end(&l, r);
	return r;
}
WRAP(VipSetMemAttributes,
     (VIP_NIC_HANDLE nic, VIP_PVOID addr, VIP_MEM_HANDLE mh,
      VIP_MEM_ATTRIBUTES *ma),
     (nic, addr, mh, ma))

IMPL(VipCreateVi);
static TRACE_COLD VIP_RETURN trace_VipCreateVi(VIP_NIC_HANDLE nic,
					       VIP_VI_ATTRIBUTES *va,
					       VIP_CQ_HANDLE scq,
					       VIP_CQ_HANDLE rcq,
					       VIP_VI_HANDLE *vi)
{
	TRACE_START(VipCreateVi);
	r = vipl_impl_VipCreateVi(nic, va, scq, rcq, vi);
	put_ptr(&l, "nic", nic);
	put_vi_attrs(&l, "attrs", true, va);
	put_ptr(&l, "sendcq", scq);
	put_ptr(&l, "recvcq", rcq);
	put_out_ptr(&l, "vi", r == VIP_SUCCESS, vi);
	end(&l, r);
	return r;
}
WRAP(VipCreateVi,
     (VIP_NIC_HANDLE nic, VIP_VI_ATTRIBUTES *va, VIP_CQ_HANDLE scq,
      VIP_CQ_HANDLE rcq, VIP_VI_HANDLE *vi),
     (nic, va, scq, rcq, vi))

IMPL(VipDestroyVi);
static TRACE_COLD VIP_RETURN trace_VipDestroyVi(VIP_VI_HANDLE vi)
{
	TRACE_START(VipDestroyVi);
	r = vipl_impl_VipDestroyVi(vi);
	put_ptr(&l, "vi", vi);
	end(&l, r);
	return r;
}
WRAP(VipDestroyVi, (VIP_VI_HANDLE vi), (vi))

IMPL(VipQueryVi);
static TRACE_COLD VIP_RETURN trace_VipQueryVi(VIP_VI_HANDLE vi,
					      VIP_VI_STATE *state,
					      VIP_VI_ATTRIBUTES *va,
					      VIP_BOOLEAN *sq_empty,
					      VIP_BOOLEAN *rq_empty)
{
	bool ok;

	TRACE_START(VipQueryVi);
	r = vipl_impl_VipQueryVi(vi, state, va, sq_empty, rq_empty);
	ok = r == VIP_SUCCESS;
	put_ptr(&l, "vi", vi);
	arg(&l, "state");
	if (state && ok)
		put(&l, "%d", (int)*state);
	else
		put(&l, "%s", state ? "?" : "NULL");
	put_vi_attrs(&l, "attrs", ok, va);
	put_bool_out(&l, "sq_empty", ok, sq_empty);
	put_bool_out(&l, "rq_empty", ok, rq_empty);
	end(&l, r);
	return r;
}
WRAP(VipQueryVi,
     (VIP_VI_HANDLE vi, VIP_VI_STATE *state, VIP_VI_ATTRIBUTES *va,
      VIP_BOOLEAN *sq_empty, VIP_BOOLEAN *rq_empty),
     (vi, state, va, sq_empty, rq_empty))

IMPL(VipSetViAttributes);
static TRACE_COLD VIP_RETURN trace_VipSetViAttributes(VIP_VI_HANDLE vi,
						      VIP_VI_ATTRIBUTES *va)
{
	TRACE_START(VipSetViAttributes);
	r = vipl_impl_VipSetViAttributes(vi, va);
	put_ptr(&l, "vi", vi);
	put_vi_attrs(&l, "attrs", true, va);
	end(&l, r);
	return r;
}
WRAP(VipSetViAttributes, (VIP_VI_HANDLE vi, VIP_VI_ATTRIBUTES *va), (vi, va))

/* Posts: the descriptor is summarised before the provider owns it. */
IMPL(VipPostSend);
IMPL(VipPostRecv);
static TRACE_COLD VIP_RETURN trace_post(const char *fn, bool recv,
					VIP_VI_HANDLE vi, VIP_DESCRIPTOR *d,
					VIP_MEM_HANDLE mh)
{
	struct line l;
	VIP_RETURN r;

	begin(&l, fn);
	put_ptr(&l, "vi", vi);
	put_desc_posted(&l, vi, d, mh, recv);
	put_hex(&l, "mh", mh);
	r = recv ? vipl_impl_VipPostRecv(vi, d, mh)
		 : vipl_impl_VipPostSend(vi, d, mh);
	end(&l, r);
	return r;
}

static TRACE_COLD VIP_RETURN trace_VipPostSend(VIP_VI_HANDLE vi,
					       VIP_DESCRIPTOR *d,
					       VIP_MEM_HANDLE mh)
{
	return trace_post("VipPostSend", false, vi, d, mh);
}
WRAP(VipPostSend, (VIP_VI_HANDLE vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE mh),
     (vi, d, mh))

static TRACE_COLD VIP_RETURN trace_VipPostRecv(VIP_VI_HANDLE vi,
					       VIP_DESCRIPTOR *d,
					       VIP_MEM_HANDLE mh)
{
	return trace_post("VipPostRecv", true, vi, d, mh);
}
WRAP(VipPostRecv, (VIP_VI_HANDLE vi, VIP_DESCRIPTOR *d, VIP_MEM_HANDLE mh),
     (vi, d, mh))

/* Done and Wait: the descriptor handed back, as it completed. */
#define TRACE_DONE(name)                                                       \
	IMPL(name);                                                            \
	static TRACE_COLD VIP_RETURN trace_##name(VIP_VI_HANDLE vi,            \
						  VIP_DESCRIPTOR **dp)         \
	{                                                                      \
		TRACE_START(name);                                             \
		r = vipl_impl_##name(vi, dp);                                  \
		put_ptr(&l, "vi", vi);                                         \
		put_desc_done(&l, handed_back(r), dp);                         \
		end(&l, r);                                                    \
		return r;                                                      \
	}                                                                      \
	WRAP(name, (VIP_VI_HANDLE vi, VIP_DESCRIPTOR **dp), (vi, dp))

#define TRACE_WAIT(name)                                                       \
	IMPL(name);                                                            \
	static TRACE_COLD VIP_RETURN trace_##name(                             \
		VIP_VI_HANDLE vi, VIP_ULONG t, VIP_DESCRIPTOR **dp)            \
	{                                                                      \
		TRACE_START(name);                                             \
		r = vipl_impl_##name(vi, t, dp);                               \
		put_ptr(&l, "vi", vi);                                         \
		put_timeout(&l, t);                                            \
		put_desc_done(&l, handed_back(r), dp);                         \
		end(&l, r);                                                    \
		return r;                                                      \
	}                                                                      \
	WRAP(name, (VIP_VI_HANDLE vi, VIP_ULONG t, VIP_DESCRIPTOR **dp),       \
	     (vi, t, dp))

#define TRACE_VI_NOTIFY(name)                                                  \
	IMPL(name);                                                            \
	static TRACE_COLD VIP_RETURN trace_##name(                             \
		VIP_VI_HANDLE vi, VIP_PVOID ctx, VIP_VI_CALLBACK h)            \
	{                                                                      \
		TRACE_START(name);                                             \
		r = vipl_impl_##name(vi, ctx, h);                              \
		put_ptr(&l, "vi", vi);                                         \
		put_ptr(&l, "context", ctx);                                   \
		arg(&l, "handler");                                            \
		put(&l, "%s", h ? "set" : "NULL");                             \
		end(&l, r);                                                    \
		return r;                                                      \
	}                                                                      \
	WRAP(name, (VIP_VI_HANDLE vi, VIP_PVOID ctx, VIP_VI_CALLBACK h),       \
	     (vi, ctx, h))

TRACE_DONE(VipSendDone)
TRACE_WAIT(VipSendWait)
TRACE_VI_NOTIFY(VipSendNotify)
TRACE_DONE(VipRecvDone)
TRACE_WAIT(VipRecvWait)
TRACE_VI_NOTIFY(VipRecvNotify)

IMPL(VipCreateCQ);
static TRACE_COLD VIP_RETURN trace_VipCreateCQ(VIP_NIC_HANDLE nic,
					       VIP_ULONG n, VIP_CQ_HANDLE *cq)
{
	TRACE_START(VipCreateCQ);
	r = vipl_impl_VipCreateCQ(nic, n, cq);
	put_ptr(&l, "nic", nic);
	put_ulong(&l, "entries", n);
	put_out_ptr(&l, "cq", r == VIP_SUCCESS, cq);
	end(&l, r);
	return r;
}
WRAP(VipCreateCQ, (VIP_NIC_HANDLE nic, VIP_ULONG n, VIP_CQ_HANDLE *cq),
     (nic, n, cq))

IMPL(VipDestroyCQ);
static TRACE_COLD VIP_RETURN trace_VipDestroyCQ(VIP_CQ_HANDLE cq)
{
	TRACE_START(VipDestroyCQ);
	r = vipl_impl_VipDestroyCQ(cq);
	put_ptr(&l, "cq", cq);
	end(&l, r);
	return r;
}
WRAP(VipDestroyCQ, (VIP_CQ_HANDLE cq), (cq))

IMPL(VipResizeCQ);
static TRACE_COLD VIP_RETURN trace_VipResizeCQ(VIP_CQ_HANDLE cq, VIP_ULONG n)
{
	TRACE_START(VipResizeCQ);
	r = vipl_impl_VipResizeCQ(cq, n);
	put_ptr(&l, "cq", cq);
	put_ulong(&l, "entries", n);
	end(&l, r);
	return r;
}
WRAP(VipResizeCQ, (VIP_CQ_HANDLE cq, VIP_ULONG n), (cq, n))

IMPL(VipCQDone);
static TRACE_COLD VIP_RETURN trace_VipCQDone(VIP_CQ_HANDLE cq,
					     VIP_VI_HANDLE *vi,
					     VIP_BOOLEAN *recv)
{
	TRACE_START(VipCQDone);
	r = vipl_impl_VipCQDone(cq, vi, recv);
	put_ptr(&l, "cq", cq);
	put_cq_vi(&l, r, vi);
	put_bool_out(&l, "recvq", r == VIP_SUCCESS, recv);
	end(&l, r);
	return r;
}
WRAP(VipCQDone, (VIP_CQ_HANDLE cq, VIP_VI_HANDLE *vi, VIP_BOOLEAN *recv),
     (cq, vi, recv))

IMPL(VipCQWait);
static TRACE_COLD VIP_RETURN trace_VipCQWait(VIP_CQ_HANDLE cq, VIP_ULONG t,
					     VIP_VI_HANDLE *vi,
					     VIP_BOOLEAN *recv)
{
	TRACE_START(VipCQWait);
	r = vipl_impl_VipCQWait(cq, t, vi, recv);
	put_ptr(&l, "cq", cq);
	put_timeout(&l, t);
	put_cq_vi(&l, r, vi);
	put_bool_out(&l, "recvq", r == VIP_SUCCESS, recv);
	end(&l, r);
	return r;
}
WRAP(VipCQWait,
     (VIP_CQ_HANDLE cq, VIP_ULONG t, VIP_VI_HANDLE *vi, VIP_BOOLEAN *recv),
     (cq, t, vi, recv))

IMPL(VipCQNotify);
static TRACE_COLD VIP_RETURN trace_VipCQNotify(VIP_CQ_HANDLE cq,
					       VIP_PVOID ctx,
					       VIP_CQ_CALLBACK h)
{
	TRACE_START(VipCQNotify);
	r = vipl_impl_VipCQNotify(cq, ctx, h);
	put_ptr(&l, "cq", cq);
	put_ptr(&l, "context", ctx);
	arg(&l, "handler");
	put(&l, "%s", h ? "set" : "NULL");
	end(&l, r);
	return r;
}
WRAP(VipCQNotify, (VIP_CQ_HANDLE cq, VIP_PVOID ctx, VIP_CQ_CALLBACK h),
     (cq, ctx, h))

IMPL(VipConnectWait);
static TRACE_COLD VIP_RETURN trace_VipConnectWait(
	VIP_NIC_HANDLE nic, VIP_NET_ADDRESS *local, VIP_ULONG t,
	VIP_NET_ADDRESS *remote, VIP_VI_ATTRIBUTES *ra, VIP_CONN_HANDLE *conn)
{
	bool ok;

	TRACE_START(VipConnectWait);
	r = vipl_impl_VipConnectWait(nic, local, t, remote, ra, conn);
	ok = r == VIP_SUCCESS;
	put_ptr(&l, "nic", nic);
	put_addr(&l, "local", local);
	put_timeout(&l, t);
	if (ok)
		put_addr(&l, "remote", remote);
	else
		put_ptr(&l, "remote", remote);
	put_vi_attrs(&l, "remote_attrs", ok, ra);
	put_out_ptr(&l, "conn", ok, conn);
	end(&l, r);
	return r;
}
WRAP(VipConnectWait,
     (VIP_NIC_HANDLE nic, VIP_NET_ADDRESS *local, VIP_ULONG t,
      VIP_NET_ADDRESS *remote, VIP_VI_ATTRIBUTES *ra, VIP_CONN_HANDLE *conn),
     (nic, local, t, remote, ra, conn))

IMPL(VipConnectAccept);
static TRACE_COLD VIP_RETURN trace_VipConnectAccept(VIP_CONN_HANDLE conn,
						    VIP_VI_HANDLE vi)
{
	TRACE_START(VipConnectAccept);
	r = vipl_impl_VipConnectAccept(conn, vi);
	put_ptr(&l, "conn", conn);
	put_ptr(&l, "vi", vi);
	end(&l, r);
	return r;
}
WRAP(VipConnectAccept, (VIP_CONN_HANDLE conn, VIP_VI_HANDLE vi), (conn, vi))

IMPL(VipConnectReject);
static TRACE_COLD VIP_RETURN trace_VipConnectReject(VIP_CONN_HANDLE conn)
{
	TRACE_START(VipConnectReject);
	r = vipl_impl_VipConnectReject(conn);
	put_ptr(&l, "conn", conn);
	end(&l, r);
	return r;
}
WRAP(VipConnectReject, (VIP_CONN_HANDLE conn), (conn))

IMPL(VipConnectRequest);
static TRACE_COLD VIP_RETURN trace_VipConnectRequest(VIP_VI_HANDLE vi,
						     VIP_NET_ADDRESS *local,
						     VIP_NET_ADDRESS *remote,
						     VIP_ULONG t,
						     VIP_VI_ATTRIBUTES *ra)
{
	TRACE_START(VipConnectRequest);
	r = vipl_impl_VipConnectRequest(vi, local, remote, t, ra);
	put_ptr(&l, "vi", vi);
	put_addr(&l, "local", local);
	put_addr(&l, "remote", remote);
	put_timeout(&l, t);
	put_vi_attrs(&l, "remote_attrs", r == VIP_SUCCESS, ra);
	end(&l, r);
	return r;
}
WRAP(VipConnectRequest,
     (VIP_VI_HANDLE vi, VIP_NET_ADDRESS *local, VIP_NET_ADDRESS *remote,
      VIP_ULONG t, VIP_VI_ATTRIBUTES *ra),
     (vi, local, remote, t, ra))

IMPL(VipDisconnect);
static TRACE_COLD VIP_RETURN trace_VipDisconnect(VIP_VI_HANDLE vi)
{
	TRACE_START(VipDisconnect);
	r = vipl_impl_VipDisconnect(vi);
	put_ptr(&l, "vi", vi);
	end(&l, r);
	return r;
}
WRAP(VipDisconnect, (VIP_VI_HANDLE vi), (vi))

IMPL(VipConnectPeerRequest);
static TRACE_COLD VIP_RETURN trace_VipConnectPeerRequest(
	VIP_VI_HANDLE vi, VIP_NET_ADDRESS *local, VIP_NET_ADDRESS *remote,
	VIP_ULONG t)
{
	TRACE_START(VipConnectPeerRequest);
	r = vipl_impl_VipConnectPeerRequest(vi, local, remote, t);
	put_ptr(&l, "vi", vi);
	put_addr(&l, "local", local);
	put_addr(&l, "remote", remote);
	put_timeout(&l, t);
	end(&l, r);
	return r;
}
WRAP(VipConnectPeerRequest,
     (VIP_VI_HANDLE vi, VIP_NET_ADDRESS *local, VIP_NET_ADDRESS *remote,
      VIP_ULONG t),
     (vi, local, remote, t))

IMPL(VipConnectPeerDone);
static TRACE_COLD VIP_RETURN trace_VipConnectPeerDone(VIP_VI_HANDLE vi,
						      VIP_VI_ATTRIBUTES *ra)
{
	TRACE_START(VipConnectPeerDone);
	r = vipl_impl_VipConnectPeerDone(vi, ra);
	put_ptr(&l, "vi", vi);
	put_vi_attrs(&l, "remote_attrs", r == VIP_SUCCESS, ra);
	end(&l, r);
	return r;
}
WRAP(VipConnectPeerDone, (VIP_VI_HANDLE vi, VIP_VI_ATTRIBUTES *ra), (vi, ra))

IMPL(VipConnectPeerWait);
static TRACE_COLD VIP_RETURN trace_VipConnectPeerWait(VIP_VI_HANDLE vi,
						      VIP_VI_ATTRIBUTES *ra)
{
	TRACE_START(VipConnectPeerWait);
	r = vipl_impl_VipConnectPeerWait(vi, ra);
	put_ptr(&l, "vi", vi);
	put_vi_attrs(&l, "remote_attrs", r == VIP_SUCCESS, ra);
	end(&l, r);
	return r;
}
WRAP(VipConnectPeerWait, (VIP_VI_HANDLE vi, VIP_VI_ATTRIBUTES *ra), (vi, ra))

IMPL(VipNSInit);
static TRACE_COLD VIP_RETURN trace_VipNSInit(VIP_NIC_HANDLE nic, VIP_PVOID info)
{
	TRACE_START(VipNSInit);
	r = vipl_impl_VipNSInit(nic, info);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "info", info);
	end(&l, r);
	return r;
}
WRAP(VipNSInit, (VIP_NIC_HANDLE nic, VIP_PVOID info), (nic, info))

IMPL(VipNSGetHostByName);
static TRACE_COLD VIP_RETURN trace_VipNSGetHostByName(VIP_NIC_HANDLE nic,
						      VIP_CHAR *name,
						      VIP_NET_ADDRESS *a,
						      VIP_ULONG index)
{
	TRACE_START(VipNSGetHostByName);
	r = vipl_impl_VipNSGetHostByName(nic, name, a, index);
	put_ptr(&l, "nic", nic);
	put_str(&l, "name", name);
	if (r == VIP_SUCCESS)
		put_addr(&l, "addr", a);
	else
		put_ptr(&l, "addr", a);
	put_ulong(&l, "index", index);
	end(&l, r);
	return r;
}
WRAP(VipNSGetHostByName,
     (VIP_NIC_HANDLE nic, VIP_CHAR *name, VIP_NET_ADDRESS *a, VIP_ULONG index),
     (nic, name, a, index))

IMPL(VipNSGetHostByAddr);
static TRACE_COLD VIP_RETURN trace_VipNSGetHostByAddr(VIP_NIC_HANDLE nic,
						      VIP_NET_ADDRESS *a,
						      VIP_CHAR *name,
						      VIP_ULONG *len)
{
	TRACE_START(VipNSGetHostByAddr);
	r = vipl_impl_VipNSGetHostByAddr(nic, a, name, len);
	put_ptr(&l, "nic", nic);
	put_addr(&l, "addr", a);
	if (r == VIP_SUCCESS)
		put_str(&l, "name", name);
	else
		put_ptr(&l, "name", name);
	arg(&l, "len");
	if (len)
		put(&l, "%lu", *len);
	else
		put(&l, "NULL");
	end(&l, r);
	return r;
}
WRAP(VipNSGetHostByAddr,
     (VIP_NIC_HANDLE nic, VIP_NET_ADDRESS *a, VIP_CHAR *name, VIP_ULONG *len),
     (nic, a, name, len))

IMPL(VipNSShutdown);
static TRACE_COLD VIP_RETURN trace_VipNSShutdown(VIP_NIC_HANDLE nic)
{
	TRACE_START(VipNSShutdown);
	r = vipl_impl_VipNSShutdown(nic);
	put_ptr(&l, "nic", nic);
	end(&l, r);
	return r;
}
WRAP(VipNSShutdown, (VIP_NIC_HANDLE nic), (nic))

IMPL(VipErrorCallback);
static TRACE_COLD VIP_RETURN trace_VipErrorCallback(VIP_NIC_HANDLE nic,
						    VIP_PVOID ctx,
						    VIP_ERROR_HANDLER h)
{
	TRACE_START(VipErrorCallback);
	r = vipl_impl_VipErrorCallback(nic, ctx, h);
	put_ptr(&l, "nic", nic);
	put_ptr(&l, "context", ctx);
	arg(&l, "handler");
	put(&l, "%s", h ? "set" : "NULL");
	end(&l, r);
	return r;
}
WRAP(VipErrorCallback, (VIP_NIC_HANDLE nic, VIP_PVOID ctx, VIP_ERROR_HANDLER h),
     (nic, ctx, h))

IMPL(VipQuerySystemManagementInfo);
static TRACE_COLD VIP_RETURN trace_VipQuerySystemManagementInfo(
	VIP_NIC_HANDLE nic, VIP_ULONG type, VIP_PVOID info)
{
	TRACE_START(VipQuerySystemManagementInfo);
	r = vipl_impl_VipQuerySystemManagementInfo(nic, type, info);
	put_ptr(&l, "nic", nic);
	put_ulong(&l, "type", type);
	put_ptr(&l, "info", info);
	end(&l, r);
	return r;
}
WRAP(VipQuerySystemManagementInfo,
     (VIP_NIC_HANDLE nic, VIP_ULONG type, VIP_PVOID info), (nic, type, info))

IMPL(VipQuerySystemManagementInfoClan);
static TRACE_COLD VIP_RETURN trace_VipQuerySystemManagementInfoClan(
	VIP_NIC_HANDLE nic, VIP_ULONG type, VIP_PVOID info)
{
	TRACE_START(VipQuerySystemManagementInfoClan);
	r = vipl_impl_VipQuerySystemManagementInfoClan(nic, type, info);
	put_ptr(&l, "nic", nic);
	put_ulong(&l, "type", type);
	put_ptr(&l, "info", info);
	end(&l, r);
	return r;
}
WRAP(VipQuerySystemManagementInfoClan,
     (VIP_NIC_HANDLE nic, VIP_ULONG type, VIP_PVOID info), (nic, type, info))

IMPL(VipAddTagCQ);
static TRACE_COLD VIP_RETURN trace_VipAddTagCQ(VIP_CQ_HANDLE cq,
					       VIP_EVENT_HANDLE *ev,
					       VIP_ULONG tag, VIP_ULONG prio)
{
	TRACE_START(VipAddTagCQ);
	r = vipl_impl_VipAddTagCQ(cq, ev, tag, prio);
	put_ptr(&l, "cq", cq);
	put_ptr(&l, "event", ev);
	put_ulong(&l, "tag", tag);
	put_ulong(&l, "priority", prio);
	end(&l, r);
	return r;
}
WRAP(VipAddTagCQ,
     (VIP_CQ_HANDLE cq, VIP_EVENT_HANDLE *ev, VIP_ULONG tag, VIP_ULONG prio),
     (cq, ev, tag, prio))

IMPL(VipRemoveTagCQ);
static TRACE_COLD VIP_RETURN trace_VipRemoveTagCQ(VIP_CQ_HANDLE cq,
						  VIP_EVENT_HANDLE ev,
						  VIP_ULONG tag)
{
	TRACE_START(VipRemoveTagCQ);
	r = vipl_impl_VipRemoveTagCQ(cq, ev, tag);
	put_ptr(&l, "cq", cq);
	put_ptr(&l, "event", ev);
	put_ulong(&l, "tag", tag);
	end(&l, r);
	return r;
}
WRAP(VipRemoveTagCQ, (VIP_CQ_HANDLE cq, VIP_EVENT_HANDLE ev, VIP_ULONG tag),
     (cq, ev, tag))

IMPL(VipPostDeferredSends);
static TRACE_COLD VIP_RETURN trace_VipPostDeferredSends(VIP_VI_HANDLE vi,
							VIP_BOOLEAN intr,
							VIP_BOOLEAN *deferred)
{
	TRACE_START(VipPostDeferredSends);
	r = vipl_impl_VipPostDeferredSends(vi, intr, deferred);
	put_ptr(&l, "vi", vi);
	put_ulong(&l, "interrupt", (unsigned long)intr);
	put_bool_out(&l, "deferred", r == VIP_SUCCESS, deferred);
	end(&l, r);
	return r;
}
WRAP(VipPostDeferredSends,
     (VIP_VI_HANDLE vi, VIP_BOOLEAN intr, VIP_BOOLEAN *deferred),
     (vi, intr, deferred))

/* The two calls that return no VIP_RETURN. */
IMPL(VipGetUserData);
static TRACE_COLD VIP_PVOID trace_VipGetUserData(VIP_VI_HANDLE vi)
{
	struct line l;
	VIP_PVOID p;

	begin(&l, "VipGetUserData");
	p = vipl_impl_VipGetUserData(vi);
	put_ptr(&l, "vi", vi);
	put(&l, ") = %p", p);
	emit(&l);
	return p;
}

VIP_PVOID VipGetUserData(VIP_VI_HANDLE vi)
{
	if (__builtin_expect(vipl_trace_on, 0))
		return trace_VipGetUserData(vi);
	return vipl_impl_VipGetUserData(vi);
}

IMPL(VipSetUserData);
static TRACE_COLD void trace_VipSetUserData(VIP_VI_HANDLE vi, VIP_PVOID data)
{
	struct line l;

	begin(&l, "VipSetUserData");
	vipl_impl_VipSetUserData(vi, data);
	put_ptr(&l, "vi", vi);
	put_ptr(&l, "data", data);
	put(&l, ")");
	emit(&l);
}

void VipSetUserData(VIP_VI_HANDLE vi, VIP_PVOID data)
{
	if (__builtin_expect(vipl_trace_on, 0))
		trace_VipSetUserData(vi, data);
	else
		vipl_impl_VipSetUserData(vi, data);
}

#endif /* VIPL_NO_TRACE */
