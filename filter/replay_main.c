/* replay_main.c - tollgate-test: replay SMTP sessions described in
 * session files against a policy, loaded exactly as the daemon loads it,
 * and check the files' expectations (tollgate-test(8)). Nothing is sent
 * anywhere but DNS queries to the policy's resolver, and not even those
 * with -z or a "dns" line: rate limits count in a private memory store,
 * no counter snapshot is read or written, no MTA is involved.
 * Exit: 0 when every expectation holds, 1 when one does not (or, with -u,
 * a rule never matched), 2 for errors in the files, the policy or the
 * command line. Owns: the session files and policies of the run.
 * Threads: single-threaded (libunbound has its own thread). */
#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_dns.h"
#include "tg_log.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_store.h"
#include "replay.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define MAIN_DEFAULT_CONF	SYSCONFDIR "/tollgate/tollgate.conf"

struct main_policy {
	char			*path;
	struct tg_policy	*p;
};

static void
main_usage(FILE *fp)
{
	fprintf(fp,
"usage: tollgate-test [-dDhnqSuvVx] [-c policy] [-z records] file|dir ...\n"
"       tollgate-test -l [-c policy] [file|dir ...]\n"
"  -c policy   the policy to test (default: the session file's policy\n"
"              line, else " MAIN_DEFAULT_CONF ")\n"
"  -D          global dry run, as tollgate -D\n"
"  -d          the daemon's debug log lines too\n"
"  -h          this help\n"
"  -l          list the policy's rules (file:line: stage name) and exit\n"
"  -n          only check the session files and the policy\n"
"  -q          only the reply and verdict of each step\n"
"  -S          the stores the policy names (Redis), not a private one\n"
"  -u          list the rules that no session made match; exit 1 if any\n"
"  -v          trace every rule tried and the values that decided it\n"
"  -V          print the version and exit\n"
"  -x          stop after the first step whose expectation fails\n"
"  -z records  answer DNS from this file of records, ask no server\n"
"              (default: the session file's dns line, else the policy's\n"
"              resolver)\n"
"A directory stands for its *.session files. Exit 0: every expectation\n"
"holds; 1: one does not; 2: an error in a file or the policy.\n");
}

/* main_diag - print and clear diagnostics; 1 when there were errors */
static int
main_diag(struct tg_diag *d)
{
	int bad = d->errors > 0;

	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "%s\n", d->msgs[i]);
	tg_diag_free(d);
	tg_diag_init(d);
	return bad;
}

static int
main_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* main_expand - the arguments, a directory standing for its *.session
 * files in name order; NULL after an error */
static char **
main_expand(int argc, char **argv, size_t *n)
{
	char **out = NULL;
	struct stat sb;

	*n = 0;
	for (int i = 0; i < argc; i++) {
		struct dirent *de;
		size_t first = *n, dl;
		DIR *dir;

		if (stat(argv[i], &sb) != 0 || !S_ISDIR(sb.st_mode)) {
			out = tg_xrealloc(out, (*n + 1) * sizeof *out);
			out[(*n)++] = tg_xstrdup(argv[i]);
			continue;
		}
		/* "dir/" names its files "dir/x.session", not "dir//x". */
		for (dl = strlen(argv[i]); dl > 1 && argv[i][dl - 1] == '/';)
			dl--;
		if ((dir = opendir(argv[i])) == NULL) {
			fprintf(stderr, "%s: cannot read the directory\n",
			    argv[i]);
			continue;
		}
		while ((de = readdir(dir)) != NULL) {
			size_t l = strlen(de->d_name);

			if (l < 9 || strcmp(de->d_name + l - 8, ".session") != 0)
				continue;
			out = tg_xrealloc(out, (*n + 1) * sizeof *out);
			out[(*n)++] = tg_xasprintf("%.*s/%s", (int)dl, argv[i],
			    de->d_name);
		}
		closedir(dir);
		if (*n == first)
			fprintf(stderr, "%s: no *.session file\n", argv[i]);
		qsort(out + first, *n - first, sizeof *out, main_cmp);
	}
	return out;
}

/* main_policy - the policy at path, loaded once per run */
static struct tg_policy *
main_policy(struct main_policy **pols, size_t *npols, const char *path,
    struct tg_diag *diag)
{
	struct tg_policy *p;

	for (size_t i = 0; i < *npols; i++)
		if (strcmp((*pols)[i].path, path) == 0)
			return (*pols)[i].p;
	if ((p = tg_policy_load(path, diag)) != NULL && diag->errors > 0) {
		tg_policy_unref(p);
		p = NULL;
	}
	if (p == NULL && diag->errors == 0)
		tg_diag_error(diag, path, 0, 0, "policy not loaded");
	*pols = tg_xrealloc(*pols, (*npols + 1) * sizeof **pols);
	(*pols)[*npols].path = tg_xstrdup(path);
	(*pols)[(*npols)++].p = p;
	return p;
}

/* main_list - -l: every rule, where it is written */
static void
main_list(const struct tg_policy *p)
{
	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++)
			printf("%s:%d: %s %s\n", p->rules[st][i].file,
			    p->rules[st][i].line, tg_stage_name(st),
			    p->rules[st][i].name);
}

/* main_unmatched - -u: the rules of p no session made match; their
 * number */
static unsigned
main_unmatched(const struct main_policy *mp)
{
	const struct tg_policy *p = mp->p;
	unsigned *hits = replay_rule_hits(p), n = 0;
	size_t k = 0;

	for (int st = 0; st < TG_STAGE_COUNT; st++)
		for (size_t i = 0; i < p->nrules[st]; i++, k++) {
			const struct tg_rule *r = &p->rules[st][i];

			if (hits[k] > 0)
				continue;
			printf("%s:%d: rule %s (stage %s) never matched\n",
			    r->file != NULL ? r->file : mp->path, r->line,
			    r->name, tg_stage_name(st));
			n++;
		}
	free(hits);
	return n;
}

int
main(int argc, char **argv)
{
	struct replay_opts o = { 0, 0, 0, stdout };
	struct replay_result res = { 0, 0, 0, 0 };
	struct replay_file **files;
	struct main_policy *pols = NULL;
	struct tg_diag diag;
	const char *conf = NULL, *records = NULL, *dns = NULL;
	int ch, check_only = 0, unmatched = 0, shared = 0, debug = 0;
	int list = 0;
	int bad = 0, rc;
	char **paths;
	size_t npaths, npols = 0;
	unsigned never = 0;

	while ((ch = getopt(argc, argv, "c:DdhlnqSuvVxz:")) != -1) {
		switch (ch) {
		case 'c':
			conf = optarg;
			break;
		case 'D':
			tg_ops_force_dry_run(1);
			break;
		case 'd':
			debug = 1;
			break;
		case 'h':
			main_usage(stdout);
			return 0;
		case 'l':
			list = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'S':
			shared = 1;
			break;
		case 'u':
			unmatched = 1;
			break;
		case 'v':
			o.verbose = 1;
			break;
		case 'V':
			printf("tollgate-test %s\n", PACKAGE_VERSION);
			return 0;
		case 'x':
			o.stop = 1;
			break;
		case 'z':
			records = optarg;
			break;
		default:
			main_usage(stderr);
			return 2;
		}
	}
	if (optind == argc && !(list && conf != NULL)) {
		main_usage(stderr);
		return 2;
	}
	tg_log_open("tollgate-test", 1, 0);
	tg_log_set_debug(debug);
	/* Before any policy names a store: nothing shared is counted. */
	tg_store_set_private(!shared);
	tg_diag_init(&diag);
	paths = main_expand(argc - optind, argv + optind, &npaths);
	files = tg_xcalloc(npaths > 0 ? npaths : 1, sizeof *files);
	for (size_t i = 0; i < npaths; i++) {
		files[i] = replay_parse(paths[i], &diag);
		bad |= main_diag(&diag);
		if (files[i] == NULL || records != NULL ||
		    files[i]->dns == NULL)
			continue;
		/* One records file serves the whole run. */
		if (dns != NULL && strcmp(dns, files[i]->dns) != 0) {
			fprintf(stderr, "%s:%d: error: dns \"%s\": another "
			    "records file than %s in the same run (run them "
			    "apart, or give -z)\n", paths[i],
			    files[i]->dns_line, files[i]->dns, dns);
			bad = 1;
		}
		dns = files[i]->dns;
	}
	if (records != NULL)
		dns = records;
	if (!bad && dns != NULL && tg_dns_local_load(dns, &diag) < 0)
		bad = 1;
	bad |= main_diag(&diag);
	for (size_t i = 0; !bad && i < npaths; i++) {
		const char *pp = conf != NULL ? conf : files[i]->policy != NULL ?
		    files[i]->policy : MAIN_DEFAULT_CONF;

		if (main_policy(&pols, &npols, pp, &diag) == NULL)
			bad = 1;
		bad |= main_diag(&diag);
	}
	if (list && conf != NULL && npaths == 0 &&
	    main_policy(&pols, &npols, conf, &diag) == NULL)
		bad = 1;
	bad |= main_diag(&diag);
	if (list && !bad) {
		for (size_t i = 0; i < npols; i++)
			main_list(pols[i].p);
		check_only = 1;
	} else if (npaths == 0)
		bad = 1;
	for (size_t i = 0; !bad && !check_only && i < npaths; i++) {
		const char *pp = conf != NULL ? conf : files[i]->policy != NULL ?
		    files[i]->policy : MAIN_DEFAULT_CONF;

		replay_run_file(files[i], main_policy(&pols, &npols, pp, &diag),
		    &o, &res);
		if (o.stop && res.failed > 0)
			break;
	}
	if (!bad && !check_only && !o.quiet)
		printf("%u session%s, %u step%s, %u expectation%s, %u "
		    "failed\n", res.sessions, res.sessions == 1 ? "" : "s",
		    res.steps, res.steps == 1 ? "" : "s", res.expects,
		    res.expects == 1 ? "" : "s", res.failed);
	for (size_t i = 0; !bad && !check_only && unmatched && i < npols; i++)
		never += main_unmatched(&pols[i]);
	rc = bad ? 2 : res.failed > 0 || never > 0 ? 1 : 0;
	for (size_t i = 0; i < npaths; i++) {
		replay_file_free(files[i]);
		free(paths[i]);
	}
	free(files);
	free(paths);
	for (size_t i = 0; i < npols; i++) {
		if (pols[i].p != NULL)
			tg_policy_unref(pols[i].p);
		free(pols[i].path);
	}
	free(pols);
	tg_dns_local_clear();
	tg_store_shutdown();
	return rc;
}
