/* err.h - what went wrong, as the library returns it.  The library never
 * decides an exit status: each main turns these into its own with
 * cli_exit_code (base/cli.h), the one table of kinds and sysexits codes. */
#ifndef FLANNEL_ERR_H
#define FLANNEL_ERR_H

enum fl_err {
	FL_OK = 0,
	FL_ERR_FAILED = 1,  /* the work failed: etcd refused, kernel writes failed */
	FL_ERR_USAGE,       /* a bad option or argument */
	FL_ERR_DATA,        /* bad input data */
	FL_ERR_UNAVAILABLE, /* a service is not there: etcd, a kernel feature, a tool */
	FL_ERR_INTERNAL,    /* a bug or an internal limit */
	FL_ERR_OS,          /* the system failed: memory, fork, a descriptor */
	FL_ERR_CANTCREAT,   /* an output file cannot be created */
	FL_ERR_IO,          /* reading or writing failed (EPIPE included) */
	FL_ERR_TEMP,        /* try again later: the network is full, a lock is held */
	FL_ERR_PROTO,       /* an answer that could not be read */
	FL_ERR_PERM,        /* permission denied */
	FL_ERR_CONFIG,      /* the configuration is missing or wrong */
	FL_ERR_COUNT
};

#endif
