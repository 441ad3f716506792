/* replay_run.c - run the sessions of a session file: each command as
 * an MTA carries it out, through the front end's driver (tg_drive.h)
 * exactly as the libmilter glue sends it, with the macros the session
 * describes (replay_conn.c); where an MTA answers by itself (a second
 * MAIL, DATA without recipients, RSET, QUIT) the reply is Postfix's.
 * Repeats, settings and the clock too; what is printed and checked after
 * each command is replay_out.c's. Owns: the state of the session file
 * being run. Threads: single-threaded program. */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include "tg.h"
#include "tg_drive.h"
#include "tg_engine.h"
#include "tg_ip.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_rate.h"
#include "tg_session.h"
#include "tg_store.h"
#include "tg_trace.h"
#include "replay.h"
#include "replay_impl.h"

#define RUN_CHUNK	65535	/* body bytes per milter packet (Postfix) */

/* run_helo - HELO/EHLO. The filter's refusal here (a connect refusal,
 * kept) is not the EHLO's reply: Postfix answers 250, gives the refusal
 * to every MAIL of the connection and asks the filter nothing more (so
 * does Sendmail); a refusal of the helo rules is only kept by the engine
 * and answered at MAIL (tg_drive_helo). */
static void
run_helo(struct run *r, const char *name)
{
	enum tg_answer a;
	char ok[300];

	snprintf(ok, sizeof ok, "250 %s", replay_mta_name(r));
	if (r->c->refused) {
		replay_mta(r, "%s", ok);
		r->note = ", the MTA no longer asks tollgate";
		return;
	}
	a = tg_drive_helo(&r->c->d, name, &r->v);
	replay_answer(r, a, ok);
	if (a == TG_ANS_REJECT || a == TG_ANS_TEMPFAIL) {
		r->c->refused = 1;
		r->c->refusal = r->v;
		snprintf(r->reply, sizeof r->reply, "%s", ok);
	}
	if (r->v.action == TG_ACT_REJECT || r->v.action == TG_ACT_TEMPFAIL)
		r->note = ", answered at MAIL";
}

static void
run_mail(struct run *r, const struct replay_step *st)
{
	char **argv = tg_xcalloc(st->narg + 1, sizeof *argv);
	enum tg_answer a;
	char qid[16];

	if (r->c->in_mail) {
		replay_mta(r, "503 5.5.1 Error: nested MAIL command");
		free(argv);
		return;
	}
	if (r->c->refused) {
		/* The refusal the filter gave at HELO, from the MTA. */
		r->v = r->c->refusal;
		r->asked = 1;
		snprintf(r->reply, sizeof r->reply, "%s %s %s", r->v.code,
		    r->v.xcode, r->v.text);
		r->note = ", given at HELO";
		free(argv);
		return;
	}
	/* The MTA hands the address in angle brackets. */
	argv[0] = st->arg[0][0] == '<' ? tg_xstrdup(st->arg[0]) :
	    tg_xasprintf("<%s>", st->arg[0]);
	for (size_t i = 1; i < st->narg; i++)
		argv[i] = st->arg[i];
	snprintf(qid, sizeof qid, "4TEST%04X", ++r->msg_n);
	replay_set(r, RM_QUEUE_ID, qid);
	a = tg_drive_mail(&r->c->d, argv, &r->v);
	free(argv[0]);
	free(argv);
	replay_answer(r, a, "250 2.1.0 Ok");
	r->c->rcpt_given = r->c->rcpt_ok = 0;
	r->c->discarded = a == TG_ANS_DISCARD;
	r->c->in_mail = a == TG_ANS_CONTINUE || a == TG_ANS_DISCARD;
	if (!r->c->in_mail)
		tg_drive_abort(&r->c->d);
}

static void
run_rcpt(struct run *r, const struct replay_step *st)
{
	char **argv;
	enum tg_answer a;

	if (!r->c->in_mail) {
		replay_mta(r, "503 5.5.1 Error: need MAIL command");
		return;
	}
	r->c->rcpt_given++;
	if (r->c->discarded) {
		replay_mta(r, "250 2.1.5 Ok");
		r->c->rcpt_ok++;
		return;
	}
	argv = tg_xcalloc(st->narg + 1, sizeof *argv);
	argv[0] = st->arg[0][0] == '<' ? tg_xstrdup(st->arg[0]) :
	    tg_xasprintf("<%s>", st->arg[0]);
	for (size_t i = 1; i < st->narg; i++)
		argv[i] = st->arg[i];
	a = tg_drive_rcpt(&r->c->d, argv, &r->v);
	free(argv[0]);
	free(argv);
	replay_answer(r, a, "250 2.1.5 Ok");
	if (a == TG_ANS_CONTINUE || a == TG_ANS_DISCARD)
		r->c->rcpt_ok++;
	if (a == TG_ANS_DISCARD)
		r->c->discarded = 1;
}

/* run_pad - about n bytes of filler lines (76 x and CR LF) at the end of
 * the body, sent in chunks without being built */
static void
run_pad(struct run *r, long long n)
{
	static char chunk[840 * 78];	/* whole lines, under RUN_CHUNK */
	long long lines = (n + 77) / 78, per = sizeof chunk / 78;

	if (chunk[0] == '\0')
		for (size_t i = 0; i < sizeof chunk; i += 78) {
			memset(chunk + i, 'x', 76);
			memcpy(chunk + i + 76, "\r\n", 2);
		}
	for (; lines > 0; lines -= per)
		tg_drive_body(&r->c->d, chunk, (size_t)(lines < per ? lines :
		    per) * 78);
}

/* run_message - headers, body and the end of the message */
static void
run_message(struct run *r, const struct replay_step *st)
{
	struct replay_msg *m = st->msg, *own = NULL;
	const char *why;
	char ok[64];
	enum tg_answer a;

	if (m == NULL && (own = m = replay_msg_read(st->file, &why)) == NULL) {
		replay_mta(r, "451 4.3.0 Error: message file not readable");
		replay_line(r, "error: data %s: %s", st->file, why);
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return;
	}
	/* Only what the glue negotiated reaches the filter: the values
	 * with their leading blanks when it asked for them (DKIM), else as
	 * the MTA then passes them, without. */
	for (size_t i = 0; r->c->d.neg_hdrs && i < m->nhdr; i++)
		tg_drive_header(&r->c->d, m->hdr[i].name, r->c->d.leadspc ?
		    m->hdr[i].value : m->hdr[i].value +
		    strspn(m->hdr[i].value, " \t"));
	if (r->c->d.neg_hdrs)
		tg_drive_eoh(&r->c->d);
	for (size_t off = 0; r->c->d.neg_body && off < m->bodylen;
	    off += RUN_CHUNK)
		tg_drive_body(&r->c->d, m->body + off, m->bodylen - off >
		    RUN_CHUNK ? RUN_CHUNK : m->bodylen - off);
	if (r->c->d.neg_body && st->pad > 0)
		run_pad(r, st->pad);
	snprintf(ok, sizeof ok, "250 2.0.0 Ok: queued as %s",
	    r->c->m[RM_QUEUE_ID]);
	a = tg_drive_eom(&r->c->d, &replay_fx, r, &r->v);
	replay_answer(r, a, ok);
	if (a == TG_ANS_DISCARD) {
		snprintf(r->reply, sizeof r->reply, "%s", ok);
		r->note = ", discarded";
	} else if (a == TG_ANS_CONTINUE && r->held != NULL)
		r->note = ", held";
	r->c->in_mail = 0;
	replay_msg_free(own);
}


/* run_data - DATA and, when the filter lets it pass, the message; text is
 * the DATA step's, printed here before the message is sent. Returns 1
 * when the message was sent (the reply is then its end's). */
static int
run_data(struct run *r, const struct replay_step *st, const char *text)
{
	char ok[64];
	enum tg_answer a;

	if (!r->c->in_mail) {
		replay_mta(r, "503 5.5.1 Error: need MAIL command");
		return 0;
	}
	if (r->c->rcpt_given == 0) {
		replay_mta(r, "503 5.5.1 Error: need RCPT command");
		return 0;
	}
	if (r->c->rcpt_ok == 0) {
		replay_mta(r, "554 5.5.1 Error: no valid recipients");
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return 0;
	}
	if (r->c->discarded) {
		/* The MTA takes the message and asks the filter no more. */
		replay_mta(r, "354 End data with <CR><LF>.<CR><LF>");
		replay_print_line(r, st, text);
		replay_step_reset(r);
		snprintf(ok, sizeof ok, "250 2.0.0 Ok: queued as %s",
		    r->c->m[RM_QUEUE_ID]);
		replay_mta(r, "%s", ok);
		r->note = ", discarded";
		r->c->in_mail = 0;
		return 1;
	}
	a = tg_drive_data(&r->c->d, &r->v);
	if (a != TG_ANS_CONTINUE) {
		replay_answer(r, a, "");
		tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		return 0;
	}
	replay_answer(r, a, "354 End data with <CR><LF>.<CR><LF>");
	replay_print_line(r, st, text);
	replay_step_reset(r);
	run_message(r, st);
	return 1;
}

static void
run_tls(struct run *r, const struct replay_step *st)
{
	static const char *const keys[] = { "subject", "issuer", "verify" };
	static const enum run_macro macs[] = { RM_CERT_SUBJECT,
	    RM_CERT_ISSUER, RM_VERIFY };
	int off = st->narg == 1 && strcmp(st->arg[0], "off") == 0;

	replay_set(r, RM_TLS_VERSION, off ? NULL : st->arg[0]);
	replay_set(r, RM_CIPHER, off ? NULL : st->arg[1]);
	replay_set(r, RM_CIPHER_BITS, off ? NULL : st->arg[2]);
	for (size_t k = 0; k < 3; k++) {
		replay_set(r, macs[k], NULL);
		for (size_t i = 3; !off && i + 1 < st->narg; i += 2)
			if (strcmp(st->arg[i], keys[k]) == 0)
				replay_set(r, macs[k], st->arg[i + 1]);
	}
	replay_mta(r, "220 2.0.0 Ready to start TLS");
}

static void
run_auth(struct run *r, const struct replay_step *st)
{
	int off = st->narg == 1 && strcmp(st->arg[0], "off") == 0;
	size_t i = 1;

	replay_set(r, RM_AUTH_AUTHEN, off ? NULL : st->arg[0]);
	replay_set(r, RM_AUTH_TYPE, off ? NULL : "PLAIN");
	replay_set(r, RM_AUTH_AUTHOR, NULL);
	if (!off && st->narg > 1 && strcmp(st->arg[1], "author") != 0)
		replay_set(r, RM_AUTH_TYPE, st->arg[i++]);
	if (!off && i + 1 < st->narg)
		replay_set(r, RM_AUTH_AUTHOR, st->arg[i + 1]);
	replay_mta(r, "235 2.7.0 Authentication successful");
}

/* run_setting - listener, mta, client: also the file's defaults */
static void
run_setting(struct run *r, const struct replay_step *st)
{
	switch (st->cmd) {
	case R_LISTENER:
		replay_setm(r, RM_DAEMON_NAME, st->arg[0]);
		replay_setm(r, RM_DAEMON_PORT, NULL);
		replay_setm(r, RM_DAEMON_ADDR, NULL);
		for (size_t i = 1; i + 1 < st->narg; i += 2)
			replay_setm(r, strcmp(st->arg[i], "port") == 0 ?
			    RM_DAEMON_PORT : RM_DAEMON_ADDR, st->arg[i + 1]);
		break;
	case R_MTA:
		replay_setm(r, RM_MTA, st->arg[0]);
		break;
	case R_CLIENT:
		free(r->connect_addr);
		free(r->connect_name);
		r->connect_addr = tg_xstrdup(st->arg[0]);
		r->connect_name = st->narg > 1 ? tg_xstrdup(st->arg[1]) : NULL;
		break;
	default:
		break;
	}
}

/* run_subst - the step's words with "%n" as the iteration of its repeat
 * (and "%%" as "%"); caller frees the array and its strings */
static char **
run_subst(const struct replay_step *st, long long iter)
{
	char **out = tg_xcalloc(st->narg + 1, sizeof *out);
	char num[24];

	snprintf(num, sizeof num, "%lld", iter);
	for (size_t i = 0; i < st->narg; i++) {
		const char *a = st->arg[i];
		size_t o = 0, cap = strlen(a) * (strlen(num) + 1) + 1;

		out[i] = tg_xmalloc(cap);
		for (; *a != '\0'; a++) {
			if (a[0] == '%' && a[1] == 'n') {
				memcpy(out[i] + o, num, strlen(num));
				o += strlen(num);
				a++;
			} else if (a[0] == '%' && a[1] == '%') {
				out[i][o++] = '%';
				a++;
			} else
				out[i][o++] = *a;
		}
		out[i][o] = '\0';
	}
	return out;
}

static void	run_step1(struct run *, const struct replay_step *,
		    const char *);

/* run_step - one step of a session; iter > 0: the iteration of the
 * repeat it is in, of count */
static void
run_step(struct run *r, const struct replay_step *st, long long iter,
    long long count)
{
	struct replay_step tmp;
	char prefix[48];

	if (iter == 0) {
		run_step1(r, st, "");
		return;
	}
	tmp = *st;
	tmp.arg = run_subst(st, iter);
	snprintf(prefix, sizeof prefix, "[%lld/%lld] ", iter, count);
	run_step1(r, &tmp, prefix);
	for (size_t i = 0; i < tmp.narg; i++)
		free(tmp.arg[i]);
	free(tmp.arg);
}

/* run_step1 - one step; prefix goes before its text */
static void
run_step1(struct run *r, const struct replay_step *st, const char *prefix0)
{
	char text[1024], prefix[160];
	size_t pl;

	/* Steps name their connection once the session has several. */
	if (r->nconns > 1 || strcmp(r->c->name, "1") != 0)
		snprintf(prefix, sizeof prefix, "%s[%s] ", prefix0,
		    r->c->name);
	else
		snprintf(prefix, sizeof prefix, "%s", prefix0);
	pl = strlen(prefix);

	if (st->cmd == R_LISTENER || st->cmd == R_MTA || st->cmd == R_CLIENT) {
		run_setting(r, st);
		return;
	}
	if (st->cmd == R_CONNECTION || st->cmd == R_WAIT) {
		if (st->cmd == R_CONNECTION)
			replay_conn_use(r, st->arg[0]);
		else
			replay_clock_advance(st->wait_ms);
		replay_step_reset(r);
		memcpy(text, prefix, pl + 1);
		replay_step_text(st, text + pl, sizeof text - pl, 0);
		replay_print(r, st, text);
		return;
	}
	/* TLS on connect, or a login known before: settings only. */
	if ((st->cmd == R_TLS || st->cmd == R_AUTH) && !r->c->connected) {
		replay_step_reset(r);
		if (st->cmd == R_TLS)
			run_tls(r, st);
		else
			run_auth(r, st);
		r->reply[0] = '\0';
		memcpy(text, prefix, pl + 1);
		replay_step_text(st, text + pl, sizeof text - pl, 0);
		replay_print(r, st, text);
		return;
	}
	if (st->cmd != R_CONNECT && st->cmd != R_QUIT && st->cmd != R_HOLD &&
	    !r->c->connected) {
		/* The connection the command needs, on a line of its own. */
		replay_step_reset(r);
		replay_connect(r, r->connect_addr, r->connect_name);
		snprintf(text, sizeof text, "(connect %s%s%s)",
		    r->connect_addr != NULL ? r->connect_addr : "unknown",
		    r->connect_name != NULL ? " " : "",
		    r->connect_name != NULL ? r->connect_name : "");
		fprintf(r->o->out, "%s:%d: %s: %s", r->f->path, st->line, text,
		    r->reply);
		replay_verdict(r, text, sizeof text);
		fprintf(r->o->out, " %s\n", text);
		for (size_t i = 0; !r->o->quiet && i < r->nlines; i++)
			fprintf(r->o->out, "    %s\n", r->lines[i]);
		r->res->steps++;
	}
	replay_step_reset(r);
	switch (st->cmd) {
	case R_CONNECT:
		replay_connect(r, st->narg > 0 ? st->arg[0] : r->connect_addr,
		    st->narg > 1 ? st->arg[1] : st->narg > 0 ? NULL :
		    r->connect_name);
		break;
	case R_HELO:
		run_helo(r, st->arg[0]);
		break;
	case R_TLS:
		run_tls(r, st);
		break;
	case R_AUTH:
		run_auth(r, st);
		break;
	case R_MAIL:
		run_mail(r, st);
		break;
	case R_RCPT:
		run_rcpt(r, st);
		break;
	case R_DATA:
		memcpy(text, prefix, pl + 1);
		replay_step_text(st, text + pl, sizeof text - pl, 0);
		if (run_data(r, st, text)) {
			memcpy(text, prefix, pl + 1);
			replay_step_text(st, text + pl, sizeof text - pl, 1);
			replay_print(r, st, text);
			return;
		}
		break;
	case R_RSET:
		if (r->c->in_mail)
			tg_drive_abort(&r->c->d);
		r->c->in_mail = 0;
		replay_mta(r, "250 2.0.0 Ok");
		break;
	case R_QUIT:
		replay_mta(r, "221 2.0.0 Bye");
		replay_close(r);
		break;
	case R_HOLD:
		replay_hold(r, st->count);
		break;
	default:
		break;
	}
	memcpy(text, prefix, pl + 1);
	replay_step_text(st, text + pl, sizeof text - pl, 0);
	replay_print(r, st, text);
}

void
replay_run_file(const struct replay_file *f, struct tg_policy *p,
    const struct replay_opts *o, struct replay_result *res)
{
	struct run r;

	/* Every file starts from empty counters. */
	tg_store_mem_clear(tg_store_memory());
	memset(&r, 0, sizeof r);
	r.f = f;
	r.p = p;
	r.o = o;
	r.res = res;
	replay_sinks(&r, 1);
	for (size_t i = 0; i < f->ns && !(o->stop && res->failed > 0); i++) {
		const struct replay_session *s = &f->s[i];

		for (int k = 0; k < RM_COUNT; k++)
			r.defm[k] = tg_free(r.defm[k]);
		r.connect_addr = tg_free(r.connect_addr);
		r.connect_name = tg_free(r.connect_name);
		replay_conn_use(&r, "1");
		for (size_t k = 0; k < f->ndefaults; k++)
			run_setting(&r, &f->defaults[k]);
		if (!o->quiet)
			fprintf(o->out, "%s:%d: session %s\n", f->path, s->line,
			    s->name);
		res->sessions++;
		for (size_t k = 0; k < s->nsteps && !(o->stop &&
		    res->failed > 0); k++) {
			const struct replay_step *st = &s->steps[k];

			if (st->cmd != R_REPEAT) {
				run_step(&r, st, 0, 0);
				continue;
			}
			for (long long n = 1; n <= st->count && !(o->stop &&
			    res->failed > 0); n++)
				for (size_t j = k + 1; j < st->end; j++)
					run_step(&r, &s->steps[j], n,
					    st->count);
			k = st->end;
		}
		replay_release(&r);
		replay_end_session(&r);
	}
	replay_sinks(&r, 0);
	replay_step_reset(&r);
	free(r.lines);
	free(r.held_conns);
	free(r.added);
	free(r.hits);
	for (int k = 0; k < RM_COUNT; k++)
		free(r.defm[k]);
	free(r.conns);
	free(r.connect_addr);
	free(r.connect_name);
}
