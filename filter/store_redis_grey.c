/* store_redis_grey.c - greylisting records in Redis, shared by every MX
 * that points at the same server: a check (the client's auto-allow entry,
 * every triplet of it, the passes counted) is one EVALSHA of the script
 * below, atomic in the server and timed by the server's clock, so a
 * retry that lands on another MX passes there, and MXs with skewed clocks
 * agree. The decisions are those of store_mem_grey.c: change both
 * together. A record is a hash (s: state, f: first attempt in ms, n:
 * passes) that expires by itself (PEXPIRE). Owns: nothing beyond
 * store_redis.c's pool. Threads: as store_redis.c. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_store.h"
#include "store_redis_impl.h"

#define REDIS_SCAN_COUNT	"500"

/* KEYS[1] the client's auto-allow entry (unused when ARGV[5], the passes
 * it needs, is 0), KEYS[2..] the triplets. ARGV[1] the operation:
 *   check delay window expire allow_n allow_ms
 *     -> {1} when the client is allowed, else {0, res, wait, ...} per
 *        triplet (res: 0 new, 1 early, 2 retried, 3 known)
 *   get -> {state, first, pttl, n, now} of KEYS[1] (state 0: none)
 *   set state ttl -> KEYS[1] made state for ttl ms
 * States: 1 pending, 2 passed, 3 counting passes, 4 allowed. */
const char tg_redis_grey_script[] =
"local t = redis.call('TIME')\n"
"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
"local nows = string.format('%.0f', now)\n"
"local op = ARGV[1]\n"
"if op == 'get' then\n"
"  local r = redis.call('HMGET', KEYS[1], 's', 'f', 'n')\n"
"  return {tonumber(r[1]) or 0, tonumber(r[2]) or 0,\n"
"    redis.call('PTTL', KEYS[1]), tonumber(r[3]) or 0, now}\n"
"end\n"
"if op == 'set' then\n"
"  redis.call('HSETNX', KEYS[1], 'f', nows)\n"
"  redis.call('HSET', KEYS[1], 's', ARGV[2])\n"
"  redis.call('PEXPIRE', KEYS[1], ARGV[3])\n"
"  return {1}\n"
"end\n"
"local delay, win, exp = tonumber(ARGV[2]), tonumber(ARGV[3]),\n"
"  tonumber(ARGV[4])\n"
"local an, ams, ak = tonumber(ARGV[5]), tonumber(ARGV[6]), KEYS[1]\n"
"if an > 0 and redis.call('HGET', ak, 's') == '4' then\n"
"  redis.call('PEXPIRE', ak, ams)\n"
"  return {1}\n"
"end\n"
"local out, passes = {0}, 0\n"
"for i = 2, #KEYS do\n"
"  local k = KEYS[i]\n"
"  local r = redis.call('HMGET', k, 's', 'f')\n"
"  local f, res, wait = tonumber(r[2]), 0, delay\n"
"  if r[1] == '2' then\n"
"    redis.call('PEXPIRE', k, exp)\n"
"    res, wait = 3, 0\n"
"  elseif r[1] == '1' and f and now - f >= 0 and now - f <= win then\n"
"    if now - f < delay then\n"
"      res, wait = 1, delay - (now - f)\n"
"    else\n"
"      redis.call('HSET', k, 's', '2')\n"
"      redis.call('PEXPIRE', k, exp)\n"
"      res, wait, passes = 2, 0, passes + 1\n"
"    end\n"
"  else\n"
"    redis.call('HSET', k, 's', '1', 'f', nows)\n"
"    redis.call('PEXPIRE', k, win)\n"
"  end\n"
"  out[#out + 1] = res\n"
"  out[#out + 1] = wait\n"
"end\n"
"if an > 0 and passes > 0 then\n"
"  local s = redis.call('HGET', ak, 's')\n"
"  if s ~= '3' and s ~= '4' then\n"
"    redis.call('DEL', ak)\n"
"    redis.call('HSET', ak, 's', '3', 'f', nows, 'n', '0')\n"
"  end\n"
"  if s ~= '4' and redis.call('HINCRBY', ak, 'n', passes) >= an then\n"
"    redis.call('HSET', ak, 's', '4')\n"
"    s = '4'\n"
"  end\n"
"  redis.call('PEXPIRE', ak, s == '4' and ams or exp)\n"
"end\n"
"return out\n";

static long long
rg_int(const redisReply *r)
{
	return r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
}

static int
rg_check(struct tg_store *st, const struct tg_grey_req *req, int *allowed,
    struct tg_grey_out *out)
{
	struct redis_store *r = (struct redis_store *)st;
	const char **keys = tg_xcalloc(req->nkeys + 1, sizeof *keys);
	char a[5][24];
	const char *args[6] = { "check", a[0], a[1], a[2], a[3], a[4] };
	redisReply *rep;
	int rc;

	*allowed = 0;
	if (req->nkeys == 0) {
		free(keys);
		return TG_OK;
	}
	/* Without auto-allow KEYS[1] is never touched: the first triplet
	 * stands in, so that no key outside the check is named. */
	keys[0] = req->allow_key != NULL ? req->allow_key : req->keys[0];
	for (size_t i = 0; i < req->nkeys; i++)
		keys[i + 1] = req->keys[i];
	snprintf(a[0], sizeof a[0], "%lld", (long long)req->delay_ms);
	snprintf(a[1], sizeof a[1], "%lld", (long long)req->window_ms);
	snprintf(a[2], sizeof a[2], "%lld", (long long)req->expire_ms);
	snprintf(a[3], sizeof a[3], "%lld", req->allow_key != NULL ?
	    (long long)req->allow_n : 0LL);
	snprintf(a[4], sizeof a[4], "%lld", (long long)req->allow_ms);
	rc = tg_redis_eval(r, REDIS_SCRIPT_GREY, req->nkeys + 1, keys, 6,
	    args, &rep);
	free(keys);
	if (rc != TG_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
		rc = TG_ERR_RETRY;
	else if (rg_int(rep->element[0]) == 1)
		*allowed = 1;
	else if (rep->elements != 1 + 2 * req->nkeys)
		rc = TG_ERR_RETRY;
	else
		for (size_t i = 0; i < req->nkeys; i++) {
			long long res = rg_int(rep->element[1 + 2 * i]);

			out[i].res = res >= TG_GREY_NEW && res <=
			    TG_GREY_KNOWN ? (enum tg_grey_res)res : TG_GREY_NEW;
			out[i].wait_ms = rg_int(rep->element[2 + 2 * i]);
		}
	if (rc != TG_OK)
		tg_log_err("redis %s: unexpected reply to the greylist script",
		    r->conf.address);
	freeReplyObject(rep);
	return rc;
}

static int
rg_get(struct tg_store *st, const char *key, struct tg_store_rec *rec,
    int64_t *now)
{
	struct redis_store *r = (struct redis_store *)st;
	const char *args[1] = { "get" };
	redisReply *rep;
	int rc;

	memset(rec, 0, sizeof *rec);
	if ((rc = tg_redis_eval(r, REDIS_SCRIPT_GREY, 1, &key, 1, args,
	    &rep)) != TG_OK)
		return rc;
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 5)
		rc = TG_ERR_RETRY;
	else {
		*now = rg_int(rep->element[4]);
		rec->state = rg_int(rep->element[0]);
		rec->since = rg_int(rep->element[1]);
		rec->expires = *now + rg_int(rep->element[2]);
		rec->n = rg_int(rep->element[3]);
		if (rg_int(rep->element[2]) < 0)	/* no key, no expiry */
			rec->state = TG_GREY_NONE;
	}
	freeReplyObject(rep);
	return rc;
}

static int
rg_set(struct tg_store *st, const char *key, int64_t state, int64_t ttl_ms)
{
	struct redis_store *r = (struct redis_store *)st;
	char a[2][24];
	const char *args[3] = { "set", a[0], a[1] };
	redisReply *rep;
	int rc;

	snprintf(a[0], sizeof a[0], "%lld", (long long)state);
	snprintf(a[1], sizeof a[1], "%lld", (long long)ttl_ms);
	if ((rc = tg_redis_eval(r, REDIS_SCRIPT_GREY, 1, &key, 3, args,
	    &rep)) == TG_OK)
		freeReplyObject(rep);
	return rc;
}

/* rg_glob_put - s with the glob characters of SCAN MATCH escaped, at o */
static char *
rg_glob_put(char *o, const char *s)
{
	for (; *s != '\0'; s++) {
		if (strchr("*?[]\\", *s) != NULL)
			*o++ = '\\';
		*o++ = *s;
	}
	return o;
}

/* rg_glob - the pattern of the keys that start with a then b */
static char *
rg_glob(const char *a, const char *b)
{
	char *g = tg_xmalloc(2 * (strlen(a) + strlen(b)) + 2), *o;

	o = rg_glob_put(rg_glob_put(g, a), b);
	*o++ = '*';
	*o = '\0';
	return g;
}

static int
rg_list(struct tg_store *st, const char *prefix, size_t max,
    int (*fn)(const char *, const struct tg_store_rec *, int64_t, void *),
    void *arg)
{
	struct redis_store *r = (struct redis_store *)st;
	size_t plen = strlen(r->conf.prefix), seen = 0;
	char cursor[32] = "0", *match = rg_glob(r->conf.prefix, prefix);
	struct tg_store_rec rec;
	redisContext *c;
	redisReply *rep;
	int64_t now;
	int reused, stop = 0;

	do {
		if ((c = tg_redis_get_conn(r, &reused)) == NULL)
			goto fail;
		rep = redisCommand(c, "SCAN %s MATCH %s COUNT %s", cursor,
		    match, REDIS_SCAN_COUNT);
		if (rep == NULL || rep->type != REDIS_REPLY_ARRAY ||
		    rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			tg_redis_put_conn(r, c, "SCAN failed");
			freeReplyObject(rep);
			goto fail;
		}
		/* The connection goes back before each key is read, which
		 * takes one from the pool itself. */
		tg_redis_put_conn(r, c, NULL);
		tg_strlcpy(cursor, rep->element[0]->str, sizeof cursor);
		for (size_t i = 0; i < rep->element[1]->elements && !stop;
		    i++) {
			const redisReply *k = rep->element[1]->element[i];

			if (k->type != REDIS_REPLY_STRING || k->len <= plen)
				continue;
			if (rg_get(st, k->str + plen, &rec, &now) < 0) {
				freeReplyObject(rep);
				goto fail;
			}
			if (rec.state == TG_GREY_NONE)
				continue;	/* gone meanwhile */
			stop = ++seen > max || fn(k->str + plen, &rec, now,
			    arg) < 0;
		}
		freeReplyObject(rep);
	} while (!stop && strcmp(cursor, "0") != 0);
	free(match);
	return TG_OK;
fail:
	free(match);
	return TG_ERR_RETRY;
}

const struct tg_grey_ops tg_redis_grey_ops = {
	rg_check, rg_get, rg_set, rg_list,
};
