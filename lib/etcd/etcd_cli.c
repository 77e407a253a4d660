/* etcd_cli.c - the etcd options of the tools, and what an etcd client status
 * means to a tool. */
#include <stdlib.h>
#include <string.h>

#include "base/cli.h"
#include "base/err.h"
#include "base/log.h"
#include "base/timefmt.h"
#include "etcd/etcd_cli.h"

const char cli_etcd_usage[] =
	"  --etcd-endpoints=URL[,URL...]  etcd endpoints (default " ETCD_DEFAULT_ENDPOINTS ")\n"
	"  --etcd-prefix=PATH             key prefix (default " ETCD_DEFAULT_PREFIX ")\n"
	"  --etcd-cafile=FILE             CA certificate for https endpoints\n"
	"  --etcd-certfile=FILE           client certificate\n"
	"  --etcd-keyfile=FILE            client key\n"
	"  --etcd-username=NAME           etcd user\n"
	"  --etcd-password=PASSWORD       etcd password (visible to ps; prefer the file)\n"
	"  --etcd-password-file=FILE      etcd password: the first line of FILE\n"
	"  --etcd-username-file=FILE      etcd user: the first line of FILE\n"
	"  --etcd-timeout=DURATION        timeout of every request (default 5s)\n";

const char cli_remote_usage[] =
	"  --remote=HOST:PORT[,HOST:PORT...]  ask these flannel-servers instead of etcd\n"
	"                                 (tried in turn; https when a --remote-*file is given)\n"
	"  --remote-cafile=FILE           CA certificate that signed the server's\n"
	"  --remote-certfile=FILE         client certificate for the server\n"
	"  --remote-keyfile=FILE          client key for the server\n"
	"  --remote-network=NAME          the server's network (default: from --etcd-prefix:\n"
	"                                 _ for the prefix itself, NAME for <prefix>/NAME)\n";

void cli_etcd_init(struct cli_etcd *c)
{
	memset(c, 0, sizeof(*c));
	c->prefix = ETCD_DEFAULT_PREFIX;
	c->opts.remote_prefix = c->prefix;
}

int cli_etcd_option(struct cli_etcd *c, int opt, const char *arg)
{
	char why[160];
	int64_t ms;

	switch (opt) {
	case OPT_ETCD_ENDPOINTS: c->opts.endpoints = arg; return 1;
	case OPT_ETCD_PREFIX: c->prefix = c->opts.remote_prefix = arg; return 1;
	case OPT_ETCD_REMOTE: c->opts.remote = arg; return 1;
	case OPT_ETCD_REMOTE_CAFILE: c->opts.remote_cafile = arg; return 1;
	case OPT_ETCD_REMOTE_CERTFILE: c->opts.remote_certfile = arg; return 1;
	case OPT_ETCD_REMOTE_KEYFILE: c->opts.remote_keyfile = arg; return 1;
	case OPT_ETCD_REMOTE_NETWORK: c->opts.remote_network = arg; return 1;
	case OPT_ETCD_CAFILE: c->opts.cafile = arg; return 1;
	case OPT_ETCD_CERTFILE: c->opts.certfile = arg; return 1;
	case OPT_ETCD_KEYFILE: c->opts.keyfile = arg; return 1;
	case OPT_ETCD_USERNAME: c->opts.username = arg; return 1;
	case OPT_ETCD_PASSWORD: c->opts.password = arg; return 1;
	case OPT_ETCD_PASSWORD_FILE:
		if (cli_read_secret(arg, c->password, sizeof(c->password), why, sizeof(why)) < 0) {
			log_err("--etcd-password-file %s: %s", arg, why);
			return -1;
		}
		c->opts.password = c->password;
		return 1;
	case OPT_ETCD_USERNAME_FILE:
		if (cli_read_secret(arg, c->username, sizeof(c->username), why, sizeof(why)) < 0) {
			log_err("--etcd-username-file %s: %s", arg, why);
			return -1;
		}
		c->opts.username = c->username;
		return 1;
	case OPT_ETCD_TIMEOUT:
		ms = duration_parse_ms(arg);
		if (ms <= 0) {
			log_err("--etcd-timeout %s: not a duration such as 5s or 500ms", arg);
			return -1;
		}
		c->opts.timeout_ms = (long)ms;
		return 1;
	default:
		return 0;
	}
}

enum fl_err etcd_err(int status)
{
	switch (status) {
	case ETCD_OK:
	case ETCD_NOTFOUND:
	case ETCD_EXISTS:
		return FL_OK;
	case ETCD_ERR_UNAVAILABLE:
		return FL_ERR_UNAVAILABLE;
	case ETCD_ERR_AUTH:
		return FL_ERR_PERM;
	case ETCD_ERR_USAGE:
		return FL_ERR_USAGE;
	case ETCD_ERR_NOMEM:
		return FL_ERR_OS;
	case ETCD_ERR_PROTO:
		return FL_ERR_PROTO;
	default:
		return FL_ERR_FAILED;
	}
}
