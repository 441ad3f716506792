/* dkim_keys.c - the signing keys, in the files OpenDKIM users keep:
 *   KeyTable       NAME DOMAIN:SELECTOR:/path/to/private.key
 *   SigningTable   PATTERN NAME   (refile: PATTERN may hold '*'
 *                  wildcards: "*@example.org"; otherwise it is an address
 *                  or a domain, looked up as user@domain, domain, then
 *                  .parent domains)
 * Keys are read and checked when the policy loads (and on every reload,
 * which keeps the old policy and its keys when one is wrong): a key file
 * that is missing, unreadable, not a private key, an RSA key under 1024
 * bits, or readable by others is an error at its KeyTable line.
 * Owns: keys and signers in struct tg_dkim_conf. Threads: read-only once
 * loaded. */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tg.h"
#include "tg_dkim.h"
#include "tg_dns.h"
#include "conf.h"

#define KEYS_FILE_MAX	(64 * 1024)	/* a key file */
#define KEYS_LINE_MAX	4096

/* keys_read - a key file's text: regular, not readable or writable by
 * others, at most KEYS_FILE_MAX. 0, or -1 with *why. */
static int
keys_read(const char *path, unsigned char **out, size_t *len,
    const char **why)
{
	struct stat st;
	ssize_t n;
	int fd;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)) < 0) {
		*why = errno == ENOENT ? "no such file" : errno == EACCES ?
		    "not readable" : errno == ELOOP ? "a symbolic link" :
		    "cannot be opened";
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		*why = "not a regular file";
		goto fail;
	}
	/* A private key others can read is no longer private. */
	if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
		*why = "readable or writable by others (chmod o-rw)";
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > KEYS_FILE_MAX) {
		*why = "empty or too large for a key";
		goto fail;
	}
	*out = tg_xmalloc((size_t)st.st_size + 1);
	if ((n = read(fd, *out, (size_t)st.st_size)) != st.st_size) {
		*why = "cannot be read";
		goto fail;
	}
	(*out)[n] = '\0';
	*len = (size_t)n;
	close(fd);
	return 0;
fail:
	*out = tg_free(*out);
	close(fd);
	return -1;
}

/* keys_check - a PEM private key libopendkim can sign with: RSA of 1024
 * bits or more (RFC 8301), or Ed25519 (RFC 8463). 0 or -1 with *why. */
static int
keys_check(struct tg_dkim_key *k, const char **why)
{
	BIO *b;
	EVP_PKEY *pk;
	int rc = -1;

	if (strncmp((const char *)k->pem, "-----", 5) != 0) {
		*why = "not a PEM private key";
		return -1;
	}
	if ((b = BIO_new_mem_buf(k->pem, (int)k->pemlen)) == NULL) {
		*why = "out of memory";
		return -1;
	}
	pk = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	if (pk == NULL) {
		*why = "not a PEM private key (or it has a passphrase)";
		return -1;
	}
	switch (EVP_PKEY_base_id(pk)) {
	case EVP_PKEY_RSA:
		k->bits = EVP_PKEY_bits(pk);
		if (k->bits < 1024)
			*why = "an RSA key under 1024 bits (RFC 8301)";
		else
			rc = 0;
		break;
	case EVP_PKEY_ED25519:
		k->ed25519 = 1;
		k->bits = 256;
		k->pkey = pk;	/* kept: dkim_ed25519.c signs with it */
		pk = NULL;
		rc = 0;
		break;
	default:
		*why = "neither an RSA nor an Ed25519 key";
		break;
	}
	EVP_PKEY_free(pk);
	return rc;
}

/* keys_lines - call fn for each significant line of path (comments and
 * blank lines skipped); errors go to diag at path:line:col. */
static int
keys_lines(const char *path, struct tg_diag *diag, struct tg_dkim_conf *c,
    const char *dir, int (*fn)(struct tg_dkim_conf *, const char *dir,
    const char *path, int line, char *text, struct tg_diag *))
{
	char *buf, *p, *nl;
	size_t len;
	int line = 0, errs = 0, rc;

	if ((rc = conf_file_read(path, &buf, &len)) < 0) {
		tg_diag_error(diag, path, 0, 0, "cannot read: %s",
		    strerror(-rc));
		return -1;
	}
	buf = tg_xrealloc(buf, len + 1);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		tg_diag_error(diag, path, 0, 0, "holds a NUL byte");
		free(buf);
		return -1;
	}
	for (p = buf; p != NULL && *p != '\0'; p = nl) {
		char *h;

		line++;
		if ((nl = strchr(p, '\n')) != NULL)
			*nl++ = '\0';
		if ((h = strchr(p, '#')) != NULL)
			*h = '\0';
		if (strlen(p) > KEYS_LINE_MAX) {
			tg_diag_error(diag, path, line, 1, "line too long");
			errs++;
			continue;
		}
		if (p[strspn(p, " \t\r")] == '\0')
			continue;
		if (fn(c, dir, path, line, p, diag) < 0)
			errs++;
	}
	free(buf);
	return errs > 0 ? -1 : 0;
}

/* keys_words - split "A B" (blanks); NULL b when there is one word */
static int
keys_words(char *text, char **a, char **b, int *bcol)
{
	char *p = text + strspn(text, " \t");

	*a = p;
	p += strcspn(p, " \t\r");
	if (*p == '\0') {
		*b = NULL;
		return 1;
	}
	*p++ = '\0';
	p += strspn(p, " \t");
	*b = p;
	*bcol = (int)(p - text) + 1;
	p += strcspn(p, " \t\r");
	if (p[strspn(p, " \t\r")] != '\0')
		return -1;
	*p = '\0';
	return **b != '\0' ? 2 : 1;
}

static int
keys_key_line(struct tg_dkim_conf *c, const char *dir, const char *path,
    int line, char *text, struct tg_diag *diag)
{
	struct tg_dkim_key k;
	char *name, *val, *sel, *kp, *full;
	const char *why;
	int col = 1;

	memset(&k, 0, sizeof k);
	if (keys_words(text, &name, &val, &col) != 2) {
		tg_diag_error(diag, path, line, 1, "expected NAME "
		    "DOMAIN:SELECTOR:KEYFILE");
		return -1;
	}
	if ((sel = strchr(val, ':')) == NULL ||
	    (kp = strchr(sel + 1, ':')) == NULL) {
		tg_diag_error(diag, path, line, col, "expected "
		    "DOMAIN:SELECTOR:KEYFILE");
		return -1;
	}
	*sel++ = '\0';
	*kp++ = '\0';
	if (!tg_dns_name_valid(val) || !tg_dns_name_valid(sel)) {
		tg_diag_error(diag, path, line, col, "invalid domain or "
		    "selector");
		return -1;
	}
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].name, name) == 0) {
			tg_diag_error(diag, path, line, 1, "key \"%s\" given "
			    "twice", name);
			return -1;
		}
	full = conf_file_join(dir, kp);
	col += (int)(kp - val);
	if (keys_read(full, &k.pem, &k.pemlen, &why) < 0 ||
	    keys_check(&k, &why) < 0) {
		tg_diag_error(diag, path, line, col, "key file %s: %s", full,
		    why);
		free(full);
		free(k.pem);
		return -1;
	}
	k.name = tg_xstrdup(name);
	k.domain = tg_xstrdup(val);
	tg_str_lower(k.domain);
	k.selector = tg_xstrdup(sel);
	k.path = full;
	c->keys = tg_xrealloc(c->keys, (c->nkeys + 1) * sizeof *c->keys);
	c->keys[c->nkeys++] = k;
	return 0;
}

static int
keys_sign_line(struct tg_dkim_conf *c, const char *dir, const char *path,
    int line, char *text, struct tg_diag *diag)
{
	char *pat, *key;
	int col = 1;

	(void)dir;
	if (keys_words(text, &pat, &key, &col) != 2) {
		tg_diag_error(diag, path, line, 1, "expected PATTERN KEYNAME");
		return -1;
	}
	for (size_t i = 0; i < c->nkeys; i++)
		if (strcmp(c->keys[i].name, key) == 0) {
			c->signers = tg_xrealloc(c->signers, (c->nsigners +
			    1) * sizeof *c->signers);
			c->signers[c->nsigners].pattern = tg_xstrdup(pat);
			tg_str_lower(c->signers[c->nsigners].pattern);
			c->signers[c->nsigners++].key = i;
			return 0;
		}
	tg_diag_error(diag, path, line, col, "key \"%s\" is not in the key "
	    "table", key);
	return -1;
}

int
tg_dkim_keys_load(struct tg_dkim_conf *c, const char *dir,
    struct tg_diag *diag)
{
	char *kt = conf_file_join(dir, c->key_table);
	char *st = conf_file_join(dir, c->signing_table);
	char *kdir = conf_file_dir(kt);
	int rc;

	rc = keys_lines(kt, diag, c, kdir, keys_key_line);
	if (rc == 0)
		rc = keys_lines(st, diag, c, dir, keys_sign_line);
	free(kt);
	free(st);
	free(kdir);
	return rc;
}

/* keys_match - does the signing table's key k match addr? */
static int
keys_match(const struct tg_dkim_conf *c, const char *k, const char *addr)
{
	const char *dom = strrchr(addr, '@');

	if (c->refile)
		return fnmatch(k, addr, FNM_CASEFOLD) == 0;
	if (strcasecmp(k, addr) == 0)
		return 1;
	if (dom == NULL)
		return 0;
	dom++;
	if (strcasecmp(k, dom) == 0)
		return 1;
	/* .parent entries match every subdomain */
	for (const char *p = strchr(dom, '.'); p != NULL;
	    p = strchr(p + 1, '.'))
		if (strcasecmp(k, p) == 0)
			return 1;
	return 0;
}

size_t
tg_dkim_keys_for(const struct tg_dkim_conf *c, const char *addr,
    size_t *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nsigners && n < max; i++) {
		int dup = 0;

		if (!keys_match(c, c->signers[i].pattern, addr))
			continue;
		for (size_t j = 0; j < n; j++)
			dup |= out[j] == c->signers[i].key;
		if (!dup)
			out[n++] = c->signers[i].key;
		if (!c->multiple)
			break;
	}
	return n;
}
