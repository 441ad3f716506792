/* store_redis_sentinel.c - the Redis store follows a failover: it asks
 * the Sentinels in turn which server is the master of its name
 * (SENTINEL get-master-addr-by-name), and a thread of its own listens
 * to every Sentinel for +switch-master, so that a switch moves every MTA
 * at once rather than when each notices its master gone. The decisions
 * (answers checked, switch or not) are store_sentinel.c's. Owns: the
 * watcher thread (started on first use, stopped by tg_redis_watch_stop)
 * and its connections, one a Sentinel. Threads: the mail threads call tg_redis_master()
 * without the store's lock and block at most one timeout per Sentinel;
 * the state is guarded by the store's mutex. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "store_redis_impl.h"

#define WATCH_POLL_MS	200	/* how soon the watcher sees a stop */
#define WATCH_RETRY_MS	1000	/* between Sentinels that failed */

static struct timeval
rs_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* rs_connect - a connection to Sentinel idx, authenticated, with a
 * timeout of ms; NULL with err set. */
static redisContext *
rs_connect(struct redis_store *r, int idx, int ms, char *err, size_t errsz)
{
	const char *a = r->conf.sentinels[idx];
	char host[TG_REDIS_HOST_MAX];
	redisContext *c;
	redisReply *rep;
	int port;

	if (tg_redis_addr_parse(a, host, sizeof host, &port) < 0) {
		snprintf(err, errsz, "sentinel %s: not host:port", a);
		return NULL;
	}
	c = redisConnectWithTimeout(host, port, rs_tv(ms));
	if (c == NULL || c->err) {
		snprintf(err, errsz, "sentinel %s: %s", a, c != NULL ?
		    c->errstr : "out of memory");
		goto fail;
	}
	if (redisSetTimeout(c, rs_tv(ms)) != REDIS_OK) {
		snprintf(err, errsz, "sentinel %s: cannot set the timeout", a);
		goto fail;
	}
	if (r->conf.sentinel_password != NULL) {
		rep = redisCommand(c, "AUTH %s", r->conf.sentinel_password);
		if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errsz, "sentinel %s: AUTH: %s", a,
			    rep != NULL ? rep->str : c->errstr);
			freeReplyObject(rep);
			goto fail;
		}
		freeReplyObject(rep);
	}
	return c;
fail:
	if (c != NULL)
		redisFree(c);
	return NULL;
}

/* rs_str - element e of a reply as a C string of at most sz-1 bytes
 * with no NUL inside; NULL when it is anything else. */
static const char *
rs_str(const redisReply *e, size_t sz)
{
	if (e == NULL || e->type != REDIS_REPLY_STRING || e->len >= sz ||
	    strlen(e->str) != e->len)
		return NULL;
	return e->str;
}

/* rs_ask - Sentinel idx's master, within ms: 0 and the answer applied, or -1 with
 * err set (down, does not know the name, or answered garbage). */
static int
rs_ask(struct redis_store *r, int idx, int ms, char *err, size_t errsz)
{
	const char *a = r->conf.sentinels[idx], *h, *p;
	redisContext *c;
	redisReply *rep;
	char how[300];
	int rc = -1;

	if ((c = rs_connect(r, idx, ms, err, errsz)) == NULL)
		return -1;
	rep = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
	    r->conf.master_name);
	if (rep == NULL)
		snprintf(err, errsz, "sentinel %s: %s", a, c->errstr);
	else if (rep->type == REDIS_REPLY_NIL)
		snprintf(err, errsz, "sentinel %s: no master named %s", a,
		    r->conf.master_name);
	else if (rep->type == REDIS_REPLY_ERROR)
		snprintf(err, errsz, "sentinel %s: %s", a, rep->str);
	else if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    (h = rs_str(rep->element[0], TG_REDIS_HOST_MAX)) == NULL ||
	    (p = rs_str(rep->element[1], 8)) == NULL)
		snprintf(err, errsz, "sentinel %s: the answer is not an "
		    "address", a);
	else {
		pthread_mutex_lock(&r->lock);
		if (tg_sentinel_answer(&r->sn, idx, h, p) < 0)
			snprintf(err, errsz, "sentinel %s: the answer is not "
			    "an address", a);
		else {
			snprintf(how, sizeof how, "sentinel %s", a);
			tg_redis_master_set(r, 0, how);
			rc = 0;
		}
		pthread_mutex_unlock(&r->lock);
	}
	freeReplyObject(rep);
	redisFree(c);
	return rc;
}

static int
rs_stopped(struct redis_store *r)
{
	int s;

	pthread_mutex_lock(&r->lock);
	s = r->stop;
	pthread_mutex_unlock(&r->lock);
	return s;
}

/* rs_message - one reply on the subscribed connection: a +switch-master
 * naming our master moves the store at once; anything else is ignored. */
static void
rs_message(struct redis_store *r, int idx, const redisReply *m)
{
	const char *payload;
	char how[300];
	int rc;

	if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
	    rs_str(m->element[0], 16) == NULL ||
	    strcmp(m->element[0]->str, "message") != 0 ||
	    (payload = rs_str(m->element[2], 1024)) == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	rc = tg_sentinel_switch_msg(&r->sn, r->conf.master_name, payload);
	if (rc > 0) {
		snprintf(how, sizeof how, "+switch-master from sentinel %s",
		    r->conf.sentinels[idx]);
		tg_redis_master_set(r, rc == 2, how);
	}
	pthread_mutex_unlock(&r->lock);
}

/* rs_subscribe - a connection to Sentinel idx subscribed to
 * +switch-master, or NULL with err set. The confirmation must be exactly
 * Redis's: a peer that answers anything else is not listened to. */
static redisContext *
rs_subscribe(struct redis_store *r, int idx, char *err, size_t errsz)
{
	redisContext *c;
	redisReply *rep;
	int ok;

	if ((c = rs_connect(r, idx, r->conf.timeout_ms, err, errsz)) == NULL)
		return NULL;
	rep = redisCommand(c, "SUBSCRIBE +switch-master");
	ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements == 3 && rs_str(rep->element[0], 16) != NULL &&
	    strcmp(rep->element[0]->str, "subscribe") == 0 &&
	    rs_str(rep->element[1], 32) != NULL &&
	    strcmp(rep->element[1]->str, "+switch-master") == 0 &&
	    rep->element[2]->type == REDIS_REPLY_INTEGER;
	if (!ok) {
		snprintf(err, errsz, "sentinel %s: SUBSCRIBE: %s",
		    r->conf.sentinels[idx], rep == NULL ? c->errstr :
		    rep->type == REDIS_REPLY_ERROR ? rep->str :
		    "unexpected reply");
		redisFree(c);
		c = NULL;
	}
	freeReplyObject(rep);
	return c;
}

/* rs_read - c is readable: its messages, 0; -1 when it failed (closed,
 * a protocol error, a reply cut short past the timeout). */
static int
rs_read(struct redis_store *r, int idx, redisContext *c)
{
	void *v = NULL;

	/* One reply (hiredis reads until it is whole, at most the
	 * timeout), then those already buffered. */
	if (redisGetReply(c, &v) != REDIS_OK || v == NULL)
		return -1;
	do {
		rs_message(r, idx, v);
		freeReplyObject(v);
		v = NULL;
	} while (redisReaderGetReply(c->reader, &v) == REDIS_OK && v != NULL);
	return 0;
}

/* rs_watch - the watcher: subscribed to every Sentinel at once, so that
 * one that is down, silent or lying cannot hide a switch that the others
 * announce; a failed connection is tried again every WATCH_RETRY_MS, its
 * failure logged once per run of failures. */
static void *
rs_watch(void *arg)
{
	struct redis_store *r = arg;
	int n = r->conf.nsentinels;
	redisContext *c[TG_REDIS_SENTINELS_MAX] = { NULL };
	int64_t retry[TG_REDIS_SENTINELS_MAX] = { 0 };
	int logged[TG_REDIS_SENTINELS_MAX] = { 0 };
	struct pollfd pfd[TG_REDIS_SENTINELS_MAX];
	int map[TG_REDIS_SENTINELS_MAX];
	char err[300];

	while (!rs_stopped(r)) {
		int64_t now = tg_clock_now_ms(NULL);
		int np = 0, k;

		for (int i = 0; i < n; i++) {
			if (c[i] == NULL && now >= retry[i]) {
				if ((c[i] = rs_subscribe(r, i, err,
				    sizeof err)) != NULL)
					logged[i] = 0;
				else {
					retry[i] = now + WATCH_RETRY_MS;
					if (!logged[i])
						tg_log_warnx("redis sentinel:"
						    "%s: cannot listen for "
						    "+switch-master: %s",
						    r->conf.master_name, err);
					logged[i] = 1;
				}
			}
			if (c[i] != NULL) {
				pfd[np].fd = c[i]->fd;
				pfd[np].events = POLLIN;
				pfd[np].revents = 0;
				map[np++] = i;
			}
		}
		k = poll(pfd, (nfds_t)np, WATCH_POLL_MS);
		if (k <= 0)
			continue;
		for (int j = 0; j < np; j++) {
			int i = map[j];

			if (pfd[j].revents == 0)
				continue;
			if (rs_read(r, i, c[i]) < 0) {
				redisFree(c[i]);
				c[i] = NULL;
				retry[i] = tg_clock_now_ms(NULL) +
				    WATCH_RETRY_MS;
			}
		}
	}
	for (int i = 0; i < n; i++)
		if (c[i] != NULL)
			redisFree(c[i]);
	return NULL;
}

int
tg_redis_master(struct redis_store *r, char *host, int *port, char *err,
    size_t errsz)
{
	int64_t deadline;
	int i;

	pthread_mutex_lock(&r->lock);
	if (!r->watching && !r->stop) {
		if (pthread_create(&r->watcher, NULL, rs_watch, r) == 0)
			r->watching = 1;
		else
			tg_log_err("redis sentinel:%s: cannot start the "
			    "+switch-master listener; failovers are followed "
			    "when the master fails", r->conf.master_name);
	}
	/* A round: the Sentinels in turn, each given the store's timeout
	 * but all together at most twice it, so that a mail thread waits
	 * boundedly however many hang; the next round starts with the ones
	 * this one did not reach. */
	deadline = tg_clock_now_ms(NULL) + 2 * (int64_t)r->conf.timeout_ms;
	snprintf(err, errsz, "no Sentinel reached");
	for (i = 0; i < r->conf.nsentinels && !r->sn.known; i++) {
		int64_t left = deadline - tg_clock_now_ms(NULL);
		int idx;

		if (left <= 0)
			break;
		idx = tg_sentinel_order(&r->sn, i);
		pthread_mutex_unlock(&r->lock);
		(void)rs_ask(r, idx, left < r->conf.timeout_ms ? (int)left :
		    r->conf.timeout_ms, err, errsz);
		pthread_mutex_lock(&r->lock);
	}
	if (!r->sn.known)
		tg_sentinel_skip(&r->sn, i);
	if (r->sn.known) {
		tg_strlcpy(host, r->sn.host, TG_REDIS_HOST_MAX);
		*port = r->sn.port;
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	pthread_mutex_unlock(&r->lock);
	/* err holds the last Sentinel's failure. */
	return -1;
}

void
tg_redis_master_lost(struct redis_store *r, const char *why)
{
	if (r->sn.known)
		tg_log_warnx("redis sentinel:%s: master %s:%d failed (%s); "
		    "asking the Sentinels again", r->conf.master_name,
		    r->sn.host, r->sn.port, why);
	tg_sentinel_lost(&r->sn);
}

void
tg_redis_master_set(struct redis_store *r, int moved, const char *how)
{
	int keep = 0;

	tg_strlcpy(r->how, how, sizeof r->how);
	/* Idle connections to any other server go: they would write to a
	 * replica (READONLY) or to a master no one else uses. */
	for (int i = 0; i < r->nidle; i++) {
		redisContext *c = r->idle[i];

		if (c->tcp.host != NULL && c->tcp.port == r->sn.port &&
		    strcmp(c->tcp.host, r->sn.host) == 0)
			r->idle[keep++] = c;
		else {
			redisFree(c);
			r->nopen--;
		}
	}
	r->nidle = keep;
	if (moved) {
		/* Named by +switch-master: it is there now, no reason to
		 * wait out the backoff. */
		r->backoff_ms = 0;
		r->down_until = 0;
	}
	pthread_cond_broadcast(&r->cv);
}

void
tg_redis_master_confirm(struct redis_store *r, const char *host, int port)
{
	int first = r->sn.last_host[0] == '\0';

	if (tg_sentinel_confirm(&r->sn, host, port)) {
		tg_log_err("redis sentinel:%s: master switched from %s:%d to "
		    "%s:%d (%s)", r->conf.master_name, r->sn.prev_host,
		    r->sn.prev_port, host, port, r->how);
		tg_metrics_error(TG_M_STORE_MASTER_SWITCH);
	} else if (first)
		tg_log_info("redis sentinel:%s: master is %s:%d (%s)",
		    r->conf.master_name, host, port, r->how);
}

void
tg_redis_watch_stop(struct redis_store *r)
{
	int w;

	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	w = r->watching;
	r->watching = 0;
	pthread_mutex_unlock(&r->lock);
	if (w)
		pthread_join(r->watcher, NULL);
}
