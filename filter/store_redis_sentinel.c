/* store_redis_sentinel.c - the Redis store follows a failover: it asks
 * the Sentinels in turn which server is the master of its name
 * (SENTINEL get-master-addr-by-name), and a thread of its own listens
 * to one Sentinel for +switch-master, so that a switch moves every MTA
 * at once rather than when each notices its master gone. The decisions
 * (answers checked, switch or not) are store_sentinel.c's. Owns: the
 * watcher thread (started on first use, stopped by tg_redis_watch_stop)
 * and its connection. Threads: the mail threads call tg_redis_master()
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
	int rc = -1, sw;

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
		if ((sw = tg_sentinel_answer(&r->sn, idx, h, p)) < 0)
			snprintf(err, errsz, "sentinel %s: the answer is not "
			    "an address", a);
		else {
			snprintf(how, sizeof how, "sentinel %s", a);
			tg_redis_master_set(r, sw, how);
			rc = 0;
		}
		pthread_mutex_unlock(&r->lock);
	}
	freeReplyObject(rep);
	redisFree(c);
	return rc;
}

static void
rs_sleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
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

/* rs_listen - subscribed to Sentinel idx until it fails or the store
 * stops. */
static void
rs_listen(struct redis_store *r, int idx, redisContext *c)
{
	redisReply *rep;
	void *v;

	rep = redisCommand(c, "SUBSCRIBE +switch-master");
	if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(rep);
		return;
	}
	freeReplyObject(rep);
	while (!rs_stopped(r)) {
		struct pollfd pfd = { c->fd, POLLIN, 0 };
		int n = poll(&pfd, 1, WATCH_POLL_MS);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		if (n == 0)
			continue;
		/* Readable: one reply (hiredis reads until it is whole, at
		 * most the timeout), then those already buffered. */
		if (redisGetReply(c, &v) != REDIS_OK || v == NULL)
			return;
		do {
			rs_message(r, idx, v);
			freeReplyObject(v);
			v = NULL;
		} while (redisReaderGetReply(c->reader, &v) == REDIS_OK &&
		    v != NULL);
	}
}

static void *
rs_watch(void *arg)
{
	struct redis_store *r = arg;
	redisContext *c;
	char err[300];
	int idx, i = 0, logged = 0;

	while (!rs_stopped(r)) {
		pthread_mutex_lock(&r->lock);
		idx = tg_sentinel_order(&r->sn, i++);
		pthread_mutex_unlock(&r->lock);
		if ((c = rs_connect(r, idx, r->conf.timeout_ms, err,
		    sizeof err)) != NULL) {
			logged = 0;
			rs_listen(r, idx, c);
			redisFree(c);
		} else if (!logged) {
			/* Once per run of failures: a dead Sentinel must not
			 * flood the log. */
			tg_log_warnx("redis sentinel:%s: cannot listen for "
			    "+switch-master: %s; trying the next Sentinel",
			    r->conf.master_name, err);
			logged = 1;
		}
		for (int w = 0; w < WATCH_RETRY_MS && !rs_stopped(r);
		    w += WATCH_POLL_MS)
			rs_sleep(WATCH_POLL_MS);
	}
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
tg_redis_master_set(struct redis_store *r, int sw, const char *how)
{
	int keep = 0;

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
	if (sw) {
		tg_log_err("redis sentinel:%s: master switched from %s:%d to "
		    "%s:%d (%s)", r->conf.master_name, r->sn.prev_host,
		    r->sn.prev_port, r->sn.host, r->sn.port, how);
		tg_metrics_error(TG_M_STORE_MASTER_SWITCH);
		/* The new master is there now: no reason to wait. */
		r->backoff_ms = 0;
		r->down_until = 0;
	} else if (!r->down)
		tg_log_info("redis sentinel:%s: master is %s:%d (%s)",
		    r->conf.master_name, r->sn.host, r->sn.port, how);
	pthread_cond_broadcast(&r->cv);
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
