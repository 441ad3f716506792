/* attr.c - names, types and stages of the attributes conditions can ask
 * about, stage names, and reply-template variables.
 * Threads: read-only tables. */
#include "config.h"

#include <string.h>

#include "tg_policy.h"

#define C	TG_STAGE_CONNECT
#define H	TG_STAGE_HELO
#define M	TG_STAGE_MAIL
#define R	TG_STAGE_RCPT
#define E	TG_STAGE_EOM

const struct tg_attr_info tg_attrs[TG_A_COUNT] = {
	[TG_A_CLIENT_ADDRESS]	= { "client.address",	TG_T_IP,   C, E, 0 },
	[TG_A_CLIENT_NAME]	= { "client.name",	TG_T_STR,  C, E, 0 },
	[TG_A_HELO]		= { "helo",		TG_T_STR,  H, E, 0 },
	[TG_A_LISTENER_NAME]	= { "listener.name",	TG_T_STR,  C, E, 0 },
	[TG_A_LISTENER_ADDRESS]	= { "listener.address",	TG_T_IP,   C, E, 0 },
	[TG_A_LISTENER_PORT]	= { "listener.port",	TG_T_NUM,  C, E, 0 },
	[TG_A_AUTHENTICATED]	= { "authenticated",	TG_T_BOOL, M, E, 0 },
	[TG_A_SASL_LOGIN]	= { "sasl.login",	TG_T_STR,  M, E, 0 },
	[TG_A_SASL_MECHANISM]	= { "sasl.mechanism",	TG_T_STR,  M, E, 0 },
	[TG_A_SASL_AUTHOR]	= { "sasl.author",	TG_T_ADDR, M, E, 0 },
	[TG_A_TLS]		= { "tls",		TG_T_BOOL, H, E, 0 },
	[TG_A_TLS_VERSION]	= { "tls.version",	TG_T_STR,  H, E, 0 },
	[TG_A_TLS_CIPHER]	= { "tls.cipher",	TG_T_STR,  H, E, 0 },
	[TG_A_TLS_BITS]		= { "tls.cipher_bits",	TG_T_NUM,  H, E, 0 },
	[TG_A_SENDER]		= { "sender",		TG_T_ADDR, M, E, 0 },
	[TG_A_SENDER_LOCAL]	= { "sender.local",	TG_T_STR,  M, E, 0 },
	[TG_A_SENDER_DOMAIN]	= { "sender.domain",	TG_T_STR,  M, E, 0 },
	[TG_A_RCPT]		= { "rcpt",		TG_T_ADDR, R, R, 0 },
	[TG_A_RCPT_LOCAL]	= { "rcpt.local",	TG_T_STR,  R, R, 0 },
	[TG_A_RCPT_DOMAIN]	= { "rcpt.domain",	TG_T_STR,  R, R, 0 },
	[TG_A_RCPT_COUNT]	= { "rcpt.count",	TG_T_NUM,  R, E, 0 },
	[TG_A_SIZE_DECLARED]	= { "size.declared",	TG_T_NUM,  M, E, 0 },
	[TG_A_SIZE]		= { "size",		TG_T_NUM,  E, E, 0 },
	[TG_A_HEADER]		= { "header",		TG_T_STR,  E, E, 1 },
	[TG_A_RCPT_ROUTED]	= { "rcpt.routed",	TG_T_BOOL, R, R },
	[TG_A_HEADER_COUNT]	= { "header.count",	TG_T_NUM,  E, E },
	[TG_A_HEADER_BYTES]	= { "header.bytes",	TG_T_NUM,  E, E },
	[TG_A_HEADER_LONGEST]	= { "header.longest",	TG_T_NUM,  E, E },
	[TG_A_TLS_CERT_SUBJECT]	= { "tls.cert_subject",	TG_T_STR,  H, E },
	[TG_A_TLS_CERT_ISSUER]	= { "tls.cert_issuer",	TG_T_STR,  H, E },
	[TG_A_TLS_VERIFY]	= { "tls.verify",	TG_T_STR,  H, E },
	[TG_A_SASL_CANONICAL]	= { "sasl.canonical",	TG_T_STR,  M, E },
	[TG_A_SASL_USER]	= { "sasl.user",	TG_T_STR,  M, E },
	[TG_A_SASL_REALM]	= { "sasl.realm",	TG_T_STR,  M, E },
	[TG_A_SASL_ACCOUNT]	= { "sasl.account",	TG_T_BOOL, M, E },
	[TG_A_HEADER_FROM]	= { "header.from",	TG_T_STR,  E, E },
	[TG_A_HEADER_SENDER]	= { "header.sender",	TG_T_STR,  E, E },
	[TG_A_MTA_NAME]		= { "mta.name",		TG_T_STR,  C, E },
	[TG_A_CLIENT_PTR]	= { "client.ptr",	TG_T_STR,  C, E },
	[TG_A_CLIENT_RDNS]	= { "client.rdns",	TG_T_BOOL, C, E },
	[TG_A_CLIENT_FCRDNS]	= { "client.fcrdns",	TG_T_BOOL, C, E },
	[TG_A_HELO_VALID]	= { "helo.valid",	TG_T_BOOL, H, E },
	[TG_A_HELO_FQDN]	= { "helo.fqdn",	TG_T_BOOL, H, E },
	[TG_A_HELO_BARE_IP]	= { "helo.bare_ip",	TG_T_BOOL, H, E },
	[TG_A_HELO_OURS]	= { "helo.ours",	TG_T_BOOL, H, E },
	[TG_A_HELO_RESOLVES]	= { "helo.resolves",	TG_T_BOOL, H, E },
	/* The stage of dnslist "NAME" is its list's; checked by the
	 * parser. */
	[TG_A_DNSLIST]		= { "dnslist",		TG_T_BOOL, C, E, 1 },
	[TG_A_DNSLIST_SCORE]	= { "dnslist.score",	TG_T_NUM,  C, E },
	[TG_A_SPF]		= { "spf",		TG_T_STR,  M, E },
	[TG_A_HEADER_OCCURS]	= { "header.occurrences", TG_T_NUM, E, E, 1 },
	[TG_A_HEADER_DECODED]	= { "header.decoded",	TG_T_STR,  E, E, 1 },
	[TG_A_MIME_MALFORMED]	= { "mime.malformed",	TG_T_BOOL, E, E, 0 },
	[TG_A_MIME_PARTS]	= { "mime.parts",	TG_T_NUM,  E, E, 0 },
	[TG_A_ATT_NAME]		= { "attachment.name",	TG_T_STR,  E, E, 0 },
	[TG_A_ATT_EXT]		= { "attachment.extension", TG_T_STR, E, E, 0 },
	[TG_A_ATT_INNER_EXT]	= { "attachment.inner_extension", TG_T_STR,
				    E, E, 0 },
	[TG_A_ATT_TYPE]		= { "attachment.type",	TG_T_STR,  E, E, 0 },
	[TG_A_ATT_SHA256]	= { "attachment.sha256", TG_T_STR, E, E, 0 },
	[TG_A_ATT_SIZE]		= { "attachment.size",	TG_T_NUM,  E, E, 0 },
	[TG_A_ATT_ARCHIVE]	= { "attachment.archive", TG_T_BOOL, E, E, 0 },
	[TG_A_ATT_MALFORMED]	= { "attachment.malformed", TG_T_BOOL,
				    E, E, 0 },
	[TG_A_ATT_NAME_SPOOFED]	= { "attachment.name_spoofed", TG_T_BOOL,
				    E, E, 0 },
	[TG_A_DKIM]		= { "dkim",		TG_T_STR,  E, E, 0 },
	[TG_A_DKIM_RESULT]	= { "dkim.result",	TG_T_STR,  E, E, 1 },
	[TG_A_DKIM_DOMAINS]	= { "dkim.domains",	TG_T_STR,  E, E, 0 },
	[TG_A_DKIM_ALIGNED]	= { "dkim.aligned",	TG_T_BOOL, E, E, 0 },
	[TG_A_DMARC]		= { "dmarc",		TG_T_STR,  E, E, 0 },
	[TG_A_DMARC_POLICY]	= { "dmarc.policy",	TG_T_STR,  E, E, 0 },
	[TG_A_DMARC_DOMAIN]	= { "dmarc.domain",	TG_T_STR,  E, E, 0 },
	[TG_A_DMARC_ORG]	= { "dmarc.org_domain",	TG_T_STR,  E, E, 0 },
};

static const char *const attr_stage_names[TG_STAGE_COUNT] = {
	"connect", "helo", "mail", "rcpt", "data", "eom",
};

/* Variables allowed in reply text, reasons, header values. */
static const char *const attr_template_vars[] = {
	"client_address", "client_name", "helo", "sender", "rcpt", "login",
	"rule", "queue_id", "listener",
	"mta_name", "spf", "spf_auth", "spf_received", "dnslist",
	"dnslist_reason", "dkim_auth", "dmarc_auth", "dmarc_domain",
	"greylist_wait",
};

int
tg_attr_lookup(const char *name, enum tg_attr *out)
{
	for (int i = 0; i < TG_A_COUNT; i++) {
		if (strcmp(tg_attrs[i].name, name) == 0) {
			*out = (enum tg_attr)i;
			return 0;
		}
	}
	return -1;
}

const char *
tg_stage_name(enum tg_stage s)
{
	return s < TG_STAGE_COUNT ? attr_stage_names[s] : "?";
}

int
tg_stage_parse(const char *name, enum tg_stage *out)
{
	for (int i = 0; i < TG_STAGE_COUNT; i++) {
		if (strcmp(attr_stage_names[i], name) == 0) {
			*out = (enum tg_stage)i;
			return 0;
		}
	}
	return -1;
}

/* attr_template_var - length of the known variable name at s, or 0. */
static size_t
attr_template_var(const char *s)
{
	const char *end = strchr(s, '}');
	size_t len;

	if (end == NULL)
		return 0;
	len = (size_t)(end - s);
	for (size_t i = 0; i < sizeof attr_template_vars /
	    sizeof attr_template_vars[0]; i++)
		if (strlen(attr_template_vars[i]) == len &&
		    strncmp(attr_template_vars[i], s, len) == 0)
			return len;
	return 0;
}

const char *
tg_template_check(const char *text)
{
	for (const char *p = text; (p = strstr(p, "${")) != NULL; p++)
		if (attr_template_var(p + 2) == 0)
			return p;
	return NULL;
}
