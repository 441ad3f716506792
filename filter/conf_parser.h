/* conf_parser.h - the parser state shared by conf_parse.c (statements,
 * rules, actions) and conf_expr.c (conditions); internal to filter/.
 * Threads: one load at a time. */
#ifndef CONF_PARSER_H
#define CONF_PARSER_H

#include <stddef.h>
#include "tg.h"
#include "tg_policy.h"
#include "conf.h"

#define CONF_INCLUDE_MAX	16		/* nesting of include */
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
	int			 errors;	/* diag->errors at the start */
};

/* conf_parse.c */
void	conf_next(struct conf_parser *);
/* An error at line:col of the file being read (conf.h: conf_tok_err()
 * for one at a token). */
#define conf_err(p, line, col, ...)	tg_diag_error((p)->diag,	\
	    (p)->lx->file, (line), (col), __VA_ARGS__)
/* "expected X, got Y" at the current token, unless already reported. */
void	conf_expected(struct conf_parser *, const char *what);
int	conf_is_value(const struct conf_parser *);
void	*conf_grow(void *a, size_t n, size_t size);
const char *conf_pr(char *buf, size_t bufsz, const char *s);

/* conf_expr.c */
struct tg_expr *conf_chain(struct conf_parser *, int or);	/* or: 1 */
struct tg_expr *conf_expr_free(struct tg_expr *);		/* NULL */
struct tg_expr *conf_node(enum tg_expr_op, int line, int col);
struct conf_tdecl *conf_decl_find(struct conf_parser *, const char *name);
/* "{ v, ... }" into e->set, values checked as type; the '{' is current.
 * what names the list in messages. Frees e and returns NULL on error. */
struct tg_expr *conf_set(struct conf_parser *, struct tg_expr *e, int type,
	    const char *what);

#endif
