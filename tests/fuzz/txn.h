/* txn.h - whole SMTP transactions for fuzz_txn: what one connection
 * sends (txn_decode.c builds it from fuzz input), the replay of it
 * through the engine in the order the milter glue makes its calls
 * (txn_run.c), and what came out (a transcript and the delivery outcome
 * the invariants in fuzz_txn.c compare). Owns: a struct txn_msg owns its
 * strings, headers and body. Threads: one fuzz input at a time. */
#ifndef TXN_H
#define TXN_H

#include <stddef.h>
#include <stdint.h>

#include "tg_policy.h"

#define TXN_RCPT_MAX	16	/* recipients per message */
#define TXN_HDR_MAX	200	/* headers of a decoded message */
#define TXN_CUT_MAX	4096	/* body chunk boundaries */

/* What the MTA knows about the connection: callback arguments and
 * macros. NULL: not sent. */
struct txn_conn {
	const char	*client_addr;	/* {client_addr} / connect address */
	const char	*client_name;	/* {client_name} */
	const char	*daemon_name;	/* {daemon_name} */
	const char	*daemon_addr;	/* {daemon_addr} */
	const char	*daemon_port;	/* {daemon_port} */
	const char	*mta_name;	/* j */
	const char	*helo;		/* HELO argument; NULL: no HELO */
	const char	*tls_version;	/* {tls_version} */
	const char	*tls_cipher;	/* {cipher} */
	const char	*tls_bits;	/* {cipher_bits} */
	const char	*auth_authen;	/* {auth_authen} */
	const char	*auth_type;	/* {auth_type} */
	const char	*auth_author;	/* {auth_author} */
};

struct txn_hdr {
	char	*name;
	char	*value;		/* as the MTA passes it: no leading space,
				 * folds as "\r\n\t" */
};

/* How a message of a connection ends, for the message sent before the
 * one under test (variant e): at end of message, or abandoned (RSET or a
 * dropped DATA) after a given step. */
enum txn_end {
	TXN_END_EOM,
	TXN_END_AFTER_MAIL,
	TXN_END_AFTER_RCPT,
	TXN_END_AFTER_DATA,
	TXN_END_AFTER_HEADERS,
	TXN_END_MID_BODY,
	TXN_END_COUNT
};

struct txn_msg {
	char		*sender;		/* MAIL FROM argument */
	char		*size;			/* SIZE= value, NULL: none */
	char		*rcpt[TXN_RCPT_MAX];
	size_t		 nrcpt;
	struct txn_hdr	*hdr;
	size_t		 nhdr, hdrcap;
	char		*body;
	size_t		 bodylen, bodycap;
	size_t		*cut;			/* chunk ends, ascending,
						 * < bodylen; NULL: one chunk */
	size_t		 ncut;
	enum txn_end	 end;
	int		 abort_cb;		/* send the abort callback
						 * when it ends early */
	char		 qid[16];		/* the MTA's queue id */
};

/* Variant parameters (the input's V line, else derived from a hash of
 * the input): see fuzz_txn.c. */
struct txn_params {
	unsigned	 pad_count;	/* filler headers of variant a */
	unsigned	 pad_size;	/* their value length class */
	unsigned	 prefix;	/* the message before, variant e */
	uint32_t	 seed;		/* positions, splits, repeats */
};

struct txn_input {
	unsigned		 policy;	/* index, see fuzz_txn.c */
	struct txn_conn		 conn;
	struct txn_msg		 msg;
	struct txn_params	 par;
	char			*owned[32];	/* strings conn points to */
	size_t			 nowned;
};

/* txn_decode.c */
void	txn_decode(const uint8_t *data, size_t size, struct txn_input *);
void	txn_input_free(struct txn_input *);
void	txn_msg_init(struct txn_msg *);
void	txn_msg_free(struct txn_msg *);
/* A deep copy of m (variants start from the base message). */
void	txn_msg_copy(struct txn_msg *dst, const struct txn_msg *m);
void	txn_msg_add_header(struct txn_msg *, const char *name,
	    const char *value);
void	txn_msg_insert_header(struct txn_msg *, size_t at, const char *name,
	    const char *value);
/* Another value for a header of this name (variant b); caller frees. */
char	*txn_dict_other_value(const char *name, uint32_t r);
/* value (a Content- field's) with one of its parameters given a second
 * time with another value, before or after the others (variant f);
 * caller frees. NULL when the value has no parameter. */
char	*txn_dict_repeat_param(const char *value, uint32_t r);

/* What one message came to. delivered: it reached end of message and
 * the glue's answer there was to keep it (no reject, tempfail, discard
 * or quarantine), with at least one recipient. */
struct txn_out {
	char		*log;		/* transcript: every stage's answer
					 * and the effects at end of message */
	size_t		 len, cap;
	size_t		 pre_len;	/* transcript length up to DATA */
	int		 delivered;
	uint32_t	 rcpt_ok;	/* recipients accepted, by index */
	const char	*bad_reply;	/* a verdict broke the reply rules */
};

void	txn_out_free(struct txn_out *);

/* Replay one connection through the engine as filter/milter.c drives it:
 * connect, HELO, then each message of msgs (MAIL, RCPT, DATA, headers,
 * body chunks, end of message, or an early end), then close. outs[i]
 * gets message i's result. The memory rate store must be cleared by the
 * caller beforehand. */
void	txn_run(const struct tg_policy *, const struct txn_conn *,
	    const struct txn_msg *msgs, size_t n, struct txn_out *outs);

#endif
