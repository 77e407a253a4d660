/* path.h - file-system paths. */
#ifndef FLANNEL_PATH_H
#define FLANNEL_PATH_H

/* Create the directories above path's last component (mode 0755), as
 * mkdir -p of its dirname: 0, or -1 with errno. */
int path_mkdir_parents(const char *path);

#endif
