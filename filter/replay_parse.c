/* replay_parse.c - read tollgate-test's session files (the format is in
 * tollgate-test(8)): line by line, words separated by blanks, "quoted"
 * words with \" and \\, # comments; an inline message after "data" runs
 * to a line holding only "." (its lines are read by replay_msg.c). Every
 * error is reported as file:line:column, as the policy parser does, and
 * reading goes on so that all of them are shown at once.
 * Owns: what it builds (struct replay_file). Threads: single-threaded
 * program. */
#include "config.h"

#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_ip.h"
#include "replay.h"

#define PARSE_WORDS	32		/* words on one line */
#define PARSE_FILE_MAX	(256L * 1024 * 1024)	/* a session file */

/* One line cut into words, each with its 1-based column. */
struct parse_line {
	char	*w[PARSE_WORDS];
	int	 col[PARSE_WORDS];
	int	 n;
};

struct parse {
	const char		*path;
	char			*dir;		/* of path, for relative names */
	struct tg_diag		*diag;
	struct replay_file	*f;
	struct replay_session	*cur;		/* NULL before the first */
	long			 repeat;	/* index of the open repeat,
						 * or -1 */
	int			 repeat_line;
	const char		*buf;		/* the file */
	size_t			 len, off;	/* next line at off */
	int			 lineno;
};

static void	parse_err(struct parse *, int col, const char *, ...)
		    TG_PRINTFLIKE(3, 4);

static void
parse_err(struct parse *ps, int col, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	tg_diag_error(ps->diag, ps->path, ps->lineno, col, "%s", msg);
}

/* parse_next - the next line (without its line end, CR LF or LF) in
 * *line, its length in *n; 0 at the end of the file */
static int
parse_next(struct parse *ps, const char **line, size_t *n)
{
	const char *nl;
	size_t l;

	if (ps->off >= ps->len)
		return 0;
	*line = ps->buf + ps->off;
	nl = memchr(*line, '\n', ps->len - ps->off);
	l = nl != NULL ? (size_t)(nl - *line) : ps->len - ps->off;
	ps->off += l + (nl != NULL);
	if (l > 0 && (*line)[l - 1] == '\r')
		l--;
	*n = l;
	ps->lineno++;
	return 1;
}

/* parse_words - cut line into words; -1 after an error */
static int
parse_words(struct parse *ps, const char *line, size_t n,
    struct parse_line *pl)
{
	size_t i = 0;

	pl->n = 0;
	while (i < n) {
		char *w;
		size_t o = 0;
		int col;

		while (i < n && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == n || line[i] == '#')
			break;
		if (pl->n == PARSE_WORDS) {
			parse_err(ps, (int)i + 1, "more than %d words on a "
			    "line", PARSE_WORDS);
			return -1;
		}
		col = (int)i + 1;
		w = tg_xmalloc(n - i + 1);
		if (line[i] == '"') {
			i++;
			while (i < n && line[i] != '"') {
				if (line[i] == '\\' && i + 1 < n &&
				    (line[i + 1] == '"' || line[i + 1] == '\\'))
					i++;
				w[o++] = line[i++];
			}
			if (i == n) {
				free(w);
				parse_err(ps, col, "quoted string not closed "
				    "on this line");
				return -1;
			}
			i++;
			if (i < n && line[i] != ' ' && line[i] != '\t' &&
			    line[i] != '#') {
				free(w);
				parse_err(ps, (int)i + 1, "a blank expected "
				    "after the closing quote");
				return -1;
			}
		} else
			while (i < n && line[i] != ' ' && line[i] != '\t')
				w[o++] = line[i++];
		w[o] = '\0';
		pl->w[pl->n] = w;
		pl->col[pl->n++] = col;
	}
	return 0;
}

static void
parse_line_free(struct parse_line *pl)
{
	for (int i = 0; i < pl->n; i++)
		free(pl->w[i]);
	pl->n = 0;
}

/* parse_path - name relative to the session file's directory */
static char *
parse_path(const struct parse *ps, const char *name)
{
	if (name[0] == '/' || ps->dir == NULL)
		return tg_xstrdup(name);
	return tg_xasprintf("%s/%s", ps->dir, name);
}

long long
replay_duration(const char *s)
{
	char *end;
	long long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || n < 0 || n > 366LL * 86400 * 1000)
		return -1;
	if (strcmp(end, "ms") == 0)
		return n;
	if (strcmp(end, "s") == 0)
		return n * 1000;
	if (strcmp(end, "m") == 0)
		return n * 60000;
	if (strcmp(end, "h") == 0)
		return n * 3600000;
	if (strcmp(end, "d") == 0)
		return n * 86400000;
	return -1;
}

/* parse_number - a decimal in [lo, hi]; -1 when not */
static long long
parse_number(const char *s, long long lo, long long hi)
{
	char *end;
	long long n;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || n < lo || n > hi)
		return -1;
	return n;
}

/* parse_size - a number of bytes, with k, m or g (x1024); -1 when not */
static long long
parse_size(const char *s, long long max)
{
	char buf[32];
	size_t n = strlen(s);
	long long mul = 1, v;

	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'k': mul = 1024; break;
	case 'm': mul = 1024 * 1024; break;
	case 'g': mul = 1024 * 1024 * 1024; break;
	default: break;
	}
	if (mul > 1)
		buf[n - 1] = '\0';
	if ((v = parse_number(buf, 0, max / mul)) < 0)
		return -1;
	return v * mul;
}

/* parse_message - the inline message after "data", to a line holding
 * only "."; a line starting with ".." loses its first dot (SMTP) */
static struct replay_msg *
parse_message(struct parse *ps, int data_line)
{
	struct replay_msg *m = tg_xcalloc(1, sizeof *m);
	size_t hcap = 0, bcap = 0, n;
	const char *line;
	int in_hdrs = 1, col;

	while (parse_next(ps, &line, &n)) {
		const char *nul = memchr(line, '\0', n);

		if (nul != NULL)
			parse_err(ps, (int)(nul - line) + 1, "NUL byte (a "
			    "binary message belongs in a file: data FILE)");
		if (n == 1 && line[0] == '.')
			return m;
		if (n >= 1 && line[0] == '.') {
			line++;
			n--;
		}
		if (replay_msg_line(m, &hcap, &bcap, &in_hdrs, line, n, 1, &col) < 0)
			parse_err(ps, col, "a header line without a colon "
			    "(a blank line ends the headers; a message file "
			    "given to data is read as an MTA reads it)");
		if ((long)m->bodylen > REPLAY_MSG_MAX) {
			parse_err(ps, 0, "message larger than 64 MiB");
			break;
		}
	}
	ps->lineno = data_line;
	parse_err(ps, 1, "message not ended by a line holding only \".\"");
	replay_msg_free(m);
	return NULL;
}

/* ---- steps and expectations ------------------------------------------------ */

static struct replay_step *
parse_add_step(struct parse *ps, struct replay_step **steps, size_t *n,
    enum replay_cmd cmd, const struct parse_line *pl)
{
	struct replay_step *st;

	*steps = tg_xrealloc(*steps, (*n + 1) * sizeof **steps);
	st = &(*steps)[(*n)++];
	memset(st, 0, sizeof *st);
	st->cmd = cmd;
	st->line = ps->lineno;
	st->narg = (size_t)pl->n - 1;
	st->arg = tg_xcalloc(st->narg + 1, sizeof *st->arg);
	for (size_t i = 0; i < st->narg; i++)
		st->arg[i] = tg_xstrdup(pl->w[i + 1]);
	st->word = tg_xstrdup(pl->w[0]);
	return st;
}

/* parse_ip - an address argument; 0 or -1 after an error */
static int
parse_ip(struct parse *ps, const struct parse_line *pl, int i)
{
	struct tg_ip ip;

	/* "%n" is the iteration of a repeat: known only when it runs. */
	if (strstr(pl->w[i], "%n") != NULL && ps->repeat >= 0)
		return 0;
	if (strchr(pl->w[i], '[') != NULL || tg_ip_parse(pl->w[i], &ip) < 0) {
		parse_err(ps, pl->col[i], "\"%s\" is not an IP address",
		    pl->w[i]);
		return -1;
	}
	return 0;
}

/* parse_options - words after the first `first` of a step: pairs of
 * "keyword value" from keys; -1 after an error */
static int
parse_options(struct parse *ps, const struct parse_line *pl, int first,
    const char *const *keys)
{
	for (int i = first; i < pl->n; i += 2) {
		int ok = 0;

		for (const char *const *k = keys; *k != NULL; k++)
			ok |= strcmp(pl->w[i], *k) == 0;
		if (!ok) {
			parse_err(ps, pl->col[i], "unexpected \"%s\"",
			    pl->w[i]);
			return -1;
		}
		if (i + 1 >= pl->n) {
			parse_err(ps, pl->col[i], "%s: a value expected",
			    pl->w[i]);
			return -1;
		}
		if (strcmp(pl->w[i], "port") == 0 &&
		    parse_number(pl->w[i + 1], 1, 65535) < 0) {
			parse_err(ps, pl->col[i + 1], "not a port number");
			return -1;
		}
		if (strcmp(pl->w[i], "address") == 0 &&
		    parse_ip(ps, pl, i + 1) < 0)
			return -1;
	}
	return 0;
}

/* parse_argc - the step takes lo to hi words; -1 after an error */
static int
parse_argc(struct parse *ps, const struct parse_line *pl, int lo, int hi)
{
	if (pl->n - 1 < lo) {
		parse_err(ps, pl->col[0] + (int)strlen(pl->w[0]), "%s: %s "
		    "expected", pl->w[0], lo == 1 ? "an argument" :
		    "more arguments");
		return -1;
	}
	if (hi >= 0 && pl->n - 1 > hi) {
		parse_err(ps, pl->col[hi + 1], "%s: too many arguments",
		    pl->w[0]);
		return -1;
	}
	return 0;
}

/* parse_check - the arguments of a step; -1 after an error */
static int
parse_check(struct parse *ps, enum replay_cmd cmd,
    const struct parse_line *pl)
{
	static const char *const lkeys[] = { "port", "address", NULL };
	static const char *const tkeys[] = { "subject", "issuer", "verify",
	    NULL };
	static const char *const akeys[] = { "author", NULL };

	switch (cmd) {
	case R_LISTENER:
		return parse_argc(ps, pl, 1, -1) < 0 ? -1 :
		    parse_options(ps, pl, 2, lkeys);
	case R_MTA:
	case R_HELO:
	case R_CONNECTION:
		return parse_argc(ps, pl, 1, 1);
	case R_CLIENT:
		if (parse_argc(ps, pl, 1, 2) < 0)
			return -1;
		return parse_ip(ps, pl, 1);
	case R_CONNECT:
		if (parse_argc(ps, pl, 0, 2) < 0)
			return -1;
		return pl->n > 1 ? parse_ip(ps, pl, 1) : 0;
	case R_TLS:
		if (pl->n == 2 && strcmp(pl->w[1], "off") == 0)
			return 0;
		if (parse_argc(ps, pl, 3, -1) < 0)
			return -1;
		if (parse_number(pl->w[3], 0, 65535) < 0) {
			parse_err(ps, pl->col[3], "cipher bits: a number "
			    "expected");
			return -1;
		}
		return parse_options(ps, pl, 4, tkeys);
	case R_AUTH:
		if (pl->n == 2 && strcmp(pl->w[1], "off") == 0)
			return 0;
		if (parse_argc(ps, pl, 1, -1) < 0)
			return -1;
		if (pl->n > 2 && strcmp(pl->w[2], "author") == 0)
			return parse_options(ps, pl, 2, akeys);
		return parse_options(ps, pl, 3, akeys);
	case R_MAIL:
	case R_RCPT:
		return parse_argc(ps, pl, 1, -1);
	case R_RSET:
	case R_QUIT:
	case R_END:
		return parse_argc(ps, pl, 0, 0);
	case R_HOLD:
	case R_REPEAT:
		if (parse_argc(ps, pl, 1, 1) < 0)
			return -1;
		if (parse_number(pl->w[1], 1, REPLAY_REPEAT_MAX) < 0) {
			parse_err(ps, pl->col[1], "a count from 1 to %d "
			    "expected", REPLAY_REPEAT_MAX);
			return -1;
		}
		return 0;
	case R_WAIT:
		if (parse_argc(ps, pl, 1, 1) < 0)
			return -1;
		if (replay_duration(pl->w[1]) < 0) {
			parse_err(ps, pl->col[1], "a duration expected "
			    "(250ms, 30s, 5m, 1h, 1d)");
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

/* parse_data - "data [FILE] [pad BYTES]" and the inline message */
static void
parse_data(struct parse *ps, struct replay_step *st,
    const struct parse_line *pl)
{
	int i = 1, data_line = ps->lineno;
	struct stat sb;

	if (i < pl->n && strcmp(pl->w[i], "pad") != 0) {
		st->file = parse_path(ps, pl->w[i]);
		st->file_col = pl->col[i];
		if (stat(st->file, &sb) != 0)
			parse_err(ps, pl->col[i], "%s: %s", pl->w[i],
			    strerror(errno));
		else if (!S_ISREG(sb.st_mode))
			parse_err(ps, pl->col[i], "%s: not a regular file",
			    pl->w[i]);
		else if (sb.st_size > REPLAY_MSG_MAX)
			parse_err(ps, pl->col[i], "%s: larger than 64 MiB",
			    pl->w[i]);
		i++;
	}
	if (i < pl->n && strcmp(pl->w[i], "pad") == 0) {
		if (i + 1 >= pl->n || (st->pad = parse_size(pl->w[i + 1],
		    REPLAY_PAD_MAX)) < 0) {
			parse_err(ps, pl->col[i], "pad: a number of bytes "
			    "expected (k, m, g; at most 4g)");
			st->pad = 0;
		}
		i += 2;
	}
	if (i < pl->n)
		parse_err(ps, pl->col[i], "data: unexpected \"%s\" (data "
		    "[FILE] [pad BYTES])", pl->w[i]);
	if (st->file == NULL)
		st->msg = parse_message(ps, data_line);
}

static const struct {
	const char	*word;
	enum replay_exp	 kind;
	int		 args;		/* words after it */
} parse_expects[] = {
	{ "accept", X_ACTION, 0 }, { "continue", X_ACTION, 0 },
	{ "reject", X_ACTION, 0 }, { "tempfail", X_ACTION, 0 },
	{ "discard", X_ACTION, 0 }, { "quarantine", X_ACTION, 0 },
	{ "rule", X_RULE, 1 }, { "limit", X_LIMIT, 1 },
	{ "dry-run", X_DRY_RUN, 0 }, { "header", X_HEADER, 1 },
	{ "no-header", X_NO_HEADER, 1 }, { "matched", X_MATCHED, 1 },
	{ "not-matched", X_NOT_MATCHED, 1 }, { "held", X_HELD, 1 },
};

/* parse_code - "250", "5xx": a reply code or class */
static int
parse_code(const char *w)
{
	return strlen(w) == 3 && w[0] >= '2' && w[0] <= '5' &&
	    ((isdigit((unsigned char)w[1]) && isdigit((unsigned char)w[2])) ||
	    strcmp(w + 1, "xx") == 0);
}

/* parse_xcode - "5.7.1", an enhanced status code */
static int
parse_xcode(const char *w)
{
	int a, b, c, n = 0;

	return sscanf(w, "%1d.%3d.%3d%n", &a, &b, &c, &n) == 3 &&
	    w[n] == '\0' && a >= 2 && a <= 5;
}

static void
parse_expect(struct parse *ps, struct replay_step *st,
    const struct parse_line *pl, const char *line, size_t n)
{
	struct replay_expect *x;
	size_t i;

	if (pl->n < 2) {
		parse_err(ps, pl->col[0] + 6, "expect: what? (a reply code, "
		    "an action, rule, limit, dry-run, header, no-header, "
		    "matched, not-matched, held)");
		return;
	}
	st->ex = tg_xrealloc(st->ex, (st->nex + 1) * sizeof *st->ex);
	x = &st->ex[st->nex];
	memset(x, 0, sizeof *x);
	x->line = ps->lineno;
	if (parse_code(pl->w[1])) {
		if (pl->n > 2 && !parse_xcode(pl->w[2])) {
			parse_err(ps, pl->col[2], "an enhanced status code "
			    "(5.7.1) expected after the reply code");
			return;
		}
		if (pl->n > 4) {
			parse_err(ps, pl->col[4], "quote the reply text");
			return;
		}
		x->kind = X_REPLY;
		x->a = tg_xstrdup(pl->w[1]);
		if (pl->n > 2)
			x->b = tg_xstrdup(pl->w[2]);
		if (pl->n > 3)
			x->c = tg_xstrdup(pl->w[3]);
	} else {
		for (i = 0; i < sizeof parse_expects / sizeof parse_expects[0];
		    i++)
			if (strcmp(pl->w[1], parse_expects[i].word) == 0)
				break;
		if (i == sizeof parse_expects / sizeof parse_expects[0]) {
			parse_err(ps, pl->col[1], "expect: unknown \"%s\"",
			    pl->w[1]);
			return;
		}
		if (pl->n - 2 != parse_expects[i].args) {
			parse_err(ps, pl->col[pl->n > 2 + parse_expects[i].args ?
			    2 + parse_expects[i].args : 1], "expect %s: %s",
			    pl->w[1], parse_expects[i].args ? "one argument "
			    "expected" : "no argument expected");
			return;
		}
		if (parse_expects[i].kind == X_HEADER &&
		    strchr(pl->w[2], ':') == NULL) {
			parse_err(ps, pl->col[2], "expect header: \"Name: "
			    "value\" expected");
			return;
		}
		x->kind = parse_expects[i].kind;
		x->a = tg_xstrdup(parse_expects[i].args ? pl->w[2] :
		    pl->w[1]);
	}
	x->src = tg_xmalloc(n + 1);
	memcpy(x->src, line, n);
	x->src[n] = '\0';
	st->nex++;
}

/* ---- lines ------------------------------------------------------------------ */

static const struct {
	const char	*word;
	enum replay_cmd	 cmd;
} parse_cmds[] = {
	{ "listener", R_LISTENER }, { "mta", R_MTA }, { "client", R_CLIENT },
	{ "connect", R_CONNECT }, { "connection", R_CONNECTION },
	{ "helo", R_HELO }, { "ehlo", R_HELO },
	{ "tls", R_TLS }, { "auth", R_AUTH }, { "mail", R_MAIL },
	{ "rcpt", R_RCPT }, { "data", R_DATA }, { "rset", R_RSET },
	{ "quit", R_QUIT }, { "wait", R_WAIT }, { "hold", R_HOLD },
	{ "repeat", R_REPEAT }, { "end", R_END },
};

/* parse_file_setting - policy "FILE", dns "FILE"; before any session */
static void
parse_file_setting(struct parse *ps, const struct parse_line *pl)
{
	char **dst = pl->w[0][0] == 'p' ? &ps->f->policy : &ps->f->dns;

	if (ps->cur != NULL) {
		parse_err(ps, pl->col[0], "%s: only before the first session",
		    pl->w[0]);
		return;
	}
	if (parse_argc(ps, pl, 1, 1) < 0)
		return;
	if (*dst != NULL) {
		parse_err(ps, pl->col[0], "%s given twice", pl->w[0]);
		return;
	}
	*dst = parse_path(ps, pl->w[1]);
	if (pl->w[0][0] == 'p')
		ps->f->policy_line = ps->lineno;
	else
		ps->f->dns_line = ps->lineno;
}

/* parse_repeat_open - a repeat not ended before its session ends */
static void
parse_repeat_open(struct parse *ps)
{
	int line = ps->lineno;

	if (ps->repeat < 0)
		return;
	ps->lineno = ps->repeat_line;
	parse_err(ps, 1, "repeat without end");
	ps->lineno = line;
	ps->repeat = -1;
}

static void
parse_session(struct parse *ps, const struct parse_line *pl)
{
	struct replay_file *f = ps->f;
	size_t len = 0;
	char *name;

	parse_repeat_open(ps);
	if (pl->n < 2) {
		parse_err(ps, pl->col[0] + 7, "session: a name expected");
		return;
	}
	for (int i = 1; i < pl->n; i++)
		len += strlen(pl->w[i]) + 1;
	name = tg_xcalloc(1, len);
	for (int i = 1; i < pl->n; i++) {
		if (i > 1)
			strcat(name, " ");
		strcat(name, pl->w[i]);
	}
	f->s = tg_xrealloc(f->s, (f->ns + 1) * sizeof *f->s);
	ps->cur = &f->s[f->ns++];
	memset(ps->cur, 0, sizeof *ps->cur);
	ps->cur->name = name;
	ps->cur->line = ps->lineno;
}

static void
parse_command(struct parse *ps, const struct parse_line *pl, const char *line,
    size_t n)
{
	struct replay_step *st, **steps;
	size_t i, *nsteps;

	if (strcmp(pl->w[0], "policy") == 0 || strcmp(pl->w[0], "dns") == 0) {
		parse_file_setting(ps, pl);
		return;
	}
	if (strcmp(pl->w[0], "session") == 0) {
		parse_session(ps, pl);
		return;
	}
	if (strcmp(pl->w[0], "expect") == 0) {
		if (ps->cur == NULL || ps->cur->nsteps == 0) {
			parse_err(ps, pl->col[0], "expect: no step before it "
			    "in this session");
			return;
		}
		if (ps->cur->steps[ps->cur->nsteps - 1].cmd == R_REPEAT ||
		    ps->cur->steps[ps->cur->nsteps - 1].cmd == R_END) {
			parse_err(ps, pl->col[0], "expect: after a step, not "
			    "after repeat or end");
			return;
		}
		parse_expect(ps, &ps->cur->steps[ps->cur->nsteps - 1], pl,
		    line, n);
		return;
	}
	for (i = 0; i < sizeof parse_cmds / sizeof parse_cmds[0]; i++)
		if (strcmp(pl->w[0], parse_cmds[i].word) == 0)
			break;
	if (i == sizeof parse_cmds / sizeof parse_cmds[0]) {
		parse_err(ps, pl->col[0], "unknown command \"%s\"", pl->w[0]);
		return;
	}
	if (ps->cur == NULL && parse_cmds[i].cmd != R_LISTENER &&
	    parse_cmds[i].cmd != R_MTA && parse_cmds[i].cmd != R_CLIENT) {
		parse_err(ps, pl->col[0], "%s: only in a session (start one "
		    "with \"session NAME\")", pl->w[0]);
		return;
	}
	/* A step with bad arguments is kept all the same (the file is not
	 * run), so that its expectations are not reported as orphans. */
	(void)parse_check(ps, parse_cmds[i].cmd, pl);
	steps = ps->cur != NULL ? &ps->cur->steps : &ps->f->defaults;
	nsteps = ps->cur != NULL ? &ps->cur->nsteps : &ps->f->ndefaults;
	st = parse_add_step(ps, steps, nsteps, parse_cmds[i].cmd, pl);
	if (st->cmd == R_WAIT && st->narg == 1)
		st->wait_ms = replay_duration(st->arg[0]);
	if ((st->cmd == R_HOLD || st->cmd == R_REPEAT) && st->narg == 1)
		st->count = parse_number(st->arg[0], 1, REPLAY_REPEAT_MAX);
	if (st->cmd == R_REPEAT) {
		if (ps->repeat >= 0)
			parse_err(ps, pl->col[0], "repeat inside a repeat "
			    "(line %d)", ps->repeat_line);
		else {
			ps->repeat = (long)(*nsteps - 1);
			ps->repeat_line = ps->lineno;
		}
	}
	if (st->cmd == R_END) {
		if (ps->repeat < 0)
			parse_err(ps, pl->col[0], "end without repeat");
		else {
			ps->cur->steps[ps->repeat].end = *nsteps - 1;
			ps->repeat = -1;
		}
	}
	if (st->cmd == R_DATA)
		parse_data(ps, st, pl);
}

struct replay_file *
replay_parse_buffer(const char *path, const char *buf, size_t len,
    struct tg_diag *diag)
{
	struct parse ps;
	struct parse_line pl;
	const char *line, *slash;
	int errors = diag->errors;
	size_t n;

	memset(&ps, 0, sizeof ps);
	ps.repeat = -1;
	ps.path = path;
	ps.diag = diag;
	if ((slash = strrchr(path, '/')) != NULL)
		ps.dir = tg_xasprintf("%.*s", (int)(slash - path), path);
	ps.buf = buf;
	ps.len = len;
	ps.f = tg_xcalloc(1, sizeof *ps.f);
	ps.f->path = tg_xstrdup(path);
	while (parse_next(&ps, &line, &n)) {
		const char *nul = memchr(line, '\0', n);

		if (nul != NULL) {
			parse_err(&ps, (int)(nul - line) + 1, "NUL byte (a "
			    "binary message belongs in a file: data FILE)");
			continue;
		}
		if (parse_words(&ps, line, n, &pl) < 0 || pl.n == 0) {
			parse_line_free(&pl);
			continue;
		}
		parse_command(&ps, &pl, line + pl.col[0] - 1,
		    n - (size_t)(pl.col[0] - 1));
		parse_line_free(&pl);
	}
	parse_repeat_open(&ps);
	if (diag->errors == errors && ps.f->ns == 0)
		tg_diag_error(diag, path, 0, 0, "no session (a session starts "
		    "with \"session NAME\")");
	free(ps.dir);
	if (diag->errors > errors) {
		replay_file_free(ps.f);
		return NULL;
	}
	return ps.f;
}

struct replay_file *
replay_parse(const char *path, struct tg_diag *diag)
{
	struct replay_file *f;
	char *buf = NULL;
	size_t len = 0, cap = 0, got;
	FILE *fp;

	if ((fp = fopen(path, "rb")) == NULL) {
		tg_diag_error(diag, path, 0, 0, "cannot open: %s",
		    strerror(errno));
		return NULL;
	}
	do {
		if (len + 65536 > cap) {
			cap = cap * 2 + 65536;
			buf = tg_xrealloc(buf, cap);
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
	} while (got > 0 && len <= (size_t)PARSE_FILE_MAX);
	if (ferror(fp) || len > (size_t)PARSE_FILE_MAX) {
		tg_diag_error(diag, path, 0, 0, "%s", ferror(fp) ?
		    "read error" : "larger than 256 MiB");
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	f = replay_parse_buffer(path, buf, len, diag);
	free(buf);
	return f;
}

static void
replay_steps_free(struct replay_step *st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < st[i].narg; k++)
			free(st[i].arg[k]);
		free(st[i].arg);
		free(st[i].word);
		replay_msg_free(st[i].msg);
		free(st[i].file);
		for (size_t k = 0; k < st[i].nex; k++) {
			free(st[i].ex[k].a);
			free(st[i].ex[k].b);
			free(st[i].ex[k].c);
			free(st[i].ex[k].src);
		}
		free(st[i].ex);
	}
	free(st);
}

void
replay_file_free(struct replay_file *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; i < f->ns; i++) {
		free(f->s[i].name);
		replay_steps_free(f->s[i].steps, f->s[i].nsteps);
	}
	free(f->s);
	replay_steps_free(f->defaults, f->ndefaults);
	free(f->path);
	free(f->policy);
	free(f->dns);
	free(f);
}
