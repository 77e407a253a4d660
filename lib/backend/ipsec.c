/* ipsec.c - the ipsec backend (upstream's ipsec): ESP in tunnel mode
 * between the hosts' public IPs, keyed by strongSwan's charon over IKEv2
 * with one pre-shared key, three XFRM policies per peer.  Keys: PSK
 * (required, at least 96 characters, as upstream), UDPEncap (false),
 * ESPProposal (aes128gcm16-sha256-prfsha256-ecp256).  The lease:
 * BackendType ipsec, no BackendData (the PSK is never in etcd).  MTU: the
 * underlay's less 77 (ESP's worst case with a 16-byte IV and ICV), 85 with
 * UDP encapsulation.  No device and no route: the policies catch the
 * packets.  IPv4 only. */
#include <stdio.h>
#include <string.h>

#include "backend/backend.h"
#include "ipsec/ipsec.h"

struct ipsec_conf {
	const char *psk, *esp;
	bool encap;
};

static int conf_of(const struct net_config *c, struct ipsec_conf *k, char *err, size_t errlen)
{
	json_t *v = config_backend_get(c, "PSK");

	*k = (struct ipsec_conf){ .esp = IPSEC_ESP_PROPOSAL };
	if (!v || !json_is_string(v) || strlen(json_string_value(v)) < IPSEC_PSK_MIN) {
		snprintf(err, errlen, "Backend.PSK must be a string of at least %d characters "
			 "(upstream's rule; 'dd if=/dev/urandom count=48 bs=1 status=none | "
			 "xxd -p -c 48' makes one)", IPSEC_PSK_MIN);
		return -1;
	}
	k->psk = json_string_value(v);
	for (const char *p = k->psk; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f || p - k->psk > 4096) {
			snprintf(err, errlen, "Backend.PSK must be printable text of at most 4096 "
				 "characters");
			return -1;
		}
	}
	v = config_backend_get(c, "UDPEncap");
	if (v && !json_is_null(v)) {
		if (!json_is_boolean(v)) {
			snprintf(err, errlen, "Backend.UDPEncap is not true or false");
			return -1;
		}
		k->encap = json_is_true(v);
	}
	v = config_backend_get(c, "ESPProposal");
	if (v && !json_is_null(v)) {
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		size_t n = strlen(s);

		if (n == 0 || n > 200 || strspn(s, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != n) {
			snprintf(err, errlen, "Backend.ESPProposal is not a strongSwan proposal "
				 "such as %s", IPSEC_ESP_PROPOSAL);
			return -1;
		}
		k->esp = s;
	}
	return 0;
}

static int ipsec_check(const struct net_config *c, char *err, size_t errlen)
{
	struct ipsec_conf k;

	return conf_of(c, &k, err, errlen);
}

static unsigned ipsec_mtu(const struct net_config *c, unsigned underlay)
{
	struct ipsec_conf k;
	char err[200];

	if (conf_of(c, &k, err, sizeof(err)) == 0 && k.encap)
		return underlay - IPSEC_OVERHEAD_UDP;
	return underlay - IPSEC_OVERHEAD;
}

static void ipsec_args(const struct net_config *c, enum backend_step step,
		       const struct backend_host *h, struct strv *av)
{
	struct ipsec_conf k;
	char err[200];

	if (step != BACKEND_APPLY)
		return;
	(void)conf_of(c, &k, err, sizeof(err));
	strv_addf(av, "--iface=%s", h->iface);
	strv_addf(av, "--public-ip=%s", h->public_ip);
	if (k.encap)
		strv_addf(av, "--udp-encap");
	if (strcmp(k.esp, IPSEC_ESP_PROPOSAL) != 0)
		strv_addf(av, "--esp-proposal=%s", k.esp);
	/* The PSK stays off command lines: flanneld wrote it 0600 (ipsec_secret). */
	if (h->secret_file)
		strv_addf(av, "--psk-file=%s", h->secret_file);
}

static const char *ipsec_secret(const struct net_config *c)
{
	struct ipsec_conf k;
	char err[200];

	return conf_of(c, &k, err, sizeof(err)) == 0 ? k.psk : NULL;
}

const struct backend backend_ipsec = {
	.name = "ipsec",
	.about = "encrypted: kernel ESP keyed by strongSwan's charon (IKEv2, one PSK)",
	.lease_type = "ipsec",
	.tool = "flannel-ipsec",
	.step_cmd = { [BACKEND_INIT] = "init", [BACKEND_APPLY] = "apply" },
	.check = ipsec_check,
	.mtu = ipsec_mtu,
	.args = ipsec_args,
	.secret = ipsec_secret,
};
