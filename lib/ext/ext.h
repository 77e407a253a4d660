/* ext.h - the extension backend: operator commands run through sh, with
 * lease values only in the environment and on stdin.  The contract is
 * man/flannel-ext.1. */
#ifndef FLANNEL_EXT_H
#define FLANNEL_EXT_H

#include <jansson.h>
#include <stdbool.h>

#include "base/cmdrun.h"
#include "model/event.h"
#include "model/lease.h"
#include "model/subnet.h"

enum ext_cmd {
	EXT_PRE_STARTUP,
	EXT_POST_STARTUP,
	EXT_SUBNET_ADD,
	EXT_SUBNET_REMOVE,
	EXT_NCMD,
};

struct ext_config {
	char *cmd[EXT_NCMD]; /* NULL or "" when not configured: nothing runs */
};

/* The Backend key naming the command: "PreStartupCommand", ... */
const char *ext_cmd_key(enum ext_cmd c);
void ext_config_init(struct ext_config *c);
void ext_config_clear(struct ext_config *c);
/* Replace one command (a flag given on the command line); -1 on ENOMEM. */
int ext_config_set(struct ext_config *c, enum ext_cmd k, const char *cmd);

/* The variables a command sees about a host. Values are formatted by us
 * from parsed addresses, so they hold only [0-9a-f.:/]; empty when absent. */
enum ext_var { EXT_VAR_NETWORK, EXT_VAR_SUBNET, EXT_VAR_IPV6SUBNET, EXT_VAR_PUBLIC_IP,
	       EXT_VAR_PUBLIC_IPV6, EXT_NVAR };

struct ext_host {
	struct prefix network;   /* family 0 when unknown */
	struct prefix subnet;    /* family 0 when absent */
	struct prefix subnet6;
	struct ipaddr public_ip; /* family 0 or 0.0.0.0 when unknown */
	struct ipaddr public_ip6;
};

const char *ext_var_name(enum ext_var v);
/* Fill vals[] ("" when absent) from a host; NETWORK only when with_network. */
void ext_host_values(const struct ext_host *h, char vals[EXT_NVAR][ADDR_STRLEN]);
void ext_host_from_lease(struct ext_host *h, const struct lease *l);

/*
 * The environment of a command: base (the tool's own environment) without
 * any variable of ext_var, then NAME=value for the variables of h: all five
 * when with_network, else the four of a remote lease.  NULL on ENOMEM.
 */
char **ext_env_build(char *const base[], const struct ext_host *h, bool with_network);
/*
 * The clean base environment of every command (issue 12): PATH from env
 * (EXT_DEFAULT_PATH when absent), then each variable that pass (a comma
 * list of names, may be NULL) names and env holds.  Nothing else of env
 * (no credentials, no NOTIFY_SOCKET) reaches a command.  NULL on ENOMEM.
 */
#define EXT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
char **ext_env_base(char *const env[], const char *pass);
void ext_env_free(char **env);

/* Refuse NUL and control characters other than newline and tab. */
int ext_text_check(const char *s, size_t len, char *err, size_t errlen);
/*
 * A lease's BackendData as the stdin of SubnetAdd/RemoveCommand: a JSON
 * string decoded, other JSON as compact text, nothing when absent; then a
 * newline.  NULL with err filled when the text fails ext_text_check or on
 * ENOMEM (err says which).
 */
char *ext_stdin_text(const json_t *data, size_t *len, char *err, size_t errlen);
/* PreStartupCommand output -> BackendData: whitespace trimmed, a JSON string. */
json_t *ext_backend_data(const char *out, size_t len, char *err, size_t errlen);

/* Log a finished command: failures as warnings, output line by line. */
void ext_log_result(const char *what, const struct cmdrun_result *r);

/* Apply the event stream: run SubnetAdd/RemoveCommand for remote leases. */
struct ext_applier;
/* backend_type: only leases of this type (NULL: any).  base_env and cfg
 * must outlive the applier.  NULL on ENOMEM. */
struct ext_applier *ext_applier_new(const struct ext_config *cfg, char *const *base_env,
				    const struct cmdrun_opts *run, const char *backend_type);
void ext_applier_free(struct ext_applier *a);
/* Our own subnets and the networks (family 0: unknown), for the checks the
 * kernel appliers make too (subnet_check_remote): a lease failing them is
 * refused, remembered nowhere, and gets no add and no remove command. */
void ext_applier_set_scope(struct ext_applier *a, const struct prefix *own,
			   const struct prefix *own6, const struct prefix *net,
			   const struct prefix *net6);
/* 0: handled (failures are logged); -1: fatal, errno ENOMEM or ECANCELED.
 * A removal of a lease not added here (refused, never seen) runs nothing. */
int ext_applier_event(struct ext_applier *a, const struct event *ev);
size_t ext_applier_known(const struct ext_applier *a);
/* Refusals and failed add commands reported to st (status/state.h), or NULL. */
struct state;
void ext_applier_set_state(struct ext_applier *a, struct state *st);
/* Commands that failed or timed out so far. */
unsigned long ext_applier_failures(const struct ext_applier *a);

#endif
