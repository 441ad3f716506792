/* store_redis_none.c - stands in for store_redis.c in builds without
 * hiredis: a policy naming a redis store is then a configuration error
 * that says so. Threads: nothing shared. */
#include "config.h"

#include <stddef.h>

#include "tg_store.h"

int
tg_store_redis_available(void)
{
	return 0;
}

struct tg_store *
tg_store_redis_new(const struct tg_redis_conf *c)
{
	(void)c;
	return NULL;
}
