/* store.c - the process-wide registry of counter stores. Policies name a
 * store; the store itself outlives every policy snapshot, so reloading the
 * policy never resets a counter. Owns: the stores. Threads: the registry
 * is guarded by a mutex, taken only while a policy is loaded. */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tg.h"
#include "tg_store.h"

static pthread_mutex_t store_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_store *store_list;
/* tollgate-test: every store a policy names is the process's memory
 * store, so that a test neither reads nor changes shared counters. */
static int store_private;
static unsigned store_substituted;

void
tg_store_set_private(int on)
{
	store_private = on;
}

unsigned
tg_store_private_count(void)
{
	return store_substituted;
}

/* store_find - a registered store by spec; store_lock held */
static struct tg_store *
store_find(const char *spec)
{
	for (struct tg_store *s = store_list; s != NULL; s = s->next)
		if (strcmp(s->spec, spec) == 0)
			return s;
	return NULL;
}

struct tg_store *
tg_store_memory(void)
{
	struct tg_store *s;

	pthread_mutex_lock(&store_lock);
	if ((s = store_find("memory")) == NULL) {
		s = tg_store_mem_new();
		s->next = store_list;
		store_list = s;
	}
	pthread_mutex_unlock(&store_lock);
	return s;
}

struct tg_store *
tg_store_memory_grey(void)
{
	struct tg_store *s;

	pthread_mutex_lock(&store_lock);
	if ((s = store_find("memory-greylist")) == NULL) {
		s = tg_store_mem_new_grey();
		s->next = store_list;
		store_list = s;
	}
	pthread_mutex_unlock(&store_lock);
	return s;
}

struct tg_store *
tg_store_memory_grey_found(void)
{
	struct tg_store *s;

	pthread_mutex_lock(&store_lock);
	s = store_find("memory-greylist");
	pthread_mutex_unlock(&store_lock);
	return s;
}

struct tg_store *
tg_store_redis(const struct tg_redis_conf *c, const char **why)
{
	struct tg_store *s;
	char *spec;

	if (store_private) {
		store_substituted++;
		return tg_store_memory();
	}
	if (!tg_store_redis_available()) {
		*why = "tollgate was built without hiredis "
		    "(configure --with-redis)";
		return NULL;
	}
	/* Every setting is in the spec: a changed setting is a new store
	 * (the old one stays registered, idle, until exit). */
	spec = tg_xasprintf("redis:%s|%s|%s|%d|%s|%d|%d|%s|%s", c->address
	    != NULL ? c->address : "", c->user != NULL ? c->user : "",
	    c->password != NULL ? c->password : "", c->database, c->prefix !=
	    NULL ? c->prefix : "", c->timeout_ms, c->connections,
	    c->master_name != NULL ? c->master_name : "",
	    c->sentinel_password != NULL ? c->sentinel_password : "");
	for (int i = 0; i < c->nsentinels; i++) {
		char *t = tg_xasprintf("%s|%s", spec, c->sentinels[i]);

		free(spec);
		spec = t;
	}
	pthread_mutex_lock(&store_lock);
	if ((s = store_find(spec)) == NULL) {
		s = tg_store_redis_new(c);
		free(s->spec);
		s->spec = spec;
		spec = NULL;
		s->next = store_list;
		store_list = s;
	}
	pthread_mutex_unlock(&store_lock);
	free(spec);
	return s;
}

void
tg_store_shutdown(void)
{
	struct tg_store *s, *next;

	pthread_mutex_lock(&store_lock);
	for (s = store_list; s != NULL; s = next) {
		next = s->next;
		s->ops->free(s);
	}
	store_list = NULL;
	pthread_mutex_unlock(&store_lock);
}
