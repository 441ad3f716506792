/* store_snap.c - snapshots of the memory store, so a restart does not
 * reset every quota: a file written atomically at shutdown (and every
 * snapshot-interval), read back at start. Times in the file are wall-clock
 * times, since the store's clock is monotonic and restarts with the host.
 * The greylisting records of the memory store go in the same file.
 * Owns: the saver thread. Threads: save and load may run while sessions
 * count; the saver thread is started and stopped by main.c. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tg.h"
#include "tg_log.h"
#include "tg_policy.h"
#include "tg_store.h"

/* The file: a header, then one record per counter, then an end mark with
 * the number of records and a checksum of everything before it. Integers
 * are little-endian whatever the host. A file written by another version
 * (or with another number of slots) is not guessed at: start empty.
 *   header  "TGSNAP\r\n" u32 version, u32 slots, i64 wall ms at save
 *   record  u32 key length (> 0), key, i64 window ms, i64 age ms of the
 *           newest slot's start at save, slots x i64 counts, newest first
 *   greylisting record (version 2)
 *           u32 key length | SNAP_REC, key, i64 state, i64 age ms of the
 *           first attempt at save, i64 ms left until it expires, i64 n
 *   end     u32 0, u64 records, u64 FNV-1a 64 of all bytes before it
 * Version 1 (before greylisting) is read too: it has counters only. */
#define SNAP_MAGIC	"TGSNAP\r\n"
#define SNAP_VERSION	2
#define SNAP_REC	0x80000000u	/* flag: a greylisting record */
#define SNAP_SLOTS	(TG_STORE_SLOTS + 1)
#define SNAP_KEY_MAX	4096
#define SNAP_WINDOW_MAX	(32LL * 86400 * 1000)

struct snap_out {
	FILE		*fp;
	uint64_t	 sum;
	uint64_t	 records;
	int64_t		 now;		/* store clock at save */
	uint64_t	 grey;		/* greylisting records of them */
};

struct snap_in {
	FILE		*fp;
	uint64_t	 sum;
	int		 eof;		/* ran out of bytes */
};

static void
snap_hash(uint64_t *sum, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		*sum = (*sum ^ p[i]) * 1099511628211ULL;
}

static void
snap_put(struct snap_out *o, const void *p, size_t n)
{
	snap_hash(&o->sum, p, n);
	fwrite(p, 1, n, o->fp);
}

static void
snap_put64(struct snap_out *o, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	snap_put(o, b, 8);
}

static void
snap_put32(struct snap_out *o, uint32_t v)
{
	unsigned char b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	snap_put(o, b, 4);
}

/* snap_record - one counter, for tg_store_mem_each */
static int
snap_record(const struct tg_store_mem_dump *d, void *arg)
{
	struct snap_out *o = arg;
	size_t len = strlen(d->key);

	if (len == 0 || len > SNAP_KEY_MAX)
		return 0;
	snap_put32(o, (uint32_t)len);
	snap_put(o, d->key, len);
	snap_put64(o, (uint64_t)d->window_ms);
	snap_put64(o, (uint64_t)(o->now - d->start_ms));
	for (int i = 0; i < SNAP_SLOTS; i++)
		snap_put64(o, (uint64_t)d->n[i]);
	o->records++;
	return ferror(o->fp) ? -1 : 0;
}

/* snap_grey_record - one greylisting record, for tg_store_mem_each_rec;
 * its times as ages at save, so a restart keeps its place in time */
static int
snap_grey_record(const struct tg_store_mem_rec_dump *d, void *arg)
{
	struct snap_out *o = arg;
	size_t len = strlen(d->key);

	if (len == 0 || len > SNAP_KEY_MAX)
		return 0;
	snap_put32(o, (uint32_t)len | SNAP_REC);
	snap_put(o, d->key, len);
	snap_put64(o, (uint64_t)d->rec.state);
	snap_put64(o, (uint64_t)(o->now - d->rec.since));
	snap_put64(o, (uint64_t)(d->rec.expires - o->now));
	snap_put64(o, (uint64_t)d->rec.n);
	o->records++;
	o->grey++;
	return ferror(o->fp) ? -1 : 0;
}

/* snap_dir - the directory of path into dir (dirsz bytes); -1 when too
 * long */
static int
snap_dir(const char *path, char *dir, size_t dirsz)
{
	char *slash;

	if (tg_strlcpy(dir, path, dirsz) >= dirsz)
		return -1;
	if ((slash = strrchr(dir, '/')) == NULL)
		tg_strlcpy(dir, ".", dirsz);
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	return 0;
}

/* snap_owner_ok - uid is ours or root's: nobody else may own what holds
 * the counters, or they could change them (the checksum is no MAC) */
static int
snap_owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* snap_dir_unsafe - why the directory of path is not fit for snapshots,
 * or NULL when it is: it must be ours or root's, and not writable by
 * group or others unless sticky (as /tmp: then nobody can rename or
 * remove our files there, our temporary names are new and O_EXCL, and a
 * snapshot is read only when it is ours). buf holds the reason. */
static const char *
snap_dir_unsafe(const char *path, char *buf, size_t bufsz)
{
	char dir[4096];
	struct stat sb;

	if (snap_dir(path, dir, sizeof dir) < 0)
		return "path too long";
	if (stat(dir, &sb) != 0) {
		snprintf(buf, bufsz, "directory %s: %s", dir, strerror(errno));
		return buf;
	}
	if (!S_ISDIR(sb.st_mode))
		snprintf(buf, bufsz, "%s is not a directory", dir);
	else if (!snap_owner_ok(sb.st_uid))
		snprintf(buf, bufsz, "directory %s belongs to uid %lu, neither "
		    "root nor the daemon's user", dir,
		    (unsigned long)sb.st_uid);
	else if ((sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 &&
	    (sb.st_mode & S_ISVTX) == 0)
		snprintf(buf, bufsz, "directory %s is writable by group or "
		    "others (mode %04o) and not sticky", dir,
		    (unsigned)(sb.st_mode & 07777));
	else
		return NULL;
	return buf;
}

/* snap_sync_dir - make the rename itself durable */
static void
snap_sync_dir(const char *path)
{
	char dir[4096];
	int fd;

	if (snap_dir(path, dir, sizeof dir) < 0)
		return;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int
tg_store_snap_save(struct tg_store *st, const char *path, int64_t wall_ms)
{
	struct snap_out o = { NULL, 14695981039346656037ULL, 0, 0, 0 };
	struct tg_store *grey = tg_store_memory_grey_found();
	char tmp[4096], why[4200];
	const char *what = "write", *unsafe;
	int fd, rc = TG_ERR_IO, saved;
	uint64_t sum;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >=
	    sizeof tmp) {
		tg_log_err("counter snapshot %s: path too long; not saved",
		    path);
		return TG_ERR_IO;
	}
	if ((unsafe = snap_dir_unsafe(path, why, sizeof why)) != NULL) {
		tg_log_err("counter snapshot %s: %s; counters not saved", path,
		    unsafe);
		return TG_ERR_IO;
	}
	/* A new name, created exclusively (mode 0600): never a file that
	 * someone else made ready for us to fill. */
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || (o.fp = fdopen(fd, "w")) == NULL) {
		saved = errno;
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		tg_log_err("counter snapshot %s: cannot create %s: %s; "
		    "counters not saved", path, tmp, strerror(saved));
		return TG_ERR_IO;
	}
	o.now = tg_store_mem_now(st);
	snap_put(&o, SNAP_MAGIC, 8);
	snap_put32(&o, SNAP_VERSION);
	snap_put32(&o, SNAP_SLOTS);
	snap_put64(&o, (uint64_t)wall_ms);
	if (tg_store_mem_each(st, snap_record, &o) < 0)
		goto fail;
	if (grey != NULL) {
		o.now = tg_store_mem_now(grey);
		if (tg_store_mem_each_rec(grey, NULL, snap_grey_record,
		    &o) < 0)
			goto fail;
	}
	snap_put32(&o, 0);
	snap_put64(&o, o.records);
	sum = o.sum;
	snap_put64(&o, sum);
	if (fflush(o.fp) != 0 || ferror(o.fp))
		goto fail;
	what = "fsync";
	if (fsync(fileno(o.fp)) != 0)
		goto fail;
	what = "close";
	rc = fclose(o.fp);
	o.fp = NULL;
	if (rc != 0) {
		rc = TG_ERR_IO;
		goto fail;
	}
	what = "rename";
	if (rename(tmp, path) != 0) {
		rc = TG_ERR_IO;
		goto fail;
	}
	snap_sync_dir(path);
	tg_log_info("counter snapshot %s: %llu counters saved, and %llu "
	    "greylist records", path, (unsigned long long)(o.records - o.grey),
	    (unsigned long long)o.grey);
	return TG_OK;
fail:
	saved = errno;
	if (o.fp != NULL)
		fclose(o.fp);
	unlink(tmp);
	tg_log_err("counter snapshot %s: %s failed: %s; counters not saved "
	    "(the previous snapshot, if any, is unchanged)", path, what,
	    strerror(saved));
	return TG_ERR_IO;
}

static int
snap_get(struct snap_in *in, void *p, size_t n)
{
	if (fread(p, 1, n, in->fp) != n) {
		in->eof = 1;
		return -1;
	}
	snap_hash(&in->sum, p, n);
	return 0;
}

static int
snap_get64(struct snap_in *in, uint64_t *v)
{
	unsigned char b[8];

	if (snap_get(in, b, 8) < 0)
		return -1;
	*v = 0;
	for (int i = 7; i >= 0; i--)
		*v = (*v << 8) | b[i];
	return 0;
}

static int
snap_get32(struct snap_in *in, uint32_t *v)
{
	unsigned char b[4];

	if (snap_get(in, b, 4) < 0)
		return -1;
	*v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	    (uint32_t)b[3] << 24;
	return 0;
}

/* snap_restore - one record's slots into the store. elapsed: wall ms
 * since the save. Returns 1 when some slot still counted, 0 when all had
 * left the window, or TG_ERR_FULL. */
static int
snap_restore(struct tg_store *st, const char *key, int64_t window_ms,
    int64_t age_ms, const int64_t *n, int64_t elapsed)
{
	int64_t now = tg_store_mem_now(st);
	int64_t ms = window_ms / TG_STORE_SLOTS > 0 ?
	    window_ms / TG_STORE_SLOTS : 1;
	int live = 0;

	for (int i = 0; i < SNAP_SLOTS; i++) {
		int64_t start = now - elapsed - age_ms - i * ms;

		int rc;

		if (n[i] <= 0 || start < 0)
			continue;
		if ((rc = tg_store_mem_restore(st, key, window_ms, start,
		    n[i])) < 0)
			return rc;
		live |= rc;
	}
	return live;
}

/* What a load restored, and what it could not (a store full). */
struct snap_counts {
	uint64_t	ok, full, grey, grey_full;
};

struct snap_grey_in {
	struct tg_store_rec	rec;	/* times as ages at save */
	int64_t			elapsed;
	int			live;
};

/* snap_grey_put - a greylisting record back, its times moved by the time
 * the daemon was down */
static int
snap_grey_put(struct tg_store_rec *r, int64_t now, void *arg)
{
	struct snap_grey_in *g = arg;

	r->state = g->rec.state;
	r->n = g->rec.n;
	r->since = now - g->elapsed - g->rec.since;
	r->expires = now - g->elapsed + g->rec.expires;
	/* A first attempt older than the store's clock (it starts 40
	 * days up): old enough for any delay and window that matter. */
	if (r->since < 0)
		r->since = 0;
	g->live = r->expires > now;
	return g->live;
}

/* snap_grey - read one greylisting record's fields (its key read) and
 * restore it; -1 when truncated or impossible */
static int
snap_grey(struct snap_in *in, const char *key, int64_t elapsed,
    struct snap_counts *c, const char **why)
{
	struct snap_grey_in g;
	uint64_t v[4];
	int rc;

	for (int i = 0; i < 4; i++)
		if (snap_get64(in, &v[i]) < 0) {
			*why = "truncated";
			return -1;
		}
	g.rec.state = (int64_t)v[0];
	g.rec.since = (int64_t)v[1];
	g.rec.expires = (int64_t)v[2];
	g.rec.n = (int64_t)v[3];
	if (g.rec.state < TG_GREY_PENDING || g.rec.state > TG_GREY_ALLOWED ||
	    g.rec.since < 0 || g.rec.n < 0 || (int64_t)v[2] > 400LL *
	    86400 * 1000) {
		*why = "a greylist record with impossible values (corrupt)";
		return -1;
	}
	g.elapsed = elapsed;
	g.live = 0;
	if (g.rec.expires - elapsed <= 0)
		return 0;		/* expired while we were down */
	rc = tg_store_mem_rec(tg_store_memory_grey(), key, 2, snap_grey_put,
	    &g);
	if (rc == TG_ERR_FULL)
		c->grey_full++;
	else if (g.live)
		c->grey++;
	return 0;
}

/* snap_records - read the records and the end mark; why says what was
 * wrong. What was restored and what was not (store full) goes to c. */
static int
snap_records(struct snap_in *in, struct tg_store *st, int64_t elapsed,
    uint32_t version, struct snap_counts *c, const char **why)
{
	uint64_t win, age, cnt, records = 0, sum;
	int64_t n[SNAP_SLOTS];
	char key[SNAP_KEY_MAX + 1];
	uint32_t len;
	int bad, grey;

	for (;;) {
		if (snap_get32(in, &len) < 0)
			goto truncated;
		if (len == 0)
			break;
		grey = version >= 2 && (len & SNAP_REC) != 0;
		len &= grey ? ~SNAP_REC : ~0u;
		if (len == 0 || len > SNAP_KEY_MAX) {
			*why = "a key longer than allowed (corrupt)";
			return -1;
		}
		if (snap_get(in, key, len) < 0)
			goto truncated;
		key[len] = '\0';
		if (grey) {
			if (memchr(key, '\0', len) != NULL) {
				*why = "a key with a NUL byte (corrupt)";
				return -1;
			}
			if (snap_grey(in, key, elapsed, c, why) < 0)
				return -1;
			records++;
			continue;
		}
		if (snap_get64(in, &win) < 0 || snap_get64(in, &age) < 0)
			goto truncated;
		bad = memchr(key, '\0', len) != NULL || (int64_t)win <= 0 ||
		    (int64_t)win > SNAP_WINDOW_MAX || (int64_t)age < 0;
		for (int i = 0; i < SNAP_SLOTS; i++) {
			if (snap_get64(in, &cnt) < 0)
				goto truncated;
			n[i] = (int64_t)cnt;
			bad |= n[i] < 0;
		}
		if (bad) {
			*why = "a counter with impossible values (corrupt)";
			return -1;
		}
		records++;
		switch (snap_restore(st, key, (int64_t)win, (int64_t)age, n,
		    elapsed)) {
		case TG_ERR_FULL:
			c->full++;
			break;
		case 1:
			c->ok++;
			break;
		}
	}
	if (snap_get64(in, &cnt) < 0)
		goto truncated;
	sum = in->sum;
	if (snap_get64(in, &cnt) < 0)
		goto truncated;
	if (cnt != sum || fgetc(in->fp) != EOF) {
		*why = "checksum mismatch or trailing bytes (corrupt)";
		return -1;
	}
	return 0;
truncated:
	*why = "truncated";
	return -1;
}

int
tg_store_snap_load(struct tg_store *st, const char *path, int64_t wall_ms)
{
	struct snap_in in = { NULL, 14695981039346656037ULL, 0 };
	struct snap_counts c = { 0, 0, 0, 0 };
	struct tg_store *grey = tg_store_memory_grey_found();
	uint64_t saved;
	uint32_t version, slots;
	const char *why = NULL;
	char magic[8], buf[4200];
	int64_t elapsed;
	struct stat sb;
	int fd;

	tg_store_mem_clear(st);
	if (grey != NULL)
		tg_store_mem_clear(grey);
	if ((why = snap_dir_unsafe(path, buf, sizeof buf)) != NULL) {
		tg_log_err("counter snapshot %s: %s; not read, starting with "
		    "empty counters", path, why);
		return TG_ERR_IO;
	}
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		/* No file is the normal first start; anything else is not. */
		if (errno == ENOENT)
			tg_log_info("counter snapshot %s: %s; starting with "
			    "empty counters", path, strerror(errno));
		else
			tg_log_err("counter snapshot %s: %s; starting with "
			    "empty counters", path, strerror(errno));
		return TG_ERR_IO;
	}
	/* Counters restored from a file someone else could write would be
	 * theirs to choose. */
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) ||
	    !snap_owner_ok(sb.st_uid) ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
	    (in.fp = fdopen(fd, "rb")) == NULL) {
		tg_log_err("counter snapshot %s: not a regular file of root or "
		    "the daemon's user writable by them alone; not read, "
		    "starting with empty counters", path);
		close(fd);
		return TG_ERR_IO;
	}
	if (snap_get(&in, magic, 8) < 0 || snap_get32(&in, &version) < 0 ||
	    snap_get32(&in, &slots) < 0 || snap_get64(&in, &saved) < 0)
		why = in.eof && ftell(in.fp) <= 0 ? "empty file" :
		    "truncated";
	else if (memcmp(magic, SNAP_MAGIC, 8) != 0)
		why = "not a tollgate counter snapshot";
	else if ((version != SNAP_VERSION && version != 1) ||
	    slots != SNAP_SLOTS)
		why = "written by another version of tollgate";
	if (why == NULL) {
		/* A clock set back since the save: count no time as gone
		 * rather than make counters younger than they are. */
		elapsed = wall_ms - (int64_t)saved;
		if (elapsed < 0)
			elapsed = 0;
		if (snap_records(&in, st, elapsed, version, &c, &why) < 0) {
			tg_store_mem_clear(st);
			if ((grey = tg_store_memory_grey_found()) != NULL)
				tg_store_mem_clear(grey);
		}
	}
	fclose(in.fp);
	if (why != NULL) {
		tg_log_err("counter snapshot %s: %s; starting with empty "
		    "counters", path, why);
		return TG_ERR_IO;
	}
	if (c.full > 0)
		tg_log_err("counter snapshot %s: store full, %llu counters "
		    "not restored", path, (unsigned long long)c.full);
	if (c.grey_full > 0)
		tg_log_err("counter snapshot %s: greylist store full, %llu "
		    "records not restored", path,
		    (unsigned long long)c.grey_full);
	tg_log_info("counter snapshot %s: %llu counters restored, and %llu "
	    "greylist records", path, (unsigned long long)c.ok,
	    (unsigned long long)c.grey);
	return c.ok < (uint64_t)INT_MAX ? (int)c.ok : INT_MAX;
}

int64_t
tg_clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The daemon's saver: wakes every second, and saves when the published
 * policy asks for periodic snapshots and the interval has passed. Reading
 * the policy each time follows reloads without any hook in reload.c. */
static pthread_mutex_t	 snap_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 snap_cond = PTHREAD_COND_INITIALIZER;
static pthread_t	 snap_thread;
static int		 snap_running, snap_stopping;

/* snap_conf - the snapshot path of the published policy (caller frees;
 * NULL: none) and its interval (0: at shutdown only) */
static char *
snap_conf(int64_t *interval_ms)
{
	struct tg_policy *p = tg_policy_current();
	char *path = NULL;

	*interval_ms = 0;
	if (p != NULL && p->mem_snapshot != NULL) {
		path = tg_xstrdup(p->mem_snapshot);
		*interval_ms = p->mem_snapshot_ms;
	}
	if (p != NULL)
		tg_policy_unref(p);
	return path;
}

static void *
snap_main(void *arg)
{
	int64_t last = tg_clock_now_ms(NULL), iv;
	struct timespec ts;
	char *path;

	(void)arg;
	pthread_mutex_lock(&snap_lock);
	while (!snap_stopping) {
		path = snap_conf(&iv);
		if (path != NULL && iv > 0 &&
		    tg_clock_now_ms(NULL) - last >= iv) {
			pthread_mutex_unlock(&snap_lock);
			(void)tg_store_snap_save(tg_store_memory(), path,
			    tg_clock_wall_ms());
			pthread_mutex_lock(&snap_lock);
			last = tg_clock_now_ms(NULL);
		}
		free(path);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec++;
		if (!snap_stopping)
			pthread_cond_timedwait(&snap_cond, &snap_lock, &ts);
	}
	pthread_mutex_unlock(&snap_lock);
	return NULL;
}

void
tg_store_snap_start(void)
{
	int64_t iv;
	char *path;
	int rc;

	if ((path = snap_conf(&iv)) != NULL)
		(void)tg_store_snap_load(tg_store_memory(), path,
		    tg_clock_wall_ms());
	free(path);
	snap_stopping = 0;
	if ((rc = pthread_create(&snap_thread, NULL, snap_main, NULL)) != 0)
		tg_log_err("counter snapshots: cannot start the saver "
		    "thread: %s; saving at shutdown only", strerror(rc));
	else
		snap_running = 1;
}

void
tg_store_snap_stop(void)
{
	if (!snap_running)
		return;
	pthread_mutex_lock(&snap_lock);
	snap_stopping = 1;
	pthread_cond_signal(&snap_cond);
	pthread_mutex_unlock(&snap_lock);
	pthread_join(snap_thread, NULL);
	snap_running = 0;
}

char *
tg_store_snap_path(void)
{
	int64_t iv;

	return snap_conf(&iv);
}
