/* main.c - the tollgate daemon: options, policy check (-n), socket,
 * daemonizing, privilege drop, signal mask, then smfi_main. Everything that
 * can fail fatally fails here, before the first SMTP session.
 * Owns: the initial policy until it is published. Threads: runs before any
 * other thread starts, except smfi_main and the reload thread it starts. */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "tg.h"
#include "tg_diag.h"
#include "tg_log.h"
#include "tg_metrics.h"
#include "tg_ops.h"
#include "tg_policy.h"
#include "tg_store.h"
#include "milter.h"
#include "milter_guard.h"
#include "reload.h"
#include "control.h"
#include "tg_daemon.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/etc"
#endif
#define MAIN_DEFAULT_CONF	SYSCONFDIR "/tollgate/tollgate.conf"
#define MAIN_DEFAULT_SOCKET	"unix:/run/tollgate/tollgate.sock"
#define MAIN_DRAIN_S		30	/* wait for running callbacks */

struct main_opts {
	char		*socket;	/* libmilter connection spec */
	char		*conf;		/* NULL: built-in empty policy */
	int		 conf_given;	/* -c was used */
	char		*user;		/* -u USER[:GROUP] */
	char		*pidfile;
	int		 foreground;
	int		 check_only;
	int		 debug;
	char		*control;	/* -C: control socket path */
	int		 allow_root;	/* -R: may keep running as root */
	char		*metrics;	/* -M: listener for /metrics */
	int		 dry_run;	/* -D: log verdicts, enforce none */
};

static char *main_pidfile;	/* absolute; removed at exit */

static void
main_usage(FILE *fp)
{
	fprintf(fp,
"usage: tollgate [-DdfhnRV] [-C control] [-c config] [-M [host:]port]\n"
"                [-P pidfile] [-p socket] [-u user[:group]]\n"
"  -C control  control socket for tollgatectl (counters, metrics)\n"
"  -c config   policy file (default " MAIN_DEFAULT_CONF ")\n"
"  -D          dry run: log every verdict, enforce none\n"
"  -d          debug logging\n"
"  -f          stay in the foreground, log to stderr too\n"
"  -h          this help\n"
"  -M [host:]port  Prometheus metrics on http://host:port/metrics\n"
"              (host 127.0.0.1 when not given)\n"
"  -n          check the policy and exit: 0 valid, 1 with the errors\n"
"  -P pidfile  write the daemon's PID here (removed at exit)\n"
"  -R          allow running as root without -u (refused otherwise)\n"
"  -p socket   unix:/path, inet:port@host or inet6:port@host\n"
"              (default " MAIN_DEFAULT_SOCKET ");\n"
"              unix sockets are created mode 0660, a stale one is removed\n"
"  -u user[:group]  drop privileges after opening the socket (and the\n"
"              pidfile); the unix socket is chowned to user:group\n"
"  -V          print the version and exit\n"
"SIGHUP reloads the policy; a broken policy is logged and the old one kept.\n");
}

/* main_abspath - path made absolute, since the daemon chdirs to / */
static char *
main_abspath(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
		return tg_xstrdup(path);
	return tg_xasprintf("%s/%s", cwd, path);
}

/* main_socket_spec - check the -p form; unix paths made absolute */
static char *
main_socket_spec(const char *spec)
{
	const char *p;
	char *abs, *r;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if (*p == '\0')
			return NULL;
		if (*p == '/')
			return tg_xstrdup(spec);
		abs = main_abspath(p);
		r = tg_xasprintf("unix:%s", abs);
		free(abs);
		return r;
	}
	if (strncmp(spec, "inet:", 5) == 0 || strncmp(spec, "inet6:", 6) == 0)
		return tg_xstrdup(spec);
	if (spec[0] == '/')
		return tg_xasprintf("unix:%s", spec);
	return NULL;
}

static void
main_parse(int argc, char **argv, struct main_opts *o)
{
	int ch;

	memset(o, 0, sizeof *o);
	while ((ch = getopt(argc, argv, "C:c:DdfhM:nP:p:Ru:V")) != -1) {
		switch (ch) {
		case 'C':
			o->control = optarg;
			break;
		case 'c':
			o->conf = optarg;
			o->conf_given = 1;
			break;
		case 'D':
			o->dry_run = 1;
			break;
		case 'd':
			o->debug = 1;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'h':
			main_usage(stdout);
			exit(0);
		case 'M':
			o->metrics = optarg;
			break;
		case 'n':
			o->check_only = 1;
			break;
		case 'P':
			o->pidfile = optarg;
			break;
		case 'p':
			o->socket = optarg;
			break;
		case 'R':
			o->allow_root = 1;
			break;
		case 'u':
			o->user = optarg;
			break;
		case 'V':
			printf("tollgate %s\n", PACKAGE_VERSION);
			exit(0);
		default:
			main_usage(stderr);
			exit(2);
		}
	}
	if (optind != argc) {
		main_usage(stderr);
		exit(2);
	}
}

/* main_load - load the policy; NULL after printing every diagnostic */
static struct tg_policy *
main_load(const struct main_opts *o, int to_stderr)
{
	struct tg_diag diag;
	struct tg_policy *p;
	size_t i;

	tg_diag_init(&diag);
	if (o->conf == NULL)
		p = tg_policy_load_string("(built-in)", "", NULL, &diag);
	else
		p = tg_policy_load(o->conf, &diag);
	if (p == NULL || diag.errors > 0) {
		for (i = 0; i < diag.n; i++) {
			if (to_stderr)
				fprintf(stderr, "%s\n", diag.msgs[i]);
			else
				tg_log_err("%s", diag.msgs[i]);
		}
		if (diag.n == 0)
			fprintf(stderr, "%s: error: policy not loaded\n",
			    o->conf != NULL ? o->conf : "(built-in)");
		if (p != NULL)
			tg_policy_unref(p);
		p = NULL;
	}
	tg_diag_free(&diag);
	return p;
}

/* main_check - -n: exit 0 when the policy is valid, 1 otherwise */
static int
main_check(const struct main_opts *o)
{
	struct tg_policy *p;
	int rc;

	p = main_load(o, 1);
	rc = p != NULL ? 0 : 1;
	tg_policy_unref(p);
	tg_store_shutdown();
	return rc;
}

/* The -u user: resolved before the socket is made, which depends on it. */
struct main_ids {
	char	*user;		/* USER of USER[:GROUP] */
	uid_t	 uid;
	gid_t	 gid;
};

/* main_ids - resolve USER[:GROUP]; returns 0 or -1 */
static int
main_ids(const char *spec, struct main_ids *id)
{
	struct passwd *pw;
	struct group *gr;
	char *colon;

	id->user = tg_xstrdup(spec);
	if ((colon = strchr(id->user, ':')) != NULL)
		*colon++ = '\0';
	if ((pw = getpwnam(id->user)) == NULL) {
		tg_log_err("-u: unknown user \"%s\"", id->user);
		return -1;
	}
	id->uid = pw->pw_uid;
	id->gid = pw->pw_gid;
	if (colon != NULL && *colon != '\0') {
		if ((gr = getgrnam(colon)) == NULL) {
			tg_log_err("-u: unknown group \"%s\"", colon);
			return -1;
		}
		id->gid = gr->gr_gid;
	}
	return 0;
}

/* main_drop - give the unix socket (if any) to the -u user, drop to it
 * and verify it took; 0 or -1 */
static int
main_drop(const char *spec, const struct main_ids *id, int unixsock)
{
	uid_t uid = id->uid;
	gid_t gid = id->gid;

	/* The MTA reaches the socket through its group. Not by its path:
	 * tg_daemon_socket_chown() refuses a socket replaced since. */
	if (unixsock && tg_daemon_socket_chown(uid, gid) != 0)
		return -1;
	if (getuid() != uid || geteuid() != uid) {
		if (initgroups(id->user, gid) != 0) {
			tg_log_warn("initgroups %s", id->user);
			return -1;
		}
	}
	if (setgid(gid) != 0 || setuid(uid) != 0) {
		tg_log_warn("cannot change to %s", spec);
		return -1;
	}
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || (uid != 0 && setuid(0) == 0)) {
		tg_log_err("privileges not dropped to %s", spec);
		return -1;
	}
	return 0;
}

static void
main_pidfile_remove(void)
{
	if (main_pidfile != NULL)
		(void)unlink(main_pidfile);
}

/* main_write_pidfile - after the socket is open and we have our final
 * PID; path is absolute (made so before chdir /); 0 or -1 */
static int
main_write_pidfile(const char *path)
{
	if (tg_daemon_pidfile(path) != 0)
		return -1;
	main_pidfile = tg_xstrdup(path);
	atexit(main_pidfile_remove);
	return 0;
}

/* main_unix - the path of a unix socket spec, or NULL */
static const char *
main_unix(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0)
		return strchr(spec, ':') + 1;
	return NULL;
}

/* main_open_socket - register, open the socket (a unix one for the user
 * uid, pinned for main_drop); returns the unix path (or NULL for inet)
 * through *unixpath; 0 or -1 */
static int
main_open_socket(const char *spec, uid_t uid, const char **unixpath)
{
	const char *path = main_unix(spec);
	mode_t old;

	*unixpath = NULL;
	if (tg_milter_register() != 0)
		return -1;
	/* libmilter removes whatever is at the path: make sure it is not
	 * the socket of a tollgate that still serves. */
	if (path != NULL && tg_daemon_socket_live(path)) {
		tg_log_err("%s: another process is serving on this socket; "
		    "not starting", spec);
		return -1;
	}
	if (path != NULL && tg_daemon_socket_dir(path, uid) != 0)
		return -1;
	if (smfi_setconn((char *)spec) != MI_SUCCESS) {
		tg_log_err("smfi_setconn %s failed", spec);
		return -1;
	}
	/* 0660: the MTA's group may connect, nobody else. The mode comes
	 * from the umask at bind: the path is not touched again (a chmod
	 * would follow a symlink put there since). */
	old = umask(0117);
	if (smfi_opensocket(1) != MI_SUCCESS) {
		umask(old);
		tg_log_err("cannot open milter socket %s", spec);
		return -1;
	}
	umask(007);
	*unixpath = path;
	if (path != NULL && tg_daemon_socket_pin() != 0)
		return -1;
	if (strncmp(spec, "inet", 4) == 0 && tg_daemon_nodelay_listeners() == 0)
		tg_log_warnx("%s: TCP_NODELAY not set: header changes may wait "
		    "for the MTA's delayed ACK", spec);
	return 0;
}

/* main_policy - load and publish the policy at start; 0 or -1 */
static int
main_policy(struct main_opts *o)
{
	struct tg_policy *p;

	if (!o->conf_given) {
		o->conf = MAIN_DEFAULT_CONF;
		if (access(o->conf, F_OK) != 0 && errno == ENOENT) {
			tg_log_warnx("WARNING: %s does not exist: running with "
			    "an EMPTY policy, EVERY MESSAGE IS PASSED THROUGH",
			    o->conf);
			o->conf = NULL;
		}
	}
	if (o->conf != NULL)
		o->conf = main_abspath(o->conf);
	if ((p = main_load(o, 0)) == NULL) {
		tg_log_err("%s: policy not valid, not starting",
		    o->conf != NULL ? o->conf : "(built-in)");
		return -1;
	}
	tg_policy_publish(p);
	return 0;
}

/* What main_run() started, for main_stop() to end in reverse order. */
struct main_started {
	const char	*unixpath;	/* the milter socket's path, or NULL */
	int		 snap, reload, control, metrics;
	int		 served;	/* smfi_main() ran */
};

/* main_start - the socket, detaching, the pidfile and the privilege
 * drop (id->user NULL: none); 0 or 1 */
static int
main_start(struct main_opts *o, const char *spec, const struct main_ids *id,
    struct main_started *st)
{
	if (main_open_socket(spec, id->user != NULL ? id->uid : geteuid(),
	    &st->unixpath) != 0)
		return 1;
	if (!o->foreground && tg_daemon_detach() != 0)
		return 1;
	if (o->pidfile != NULL && main_write_pidfile(o->pidfile) != 0) {
		tg_log_err("pidfile %s not written, not starting", o->pidfile);
		return 1;
	}
	if (id->user != NULL && main_drop(o->user, id,
	    st->unixpath != NULL) != 0) {
		tg_log_err("refusing to run with the privileges of uid %ld",
		    (long)geteuid());
		return 1;
	}
	tg_daemon_socket_unpin();
	return 0;
}

/* main_run - from the open socket to the end of smfi_main; what it
 * started is in *st, for main_stop(). A failure before smfi_main makes a
 * detached parent exit 1: no half-started daemon is left behind. */
static int
main_run(struct main_opts *o, const char *spec, struct main_started *st)
{
	struct main_ids id = { NULL, 0, 0 };
	int rc;

	if (o->user != NULL && main_ids(o->user, &id) != 0) {
		free(id.user);
		tg_log_err("refusing to run with the privileges of uid %ld",
		    (long)geteuid());
		return 1;
	}
	rc = main_start(o, spec, &id, st);
	free(id.user);
	if (rc != 0)
		return rc;
	/* Before smfi_main: libmilter's threads inherit the mask. */
	if (tg_reload_block_signals() != 0)
		return 1;
	/* After the privilege drop: a snapshot the daemon can read is one
	 * it can replace at shutdown. */
	tg_store_snap_start();
	st->snap = 1;
	if (tg_reload_start(o->conf) != 0)
		return 1;
	st->reload = 1;
	/* After the privilege drop: the socket belongs to the daemon's
	 * user, who alone may use it. */
	if (o->control != NULL && tg_control_start(o->control) != 0)
		return 1;
	st->control = o->control != NULL;
	if (o->metrics != NULL && tg_metrics_http_start(o->metrics) != 0)
		return 1;
	st->metrics = o->metrics != NULL;
	tg_log_info("tollgate %s starting on %s%s", PACKAGE_VERSION, spec,
	    o->dry_run ? " (dry run: no verdict is enforced)" : "");
	tg_metrics_started();
	tg_daemon_ready();
	st->served = 1;
	rc = smfi_main();
	return rc == MI_SUCCESS ? 0 : 1;
}

/* main_stop - end what main_run() started, in reverse order. libmilter
 * does not wait for its session threads, so after smfi_main() callbacks
 * are closed (milter_guard.c) and those still running are waited for
 * before the stores, resolvers and metrics they use are freed; if some
 * do not end in time, that state is left to the exit. The counter
 * snapshot is written once no callback counts any more, and only after
 * sessions were served. On a failed start the socket is removed. */
static void
main_stop(struct main_started *st)
{
	char *snap = NULL;
	int idle = 1;

	if (st->metrics)
		tg_metrics_http_stop();
	if (st->control)
		tg_control_stop();
	if (st->reload)
		tg_reload_stop();
	if (st->snap)
		tg_store_snap_stop();
	if (st->served) {
		idle = tg_milter_guard_close(MAIN_DRAIN_S * 1000) == 0;
		if (!idle)
			tg_log_warnx("stopping while callbacks still run "
			    "after %d s; their state is left to the exit",
			    MAIN_DRAIN_S);
		snap = tg_store_snap_path();
	}
	if (snap != NULL)
		(void)tg_store_snap_save(tg_store_memory(), snap,
		    tg_clock_wall_ms());
	free(snap);
	tg_policy_publish(NULL);	/* sessions keep their own reference */
	if (idle) {
		tg_store_shutdown();	/* closes Redis connections */
		tg_metrics_shutdown();
	}
	if (!st->served && st->unixpath != NULL)
		tg_daemon_socket_remove(st->unixpath);
	tg_daemon_socket_unpin();
	if (st->served)
		tg_log_info("tollgate stopped");
}

int
main(int argc, char **argv)
{
	struct main_started st;
	struct main_opts o;
	char *spec;
	int rc;

	main_parse(argc, argv, &o);
	if (o.check_only) {
		tg_log_open("tollgate", 1, 0);
		if (!o.conf_given)
			o.conf = MAIN_DEFAULT_CONF;
		return main_check(&o);
	}
	/* Until the daemon detaches, errors go to the terminal too. */
	tg_log_open("tollgate", 1, 1);
	tg_log_set_debug(o.debug);
	tg_ops_force_dry_run(o.dry_run);
	signal(SIGPIPE, SIG_IGN);
	/* Everything the SMTP client sends passes through this process:
	 * it runs as root only when told to. */
	if (geteuid() == 0 && o.user == NULL && !o.allow_root) {
		tg_log_err("refusing to run as root: give -u user[:group] to "
		    "drop privileges after opening the socket, or -R to run "
		    "as root anyway");
		return 1;
	}
	if ((spec = main_socket_spec(o.socket != NULL ? o.socket :
	    MAIN_DEFAULT_SOCKET)) == NULL) {
		tg_log_err("-p %s: expected unix:/path, inet:port@host or "
		    "inet6:port@host", o.socket);
		return 1;
	}
	if (o.pidfile != NULL)
		o.pidfile = main_abspath(o.pidfile);
	if (o.control != NULL)
		o.control = main_abspath(o.control);
	memset(&st, 0, sizeof st);
	rc = main_policy(&o) != 0 ? 1 : main_run(&o, spec, &st);
	/* Free what lives as long as the process, so leak checkers report
	 * only real leaks. o.conf and o.pidfile are absolute copies by now. */
	main_stop(&st);
	free(spec);
	free(o.pidfile);
	free(o.conf);
	free(o.control);
	return rc;
}
