/* signature.c - Ed25519 keys and signatures (signature.h), with OpenSSL's
 * EVP one-shot DigestSign/DigestVerify (Ed25519 signs the message itself,
 * there is no digest to choose).
 *
 * Parsing is strict on purpose: a signature object has exactly one
 * spelling, so nothing can be smuggled around a lenient reader, and every
 * refusal says which line or which key was the problem. */
#include "bootlace/signature.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bootlace/error.h"

#define SIG_MAGIC "bootlace-signature"
#define SIG_VERSION "v1"
#define INLINE_MAGIC "#" SIG_MAGIC
/* Base64 of 64 bytes: 86 characters and "==". */
#define SIG_B64_LEN 88
/* A PEM key is a few hundred bytes. */
#define KEY_FILE_MAX (16 * 1024)

struct key {
	char id[BL_KEY_ID_LEN + 1];
	char *path;
	EVP_PKEY *pkey;
};

struct bl_keyring {
	struct key *keys;
	size_t n;
};

struct bl_signing_key {
	struct key key;
};

/* Sets *msg and returns err, or -BL_ENOMEM when the message cannot be made. */
static int fail(char **msg, int err, char *text)
{
	free(*msg);
	*msg = text;
	return text ? err : -BL_ENOMEM;
}

/* The key id of pkey (signature.h) into id. */
static int key_id(EVP_PKEY *pkey, char id[BL_KEY_ID_LEN + 1])
{
	unsigned char *der = NULL;
	int len = i2d_PUBKEY(pkey, &der);
	if (len <= 0)
		return -BL_ENOMEM;
	char hex[65];
	bl_sha256_hex(der, (size_t)len, hex);
	OPENSSL_free(der);
	memcpy(id, hex, BL_KEY_ID_LEN);
	id[BL_KEY_ID_LEN] = '\0';
	return 0;
}

static bool is_ed25519(EVP_PKEY *pkey)
{
	return EVP_PKEY_get_id(pkey) == EVP_PKEY_ED25519;
}

/* Reads at most max bytes from fd into out; -BL_ETOOBIG past that. */
static int read_fd(int fd, size_t max, struct bl_buf *out)
{
	char chunk[4096];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -BL_EIO;
		if (n == 0)
			return out->data ? 0 : bl_buf_append(out, "", 0);
		if (out->len + (size_t)n > max)
			return -BL_ETOOBIG;
		int r = bl_buf_append(out, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}

/* The owner and mode rule for trusted keys and their directory. */
static bool safe_owner_and_mode(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* What breaks the rule for st, as "is ..."; malloc'd. */
static char *unsafe_owner_or_mode(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return bl_strdup_printf("is owned by uid %u, not by root", (unsigned)st->st_uid);
	return bl_strdup_printf("is group or world writable (mode %04o)",
				(unsigned)(st->st_mode & 07777));
}

/* Why the directory holding path may not hold trusted keys, or NULL with
 * *safe true. */
static char *unsafe_directory(const char *path, bool *safe)
{
	_cleanup_free_ char *copy = strdup(path);
	_cleanup_free_ char *why = NULL;
	struct stat st;
	*safe = false;
	if (!copy)
		return NULL;
	const char *dir = dirname(copy);
	if (stat(dir, &st) < 0)
		return bl_strdup_printf("is in %s, which cannot be checked: %s", dir, strerror(errno));
	if (safe_owner_and_mode(&st)) {
		*safe = true;
		return NULL;
	}
	why = unsafe_owner_or_mode(&st);
	return why ? bl_strdup_printf("is in %s, which %s", dir, why) : NULL;
}

/* A private key where only public keys belong is worse than useless. */
static bool holds_private_key(const struct bl_buf *text)
{
	static const char marker[] = "PRIVATE KEY-----";
	return memmem(text->data, text->len, marker, sizeof(marker) - 1) != NULL;
}

/* Loads one trusted key file into k.  NULL with k->pkey set, or why it is
 * refused (malloc'd); NULL without k->pkey when out of memory. */
static char *load_public_key(const char *path, struct key *k)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	_cleanup_(bl_buf_free) struct bl_buf text = {0};
	struct stat st;
	bool safe;
	if (fd < 0 && errno == ELOOP)
		return strdup("is a symbolic link (a trusted key must be a regular file)");
	if (fd < 0 || fstat(fd, &st) < 0)
		return bl_strdup_printf("cannot be read: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return strdup("is not a regular file");
	if (!safe_owner_and_mode(&st))
		return unsafe_owner_or_mode(&st);
	char *why = unsafe_directory(path, &safe);
	if (!safe)
		return why;
	int r = read_fd(fd, KEY_FILE_MAX, &text);
	if (r == -BL_ETOOBIG)
		return bl_strdup_printf("is larger than %d bytes: not a public key", KEY_FILE_MAX);
	if (r < 0)
		return r == -BL_ENOMEM ? NULL : bl_strdup_printf("cannot be read: %s", strerror(errno));
	if (holds_private_key(&text))
		return strdup("holds a private key: only public keys (bootlace keygen's .pub) "
			      "belong on an instance");
	BIO *bio = BIO_new_mem_buf(text.data, (int)text.len);
	if (!bio)
		return NULL;
	EVP_PKEY *pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	EVP_PKEY *extra = pkey ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	if (!pkey)
		why = strdup("holds no PEM public key (-----BEGIN PUBLIC KEY-----)");
	else if (extra)
		why = strdup("holds more than one public key (one key per file)");
	else if (!is_ed25519(pkey))
		why = bl_strdup_printf("is a %s key, not Ed25519", EVP_PKEY_get0_type_name(pkey));
	else if (key_id(pkey, k->id) == 0 && (k->path = strdup(path))) {
		k->pkey = pkey;
		pkey = NULL;
	}
	EVP_PKEY_free(extra);
	EVP_PKEY_free(pkey);
	return why;
}

static void key_clear(struct key *k)
{
	EVP_PKEY_free(k->pkey);
	free(k->path);
	*k = (struct key){0};
}

void bl_keyring_free(struct bl_keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->n; i++)
		key_clear(&kr->keys[i]);
	free(kr->keys);
	free(kr);
}

int bl_keyring_load(const char *pattern, struct bl_keyring **out, char **msg)
{
	*out = NULL;
	*msg = NULL;
	glob_t g;
	int gr = glob(pattern, GLOB_ERR, NULL, &g);
	if (gr == GLOB_NOSPACE)
		return -BL_ENOMEM;
	if (gr == GLOB_NOMATCH)
		return fail(msg, -BL_ECONFIG, bl_strdup_printf("%s matches no key file", pattern));
	if (gr != 0)
		return fail(msg, -BL_ECONFIG, bl_strdup_printf("%s: cannot read its directory: %s",
							       pattern, strerror(errno)));
	struct bl_keyring *kr = calloc(1, sizeof(*kr));
	if (kr && !(kr->keys = calloc(g.gl_pathc, sizeof(*kr->keys)))) {
		free(kr);
		kr = NULL;
	}
	/* Every refused file is named, not only the first. */
	struct bl_buf problems = {0};
	int r = kr ? 0 : -BL_ENOMEM;
	for (size_t i = 0; r == 0 && i < g.gl_pathc; i++) {
		struct key *k = &kr->keys[kr->n];
		_cleanup_free_ char *why = load_public_key(g.gl_pathv[i], k);
		if (why)
			r = bl_buf_printf(&problems, "%s%s %s", problems.len ? "; " : "",
					  g.gl_pathv[i], why);
		else if (!k->pkey)
			r = -BL_ENOMEM;
		else
			kr->n++;
	}
	globfree(&g);
	if (r == 0 && problems.len) {
		*msg = problems.data;
		problems = (struct bl_buf){0};
		r = -BL_ECONFIG;
	}
	bl_buf_free(&problems);
	if (r < 0) {
		bl_keyring_free(kr);
		return r;
	}
	*out = kr;
	return 0;
}

size_t bl_keyring_count(const struct bl_keyring *kr)
{
	return kr->n;
}

const char *bl_keyring_key_id(const struct bl_keyring *kr, size_t i)
{
	return kr->keys[i].id;
}

const char *bl_keyring_key_path(const struct bl_keyring *kr, size_t i)
{
	return kr->keys[i].path;
}

static bool verify_with(EVP_PKEY *pkey, const void *data, size_t len,
			const unsigned char sig[BL_SIGNATURE_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
		  EVP_DigestVerify(ctx, sig, BL_SIGNATURE_LEN, data ? data : "", len) == 1;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return ok;
}

char *bl_keyring_ids(const struct bl_keyring *kr)
{
	struct bl_buf ids = {0};
	for (size_t i = 0; i < kr->n; i++)
		if (bl_buf_printf(&ids, "%s%s", i ? ", " : "", kr->keys[i].id) < 0) {
			bl_buf_free(&ids);
			return NULL;
		}
	return ids.data ? ids.data : strdup("none");
}

int bl_keyring_verify(const struct bl_keyring *kr, const void *data, size_t len,
		      const struct bl_signature *sig, char **msg)
{
	struct bl_buf tried = {0};
	int r = 0;
	*msg = NULL;
	for (size_t i = 0; r == 0 && i < kr->n; i++) {
		const struct key *k = &kr->keys[i];
		if (strcmp(k->id, sig->key_id) != 0)
			continue;
		if (verify_with(k->pkey, data, len, sig->sig)) {
			bl_buf_free(&tried);
			return 0;
		}
		r = bl_buf_printf(&tried, "%s%s", tried.len ? ", " : "", k->path);
	}
	if (r == 0 && tried.len) {
		r = fail(msg, -BL_ESIGNATURE,
			 bl_strdup_printf("does not verify with trusted key %s (%s): the content or its "
					  "signature was altered, or another key signed it",
					  sig->key_id, tried.data));
	} else if (r == 0) {
		_cleanup_free_ char *ids = bl_keyring_ids(kr);
		r = fail(msg, -BL_ESIGNATURE,
			 ids ? bl_strdup_printf("signed with key %s, which is not trusted (trusted "
						"keys: %s)", sig->key_id, ids) : NULL);
	}
	bl_buf_free(&tried);
	return r;
}

static bool is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!s[i] || !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

/* The key id field of n bytes at s into out; NULL, or why not (malloc'd,
 * starting with where). */
static char *parse_key_id(const char *where, const char *s, size_t n,
			  char out[BL_KEY_ID_LEN + 1])
{
	if (n != BL_KEY_ID_LEN || !is_lower_hex(s, n))
		return bl_strdup_printf("%sthe key id must be %d lowercase hex digits, not \"%.*s\"",
					where, BL_KEY_ID_LEN, (int)(n > 64 ? 64 : n), s);
	memcpy(out, s, n);
	out[n] = '\0';
	return NULL;
}

/* The base64 signature field of n bytes at s into out.  Only the one
 * canonical spelling is accepted: decoded and encoded again, it must come
 * back unchanged (no stray padding bits, no line breaks, no whitespace). */
static char *parse_sig_b64(const char *where, const char *s, size_t n,
			   unsigned char out[BL_SIGNATURE_LEN])
{
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
	unsigned char raw[BL_SIGNATURE_LEN + 3];
	char again[SIG_B64_LEN + 1];
	bool ok = n == SIG_B64_LEN;
	for (size_t i = 0; ok && i < n; i++)
		ok = s[i] && strchr(alphabet, s[i]);
	/* EVP_DecodeBlock counts the padding as zero bytes: 64 + 2. */
	ok = ok && EVP_DecodeBlock(raw, (const unsigned char *)s, (int)n) == BL_SIGNATURE_LEN + 2 &&
	     EVP_EncodeBlock((unsigned char *)again, raw, BL_SIGNATURE_LEN) == SIG_B64_LEN &&
	     memcmp(again, s, n) == 0;
	if (!ok)
		return bl_strdup_printf("%sthe signature must be the %d-character base64 of %d bytes",
					where, SIG_B64_LEN, BL_SIGNATURE_LEN);
	memcpy(out, raw, BL_SIGNATURE_LEN);
	return NULL;
}

/* Line lineno of a signature object, from *pos: its start and length
 * without the "\n", which it must end with.  NULL, or why it is bad. */
static char *next_line(const char *text, size_t len, size_t *pos, int lineno,
		       const char **line, size_t *n)
{
	if (len == 0)
		return strdup("is empty");
	if (*pos >= len)
		return bl_strdup_printf("ends after line %d (3 lines expected)", lineno - 1);
	const char *start = text + *pos;
	const char *nl = memchr(start, '\n', len - *pos);
	if (!nl)
		return bl_strdup_printf("line %d does not end with a newline", lineno);
	*line = start;
	*n = (size_t)(nl - start);
	*pos += *n + 1;
	if (memchr(start, '\0', *n))
		return bl_strdup_printf("line %d holds a NUL byte", lineno);
	if (*n && start[*n - 1] == '\r')
		return bl_strdup_printf("line %d ends in a carriage return (CRLF line ends are not "
					"accepted)", lineno);
	return NULL;
}

/* Whether the n bytes at s are "<word> <rest>"; *rest is what follows the
 * space. */
static bool field(const char *s, size_t n, const char *word, const char **rest, size_t *rest_n)
{
	size_t w = strlen(word);
	if (n <= w || memcmp(s, word, w) != 0 || s[w] != ' ')
		return false;
	*rest = s + w + 1;
	*rest_n = n - w - 1;
	return true;
}

static bool equals(const char *s, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(s, word, n) == 0;
}

/* A signature of another format version than ours; malloc'd. */
static char *bad_version(const char *where, const char *version, size_t n)
{
	return bl_strdup_printf("%sformat \"%.*s\" is not supported (this bootlace reads "
				SIG_VERSION ")", where, (int)(n > 32 ? 32 : n), version);
}

int bl_signature_parse(const void *data, size_t len, struct bl_signature *out, char **msg)
{
	const char *text = data;
	const char *line = NULL, *value;
	size_t n = 0, value_n, pos = 0;
	char *why;
	*msg = NULL;
	if (len > BL_SIGNATURE_MAX_SIZE)
		return fail(msg, -BL_ESIGNATURE,
			    bl_strdup_printf("is %zu bytes, larger than any signature object", len));
	if ((why = next_line(text, len, &pos, 1, &line, &n)))
		return fail(msg, -BL_ESIGNATURE, why);
	if (!equals(line, n, SIG_MAGIC " " SIG_VERSION))
		return fail(msg, -BL_ESIGNATURE, field(line, n, SIG_MAGIC, &value, &value_n)
			    ? bad_version("line 1: ", value, value_n)
			    : strdup("line 1 is not \"" SIG_MAGIC " " SIG_VERSION "\": not a "
				     "bootlace signature"));
	if ((why = next_line(text, len, &pos, 2, &line, &n)))
		return fail(msg, -BL_ESIGNATURE, why);
	if (!field(line, n, "key", &value, &value_n))
		return fail(msg, -BL_ESIGNATURE, strdup("line 2 is not \"key <key id>\""));
	if ((why = parse_key_id("line 2: ", value, value_n, out->key_id)))
		return fail(msg, -BL_ESIGNATURE, why);
	if ((why = next_line(text, len, &pos, 3, &line, &n)))
		return fail(msg, -BL_ESIGNATURE, why);
	if (!field(line, n, "sig", &value, &value_n))
		return fail(msg, -BL_ESIGNATURE, strdup("line 3 is not \"sig <base64>\""));
	if ((why = parse_sig_b64("line 3: ", value, value_n, out->sig)))
		return fail(msg, -BL_ESIGNATURE, why);
	if (pos != len)
		return fail(msg, -BL_ESIGNATURE, strdup("has more than 3 lines"));
	return 0;
}

int bl_signature_split_inline(const void *data, size_t len, size_t *signed_len,
			      struct bl_signature *out, char **msg)
{
	const char *text = data;
	*msg = NULL;
	/* The last line, without the one "\n" that may end it. */
	size_t end = len && text[len - 1] == '\n' ? len - 1 : len;
	size_t start = end;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	const char *line = text + start;
	size_t n = end - start;
	const char *rest, *key, *sig;
	size_t rest_n, key_n, sig_n;
	if (!field(line, n, INLINE_MAGIC, &rest, &rest_n))
		return fail(msg, -BL_ESIGNATURE,
			    strdup("its last line is not a \"" INLINE_MAGIC " " SIG_VERSION
				   " <key id> <signature>\" line: it is not signed"));
	if (!field(rest, rest_n, SIG_VERSION, &key, &key_n)) {
		const char *space = memchr(rest, ' ', rest_n);
		return fail(msg, -BL_ESIGNATURE, bad_version("its signature line: ", rest,
			    space ? (size_t)(space - rest) : rest_n));
	}
	const char *space = memchr(key, ' ', key_n);
	if (!space)
		return fail(msg, -BL_ESIGNATURE, strdup("its signature line is not \"" INLINE_MAGIC
							" " SIG_VERSION " <key id> <signature>\""));
	sig = space + 1;
	sig_n = key_n - (size_t)(sig - key);
	key_n = (size_t)(space - key);
	char *why = parse_key_id("its signature line: ", key, key_n, out->key_id);
	if (!why)
		why = parse_sig_b64("its signature line: ", sig, sig_n, out->sig);
	if (!why && memchr(text, '\0', start))
		why = strdup("holds a NUL byte");
	if (!why && start == 0)
		why = strdup("has nothing before its signature line");
	if (why)
		return fail(msg, -BL_ESIGNATURE, why);
	*signed_len = start;
	return 0;
}

int bl_signature_format(const struct bl_signature *sig, struct bl_buf *out)
{
	char b64[SIG_B64_LEN + 1];
	EVP_EncodeBlock((unsigned char *)b64, sig->sig, BL_SIGNATURE_LEN);
	return bl_buf_printf(out, SIG_MAGIC " " SIG_VERSION "\nkey %s\nsig %s\n", sig->key_id, b64);
}

int bl_signature_format_inline(const struct bl_signature *sig, struct bl_buf *out)
{
	char b64[SIG_B64_LEN + 1];
	EVP_EncodeBlock((unsigned char *)b64, sig->sig, BL_SIGNATURE_LEN);
	return bl_buf_printf(out, INLINE_MAGIC " " SIG_VERSION " %s %s\n", sig->key_id, b64);
}

/* OpenSSL asks for a passphrase through this: none is given, so an
 * encrypted key fails to load instead of prompting (sign runs in CI). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int bl_signing_key_load(const char *path, struct bl_signing_key **out, char **msg)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC);
	_cleanup_(bl_buf_free) struct bl_buf text = {0};
	struct stat st;
	*out = NULL;
	*msg = NULL;
	if (fd < 0 || fstat(fd, &st) < 0)
		return fail(msg, -BL_ECONFIG,
			    bl_strdup_printf("%s: cannot read: %s", path, strerror(errno)));
	if (!S_ISREG(st.st_mode))
		return fail(msg, -BL_ECONFIG, bl_strdup_printf("%s is not a regular file", path));
	if (st.st_mode & (S_IRWXG | S_IRWXO))
		return fail(msg, -BL_ECONFIG,
			    bl_strdup_printf("%s is a private key open to group or others (mode %04o); "
					     "refusing to use it (chmod 600 %s)", path,
					     (unsigned)(st.st_mode & 07777), path));
	int r = read_fd(fd, KEY_FILE_MAX, &text);
	if (r == -BL_ENOMEM)
		return r;
	if (r < 0)
		return fail(msg, -BL_ECONFIG, bl_strdup_printf("%s: cannot read: %s", path,
							       r == -BL_ETOOBIG ? "too large for a key"
							       : strerror(errno)));
	BIO *bio = BIO_new_mem_buf(text.data, (int)text.len);
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	ERR_clear_error();
	struct bl_signing_key *key = NULL;
	if (!pkey)
		r = fail(msg, -BL_ECONFIG, bl_strdup_printf("%s holds no unencrypted PEM private key "
							    "(bootlace keygen makes one)", path));
	else if (!is_ed25519(pkey))
		r = fail(msg, -BL_ECONFIG, bl_strdup_printf("%s is a %s key, not Ed25519", path,
							    EVP_PKEY_get0_type_name(pkey)));
	else if (!(key = calloc(1, sizeof(*key))) || key_id(pkey, key->key.id) < 0)
		r = -BL_ENOMEM;
	if (r < 0) {
		free(key);
		EVP_PKEY_free(pkey);
		return r;
	}
	key->key.pkey = pkey;
	*out = key;
	return 0;
}

void bl_signing_key_free(struct bl_signing_key *key)
{
	if (!key)
		return;
	key_clear(&key->key);
	free(key);
}

const char *bl_signing_key_id(const struct bl_signing_key *key)
{
	return key->key.id;
}

int bl_sign(const struct bl_signing_key *key, const void *data, size_t len,
	    struct bl_signature *out)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t sig_len = BL_SIGNATURE_LEN;
	bool ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key->key.pkey) == 1 &&
		  EVP_DigestSign(ctx, out->sig, &sig_len, data ? data : "", len) == 1 &&
		  sig_len == BL_SIGNATURE_LEN;
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	memcpy(out->key_id, key->key.id, sizeof(out->key_id));
	return ok ? 0 : -BL_ENOMEM;
}

/* Creates path (which must not exist) holding the PEM that write puts in a
 * memory BIO.  0, or -BL_EUNSAFE / -BL_EIO with *msg. */
static int write_new_pem(const char *path, mode_t mode, EVP_PKEY *pkey,
			 int (*write)(BIO *bio, EVP_PKEY *pkey), char **msg)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL;
	long pem_len = bio && write(bio, pkey) == 1 ? BIO_get_mem_data(bio, &pem) : 0;
	if (pem_len <= 0) {
		BIO_free(bio);
		return -BL_ENOMEM;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	int r = fd < 0 ? -BL_EIO : bl_write_all(fd, pem, (size_t)pem_len);
	/* The mode is exact whatever the umask. */
	if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0))
		r = -BL_EIO;
	int err = errno;
	if (fd >= 0 && close(fd) < 0 && r == 0) {
		r = -BL_EIO;
		err = errno;
	}
	/* The private key's PEM must not linger in freed memory. */
	OPENSSL_cleanse(pem, (size_t)pem_len);
	BIO_free(bio);
	if (fd < 0 && err == EEXIST)
		return fail(msg, -BL_EUNSAFE, bl_strdup_printf("%s already exists; refusing to "
							       "replace it", path));
	if (r < 0) {
		if (fd >= 0)
			unlink(path);
		return fail(msg, -BL_EIO, bl_strdup_printf("cannot write %s: %s", path, strerror(err)));
	}
	return 0;
}

static int write_private(BIO *bio, EVP_PKEY *pkey)
{
	return PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
}

static int write_public(BIO *bio, EVP_PKEY *pkey)
{
	return PEM_write_bio_PUBKEY(bio, pkey);
}

int bl_keygen(const char *prefix, char id[BL_KEY_ID_LEN + 1], char **msg)
{
	_cleanup_free_ char *priv = bl_strdup_printf("%s.key", prefix);
	_cleanup_free_ char *pub = bl_strdup_printf("%s.pub", prefix);
	*msg = NULL;
	if (!priv || !pub)
		return -BL_ENOMEM;
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	int r = pkey ? key_id(pkey, id) : -BL_ENOMEM;
	if (r == 0)
		r = write_new_pem(priv, 0600, pkey, write_private, msg);
	if (r == 0 && (r = write_new_pem(pub, 0644, pkey, write_public, msg)) < 0)
		unlink(priv);  /* half a key pair is no use */
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return r;
}
