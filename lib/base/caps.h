/* caps.h - does this process hold a capability the kernel will ask for? */
#ifndef FLANNEL_CAPS_H
#define FLANNEL_CAPS_H

#include <stdbool.h>

/* CAP_NET_ADMIN in the effective set (root has it); false when unknown. */
bool caps_net_admin(void);
/* 0 when held; else logs that WHAT needs root or CAP_NET_ADMIN and
 * returns FL_ERR_PERM. */
int caps_need_net_admin(const char *what);

#endif
