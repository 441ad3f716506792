/* conf_lex.c - tokens of the policy language, with line and column; the
 * reading of policy files and the checks of names and numbers.
 * Reads a byte buffer with its length (a NUL byte is an error, never the
 * end), reports lexical errors to the diag and goes on.
 * Owns: the text of the token it fills. Threads: one lexer per load. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "conf.h"

/* A growing token text, bounded by CONF_TOKEN_MAX. */
struct conf_lex_text {
	char	*s;
	size_t	 n, cap;
	int	 toolong;
};

static const char *const conf_lex_punct[] = {
	[CONF_T_LBRACE] = "{", [CONF_T_RBRACE] = "}",
	[CONF_T_LPAREN] = "(", [CONF_T_RPAREN] = ")",
	[CONF_T_COMMA] = ",", [CONF_T_COLON] = ":", [CONF_T_ARROW] = "=>",
	[CONF_T_EQ] = "==", [CONF_T_NE] = "!=", [CONF_T_LT] = "<",
	[CONF_T_LE] = "<=", [CONF_T_GT] = ">", [CONF_T_GE] = ">=",
};

void
conf_lex_init(struct conf_lex *lx, const char *file, const char *buf,
    size_t len, struct tg_diag *diag)
{
	memset(lx, 0, sizeof *lx);
	lx->file = file;
	lx->buf = buf;
	lx->len = len;
	lx->line = 1;
	lx->col = 1;
	lx->diag = diag;
}

void
conf_tok_clear(struct conf_tok *t)
{
	t->text = tg_free(t->text);
	t->type = CONF_T_EOF;
}

char *
conf_tok_take(struct conf_tok *t)
{
	char *s = t->text;

	t->text = NULL;
	return s != NULL ? s : tg_xstrdup("");
}

int
conf_tok_is(const struct conf_tok *t, const char *word)
{
	return t->type == CONF_T_WORD && strcmp(t->text, word) == 0;
}

void
conf_tok_err(struct conf_lex *lx, const struct conf_tok *t, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	tg_diag_error(lx->diag, lx->file, t->line, t->col, "%s", msg);
}

int
conf_tok_expected(struct conf_lex *lx, const struct conf_tok *t,
    const char *what)
{
	char got[80];

	if (t->type != CONF_T_BAD)
		conf_tok_err(lx, t, "expected %s, got %s", what,
		    conf_tok_describe(t, got, sizeof got));
	return -1;
}

const char *
conf_tok_describe(const struct conf_tok *t, char *buf, size_t bufsz)
{
	char pr[48];

	switch (t->type) {
	case CONF_T_EOF:
		snprintf(buf, bufsz, "end of file");
		break;
	case CONF_T_BAD:
		snprintf(buf, bufsz, "bad input");
		break;
	case CONF_T_WORD:
	case CONF_T_STRING:
		tg_str_printable(pr, sizeof pr, t->text);
		snprintf(buf, bufsz, "%s\"%s\"",
		    t->type == CONF_T_STRING ? "string " : "", pr);
		break;
	default:
		snprintf(buf, bufsz, "'%s'", conf_lex_punct[t->type]);
		break;
	}
	return buf;
}

static int
conf_lex_peek(const struct conf_lex *lx, size_t ahead)
{
	if (lx->pos + ahead >= lx->len)
		return -1;
	return (unsigned char)lx->buf[lx->pos + ahead];
}

static void
conf_lex_advance(struct conf_lex *lx)
{
	if (lx->buf[lx->pos] == '\n') {
		lx->line++;
		lx->col = 1;
	} else
		lx->col++;
	lx->pos++;
}

static void
conf_lex_add(struct conf_lex_text *tx, int c)
{
	if (tx->n >= CONF_TOKEN_MAX) {
		tx->toolong = 1;
		return;
	}
	if (tx->n + 1 >= tx->cap) {
		tx->cap = tx->cap ? tx->cap * 2 : 64;
		tx->s = tg_xrealloc(tx->s, tx->cap);
	}
	tx->s[tx->n++] = (char)c;
	tx->s[tx->n] = '\0';
}

/* Bytes that may form a bare word: names, dotted attributes, addresses,
 * domains, networks, numbers. ':' is handled apart, for IPv6. */
static int
conf_lex_wordc(int c)
{
	return c > 0 && c < 0x80 &&
	    (isalnum(c) || strchr("_.-/@+%*~[]&'?^|`$", c) != NULL);
}

/* Whether s (len n) looks like an IPv6 address or network, which then
 * keeps its colons; other words end before a ':' ("rule bad: ..."). */
static int
conf_lex_ipv6ish(const char *s, size_t n)
{
	size_t colons = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == ':')
			colons++;
		else if (!isxdigit((unsigned char)s[i]) &&
		    strchr("./", s[i]) == NULL)
			return 0;
	}
	return colons >= 2;
}

static void
conf_lex_word(struct conf_lex *lx, struct conf_tok *t)
{
	struct conf_lex_text tx = { NULL, 0, 0, 0 };
	size_t n = 0;
	int c;

	/* Measure first: the word may be cut at its first ':'. */
	while ((c = conf_lex_peek(lx, n)) >= 0 &&
	    (conf_lex_wordc(c) || c == ':'))
		n++;
	if (memchr(lx->buf + lx->pos, ':', n) != NULL &&
	    !conf_lex_ipv6ish(lx->buf + lx->pos, n))
		n = (const char *)memchr(lx->buf + lx->pos, ':', n) -
		    (lx->buf + lx->pos);
	if (n == 0) {		/* "::x" that is no address: a colon */
		conf_lex_advance(lx);
		t->type = CONF_T_COLON;
		return;
	}
	while (n-- > 0) {
		conf_lex_add(&tx, lx->buf[lx->pos]);
		conf_lex_advance(lx);
	}
	if (tx.toolong) {
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "word too long (more than %d bytes)", CONF_TOKEN_MAX);
		free(tx.s);
		t->type = CONF_T_BAD;
		return;
	}
	t->type = CONF_T_WORD;
	t->text = tx.s;
}

/* One byte of a string after its backslash: \" and \\ are escapes; any
 * other backslash stays, so regexes read as in PCRE ("\d+"). */
static void
conf_lex_escape(struct conf_lex *lx, struct conf_lex_text *tx)
{
	int c = conf_lex_peek(lx, 1);

	conf_lex_advance(lx);
	if (c == '"' || c == '\\') {
		conf_lex_add(tx, c);
		conf_lex_advance(lx);
	} else
		conf_lex_add(tx, '\\');
}

static void
conf_lex_string(struct conf_lex *lx, struct conf_tok *t)
{
	struct conf_lex_text tx = { NULL, 0, 0, 0 };
	int c;

	conf_lex_advance(lx);	/* the opening quote */
	for (;;) {
		c = conf_lex_peek(lx, 0);
		if (c < 0 || c == '\n') {
			tg_diag_error(lx->diag, lx->file, t->line, t->col,
			    "unterminated string (missing '\"' before the "
			    "end of %s)", c < 0 ? "file" : "line");
			break;
		}
		if (c == '"') {
			conf_lex_advance(lx);
			break;
		}
		if (c == '\\') {
			conf_lex_escape(lx, &tx);
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			tg_diag_error(lx->diag, lx->file, lx->line, lx->col,
			    c == 0 ? "NUL byte in string" :
			    "control character 0x%02x in string", c);
		else
			conf_lex_add(&tx, c);
		conf_lex_advance(lx);
	}
	if (tx.toolong)
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "string too long (more than %d bytes)", CONF_TOKEN_MAX);
	t->type = CONF_T_STRING;
	t->text = tx.s != NULL ? tx.s : tg_xstrdup("");
}

/* Operators of one or two bytes; returns the token type or CONF_T_BAD. */
static enum conf_tt
conf_lex_op(int c, int next, int *len)
{
	*len = 1;
	switch (c) {
	case '{': return CONF_T_LBRACE;
	case '}': return CONF_T_RBRACE;
	case '(': return CONF_T_LPAREN;
	case ')': return CONF_T_RPAREN;
	case ',': return CONF_T_COMMA;
	case ':': return CONF_T_COLON;
	}
	*len = 2;
	if (c == '=' && next == '>')
		return CONF_T_ARROW;
	if (c == '=' && next == '=')
		return CONF_T_EQ;
	if (c == '!' && next == '=')
		return CONF_T_NE;
	if ((c == '<' || c == '>') && next == '=')
		return c == '<' ? CONF_T_LE : CONF_T_GE;
	*len = 1;
	if (c == '<' || c == '>')
		return c == '<' ? CONF_T_LT : CONF_T_GT;
	return CONF_T_BAD;
}

/* Report a run of bytes that cannot start a token, once for the run. */
static void
conf_lex_junk(struct conf_lex *lx, struct conf_tok *t, int c)
{
	int d;

	if (c == 0)
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "NUL byte in file");
	else if (c == '=' || c == '!')
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "unexpected '%c' (did you mean '%s'?)", c,
		    c == '=' ? "==" : "!=");
	else if (c >= 0x21 && c < 0x7f)
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "unexpected character '%c'", c);
	else
		tg_diag_error(lx->diag, lx->file, t->line, t->col,
		    "unexpected byte 0x%02x", c);
	conf_lex_advance(lx);
	/* One error for a run of unprintable bytes, and for an 8-bit word
	 * ("\xc3\xa9t\xc3\xa9") as a whole. */
	while (c != '=' && c != '!' && (d = conf_lex_peek(lx, 0)) >= 0 &&
	    (d == 0 || d >= 0x7f || (d < 0x20 && !isspace(d)) ||
	    (c >= 0x80 && conf_lex_wordc(d))))
		conf_lex_advance(lx);
	t->type = CONF_T_BAD;
}

void
conf_lex_next(struct conf_lex *lx, struct conf_tok *t)
{
	int c, oplen;
	enum conf_tt tt;

	conf_tok_clear(t);
	for (;;) {
		c = conf_lex_peek(lx, 0);
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    c == '\f' || c == '\v')
			conf_lex_advance(lx);
		else if (c == '#')
			while ((c = conf_lex_peek(lx, 0)) >= 0 && c != '\n')
				conf_lex_advance(lx);
		else
			break;
	}
	t->line = lx->line;
	t->col = lx->col;
	if (c < 0) {
		t->type = CONF_T_EOF;
		return;
	}
	if (c == '"') {
		conf_lex_string(lx, t);
		return;
	}
	if (conf_lex_wordc(c) || (c == ':' && conf_lex_peek(lx, 1) == ':')) {
		conf_lex_word(lx, t);
		return;
	}
	tt = conf_lex_op(c, conf_lex_peek(lx, 1), &oplen);
	if (tt == CONF_T_BAD) {
		conf_lex_junk(lx, t, c);
		return;
	}
	while (oplen-- > 0)
		conf_lex_advance(lx);
	t->type = tt;
}

int
conf_number_parse(const char *s, long long *v)
{
	long long n = 0, mult = 1;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		if (n > (LLONG_MAX - (*p - '0')) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	switch (*p) {
	case '\0': break;
	case 'k': case 'K': mult = 1024LL; p++; break;
	case 'm': case 'M': mult = 1024LL * 1024; p++; break;
	case 'g': case 'G': mult = 1024LL * 1024 * 1024; p++; break;
	default: return -1;
	}
	if (*p != '\0' || n > LLONG_MAX / mult)
		return -1;
	*v = n * mult;
	return 0;
}

int
conf_name_check(const char *s, const char **why)
{
	size_t n = strlen(s);

	if (n > CONF_NAME_MAX) {
		*why = "is too long (more than 63 characters)";
		return -1;
	}
	if ((unsigned char)s[0] >= 0x80 || !isalpha((unsigned char)s[0])) {
		*why = "must start with a letter";
		return -1;
	}
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p >= 0x80 || !(isalnum((unsigned char)*p) ||
		    *p == '_' || *p == '-' || *p == '.')) {
			*why = "may only hold letters, digits, '_', '-' "
			    "and '.'";
			return -1;
		}
	return 0;
}

/* RFC 5322 field name: printable ASCII except ':' (and so no space). */
int
conf_header_name_check(const char *s)
{
	if (*s == '\0' || strlen(s) > 997)
		return -1;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e ||
		    *s == ':')
			return -1;
	return 0;
}

int
conf_file_read(const char *path, char **bufp, size_t *lenp)
{
	struct stat st;
	size_t len = 0, cap;
	ssize_t n;
	char *buf;
	int fd, rc = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || S_ISDIR(st.st_mode)) {
		rc = S_ISDIR(st.st_mode) ? -EISDIR : -errno;
		close(fd);
		return rc;
	}
	cap = st.st_size > 0 && st.st_size < CONF_FILE_MAX ?
	    (size_t)st.st_size + 1 : 4096;
	buf = tg_xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (cap > CONF_FILE_MAX) {
				rc = -EFBIG;
				break;
			}
			buf = tg_xrealloc(buf, cap *= 2);
		}
		if ((n = read(fd, buf + len, cap - len)) < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : 0;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*bufp = buf;
	*lenp = len;
	return 0;
}

char *
conf_file_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return tg_xstrdup("");
	return tg_xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
}

char *
conf_file_join(const char *dir, const char *path)
{
	if (path[0] == '/' || dir[0] == '\0')
		return tg_xstrdup(path);
	return tg_xasprintf("%s%s%s", dir,
	    dir[strlen(dir) - 1] == '/' ? "" : "/", path);
}

/* conf_duration_parse - "90s", "30m", "1h", "1d", "250ms" or bare seconds; ms
 * into *ms, 0 or -1 */
int
conf_duration_parse(const char *s, long long *ms)
{
	static const struct { const char *unit; long long mul; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 }, { "d", 86400000 },
	};
	long long n = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (n > 1000000000LL)
			return -1;
		n = n * 10 + (*p - '0');
	}
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strcmp(p, units[i].unit) == 0) {
			*ms = n * units[i].mul;
			return 0;
		}
	return -1;
}
