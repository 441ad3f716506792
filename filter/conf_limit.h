/* conf_limit.h - the rate-limit grammar (conf_limit.c) as conf_parse.c
 * calls it: each function starts at the current token of lx and leaves
 * the token after what it read. Threads: one load at a time. */
#ifndef CONF_LIMIT_H
#define CONF_LIMIT_H

#include "conf.h"
#include "tg_policy.h"

/* store memory { max-keys N } | store redis { address "h:p" ... } */
void	conf_store_decl(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *);
/* limit NAME { key ...  count ...  max N per D ... } */
void	conf_limit_decl(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *);
/* limit NAME exceeded, in a rule of stage (-1: unknown stage). NULL after
 * a syntax error (reported). */
struct tg_expr *conf_limit_cond(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *, int stage);

/* One part of a key (ATTR, or for ip attributes ATTR/V4 or ATTR/V4/V6),
 * the current token, into keys[*nkeys]; 0, or -1 (reported). Shared by
 * limits and greylists (conf_grey.c). */
struct tg_limit_key;
int	conf_key_part(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *, struct tg_limit_key *keys, size_t *nkeys);

/* conf_grey.c: "greylist NAME { ... }" (the keyword is current), and
 * the action "greylist NAME ["text"]" of a rule at stage (its keyword
 * current; -1: unknown stage) into a. */
struct tg_action_spec;
void	conf_grey_decl(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *);
int	conf_grey_action(struct conf_lex *, struct conf_tok *,
	    struct tg_policy *, int stage, struct tg_action_spec *a);

#endif
