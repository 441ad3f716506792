/* store_redis.c - counters in Redis, shared by every MTA that points at
 * the same server. Each operation is one EVALSHA of a Lua script, atomic
 * in the server; the server's clock places events in slots, so MTAs with
 * skewed clocks still agree. The connection pool and the script calls
 * serve greylisting too (store_redis_grey.c, store_redis_impl.h). Owns: a
 * bounded pool of connections. Threads: the pool is guarded by a mutex; a
 * call uses its connection alone and never waits longer than the
 * configured timeout. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_store.h"
#include "store_redis_impl.h"

#define REDIS_BACKOFF_MIN_MS	100
#define REDIS_BACKOFF_MAX_MS	5000

/* KEYS[1] the counter (a hash: slot -> count). ARGV: window ms (0 for a
 * gauge), operation, delta, max, slot. Slots older than the window are
 * dropped on the way. Returns {value, slot, added}. */
static const char redis_script[] =
"local w = tonumber(ARGV[1])\n"
"local op, d, max = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])\n"
"local k, cur, ttl = KEYS[1], 0, 3600000\n"
"if w > 0 then\n"
"  local t = redis.call('TIME')\n"
"  local sl = math.max(1, math.floor(w / 10))\n"
"  cur = math.floor((t[1] * 1000 + math.floor(t[2] / 1000)) / sl)\n"
"  ttl = w + 2 * sl\n"
"end\n"
"local h, v = redis.call('HGETALL', k), 0\n"
"for i = 1, #h, 2 do\n"
"  if w > 0 and tonumber(h[i]) < cur - 10 then\n"
"    redis.call('HDEL', k, h[i])\n"
"  else\n"
"    v = v + tonumber(h[i + 1])\n"
"  end\n"
"end\n"
"local f = string.format('%.0f', cur)\n"
"if op == 'get' then return {v, cur, 0} end\n"
"if op == 'release' then\n"
"  local s = ARGV[5]\n"
"  if redis.call('HEXISTS', k, s) == 1 then\n"
"    if redis.call('HINCRBY', k, s, -d) <= 0 then\n"
"      redis.call('HDEL', k, s)\n"
"    end\n"
"  end\n"
"  return {v, cur, 0}\n"
"end\n"
"if max >= 0 and v + d > max then return {v, cur, 0} end\n"
"redis.call('HINCRBY', k, f, d)\n"
"redis.call('PEXPIRE', k, ttl)\n"
"return {v + d, cur, 1}\n";

/* The scripts, loaded on every new connection. */
static const char *const redis_scripts[REDIS_NSCRIPTS] = {
	[REDIS_SCRIPT_COUNTER] = redis_script,
	[REDIS_SCRIPT_GREY] = tg_redis_grey_script,
};

int
tg_store_redis_available(void)
{
	return 1;
}

static int64_t
redis_now(void)
{
	return tg_clock_now_ms(NULL);
}

static struct timeval
redis_tv(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* redis_failed - a connection attempt or a call failed: fail fast for a
 * while, doubling the wait up to a bound; lock held. */
static void
redis_failed(struct redis_store *r, const char *why)
{
	r->backoff_ms = r->backoff_ms == 0 ? REDIS_BACKOFF_MIN_MS :
	    r->backoff_ms * 2;
	if (r->backoff_ms > REDIS_BACKOFF_MAX_MS)
		r->backoff_ms = REDIS_BACKOFF_MAX_MS;
	r->down_until = redis_now() + r->backoff_ms;
	if (!r->down)
		tg_log_err("redis %s: %s; retrying with backoff",
		    r->conf.address, why);
	r->down = 1;
}

static int
redis_ok_reply(redisReply *rep, const char *what, char *err, size_t errsz)
{
	if (rep != NULL && rep->type != REDIS_REPLY_ERROR)
		return 1;
	snprintf(err, errsz, "%s: %s", what, rep != NULL ? rep->str :
	    "no reply");
	return 0;
}

/* redis_role - the server of c says it is a master (ROLE): a Sentinel
 * may be behind, or answer for a server that has just been demoted. */
static int
redis_role(redisContext *c, char *err, size_t errsz)
{
	redisReply *rep = redisCommand(c, "ROLE");
	int ok;

	ok = rep != NULL && rep->type == REDIS_REPLY_ARRAY &&
	    rep->elements > 0 && rep->element[0]->type == REDIS_REPLY_STRING &&
	    strcmp(rep->element[0]->str, "master") == 0;
	if (!ok)
		snprintf(err, errsz, "%s:%d is not a master (ROLE: %s)",
		    c->tcp.host != NULL ? c->tcp.host : "?", c->tcp.port,
		    rep == NULL ? c->errstr : rep->type == REDIS_REPLY_ERROR ?
		    rep->str : rep->type == REDIS_REPLY_ARRAY &&
		    rep->elements > 0 && rep->element[0]->type ==
		    REDIS_REPLY_STRING ? rep->element[0]->str :
		    "unexpected reply");
	freeReplyObject(rep);
	return ok ? 0 : -1;
}

/* redis_connect - a new ready connection (authenticated, database
 * selected, script loaded), or NULL with err set. No lock held. */
static redisContext *
redis_connect(struct redis_store *r, char *err, size_t errsz)
{
	struct timeval tv = redis_tv(r->conf.timeout_ms);
	redisContext *c;
	redisReply *rep;
	int ok;

	char host[TG_REDIS_HOST_MAX];
	int port = r->port;

	if (r->conf.nsentinels > 0) {
		if (tg_redis_master(r, host, &port, err, errsz) < 0)
			return NULL;
		c = redisConnectWithTimeout(host, port, tv);
	} else
		c = r->unixpath != NULL ? redisConnectUnixWithTimeout(
		    r->unixpath, tv) : redisConnectWithTimeout(r->host,
		    r->port, tv);
	if (c == NULL || c->err) {
		snprintf(err, errsz, "connect: %s", c != NULL ? c->errstr :
		    "out of memory");
		goto fail;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errsz, "cannot set the timeout");
		goto fail;
	}
	if (r->conf.password != NULL) {
		rep = r->conf.user != NULL ? redisCommand(c, "AUTH %s %s",
		    r->conf.user, r->conf.password) : redisCommand(c,
		    "AUTH %s", r->conf.password);
		ok = redis_ok_reply(rep, "AUTH", err, errsz);
		freeReplyObject(rep);
		if (!ok)
			goto fail;
	}
	if (r->conf.database != 0) {
		rep = redisCommand(c, "SELECT %d", r->conf.database);
		ok = redis_ok_reply(rep, "SELECT", err, errsz);
		freeReplyObject(rep);
		if (!ok)
			goto fail;
	}
	if (r->conf.nsentinels > 0) {
		if (redis_role(c, err, errsz) < 0)
			goto fail;
		pthread_mutex_lock(&r->lock);
		tg_redis_master_confirm(r, host, port);
		pthread_mutex_unlock(&r->lock);
	}
	for (int i = 0; i < REDIS_NSCRIPTS; i++) {
		rep = redisCommand(c, "SCRIPT LOAD %s", redis_scripts[i]);
		ok = redis_ok_reply(rep, "SCRIPT LOAD", err, errsz) &&
		    rep->type == REDIS_REPLY_STRING;
		if (ok) {
			pthread_mutex_lock(&r->lock);
			tg_strlcpy(r->sha[i], rep->str, sizeof r->sha[i]);
			pthread_mutex_unlock(&r->lock);
		}
		freeReplyObject(rep);
		if (!ok)
			goto fail;
	}
	return c;
fail:
	if (r->conf.nsentinels > 0) {
		pthread_mutex_lock(&r->lock);
		tg_redis_master_lost(r, err);
		pthread_mutex_unlock(&r->lock);
	}
	if (c != NULL)
		redisFree(c);
	return NULL;
}

/* tg_redis_get_conn - a connection from the pool, a new one, or NULL
 * after at most the timeout (Redis down or every connection busy). */
redisContext *
tg_redis_get_conn(struct redis_store *r, int *reused)
{
	struct timespec until;
	redisContext *c;
	char err[256];

	pthread_mutex_lock(&r->lock);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += r->conf.timeout_ms / 1000;
	until.tv_nsec += (long)(r->conf.timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (redis_now() < r->down_until) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
		if (r->nidle > 0) {
			*reused = 1;
			c = r->idle[--r->nidle];
			pthread_mutex_unlock(&r->lock);
			return c;
		}
		if (r->nopen < r->conf.connections)
			break;
		if (pthread_cond_timedwait(&r->cv, &r->lock, &until) != 0) {
			pthread_mutex_unlock(&r->lock);
			return NULL;
		}
	}
	r->nopen++;
	*reused = 0;
	pthread_mutex_unlock(&r->lock);
	c = redis_connect(r, err, sizeof err);
	pthread_mutex_lock(&r->lock);
	if (c == NULL) {
		r->nopen--;
		redis_failed(r, err);
	}
	pthread_mutex_unlock(&r->lock);
	return c;
}

/* redis_current - c is connected to the master the Sentinels name now;
 * lock held. */
static int
redis_current(const struct redis_store *r, const redisContext *c)
{
	return r->sn.known && c->tcp.host != NULL && c->tcp.port ==
	    r->sn.port && strcmp(c->tcp.host, r->sn.host) == 0;
}

/* tg_redis_put_conn - back to the pool when it worked, else closed */
void
tg_redis_put_conn(struct redis_store *r, redisContext *c, const char *err)
{
	pthread_mutex_lock(&r->lock);
	if (err == NULL && r->conf.nsentinels > 0 && !redis_current(r, c)) {
		/* It worked, on the master of before a switch: closed. */
		r->nopen--;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->lock);
		redisFree(c);
		return;
	}
	if (err != NULL && r->conf.nsentinels > 0)
		tg_redis_master_lost(r, err);
	if (err == NULL) {
		r->idle[r->nidle++] = c;
		r->backoff_ms = 0;
		if (r->down)
			tg_log_info("redis %s: back", r->conf.address);
		r->down = 0;
	} else {
		r->nopen--;
		redis_failed(r, err);
	}
	pthread_cond_signal(&r->cv);
	pthread_mutex_unlock(&r->lock);
	if (err != NULL)
		redisFree(c);
}

/* redis_stale - c, taken from the pool, was closed by the server (it
 * restarted, or dropped idle clients): worth one retry on a new
 * connection. A timeout is not: it already used the caller's time. */
static int
redis_stale(const redisContext *c, int reused)
{
	return reused && (c->err == REDIS_ERR_EOF || (c->err == REDIS_ERR_IO &&
	    strstr(c->errstr, "temporarily") == NULL));
}

/* redis_drop_idle - c, from the pool, was closed by the server: so were
 * the other idle ones (it restarted), which a retry must not take.
 * Closing a socket is quick enough to do under the lock. */
static void
redis_drop_idle(struct redis_store *r, redisContext *c)
{
	pthread_mutex_lock(&r->lock);
	r->nopen--;
	while (r->nidle > 0) {
		redisFree(r->idle[--r->nidle]);
		r->nopen--;
	}
	pthread_mutex_unlock(&r->lock);
	redisFree(c);
}

int
tg_redis_eval(struct redis_store *r, int script, size_t nkeys,
    const char *const *keys, size_t nargs, const char *const *args,
    redisReply **out)
{
	size_t argc = 3 + nkeys + nargs, plen = strlen(r->conf.prefix);
	const char **argv = tg_xcalloc(argc, sizeof *argv);
	size_t *argvlen = tg_xcalloc(argc, sizeof *argvlen);
	char sha[64], n[24], err[256], **pk = tg_xcalloc(nkeys + 1,
	    sizeof *pk);
	redisContext *c;
	redisReply *rep;
	int rc = TG_ERR_RETRY, reused, tries = 0;
	uint64_t t0 = tg_metrics_now();

	*out = NULL;
	snprintf(n, sizeof n, "%zu", nkeys);
	argv[2] = n;
	for (size_t i = 0; i < nkeys; i++) {
		size_t kl = strlen(keys[i]);

		pk[i] = tg_xmalloc(plen + kl + 1);
		memcpy(pk[i], r->conf.prefix, plen);
		memcpy(pk[i] + plen, keys[i], kl + 1);
		argv[3 + i] = pk[i];
	}
	for (size_t i = 0; i < nargs; i++)
		argv[3 + nkeys + i] = args[i];
	for (size_t i = 2; i < argc; i++)
		argvlen[i] = strlen(argv[i]);
again:
	if ((c = tg_redis_get_conn(r, &reused)) == NULL)
		goto done;
	pthread_mutex_lock(&r->lock);
	tg_strlcpy(sha, r->sha[script], sizeof sha);
	pthread_mutex_unlock(&r->lock);
	argv[0] = "EVALSHA";
	argv[1] = sha;
	argvlen[0] = 7;
	argvlen[1] = strlen(sha);
	rep = redisCommandArgv(c, (int)argc, argv, argvlen);
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		/* The server lost its scripts (SCRIPT FLUSH): send it. */
		freeReplyObject(rep);
		argv[0] = "EVAL";
		argv[1] = redis_scripts[script];
		argvlen[0] = 4;
		argvlen[1] = strlen(argv[1]);
		rep = redisCommandArgv(c, (int)argc, argv, argvlen);
	}
	if (rep == NULL && redis_stale(c, reused) && tries++ == 0) {
		redis_drop_idle(r, c);
		goto again;
	}
	if (rep == NULL)
		snprintf(err, sizeof err, "%s", c->err ? c->errstr :
		    "no reply");
	else if (rep->type == REDIS_REPLY_ERROR)
		snprintf(err, sizeof err, "%s", rep->str);
	else
		rc = TG_OK;
	/* An error reply leaves the connection usable, but a script error
	 * means the server is not what we expect: treat all alike. */
	tg_redis_put_conn(r, c, rc == TG_OK ? NULL : err);
	if (rc == TG_OK)
		*out = rep;
	else
		freeReplyObject(rep);
done:
	tg_metrics_latency(TG_M_LAT_REDIS, t0);
	for (size_t i = 0; i < nkeys; i++)
		free(pk[i]);
	free(pk);
	free(argv);
	free(argvlen);
	return rc;
}

/* redis_eval - run the counter script once; out gets {value, slot,
 * added}. */
static int
redis_eval(struct redis_store *r, const char *key, int64_t window_ms,
    const char *op, int64_t delta, int64_t max, int64_t slot, int64_t out[3])
{
	char a[4][24];
	const char *args[5] = { a[0], op, a[1], a[2], a[3] };
	redisReply *rep;
	int rc;

	snprintf(a[0], sizeof a[0], "%lld", (long long)window_ms);
	snprintf(a[1], sizeof a[1], "%lld", (long long)delta);
	snprintf(a[2], sizeof a[2], "%lld", (long long)max);
	snprintf(a[3], sizeof a[3], "%lld", (long long)slot);
	if ((rc = tg_redis_eval(r, REDIS_SCRIPT_COUNTER, 1, &key, 5, args,
	    &rep)) != TG_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
		tg_log_err("redis %s: unexpected reply to the counter script",
		    r->conf.address);
		rc = TG_ERR_RETRY;
	} else
		for (int i = 0; i < 3; i++)
			out[i] = rep->element[i]->type == REDIS_REPLY_INTEGER ?
			    rep->element[i]->integer : 0;
	freeReplyObject(rep);
	return rc;
}

static int
redis_add(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t max, int64_t *value, int64_t *slot)
{
	int64_t out[3];
	int rc;

	if ((rc = redis_eval((struct redis_store *)st, key, window_ms, "add",
	    delta, max, 0, out)) != TG_OK)
		return rc;
	*value = out[0];
	*slot = out[1];
	return out[2] != 0;
}

static int
redis_get(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t *value)
{
	int64_t out[3];
	int rc;

	if ((rc = redis_eval((struct redis_store *)st, key, window_ms, "get",
	    0, -1, 0, out)) != TG_OK)
		return rc;
	*value = out[0];
	return TG_OK;
}

static int
redis_release(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t delta, int64_t slot)
{
	int64_t out[3];

	return redis_eval((struct redis_store *)st, key, window_ms, "release",
	    delta, -1, slot, out);
}

static int
redis_reset(struct tg_store *st, const char *key)
{
	struct redis_store *r = (struct redis_store *)st;
	redisContext *c;
	redisReply *rep;
	char err[256];
	int ok, reused;

	if ((c = tg_redis_get_conn(r, &reused)) == NULL)
		return TG_ERR_RETRY;
	rep = redisCommand(c, "DEL %s%s", r->conf.prefix, key);
	ok = redis_ok_reply(rep, "DEL", err, sizeof err);
	freeReplyObject(rep);
	tg_redis_put_conn(r, c, ok ? NULL : err);
	return ok ? TG_OK : TG_ERR_RETRY;
}

static void
redis_free(struct tg_store *st)
{
	struct redis_store *r = (struct redis_store *)st;

	tg_redis_watch_stop(r);
	for (int i = 0; i < r->nidle; i++)
		redisFree(r->idle[i]);
	free(r->idle);
	for (int i = 0; i < r->conf.nsentinels; i++)
		free(r->conf.sentinels[i]);
	free(r->conf.master_name);
	free(r->conf.sentinel_password);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cv);
	free(r->conf.address);
	free(r->conf.user);
	free(r->conf.password);
	free(r->conf.prefix);
	free(r->base.spec);
	free(r);
}

static const struct tg_store_ops redis_ops = {
	"redis", redis_add, redis_get, redis_release, redis_reset, redis_free,
};

/* redis_address - split "host:port", "[v6]:port" or "unix:/path" */
static void
redis_address(struct redis_store *r)
{
	const char *a = r->conf.address, *colon;
	size_t n;

	r->port = 6379;
	if (strncmp(a, "unix:", 5) == 0) {
		r->unixpath = a + 5;
		return;
	}
	if (a[0] == '[' && (colon = strchr(a, ']')) != NULL) {
		n = (size_t)(colon - a - 1);
		snprintf(r->host, sizeof r->host, "%.*s", (int)n, a + 1);
		if (colon[1] == ':')
			r->port = atoi(colon + 2);
		return;
	}
	if ((colon = strrchr(a, ':')) != NULL) {
		snprintf(r->host, sizeof r->host, "%.*s", (int)(colon - a), a);
		r->port = atoi(colon + 1);
	} else
		tg_strlcpy(r->host, a, sizeof r->host);
}

struct tg_store *
tg_store_redis_new(const struct tg_redis_conf *c)
{
	struct redis_store *r = tg_xcalloc(1, sizeof *r);

	r->base.ops = &redis_ops;
	r->base.grey = &tg_redis_grey_ops;
	r->base.spec = tg_xstrdup("redis");
	if (c->nsentinels > 0 && c->master_name != NULL) {
		/* Named in log lines as the master, wherever it is. */
		r->conf.address = tg_xasprintf("sentinel:%s", c->master_name);
		r->conf.nsentinels = c->nsentinels;
		for (int i = 0; i < c->nsentinels; i++)
			r->conf.sentinels[i] = tg_xstrdup(c->sentinels[i]);
		r->conf.master_name = tg_xstrdup(c->master_name);
		r->conf.sentinel_password = c->sentinel_password != NULL ?
		    tg_xstrdup(c->sentinel_password) : NULL;
		tg_sentinel_init(&r->sn, c->nsentinels);
	} else
		r->conf.address = tg_xstrdup(c->address != NULL ?
		    c->address : "127.0.0.1:6379");
	r->conf.user = c->user != NULL ? tg_xstrdup(c->user) : NULL;
	r->conf.password = c->password != NULL ? tg_xstrdup(c->password) :
	    NULL;
	r->conf.database = c->database;
	r->conf.prefix = tg_xstrdup(c->prefix != NULL ? c->prefix : "tg:");
	r->conf.timeout_ms = c->timeout_ms > 0 ? c->timeout_ms : 250;
	r->conf.connections = c->connections > 0 ? c->connections : 8;
	r->idle = tg_xcalloc((size_t)r->conf.connections, sizeof *r->idle);
	if (r->conf.nsentinels == 0)
		redis_address(r);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cv, NULL);
	return &r->base;
}
