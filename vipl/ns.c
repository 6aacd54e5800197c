/*
 * ns.c - the name service: VipNSInit, VipNSGetHostByName,
 * VipNSGetHostByAddr, VipNSShutdown (vipl-api.md section 2).
 *
 * A name is looked up first in the hosts file named by VIPL_HOSTS (the
 * format of /etc/hosts: "ADDRESS NAME [ALIASES...]", '#' comments, names
 * compared without case), then with the system resolver (getaddrinfo and
 * getnameinfo, so /etc/hosts and DNS as nsswitch.conf says). The first
 * source that knows a name or address answers alone, as nsswitch does.
 * Host addresses are what VIP_NET_ADDRESS carries everywhere in libvipl
 * (section 1): 4 bytes of IPv4 or 16 of IPv6, network byte order.
 *
 * There is no state: the file is read at each lookup (name lookups are
 * not on any fast path), so VipNSInit and VipNSShutdown only check their
 * NIC, and lookups work without VipNSInit too; some VIA programs never
 * call it. No verbs here: naming hosts is not the device's business.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "internal.h"

#define SEP " \t\r\n"

struct ns_addr {
	uint16_t len; /* 4 or 16 */
	uint8_t bytes[16];
};

/* The addresses of one name, in the order their source gave them. */
struct ns_list {
	struct ns_addr *a;
	size_t n, cap;
};

/* ------------------------------------------------------------ addresses */

static bool addr_eq(const struct ns_addr *a, const struct ns_addr *b)
{
	return a->len == b->len && !memcmp(a->bytes, b->bytes, a->len);
}

static bool addr_from_text(const char *s, struct ns_addr *a)
{
	if (inet_pton(AF_INET, s, a->bytes) == 1)
		a->len = 4;
	else if (inet_pton(AF_INET6, s, a->bytes) == 1)
		a->len = 16;
	else
		return false;
	return true;
}

static bool addr_from_sockaddr(const struct sockaddr *sa, struct ns_addr *a)
{
	if (sa->sa_family == AF_INET) {
		a->len = 4;
		memcpy(a->bytes, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
	} else if (sa->sa_family == AF_INET6) {
		a->len = 16;
		memcpy(a->bytes, &((const struct sockaddr_in6 *)sa)->sin6_addr,
		       16);
	} else {
		return false;
	}
	return true;
}

/* Host length 0 names this NIC's own address, as elsewhere (addr.c). */
static bool addr_from_vip(const struct vip_nic *nic, const VIP_NET_ADDRESS *va,
			  struct ns_addr *a)
{
	const uint8_t *src = va->HostAddress;

	a->len = va->HostAddressLen;
	if (!a->len) {
		a->len = nic->attr.addr_len;
		src = nic->attr.addr;
	}
	if (a->len != 4 && a->len != 16)
		return false;
	memcpy(a->bytes, src, a->len);
	return true;
}

/* The host part only: the caller appends a discriminator if it wants. */
static void addr_to_vip(const struct ns_addr *a, VIP_NET_ADDRESS *va)
{
	va->HostAddressLen = a->len;
	va->DiscriminatorLen = 0;
	memcpy(va->HostAddress, a->bytes, a->len);
}

static VIP_RETURN list_add(struct ns_list *l, const struct ns_addr *a)
{
	struct ns_addr *grown;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (addr_eq(&l->a[i], a))
			return VIP_SUCCESS;
	if (l->n == l->cap) {
		grown = realloc(l->a, (l->cap * 2 + 4) * sizeof(*grown));
		if (!grown)
			return VIP_ERROR_RESOURCE;
		l->a = grown;
		l->cap = l->cap * 2 + 4;
	}
	l->a[l->n++] = *a;
	return VIP_SUCCESS;
}

/*
 * NameIndex counts addresses of the NIC's own family first, then the
 * others, each in source order: index 0 is then of the family the NIC
 * talks, and no longer than the NicAddressLen a program may have sized
 * its VIP_NET_ADDRESS by.
 */
static const struct ns_addr *list_pick(const struct ns_list *l,
				       uint16_t nic_len, VIP_ULONG index)
{
	size_t i;
	int pass;

	for (pass = 0; pass < 2; pass++)
		for (i = 0; i < l->n; i++)
			if ((l->a[i].len == nic_len) == !pass && !index--)
				return &l->a[i];
	return NULL;
}

/* ------------------------------------------------------ the VIPL_HOSTS file */

struct hosts {
	FILE *f;
	char *line;
	size_t cap;
};

/* A missing or unreadable file has no entries, as glibc treats a missing
 * /etc/hosts. */
static bool hosts_open(struct hosts *h)
{
	const char *path = getenv("VIPL_HOSTS");

	h->line = NULL;
	h->cap = 0;
	h->f = path && *path ? fopen(path, "re") : NULL;
	return h->f != NULL;
}

static void hosts_close(struct hosts *h)
{
	free(h->line);
	fclose(h->f);
}

/* The next entry: its address, and *names pointing at the rest of the
 * line. Blank, comment and malformed lines are skipped. */
static bool hosts_next(struct hosts *h, struct ns_addr *a, char **names)
{
	char *s;
	size_t n;

	while (getline(&h->line, &h->cap, h->f) >= 0) {
		s = h->line;
		s[strcspn(s, "#")] = '\0';
		s += strspn(s, SEP);
		n = strcspn(s, SEP);
		if (!n)
			continue;
		*names = s[n] ? s + n + 1 : s + n;
		s[n] = '\0';
		if (addr_from_text(s, a))
			return true;
	}
	return false;
}

static bool names_have(char *names, const char *name)
{
	char *save, *n;

	for (n = strtok_r(names, SEP, &save); n; n = strtok_r(NULL, SEP, &save))
		if (!strcasecmp(n, name))
			return true;
	return false;
}

static VIP_RETURN hosts_by_name(const char *name, struct ns_list *l)
{
	VIP_RETURN ret = VIP_SUCCESS;
	struct ns_addr a;
	struct hosts h;
	char *names;

	if (!hosts_open(&h))
		return VIP_SUCCESS;
	while (ret == VIP_SUCCESS && hosts_next(&h, &a, &names))
		if (names_have(names, name))
			ret = list_add(l, &a);
	hosts_close(&h);
	return ret;
}

/* The first entry's canonical name (its first one) for this address. */
static bool hosts_by_addr(const struct ns_addr *want, char *name, size_t size)
{
	bool found = false;
	struct ns_addr a;
	struct hosts h;
	char *names, *save, *n;

	if (!hosts_open(&h))
		return false;
	while (!found && hosts_next(&h, &a, &names)) {
		n = strtok_r(names, SEP, &save);
		if (addr_eq(&a, want) && n && strlen(n) < size) {
			strcpy(name, n);
			found = true;
		}
	}
	hosts_close(&h);
	return found;
}

/* ------------------------------------------------------ the system resolver */

static VIP_RETURN resolver_by_name(const char *name, struct ns_list *l)
{
	/* One socket type, or every address comes back once per type. */
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	VIP_RETURN ret = VIP_SUCCESS;
	struct ns_addr a;
	int err;

	err = getaddrinfo(name, NULL, &hints, &res);
	if (err)
		return err == EAI_MEMORY ? VIP_ERROR_RESOURCE
					 : VIP_ERROR_NAMESERVICE;
	for (ai = res; ai && ret == VIP_SUCCESS; ai = ai->ai_next)
		if (addr_from_sockaddr(ai->ai_addr, &a))
			ret = list_add(l, &a);
	freeaddrinfo(res);
	return ret;
}

static bool resolver_by_addr(const struct ns_addr *a, char *name, size_t size)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	const struct sockaddr *sa = (const struct sockaddr *)&sin;
	socklen_t len = sizeof(sin);

	if (a->len == 4) {
		memcpy(&sin.sin_addr, a->bytes, 4);
	} else {
		memcpy(&sin6.sin6_addr, a->bytes, 16);
		sa = (const struct sockaddr *)&sin6;
		len = sizeof(sin6);
	}
	/* NI_NAMEREQD: an address with no name is an unknown address, not
	 * its own text. */
	return !getnameinfo(sa, len, name, size, NULL, 0, NI_NAMEREQD);
}

/* ------------------------------------------------------------ the calls */

/* NSInitInfo is the provider's to define; we need none (VIPL_HOSTS
 * configures us) and ignore it. */
VIP_RETURN VipNSInit(VIP_NIC_HANDLE NicHandle, VIP_PVOID NSInitInfo)
{
	(void)NSInitInfo;
	return vip_nic_get(NicHandle) ? VIP_SUCCESS : VIP_INVALID_PARAMETER;
}

VIP_RETURN VipNSShutdown(VIP_NIC_HANDLE NicHandle)
{
	return vip_nic_get(NicHandle) ? VIP_SUCCESS : VIP_INVALID_PARAMETER;
}

/*
 * Writes the host part of Address: HostAddressLen 4 or 16, DiscriminatorLen
 * 0, no discriminator bytes. Address needs room for 16 host address bytes
 * unless the caller knows which family the answer has. A NameIndex past
 * the name's last address is VIP_ERROR_NAMESERVICE, as is an unknown name.
 */
VIP_RETURN VipNSGetHostByName(VIP_NIC_HANDLE NicHandle, VIP_CHAR *Name,
			      VIP_NET_ADDRESS *Address, VIP_ULONG NameIndex)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	struct ns_list l = { 0 };
	const struct ns_addr *a;
	VIP_RETURN ret;

	if (!nic || !Name || !*Name || !Address)
		return VIP_INVALID_PARAMETER;
	ret = hosts_by_name(Name, &l);
	if (ret == VIP_SUCCESS && !l.n)
		ret = resolver_by_name(Name, &l);
	if (ret == VIP_SUCCESS) {
		a = list_pick(&l, nic->attr.addr_len, NameIndex);
		if (a)
			addr_to_vip(a, Address);
		else
			ret = VIP_ERROR_NAMESERVICE;
	}
	free(l.a);
	return ret;
}

/*
 * *NameLen is the size of Name in bytes on the way in and, on the way
 * out, the length of the name INCLUDING its terminating NUL: the bytes
 * written, or on VIP_INVALID_PARAMETER for a buffer too small, the size
 * needed (nothing is written then). Name may be NULL with *NameLen 0 to
 * ask for that size. The discriminator of Address plays no part.
 */
VIP_RETURN VipNSGetHostByAddr(VIP_NIC_HANDLE NicHandle,
			      VIP_NET_ADDRESS *Address, VIP_CHAR *Name,
			      VIP_ULONG *NameLen)
{
	struct vip_nic *nic = vip_nic_get(NicHandle);
	char found[NI_MAXHOST];
	struct ns_addr a;
	size_t need;

	if (!nic || !Address || !NameLen || (!Name && *NameLen))
		return VIP_INVALID_PARAMETER;
	if (!addr_from_vip(nic, Address, &a))
		return VIP_INVALID_PARAMETER;
	if (!hosts_by_addr(&a, found, sizeof(found)) &&
	    !resolver_by_addr(&a, found, sizeof(found)))
		return VIP_ERROR_NAMESERVICE;
	need = strlen(found) + 1;
	if (*NameLen < need) {
		*NameLen = need;
		return VIP_INVALID_PARAMETER;
	}
	memcpy(Name, found, need);
	*NameLen = need;
	return VIP_SUCCESS;
}
