/* etcd_cli.h - the etcd options every tool that talks to etcd takes, and
 * what an etcd client status means to a tool. */
#ifndef FLANNEL_ETCD_CLI_H
#define FLANNEL_ETCD_CLI_H

#include <getopt.h>

#include "base/err.h"
#include "etcd/etcd.h"

/* The etcd options every tool that talks to etcd takes. */
enum {
	OPT_ETCD_ENDPOINTS = 1000,
	OPT_ETCD_PREFIX,
	OPT_ETCD_CAFILE,
	OPT_ETCD_CERTFILE,
	OPT_ETCD_KEYFILE,
	OPT_ETCD_USERNAME,
	OPT_ETCD_PASSWORD,
	OPT_ETCD_TIMEOUT,
	OPT_ETCD_PASSWORD_FILE,
	OPT_ETCD_REMOTE,
	OPT_ETCD_REMOTE_CAFILE,
	OPT_ETCD_REMOTE_CERTFILE,
	OPT_ETCD_REMOTE_KEYFILE,
	OPT_ETCD_REMOTE_NETWORK,
	OPT_ETCD_USERNAME_FILE,
	OPT_ETCD_LAST,
};

/* Client mode (flannel-lease, flannel-watch, flanneld): a flannel-server
 * answers instead of etcd. */
#define CLI_REMOTE_OPTIONS                                                           \
	{ "remote", required_argument, NULL, OPT_ETCD_REMOTE },                      \
	{ "remote-cafile", required_argument, NULL, OPT_ETCD_REMOTE_CAFILE },        \
	{ "remote-certfile", required_argument, NULL, OPT_ETCD_REMOTE_CERTFILE },    \
	{ "remote-keyfile", required_argument, NULL, OPT_ETCD_REMOTE_KEYFILE },      \
	{ "remote-network", required_argument, NULL, OPT_ETCD_REMOTE_NETWORK }

#define CLI_ETCD_OPTIONS                                                             \
	{ "etcd-endpoints", required_argument, NULL, OPT_ETCD_ENDPOINTS },           \
	{ "etcd-prefix", required_argument, NULL, OPT_ETCD_PREFIX },                 \
	{ "etcd-cafile", required_argument, NULL, OPT_ETCD_CAFILE },                 \
	{ "etcd-certfile", required_argument, NULL, OPT_ETCD_CERTFILE },             \
	{ "etcd-keyfile", required_argument, NULL, OPT_ETCD_KEYFILE },               \
	{ "etcd-username", required_argument, NULL, OPT_ETCD_USERNAME },             \
	{ "etcd-password", required_argument, NULL, OPT_ETCD_PASSWORD },             \
	{ "etcd-timeout", required_argument, NULL, OPT_ETCD_TIMEOUT },               \
	{ "etcd-password-file", required_argument, NULL, OPT_ETCD_PASSWORD_FILE },   \
	{ "etcd-username-file", required_argument, NULL, OPT_ETCD_USERNAME_FILE }

struct cli_etcd {
	struct etcd_opts opts;
	const char *prefix;
	char password[512]; /* read from --etcd-password-file (cli_read_secret) */
	char username[256]; /* read from --etcd-username-file */
};

void cli_etcd_init(struct cli_etcd *c);
/* 1 when opt was an etcd option (handled), 0 when not, -1 on a bad value. */
int cli_etcd_option(struct cli_etcd *c, int opt, const char *arg);
/* The usage lines for the etcd options, and for the client-mode ones. */
extern const char cli_etcd_usage[];
extern const char cli_remote_usage[];

/*
 * What an etcd client status means for a tool that stops on it (base/err.h):
 * FL_OK (ETCD_OK, ETCD_NOTFOUND, ETCD_EXISTS), FL_ERR_UNAVAILABLE,
 * FL_ERR_PERM, FL_ERR_USAGE, FL_ERR_OS (out of memory), FL_ERR_PROTO (an
 * answer we could not read), or FL_ERR_FAILED (etcd refused the request).
 */
enum fl_err etcd_err(int status);

#endif
