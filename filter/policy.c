/* policy.c - policy snapshots: reference counting, freeing, and the one
 * published snapshot that new sessions pin.
 * Owns: everything reachable from a struct tg_policy. Threads: the
 * published pointer is guarded by a mutex held only for "read pointer and
 * take a reference"; references are atomic, so evaluation takes no lock. */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stdlib.h>

#include "tg.h"
#include "tg_auth.h"
#include "tg_dkim.h"
#include "tg_check.h"
#include "tg_grey.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_rate.h"

static pthread_mutex_t policy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tg_policy *policy_published;
static unsigned policy_generation;

static void
policy_free_set(struct tg_set *set)
{
	if (set == NULL)
		return;
	for (size_t i = 0; i < set->nstr; i++)
		free(set->str[i]);
	free(set->str);
	free(set->net);
	free(set->prefix);
	free(set);
}

static void
policy_free_expr(struct tg_expr *e)
{
	if (e == NULL)
		return;
	policy_free_expr(e->left);
	policy_free_expr(e->right);
	free(e->param);
	free(e->str);
	policy_free_set(e->set);
	if (e->re != NULL)
		pcre2_code_free(e->re);
	free(e);
}

static void
policy_free_rule(struct tg_rule *r)
{
	free(r->name);
	policy_free_expr(r->cond);
	for (size_t i = 0; i < r->nactions; i++) {
		free(r->actions[i].text);
		free(r->actions[i].hname);
	}
	free(r->actions);
}

static void
policy_free(struct tg_policy *p)
{
	for (int s = 0; s < TG_STAGE_COUNT; s++) {
		for (size_t i = 0; i < p->nrules[s]; i++)
			policy_free_rule(&p->rules[s][i]);
		free(p->rules[s]);
	}
	for (size_t i = 0; i < p->ntables; i++)
		tg_table_free(p->tables[i]);
	policy_free_set(p->mime_hash_types);
	free(p->tables);
	for (size_t i = 0; i < p->nlimits; i++)
		tg_limit_free(p->limits[i]);
	free(p->limits);
	for (size_t i = 0; i < p->ngreylists; i++)
		tg_greylist_free(p->greylists[i]);
	free(p->greylists);
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i]);
	free(p->files);
	tg_dns_conf_free(p->dns);
	tg_dkim_conf_free(p->dkim);
	free(p->path);
	tg_auth_conf_free(p->auth);
	free(p->mem_snapshot);
	for (size_t i = 0; i < p->nhdr_names; i++)
		free(p->hdr_names[i]);
	free(p->hdr_names);
	free(p);
}

void
tg_policy_use(struct tg_policy *p, enum tg_attr a)
{
	p->attrs_used[a / 64] |= (uint64_t)1 << (a % 64);
}

size_t
tg_policy_header_name(struct tg_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nhdr_names; i++)
		if (tg_str_iequal(p->hdr_names[i], name))
			return i + 1;
	p->hdr_names = tg_xrealloc(p->hdr_names, (p->nhdr_names + 1) *
	    sizeof *p->hdr_names);
	p->hdr_names[p->nhdr_names++] = tg_xstrdup(name);
	return p->nhdr_names;
}

struct tg_policy *
tg_policy_ref(struct tg_policy *p)
{
	if (p != NULL)
		atomic_fetch_add(&p->refs, 1);
	return p;
}

void
tg_policy_unref(struct tg_policy *p)
{
	if (p != NULL && atomic_fetch_sub(&p->refs, 1) == 1)
		policy_free(p);
}

struct tg_policy *
tg_policy_current(void)
{
	struct tg_policy *p;

	pthread_mutex_lock(&policy_lock);
	p = tg_policy_ref(policy_published);
	pthread_mutex_unlock(&policy_lock);
	return p;
}

void
tg_policy_publish(struct tg_policy *p)
{
	struct tg_policy *old;

	/* Settings that are process-wide take effect here, never at
	 * load: log level, metrics, the memory store's cap. */
	tg_ops_publish(p);
	if (p != NULL)
		tg_rate_publish(p);
	pthread_mutex_lock(&policy_lock);
	if (p != NULL)
		p->generation = ++policy_generation;
	old = policy_published;
	policy_published = p;
	pthread_mutex_unlock(&policy_lock);
	/* Sessions still holding the old snapshot keep it alive. */
	tg_policy_unref(old);
}
