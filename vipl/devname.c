/*
 * devname.c - the device names VIA programs hard-code (vipl-api.md
 * section 5), read into what the mapping layer can look up. Pure: no
 * device is touched here (tests/unit/test_devname.c).
 *
 *   /dev/via_<netdev>   M-VIA, one per network interface; /dev/via_lo is
 *                       its loopback device
 *   /dev/clanvi<N>      Giganet cLAN (also without /dev/)
 *   VINIC, VINIC<N>     Myricom VI-GM
 *   anything else       a verbs device name
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

/* Network interface names are at most IFNAMSIZ - 1 (15) bytes. */
#define NETDEV_MAX 15
/* More NICs than any host has, and no overflow on the way. */
#define INDEX_DIGITS 4

static bool has_prefix(const char *s, const char *prefix, const char **rest)
{
	size_t n = strlen(prefix);

	if (strncmp(s, prefix, n))
		return false;
	*rest = s + n;
	return true;
}

/* A decimal N with no sign, no spaces and at most INDEX_DIGITS digits. */
static bool parse_index(const char *s, unsigned int *out)
{
	unsigned int v = 0;
	size_t i;

	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9' || i == INDEX_DIGITS)
			return false;
		v = v * 10 + (unsigned int)(s[i] - '0');
	}
	if (!i)
		return false;
	*out = v;
	return true;
}

static int parse_netdev(const char *netdev, struct vip_devname *out)
{
	size_t n = strlen(netdev);

	if (!n || n > NETDEV_MAX || strchr(netdev, '/'))
		return EINVAL;
	out->name = netdev;
	out->kind = strcmp(netdev, "lo") ? VIP_DEVNAME_NETDEV
					 : VIP_DEVNAME_LOOPBACK;
	return 0;
}

int vip_devname_parse(const char *name, struct vip_devname *out)
{
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (!name || !*name) {
		out->kind = VIP_DEVNAME_DEFAULT;
		return 0;
	}
	if (has_prefix(name, "/dev/via_", &rest))
		return parse_netdev(rest, out);
	if (has_prefix(name, "/dev/clanvi", &rest) ||
	    has_prefix(name, "clanvi", &rest) ||
	    has_prefix(name, "VINIC", &rest)) {
		/* Bare VINIC is VI-GM's first NIC. */
		if (!*rest && name[0] == 'V') {
			out->kind = VIP_DEVNAME_INDEX;
			return 0;
		}
		if (parse_index(rest, &out->index)) {
			out->kind = VIP_DEVNAME_INDEX;
			return 0;
		}
		/* Else "clanvi_x" or "VINICfoo" may still be a verbs name,
		 * but "/dev/clanvix" is no name at all. */
	}
	/* No verbs device has a '/' in its name. */
	if (name[0] == '/')
		return EINVAL;
	out->kind = VIP_DEVNAME_VERBS;
	out->name = name;
	return 0;
}

/*
 * The settings users of other RDMA stacks know (libfabric's FI_VERBS_IFACE
 * and _GID_IDX, UCX's port suffix and GID index): each unset or empty
 * value leaves our default. A value that is not what it should be is an
 * error, never silently ignored.
 */
int vip_devsettings_parse(const char *port, const char *gid_index,
			  const char *ip_version, const char *iface,
			  struct vip_devsettings *out)
{
	unsigned int v;

	out->port = 0;
	out->gid_index = -1;
	out->ip_version = 0;
	out->iface = NULL;
	if (port && *port) {
		if (!parse_index(port, &v) || v < 1 || v > 255)
			return EINVAL;
		out->port = v;
	}
	if (gid_index && *gid_index) {
		if (!parse_index(gid_index, &v) || v > 65535)
			return EINVAL;
		out->gid_index = (int)v;
	}
	if (ip_version && *ip_version) {
		if (!strcmp(ip_version, "4") || !strcmp(ip_version, "ipv4"))
			out->ip_version = 4;
		else if (!strcmp(ip_version, "6") ||
			 !strcmp(ip_version, "ipv6"))
			out->ip_version = 6;
		else
			return EINVAL;
	}
	if (iface && *iface) {
		if (strlen(iface) > NETDEV_MAX || strchr(iface, '/'))
			return EINVAL;
		out->iface = iface;
	}
	return 0;
}
