/* conf_parse.c - recursive-descent parser and checker of policy files.
 * Reports every error with its position and goes on at the next rule or
 * statement, so one run shows them all; a policy with errors is freed.
 * Owns: the policy it builds until returned. Threads: one load at a time. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_ip.h"
#include "tg_policy.h"
#include "tg_reply.h"
#include "tg_table.h"
#include "conf.h"

#define CONF_INCLUDE_MAX	16		/* nesting of include */
#define CONF_FILE_MAX		(16 << 20)	/* bytes in one file */
#define CONF_NEST_MAX		64		/* (, not */
#define CONF_TERMS_MAX		4096		/* expression nodes per rule */

/* A declared table; t is NULL when it failed to open (already reported),
 * so its uses are not reported again as undefined. */
struct conf_tdecl {
	char			*name;
	enum tg_table_type	 type;
	struct tg_table		*t;
	const char		*file;
	int			 line;
};

struct conf_parser {
	struct tg_policy	*pol;
	struct tg_diag		*diag;
	struct conf_lex		*lx;		/* the file being read */
	struct conf_tok		 tok;		/* its current token */
	const char		*dir;		/* its directory, "" for cwd */
	char			*open[CONF_INCLUDE_MAX + 1]; /* real paths */
	int			 depth;
	struct conf_tdecl	*decl;
	size_t			 ndecl;
	int			 stage;		/* -1: unknown stage name */
	int			 nest, terms;
	int			 in_set;
};

