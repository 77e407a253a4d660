/* wg_dev.c - one WireGuard device, driven through whichever of the two
 * interfaces has it: a userspace implementation's API socket when one
 * serves the device, else the kernel (RTM_NEWLINK kind wireguard, then the
 * generic netlink family). */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/mem.h"
#include "netlink/nl.h"
#include "wg/wg.h"

const char *wg_kind_name(enum wg_kind k)
{
	return k == WG_KERNEL ? "kernel" : "userspace";
}

static int create_link(struct nl *nl, const char *dev)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nl_msg_init(buf, RTM_NEWLINK, nl_op_flags(NL_CREATE));
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, dev);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "wireguard");
	mnl_attr_nest_end(nlh, info);
	return nl_request(nl, nlh, NULL, NULL);
}

/* The kernel's device: reused when it exists and is a wireguard link. */
static int open_kernel(struct wg_drv *w, struct nl *nl, char *err, size_t errlen)
{
	struct nl_link l;
	int rc = nl_link_get(nl, w->dev, 0, &l);

	if (rc == 0 && strcmp(l.kind, "wireguard") != 0) {
		snprintf(err, errlen, "%s exists and is not a wireguard device (kind \"%s\") and no "
			 "userspace implementation serves it", w->dev, l.kind);
		return -EEXIST;
	}
	if (rc == -ENODEV) {
		rc = create_link(nl, w->dev);
		if (rc == -EOPNOTSUPP || rc == -EINVAL || rc == -ENOENT) {
			snprintf(err, errlen, "create %s: the kernel has no wireguard module (%s) and no "
				 "userspace implementation serves %s", w->dev, nl_strerror(nl, rc),
				 w->sock);
			return -EOPNOTSUPP;
		}
		if (rc == 0)
			w->created = true;
		if (rc == 0)
			rc = nl_link_get(nl, w->dev, 0, &l);
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", w->dev, nl_strerror(nl, rc));
		return rc;
	}
	w->ifindex = l.ifindex;
	w->kind = WG_KERNEL;
	return wg_genl_open(w, err, errlen);
}

int wg_open(struct wg_drv *w, const char *dev, const char *uapi_dir, char *err, size_t errlen)
{
	struct nl_link l;
	struct stat st;
	struct nl *nl;
	int rc;

	memset(w, 0, sizeof(*w));
	snprintf(w->dev, sizeof(w->dev), "%s", dev);
	snprintf(w->sock, sizeof(w->sock), "%s/%s.sock", uapi_dir, dev);
	nl = nl_open();
	if (!nl) {
		snprintf(err, errlen, "open a netlink socket: %s", strerror(errno));
		return -errno;
	}
	if (stat(w->sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
		rc = nl_link_get(nl, dev, 0, &l);
		if (rc < 0) {
			snprintf(err, errlen, "%s is there but the device %s is not: %s", w->sock, dev,
				 nl_strerror(nl, rc));
		} else {
			w->ifindex = l.ifindex;
			w->kind = WG_USERSPACE;
		}
	} else {
		rc = open_kernel(w, nl, err, errlen);
	}
	nl_close(nl);
	return rc;
}

void wg_close(struct wg_drv *w)
{
	wg_genl_close(w);
}

int wg_get(struct wg_drv *w, struct wg_device *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	return w->kind == WG_KERNEL ? wg_genl_get(w, out, err, errlen) :
				      wg_uapi_get(w->sock, out, err, errlen);
}

int wg_set(struct wg_drv *w, const struct wg_device *d, char *err, size_t errlen)
{
	return w->kind == WG_KERNEL ? wg_genl_set(w, d, err, errlen) :
				      wg_uapi_set(w->sock, d, err, errlen);
}
