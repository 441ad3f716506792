/* nullmilter.c - the limit: a libmilter filter that accepts everything
 * and does nothing else, to measure what the milter protocol alone costs.
 * -s all: every callback, no step negotiated away (the dearest case).
 * -s policy: the steps an envelope policy needs (what tollgate keeps for
 * a policy without header or body rules): no headers, eoh, body.
 * Owns: nothing. Threads: libmilter's, one per connection. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static int null_policy;		/* -s policy */

static sfsistat
null_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
    unsigned long f2, unsigned long f3, unsigned long *pf0,
    unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	unsigned long steps = SMFIP_NOUNKNOWN;

	/* Like tollgate, never SMFIP_NODATA (the inet-socket stall in
	 * Postfix, see /work/shared/MTA-NOTES.md). */
	if (null_policy)
		steps |= SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NOBODY;
	*pf0 = 0;
	*pf1 = steps & f1;
	*pf2 = *pf3 = 0;
	return SMFIS_CONTINUE;
}

static sfsistat
null_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	return SMFIS_CONTINUE;
}

static sfsistat
null_helo(SMFICTX *ctx, char *helo)
{
	return SMFIS_CONTINUE;
}

static sfsistat
null_env(SMFICTX *ctx, char **argv)
{
	return SMFIS_CONTINUE;
}

static sfsistat
null_header(SMFICTX *ctx, char *name, char *value)
{
	return SMFIS_CONTINUE;
}

static sfsistat
null_body(SMFICTX *ctx, unsigned char *p, size_t n)
{
	return SMFIS_CONTINUE;
}

static sfsistat
null_ctx(SMFICTX *ctx)
{
	return SMFIS_CONTINUE;
}

int
main(int argc, char **argv)
{
	struct smfiDesc d;
	const char *sock = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "p:s:")) != -1) {
		switch (ch) {
		case 'p':
			sock = optarg;
			break;
		case 's':
			null_policy = strcmp(optarg, "policy") == 0;
			break;
		default:
			goto usage;
		}
	}
	if (sock == NULL || optind != argc)
		goto usage;
	memset(&d, 0, sizeof d);
	d.xxfi_name = "nullmilter";
	d.xxfi_version = SMFI_VERSION;
	d.xxfi_negotiate = null_negotiate;
	d.xxfi_connect = null_connect;
	d.xxfi_helo = null_helo;
	d.xxfi_envfrom = null_env;
	d.xxfi_envrcpt = null_env;
	d.xxfi_data = null_ctx;
	d.xxfi_header = null_header;
	d.xxfi_eoh = null_ctx;
	d.xxfi_body = null_body;
	d.xxfi_eom = null_ctx;
	d.xxfi_abort = null_ctx;
	d.xxfi_close = null_ctx;
	if (smfi_setconn((char *)sock) != MI_SUCCESS ||
	    smfi_register(d) != MI_SUCCESS ||
	    smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "nullmilter: cannot listen on %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
usage:
	fprintf(stderr, "usage: nullmilter -p socket [-s all|policy]\n");
	return 2;
}
