/* conf.h - what the policy lexer (conf_lex.c) and parser (conf_parse.c)
 * share; internal to filter/. A lexer reads one file's bytes, which the
 * caller owns; each token owns its text. Threads: one load at a time. */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include "tg.h"
#include "tg_diag.h"

#define CONF_TOKEN_MAX	4096	/* longest word or string, in bytes */
#define CONF_NAME_MAX	63	/* longest rule or table name */
#define CONF_FILE_MAX	(16 << 20)	/* longest policy file, bytes */

enum conf_tt {
	CONF_T_EOF,
	CONF_T_BAD,	/* bad input, already reported by the lexer */
	CONF_T_WORD,	/* bare word: name, attribute, address, number */
	CONF_T_STRING,	/* quoted string, escapes removed */
	CONF_T_LBRACE, CONF_T_RBRACE, CONF_T_LPAREN, CONF_T_RPAREN,
	CONF_T_COMMA, CONF_T_COLON, CONF_T_ARROW,
	CONF_T_EQ, CONF_T_NE, CONF_T_LT, CONF_T_LE, CONF_T_GT, CONF_T_GE,
};

struct conf_tok {
	enum conf_tt	 type;
	char		*text;		/* WORD and STRING, else NULL; owned */
	int		 line, col;	/* 1-based; col counts bytes */
};

struct conf_lex {
	const char	*file;		/* for diagnostics; borrowed */
	const char	*buf;		/* the file's bytes, may hold NULs */
	size_t		 len, pos;
	int		 line, col;
	struct tg_diag	*diag;
};

void	conf_lex_init(struct conf_lex *, const char *file, const char *buf,
	    size_t len, struct tg_diag *);
/* Replace *t (its old text is freed) with the next token. Lexical errors
 * are reported to the diag and give CONF_T_BAD or a repaired token. */
void	conf_lex_next(struct conf_lex *, struct conf_tok *);
void	conf_tok_clear(struct conf_tok *);
/* Steal the token's text: the caller frees it. */
char	*conf_tok_take(struct conf_tok *);
/* "'{'", "\"word\"", "string \"...\"" or "end of file", for messages. */
const char *conf_tok_describe(const struct conf_tok *, char *buf,
	    size_t bufsz);
int	conf_tok_is(const struct conf_tok *, const char *word);
/* Every parse error goes through tg_diag_error() as "file:line:col:
 * error: message". conf_tok_err() reports at token t of lx;
 * conf_tok_expected() reports "expected WHAT, got T" there, unless the
 * lexer has reported t already (CONF_T_BAD), and returns -1. */
void	conf_tok_err(struct conf_lex *, const struct conf_tok *t,
	    const char *fmt, ...) TG_PRINTFLIKE(3, 4);
int	conf_tok_expected(struct conf_lex *, const struct conf_tok *t,
	    const char *what);

/* Read a whole file (at most CONF_FILE_MAX bytes) into *buf, which the
 * caller frees; it may hold NUL bytes. Returns 0 or a negative errno. */
int	conf_file_read(const char *path, char **buf, size_t *len);
/* The directory part of path ("" for none): caller frees. */
char	*conf_file_dir(const char *path);
/* path if absolute or dir is "", else dir/path: caller frees. */
char	*conf_file_join(const char *dir, const char *path);

/* Value checks shared by the parser. Each returns 0 or -1. */
int	conf_number_parse(const char *, long long *);
/* "250ms", "90s", "30m", "1h", "1d" or bare seconds into *ms; 0 or -1. */
int	conf_duration_parse(const char *, long long *ms);
int	conf_name_check(const char *, const char **why);
int	conf_header_name_check(const char *);

/* conf_lookup.c: "table[attr]" as a comparison value. split returns 1
 * (tname and *key set), 0 (word is a plain value) or -1 (a table name
 * followed by an unknown attribute). check_numbers reports every entry of
 * t whose value is not a number and returns -1 if there was one; use says
 * where the table is compared ("policy.conf:12"). */
#include "tg_policy.h"
struct tg_table;
int	conf_lookup_split(const char *word, char *tname, size_t tsz,
	    enum tg_attr *key);
int	conf_lookup_check_numbers(const struct tg_table *, struct tg_diag *,
	    const char *use);
/* For statement parsers in files of their own (conf_auth.c): the parser
 * state stays private to conf_parse.c. */
struct conf_parser;
struct tg_expr;
struct tg_policy;
struct conf_tok	*conf_p_tok(struct conf_parser *);
void	conf_p_next(struct conf_parser *);
void	conf_p_expected(struct conf_parser *, const char *what);
void	conf_p_sync(struct conf_parser *);	/* to the next statement */
struct tg_policy *conf_p_policy(struct conf_parser *);
struct conf_lex	*conf_p_lex(struct conf_parser *);	/* the file's */
struct tg_diag	*conf_p_diag(struct conf_parser *);
const char	*conf_p_file(struct conf_parser *);
const char	*conf_p_dir(struct conf_parser *);

/* conf_auth.c: the "sasl { }" and "authentication-results" statements
 * (their keyword is current), "owned-by" (after conf_in_table() made e an
 * IN_TABLE node), and the checks done once the whole policy is read. */
void	conf_auth_sasl(struct conf_parser *);
void	conf_auth_authres(struct conf_parser *);
void	conf_auth_owned_by(struct conf_parser *, struct tg_expr *e,
	    const char *name);
void	conf_auth_finish(struct tg_policy *, struct tg_diag *);
struct tg_policy;
/* conf_dns.c: the statements "set" and "dnslist", whose keyword is the
 * current token. Return 0 with the token after the statement current, or
 * -1 (reported) when the caller must skip to the next statement. */
int	conf_dns_set(struct conf_lex *, struct conf_tok *, struct tg_policy *);
/* conf_dkim.c: set public-suffix-list "PATH" (the name is current), and
 * the dkim-sign { } block (the keyword is current). */
int	conf_dkim_psl(struct conf_lex *, struct conf_tok *, struct tg_policy *);
void	conf_dkim_sign(struct conf_parser *);
int	conf_dns_list(struct conf_lex *, struct conf_tok *, struct tg_policy *);
/* A use of dnslist "name" at stage (-1: unknown): 0, or -1 with msg. */
int	conf_dns_list_use(const struct tg_policy *, const char *name,
	    int stage, char *msg, size_t msgsz);

/* conf_ops.c: "set log-level" and "set dry-run", for conf_dns_set(); the
 * setting's name is current. Same return as conf_dns_set(). */
int	conf_ops_known(const char *name);
int	conf_ops_set(struct conf_lex *, struct conf_tok *, struct tg_policy *,
	    const char *name);

#endif
