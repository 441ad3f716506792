/* mload_proto.c - one milter session as an MTA plays it: negotiate,
 * connect, helo, then messages (mail, rcpt, data, headers, eoh, body,
 * eom), quit. Honours the steps the milter negotiates away and its
 * no-reply flags, times every round trip and checks "expect" lines.
 * Owns: the socket and buffers of one session. Threads: one per session. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include "mload.h"

#define MAXPKT	(1024 * 1024)	/* larger replies are a protocol error */
#define CHUNK	65535		/* body chunk, as Postfix sends it */

struct mload_conn {
	int		 fd;
	struct mload_run *run;
	struct mload_stats *st;
	unsigned long	 conn_no, msg_no;
	unsigned long	 proto;		/* negotiated SMFIP_* */
	char		*out;		/* pending output */
	size_t		 olen, ocap;
	char		 in[8192];	/* read buffer */
	size_t		 ipos, ilen;
	char		*pkt;		/* last reply's data */
	size_t		 pcap;
	char		 qid[32];
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* conn_open - unix:/path (or local:, or a bare path), inet:port@host,
 * inet6:port@host, the notations of libmilter and Postfix */
static int
conn_open(const char *spec, int timeout)
{
	struct addrinfo hints, *res = NULL;
	struct sockaddr_un sun;
	struct timeval tv = { timeout, 0 };
	char port[16], host[256];
	const char *p, *at;
	int fd = -1, one = 1;

	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if ((at = strchr(p, '@')) == NULL || (size_t)(at - p) >=
		    sizeof port || strlen(at + 1) >= sizeof host)
			return -1;
		memcpy(port, p, (size_t)(at - p));
		port[at - p] = '\0';
		snprintf(host, sizeof host, "%s", at + 1);
		memset(&hints, 0, sizeof hints);
		hints.ai_family = spec[4] == '6' ? AF_INET6 : AF_INET;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, port, &hints, &res) != 0)
			return -1;
		fd = socket(res->ai_family, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(res);
		/* Our writes carry whole commands: no Nagle delay of ours
		 * should show up in the milter's figures. */
		if (fd >= 0)
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
			    sizeof one);
	} else {
		p = strchr(spec, ':') ? strchr(spec, ':') + 1 : spec;
		memset(&sun, 0, sizeof sun);
		sun.sun_family = AF_UNIX;
		if (strlen(p) >= sizeof sun.sun_path)
			return -1;
		memcpy(sun.sun_path, p, strlen(p) + 1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
			close(fd);
			return -1;
		}
	}
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	return fd;
}

static void
out_raw(struct mload_conn *c, const void *p, size_t n)
{
	if (c->olen + n > c->ocap) {
		c->ocap = (c->olen + n) * 2;
		if ((c->out = realloc(c->out, c->ocap)) == NULL) {
			perror("milterload");
			exit(2);
		}
	}
	memcpy(c->out + c->olen, p, n);
	c->olen += n;
}

/* out_pkt - queue one packet: length (command byte included), command,
 * data. Packets go out together at the next flush, as an MTA writes the
 * macros and their command together. */
static void
out_pkt(struct mload_conn *c, char cmd, const void *data, size_t n)
{
	uint32_t len = htonl((uint32_t)n + 1);

	out_raw(c, &len, 4);
	out_raw(c, &cmd, 1);
	if (n > 0)
		out_raw(c, data, n);
}

static int
out_flush(struct mload_conn *c)
{
	size_t o = 0;
	ssize_t w;

	while (o < c->olen) {
		if ((w = write(c->fd, c->out + o, c->olen - o)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		o += (size_t)w;
	}
	c->olen = 0;
	return 0;
}

static int
in_read(struct mload_conn *c, void *dst, size_t n)
{
	char *d = dst;
	size_t k;
	ssize_t r;

	while (n > 0) {
		if (c->ipos == c->ilen) {
			r = read(c->fd, c->in, sizeof c->in);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			c->ipos = 0;
			c->ilen = (size_t)r;
		}
		k = c->ilen - c->ipos < n ? c->ilen - c->ipos : n;
		memcpy(d, c->in + c->ipos, k);
		c->ipos += k;
		d += k;
		n -= k;
	}
	return 0;
}

/* in_pkt - read one reply; its data (NUL-terminated) is in c->pkt */
static int
in_pkt(struct mload_conn *c, char *cmd, size_t *n)
{
	uint32_t len;

	if (in_read(c, &len, 4) < 0)
		return -1;
	len = ntohl(len);
	if (len == 0 || len > MAXPKT)
		return -1;
	if (c->pcap < len) {
		c->pcap = len;
		if ((c->pkt = realloc(c->pkt, c->pcap)) == NULL)
			return -1;
	}
	if (in_read(c, cmd, 1) < 0 || in_read(c, c->pkt, len - 1) < 0)
		return -1;
	c->pkt[len - 1] = '\0';
	*n = len - 1;
	return 0;
}

/* macro_add - append name\0value\0, the value %-expanded */
static void
macro_add(struct mload_conn *c, const char *name, const char *val)
{
	char buf[1024];
	size_t n;

	out_raw(c, name, strlen(name) + 1);
	n = mload_expand(buf, sizeof buf, val, c->conn_no, c->msg_no);
	if (n >= sizeof buf)
		n = 0, buf[0] = '\0';
	out_raw(c, buf, n + 1);
}

/* send_macros - the scenario's macros for this stage, plus the queue ID
 * and the address macros an MTA always has. Built in place: a 'D'
 * packet whose length is patched once its content is known. */
static void
send_macros(struct mload_conn *c, int mstage, char cmd, const char *addr)
{
	const struct mload_scn *s = c->run->scn;
	size_t start = c->olen, i;
	uint32_t len;
	char bare[512];
	size_t n;

	out_raw(c, "\0\0\0\0D", 5);
	out_raw(c, &cmd, 1);
	if (mstage >= SMFIM_ENVFROM)
		macro_add(c, "i", c->qid);
	if (addr != NULL) {
		n = strlen(addr);
		if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>')
			addr++, n -= 2;
		if (n >= sizeof bare)
			n = sizeof bare - 1;
		memcpy(bare, addr, n);
		bare[n] = '\0';
		macro_add(c, mstage == SMFIM_ENVFROM ? "{mail_addr}" :
		    "{rcpt_addr}", bare);
	}
	for (i = 0; i < s->nmacros; i++)
		if (s->macros[i].stage == mstage)
			macro_add(c, s->macros[i].name, s->macros[i].value);
	len = htonl((uint32_t)(c->olen - start - 4));
	memcpy(c->out + start, &len, 4);
}

/* reply_text - how a reply is counted and compared: the SMTP text of a
 * reply code, else the name of the reply */
static void
reply_text(char cmd, const char *data, char *buf, size_t len)
{
	const char *name;

	switch (cmd) {
	case SMFIR_CONTINUE:	name = "continue"; break;
	case SMFIR_ACCEPT:	name = "accept"; break;
	case SMFIR_REJECT:	name = "reject"; break;
	case SMFIR_TEMPFAIL:	name = "tempfail"; break;
	case SMFIR_DISCARD:	name = "discard"; break;
	case SMFIR_SKIP:	name = "skip"; break;
	case SMFIR_CONN_FAIL:	name = "connfail"; break;
	case SMFIR_SHUTDOWN:	name = "shutdown"; break;
	case SMFIR_REPLYCODE:
		snprintf(buf, len, "%s", data);
		buf[strcspn(buf, "\r\n")] = '\0';
		return;
	default:		name = "?"; break;
	}
	snprintf(buf, len, "%s", name);
}

static void
check_expect(struct mload_conn *c, const struct mload_expect *e, int stage,
    char cmd, const char *text)
{
	size_t n;
	int ok;

	if (e == NULL || e->line == 0)
		return;
	if (e->type != SMFIR_REPLYCODE)
		ok = cmd == e->type;
	else if (cmd != SMFIR_REPLYCODE)
		ok = 0;
	else if ((n = strlen(e->text)) > 0 && e->text[n - 1] == '*')
		ok = strncmp(text, e->text, n - 1) == 0;
	else
		ok = strcmp(text, e->text) == 0;
	if (!ok) {
		c->st->expect_fail++;
		printf("FAIL: line %d: %s: got \"%s\", want \"%s\"\n", e->line,
		    mload_stage_name[stage], text, e->type == SMFIR_REPLYCODE ?
		    e->text : "(reply type)");
	} else if (c->run->opt->verbose > 0)
		printf("ok: line %d: %s: %s\n", e->line,
		    mload_stage_name[stage], text);
}

/* step - queue command cmd, flush, and unless the milter negotiated no
 * reply (nr), wait for the final reply: progress is skipped and, at end
 * of message, so are modifications (counted). Returns the reply letter,
 * or -1 on an I/O or protocol error. */
static int
step(struct mload_conn *c, int stage, char cmd, const void *data, size_t n,
    int nr, const struct mload_expect *e)
{
	char r, text[96];
	size_t len;
	uint64_t t0;

	out_pkt(c, cmd, data, n);
	t0 = now_ns();
	if (out_flush(c) < 0)
		return -1;
	if (nr)
		return SMFIR_CONTINUE;
	for (;;) {
		if (in_pkt(c, &r, &len) < 0)
			return -1;
		if (r == SMFIR_PROGRESS)
			continue;
		if (stage == ST_EOM && strchr("hi+-2bemq", r) != NULL) {
			mload_count(c->st, ST_EOM, r == SMFIR_QUARANTINE ?
			    "quarantine" : "modification");
			continue;
		}
		break;
	}
	mload_hist_add(&c->st->h[stage], now_ns() - t0);
	reply_text(r, c->pkt, text, sizeof text);
	mload_count(c->st, stage, text);
	check_expect(c, e, stage, r, text);
	return r;
}

/* go_on - does the transaction continue after this reply? A reply code
 * counts as a refusal (libmilter sends only 4xx/5xx ones). */
static int
go_on(int r)
{
	return r == SMFIR_CONTINUE;
}

static int
negotiate(struct mload_conn *c)
{
	uint32_t v[3];
	size_t n;
	char r;
	uint64_t t0;

	v[0] = htonl(SMFI_PROT_VERSION);
	v[1] = htonl(0x1ff);	/* every action of protocol 6 */
	v[2] = htonl((uint32_t)c->run->opt->offer_proto);
	out_pkt(c, SMFIC_OPTNEG, v, sizeof v);
	t0 = now_ns();
	if (out_flush(c) < 0 || in_pkt(c, &r, &n) < 0 || r != SMFIC_OPTNEG ||
	    n < 12)
		return -1;
	mload_hist_add(&c->st->h[ST_NEG], now_ns() - t0);
	memcpy(v, c->pkt, sizeof v);
	c->proto = ntohl(v[2]);
	c->st->neg_proto = c->proto;
	c->st->neg_actions = ntohl(v[1]);
	return 0;
}

static int
conn_start(struct mload_conn *c)
{
	const struct mload_scn *s = c->run->scn;
	char buf[1200], host[256], addr[256];
	uint16_t port = htons((uint16_t)s->port);
	size_t hl, al;
	int r;

	if (negotiate(c) < 0)
		return -1;
	if (!(c->proto & SMFIP_NOCONNECT)) {
		hl = mload_expand(host, sizeof host, s->host, c->conn_no, 0);
		al = mload_expand(addr, sizeof addr, s->addr, c->conn_no, 0);
		if (hl >= sizeof host || al >= sizeof addr)
			return -1;
		memcpy(buf, host, hl + 1);
		buf[hl + 1] = (char)s->family;
		memcpy(buf + hl + 2, &port, 2);
		memcpy(buf + hl + 4, addr, al + 1);
		send_macros(c, SMFIM_CONNECT, SMFIC_CONNECT, NULL);
		r = step(c, ST_CONN, SMFIC_CONNECT, buf, hl + al + 5,
		    (c->proto & SMFIP_NR_CONN) != 0, &s->conn_exp);
		if (!go_on(r))
			return r < 0 ? -1 : 1;
	}
	if (!(c->proto & SMFIP_NOHELO)) {
		send_macros(c, SMFIM_HELO, SMFIC_HELO, NULL);
		r = step(c, ST_HELO, SMFIC_HELO, s->helo, strlen(s->helo) + 1,
		    (c->proto & SMFIP_NR_HELO) != 0, &s->helo_exp);
		if (!go_on(r))
			return r < 0 ? -1 : 1;
	}
	return 0;
}

/* envelope - MAIL or RCPT: the address, then each ESMTP argument, each
 * NUL-terminated */
static int
envelope(struct mload_conn *c, int stage, const char *addr, const char *args,
    const struct mload_expect *e)
{
	char buf[2048], *p;
	size_t n;
	int mst = stage == ST_MAIL ? SMFIM_ENVFROM : SMFIM_ENVRCPT;
	char cmd = stage == ST_MAIL ? SMFIC_MAIL : SMFIC_RCPT;
	unsigned long skip = stage == ST_MAIL ? SMFIP_NOMAIL : SMFIP_NORCPT;
	unsigned long nr = stage == ST_MAIL ? SMFIP_NR_MAIL : SMFIP_NR_RCPT;

	if (c->proto & skip)
		return SMFIR_CONTINUE;
	n = mload_expand(buf, sizeof buf - 1, addr, c->conn_no, c->msg_no);
	if (n >= sizeof buf - 1)
		return -1;
	send_macros(c, mst, cmd, buf);
	p = buf + n + 1;
	if (*args != '\0') {
		n = mload_expand(p, sizeof buf - 1 - (size_t)(p - buf), args,
		    c->conn_no, c->msg_no);
		if (n >= sizeof buf - 1 - (size_t)(p - buf))
			return -1;
		for (char *q = p; *q != '\0'; q++)
			if (*q == ' ')
				*q = '\0';	/* one argument per word */
		p += n + 1;
	}
	return step(c, stage, cmd, buf, (size_t)(p - buf),
	    (c->proto & nr) != 0, e);
}

static int
header(struct mload_conn *c, const struct mload_step *h)
{
	char buf[2048];
	size_t n, m;

	n = mload_expand(buf, sizeof buf, h->a, c->conn_no, c->msg_no);
	if (n >= sizeof buf - 2)
		return -1;
	m = 0;
	if (c->proto & SMFIP_HDR_LEADSPC)
		buf[n + 1 + m++] = ' ';
	m += mload_expand(buf + n + 1 + m, sizeof buf - n - 1 - m, h->b,
	    c->conn_no, c->msg_no);
	if (n + 1 + m >= sizeof buf)
		return -1;
	return step(c, ST_HDR, SMFIC_HEADER, buf, n + m + 2,
	    (c->proto & SMFIP_NR_HDR) != 0, &h->exp);
}

/* content - data, headers, eoh, body chunks; the reply that ended it */
static int
content(struct mload_conn *c, const struct mload_msg *m)
{
	const struct mload_run *run = c->run;
	size_t i, o, k;
	int r = SMFIR_CONTINUE;

	if (!(c->proto & SMFIP_NODATA)) {
		send_macros(c, SMFIM_DATA, SMFIC_DATA, NULL);
		r = step(c, ST_DATA, SMFIC_DATA, NULL, 0,
		    (c->proto & SMFIP_NR_DATA) != 0, &m->data_exp);
		if (!go_on(r))
			return r;
	}
	for (i = 0; i < m->nsteps && !(c->proto & SMFIP_NOHDRS); i++)
		if (m->steps[i].stage == ST_HDR &&
		    !go_on(r = header(c, &m->steps[i])))
			return r;
	if (!(c->proto & SMFIP_NOEOH)) {
		send_macros(c, SMFIM_EOH, SMFIC_EOH, NULL);
		r = step(c, ST_EOH, SMFIC_EOH, NULL, 0,
		    (c->proto & SMFIP_NR_EOH) != 0, &m->eoh_exp);
		if (!go_on(r))
			return r;
	}
	for (o = 0; o < m->body && !(c->proto & SMFIP_NOBODY); o += k) {
		k = m->body - o < CHUNK ? m->body - o : CHUNK;
		if (k > run->body_len)
			k = run->body_len;
		r = step(c, ST_BODY, SMFIC_BODY, run->body, k,
		    (c->proto & SMFIP_NR_BODY) != 0, &m->body_exp);
		if (r == SMFIR_SKIP)
			break;
		if (!go_on(r))
			return r;
	}
	return SMFIR_CONTINUE;
}

/* message - one transaction; 1 when accepted, 0 when refused, -1 on an
 * error. A transaction that ends before end of message is aborted, as
 * an MTA does. */
static int
message(struct mload_conn *c, const struct mload_msg *m, int hold)
{
	uint64_t t0 = now_ns();
	size_t i, rcpts = 0;
	int r;

	snprintf(c->qid, sizeof c->qid, "%lX%lX", c->conn_no + 1, c->msg_no);
	r = envelope(c, ST_MAIL, m->from, m->from_args, &m->from_exp);
	if (r == SMFIR_ACCEPT)
		goto abort;
	if (!go_on(r))
		goto refused;
	for (i = 0; i < m->nsteps; i++) {
		if (m->steps[i].stage != ST_RCPT)
			continue;
		r = envelope(c, ST_RCPT, m->steps[i].a, m->steps[i].b,
		    &m->steps[i].exp);
		if (r < 0)
			return -1;
		if (r == SMFIR_ACCEPT)
			goto abort;
		if (go_on(r))
			rcpts++;
	}
	if (hold) {
		mload_hold(c->run);
		hold = 0;
	}
	if (rcpts == 0)
		goto refused;
	if (!go_on(r = content(c, m)))
		goto refused;
	send_macros(c, SMFIM_EOM, SMFIC_BODYEOB, NULL);
	r = step(c, ST_EOM, SMFIC_BODYEOB, NULL, 0, 0, &m->eom_exp);
	if (r < 0)
		return -1;
	mload_hist_add(&c->st->h[ST_MSG], now_ns() - t0);
	return r == SMFIR_CONTINUE || r == SMFIR_ACCEPT;
abort:
	/* A message refused or accepted before RCPT ends still takes part
	 * in the hold, or the other connections would wait for it. */
	if (hold)
		mload_hold(c->run);
	out_pkt(c, SMFIC_ABORT, NULL, 0);
	return out_flush(c) < 0 ? -1 : 1;
refused:
	if (hold)
		mload_hold(c->run);
	if (r < 0)
		return -1;
	out_pkt(c, SMFIC_ABORT, NULL, 0);
	return out_flush(c) < 0 ? -1 : 0;
}

/* claim - the next message number, if any is left. With -r, wait for
 * its time (message k is due k/rate seconds after the start): latency is
 * then measured at a known load, not at saturation where it is only
 * queueing. */
static int
claim(struct mload_run *run, unsigned long *no)
{
	struct timespec ts;
	uint64_t due;
	int ok;

	pthread_mutex_lock(&run->lock);
	if ((ok = !run->failed && run->next_msg < run->opt->msgs))
		*no = run->next_msg++;
	pthread_mutex_unlock(&run->lock);
	if (ok && run->opt->rate > 0) {
		due = run->start_ns + (uint64_t)((double)*no * 1e9 /
		    run->opt->rate);
		ts.tv_sec = (time_t)(due / 1000000000u);
		ts.tv_nsec = (long)(due % 1000000000u);
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts,
		    NULL) == EINTR)
			;
	}
	return ok;
}

/* mload_session - one connection: claims messages from the run until
 * per_conn are done or none are left; 0, or -1 on an error (counted) */
int
mload_session(struct mload_run *run, struct mload_stats *st,
    unsigned long conn_no)
{
	const struct mload_opt *opt = run->opt;
	struct mload_conn c;
	unsigned long k;
	int r, rc = -1;

	memset(&c, 0, sizeof c);
	c.run = run;
	c.st = st;
	c.conn_no = conn_no;
	if (!claim(run, &c.msg_no))
		return 1;		/* nothing left to send */
	if ((c.fd = conn_open(opt->sock, opt->timeout)) < 0) {
		fprintf(stderr, "milterload: %s: %s\n", opt->sock,
		    strerror(errno));
		st->errors++;
		st->msgs_done++;
		pthread_mutex_lock(&run->lock);
		run->failed = 1;
		pthread_mutex_unlock(&run->lock);
		return -1;
	}
	st->sessions++;
	if ((r = conn_start(&c)) != 0) {
		st->msgs_done++;	/* refused at connect or helo */
		if (r < 0)
			goto fail;
		goto quit;
	}
	for (k = 0;; k++) {
		r = message(&c, &run->scn->msgs[c.msg_no % run->scn->nmsgs],
		    k == 0 && opt->hold > 0);
		st->msgs_done++;
		if (r < 0)
			goto fail;
		st->msgs_ok += (unsigned long)r;
		if (k + 1 >= opt->per_conn || !claim(run, &c.msg_no))
			break;
	}
quit:
	out_pkt(&c, SMFIC_QUIT, NULL, 0);
	rc = out_flush(&c);
	goto done;
fail:
	fprintf(stderr, "milterload: connection %lu: %s\n", conn_no,
	    errno ? strerror(errno) : "protocol error");
	st->errors++;
done:
	close(c.fd);
	free(c.out);
	free(c.pkt);
	return rc;
}
