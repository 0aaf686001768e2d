/* test-signature.c - Ed25519 keys and signatures (src/signature.c): RFC 8032
 * vectors, key ids, sign and verify, tampered content, untrusted keys, the
 * strict .sig and user-data formats, trusted key files' ownership and
 * modes, private keys, keygen.  Runs as root or not: files "not ours" are
 * made by chown to nobody, which only root can do (skipped otherwise). */
#include "testutil.h"

#include <fcntl.h>

#include <openssl/evp.h>

#include "bootlace/error.h"
#include "bootlace/signature.h"

#define NOBODY 65534

/* RFC 8032 section 7.1, tests 1 and 2: public key as a PEM SubjectPublicKeyInfo,
 * its key id (sha256 of the DER, first 16 hex digits, computed apart), the
 * message and the signature in the .sig format's base64. */
#define RFC1_PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n" \
	"-----END PUBLIC KEY-----\n"
#define RFC1_ID "06e3fd8fda29bb60"
#define RFC1_SIG "5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv18FlbviRlUUFDjnoQCw=="
#define RFC2_PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MCowBQYDK2VwAyEAPUAXw+hDiVqStwqnTRt+vJyYLM8uxJaMwM1V8Sr0Zgw=\n" \
	"-----END PUBLIC KEY-----\n"
#define RFC2_ID "deb2ded39dc26fce"
#define RFC2_SIG "kqAJqfDUyrhyDoILX2QlQKKye1QWUD+Ps3YiI+vbadoIWsHkPhWZbkWPNhPQ8R2MOHsurrQwKu6wDSkWErsMAA=="

#define RSA_PEM "-----BEGIN PUBLIC KEY-----\n" \
	"MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMbvQeTlJyjlnyR4M/rwVQSHZybxSqUQ\n" \
	"3s+VSuyK+dX4tPzutLuqX+BYrEm+7tZBOCJdxQDokoqTq6f9bi/7Jj0CAwEAAQ==\n" \
	"-----END PUBLIC KEY-----\n"

struct fixture {
	char *tmp;
	char *keys;      /* tmp/keys, 0700 */
	char *pattern;   /* tmp/keys/ *.pem */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	assert_true(asprintf(&f->keys, "%s/keys", f->tmp) > 0);
	assert_int_equal(mkdir(f->keys, 0700), 0);
	assert_true(asprintf(&f->pattern, "%s/*.pem", f->keys) > 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	tu_rmtree(f->tmp);
	free(f->keys);
	free(f->pattern);
	free(f);
	return 0;
}

static void put_key(struct fixture *f, const char *name, const char *pem, mode_t mode)
{
	free(tu_write(f->keys, name, pem, mode));
}

static struct bl_keyring *load_ok(const char *pattern)
{
	struct bl_keyring *kr = NULL;
	char *msg = NULL;
	int r = bl_keyring_load(pattern, &kr, &msg);
	if (r != 0)
		fail_msg("loading %s: %d %s", pattern, r, msg ? msg : "");
	assert_null(msg);
	assert_non_null(kr);
	return kr;
}

/* Loading fails with a message that contains want. */
static void load_fails(const char *pattern, const char *want)
{
	struct bl_keyring *kr = (struct bl_keyring *)&kr;  /* must be reset */
	char *msg = NULL;
	assert_int_equal(bl_keyring_load(pattern, &kr, &msg), -BL_ECONFIG);
	assert_null(kr);
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
	free(msg);
}

/* A .sig object's text for key id and base64 signature. */
static char *sig_text(const char *id, const char *b64)
{
	char *text = NULL;
	assert_true(asprintf(&text, "bootlace-signature v1\nkey %s\nsig %s\n", id, b64) > 0);
	return text;
}

/* Verifies data against the .sig text with kr: the result, and *msg. */
static int verify_text(const struct bl_keyring *kr, const char *data, size_t len,
		       const char *text, char **msg)
{
	struct bl_signature sig;
	int r = bl_signature_parse(text, strlen(text), &sig, msg);
	return r < 0 ? r : bl_keyring_verify(kr, data, len, &sig, msg);
}

static void expect_refused(const struct bl_keyring *kr, const char *data, size_t len,
			   const char *text, const char *want)
{
	char *msg = NULL;
	assert_int_equal(verify_text(kr, data, len, text, &msg), -BL_ESIGNATURE);
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("message \"%s\" lacks \"%s\"", msg, want);
	free(msg);
}

/* The RFC's keys and signatures verify: plain Ed25519 over the bytes. */
static void test_rfc8032_vectors(void **state)
{
	struct fixture *f = *state;
	put_key(f, "one.pem", RFC1_PEM, 0644);
	put_key(f, "two.pem", RFC2_PEM, 0644);
	struct bl_keyring *kr = load_ok(f->pattern);
	assert_int_equal(bl_keyring_count(kr), 2);
	/* glob order: by name. */
	assert_string_equal(bl_keyring_key_id(kr, 0), RFC1_ID);
	assert_string_equal(bl_keyring_key_id(kr, 1), RFC2_ID);
	assert_non_null(strstr(bl_keyring_key_path(kr, 1), "/keys/two.pem"));
	char *ids = bl_keyring_ids(kr);
	assert_string_equal(ids, RFC1_ID ", " RFC2_ID);
	free(ids);

	char *msg = NULL;
	char *one = sig_text(RFC1_ID, RFC1_SIG), *two = sig_text(RFC2_ID, RFC2_SIG);
	assert_int_equal(verify_text(kr, "", 0, one, &msg), 0);
	assert_int_equal(verify_text(kr, "\x72", 1, two, &msg), 0);
	assert_null(msg);
	/* One bit of the message changed. */
	expect_refused(kr, "\x73", 1, two, "does not verify with trusted key " RFC2_ID);
	expect_refused(kr, "\x72\n", 2, two, "the content or its signature was altered");
	/* A signature of another message (test 1's, under test 2's key id). */
	char *swapped = sig_text(RFC2_ID, RFC1_SIG);
	expect_refused(kr, "\x72", 1, swapped, "does not verify");
	free(swapped);
	free(one);
	free(two);
	bl_keyring_free(kr);
}

/* The key id is the documented one: sha256 of the DER SubjectPublicKeyInfo. */
static void test_key_id(void **state)
{
	struct fixture *f = *state;
	char id[BL_KEY_ID_LEN + 1], *msg = NULL, *prefix = NULL, *pub = NULL;
	assert_true(asprintf(&prefix, "%s/release", f->tmp) > 0);
	assert_int_equal(bl_keygen(prefix, id, &msg), 0);
	assert_null(msg);
	assert_int_equal(strlen(id), BL_KEY_ID_LEN);

	/* The same id computed apart, from the .pub's DER. */
	assert_true(asprintf(&pub, "%s.pub", prefix) > 0);
	char *pem = tu_slurp(pub);
	assert_non_null(pem);
	const char *b = strchr(pem, '\n') + 1, *e = strstr(pem, "\n-----END");
	unsigned char der[128];
	char b64[128] = "";
	memcpy(b64, b, (size_t)(e - b));
	int n = EVP_DecodeBlock(der, (const unsigned char *)b64, (int)strlen(b64));
	assert_int_equal(n, 45);  /* 44 bytes and one of padding */
	char hex[65];
	bl_sha256_hex(der, 44, hex);
	assert_memory_equal(hex, id, BL_KEY_ID_LEN);

	/* And the private key says the same id. */
	char *priv = NULL;
	struct bl_signing_key *key = NULL;
	assert_true(asprintf(&priv, "%s.key", prefix) > 0);
	assert_int_equal(bl_signing_key_load(priv, &key, &msg), 0);
	assert_string_equal(bl_signing_key_id(key), id);
	bl_signing_key_free(key);
	free(priv);
	free(pem);
	free(pub);
	free(prefix);
}

/* keygen, sign, verify end to end; another key's signature is not trusted. */
static void test_sign_verify(void **state)
{
	struct fixture *f = *state;
	char id[BL_KEY_ID_LEN + 1], other_id[BL_KEY_ID_LEN + 1], *msg = NULL;
	char *prefix = NULL, *other = NULL, *priv = NULL, *other_priv = NULL, *pub = NULL;
	assert_true(asprintf(&prefix, "%s/release", f->tmp) > 0);
	assert_true(asprintf(&other, "%s/other", f->tmp) > 0);
	assert_int_equal(bl_keygen(prefix, id, &msg), 0);
	assert_int_equal(bl_keygen(other, other_id, &msg), 0);
	assert_string_not_equal(id, other_id);
	assert_true(asprintf(&priv, "%s.key", prefix) > 0);
	assert_true(asprintf(&other_priv, "%s.key", other) > 0);
	assert_true(asprintf(&pub, "%s.pub", prefix) > 0);
	char *pem = tu_slurp(pub);
	put_key(f, "release.pem", pem, 0644);
	free(pem);
	struct bl_keyring *kr = load_ok(f->pattern);

	static const char script[] = "#!/bin/sh\necho hello\n";
	struct bl_signing_key *key = NULL, *other_key = NULL;
	assert_int_equal(bl_signing_key_load(priv, &key, &msg), 0);
	assert_int_equal(bl_signing_key_load(other_priv, &other_key, &msg), 0);
	struct bl_signature sig, back;
	assert_int_equal(bl_sign(key, script, strlen(script), &sig), 0);
	assert_string_equal(sig.key_id, id);

	/* Through the .sig format and back. */
	struct bl_buf text = {0};
	assert_int_equal(bl_signature_format(&sig, &text), 0);
	assert_int_equal(text.len, 136);
	assert_int_equal(bl_signature_parse(text.data, text.len, &back, &msg), 0);
	assert_memory_equal(&back, &sig, sizeof(sig));
	assert_int_equal(verify_text(kr, script, strlen(script), text.data, &msg), 0);

	/* Tampered: one byte more, one byte changed. */
	expect_refused(kr, "#!/bin/sh\necho hello\n\n", strlen(script) + 1, text.data,
		       "does not verify with trusted key");
	expect_refused(kr, "#!/bin/sh\necho hellO\n", strlen(script), text.data, id);
	bl_buf_free(&text);

	/* Signed by a key that is not trusted: the message names it and the
	 * trusted ones. */
	assert_int_equal(bl_sign(other_key, script, strlen(script), &sig), 0);
	assert_int_equal(bl_signature_format(&sig, &text), 0);
	char *want = NULL;
	assert_true(asprintf(&want, "signed with key %s, which is not trusted (trusted keys: %s)",
			     other_id, id) > 0);
	expect_refused(kr, script, strlen(script), text.data, want);
	free(want);
	bl_buf_free(&text);

	/* The other key's signature under the trusted key's id. */
	memcpy(sig.key_id, id, sizeof(sig.key_id));
	assert_int_equal(bl_keyring_verify(kr, script, strlen(script), &sig, &msg), -BL_ESIGNATURE);
	assert_non_null(strstr(msg, "does not verify"));
	free(msg);

	bl_signing_key_free(key);
	bl_signing_key_free(other_key);
	bl_keyring_free(kr);
	free(prefix);
	free(other);
	free(priv);
	free(other_priv);
	free(pub);
}

/* Parsing fails with a message containing want. */
static void expect_malformed(const char *text, size_t len, const char *want)
{
	struct bl_signature sig;
	char *msg = NULL;
	assert_int_equal(bl_signature_parse(text, len, &sig, &msg), -BL_ESIGNATURE);
	assert_non_null(msg);
	if (!strstr(msg, want))
		fail_msg("for \"%.*s\": message \"%s\" lacks \"%s\"", (int)len, text, msg, want);
	free(msg);
}

#define MALFORMED(text, want) expect_malformed(text, sizeof(text) - 1, want)
#define HEAD "bootlace-signature v1\n"
#define KEY "key " RFC1_ID "\n"
#define SIG "sig " RFC1_SIG "\n"

static void test_malformed_sig(void **state)
{
	(void)state;
	struct bl_signature sig;
	char *msg = NULL;
	assert_int_equal(bl_signature_parse(HEAD KEY SIG, strlen(HEAD KEY SIG), &sig, &msg), 0);
	assert_string_equal(sig.key_id, RFC1_ID);

	MALFORMED("", "is empty");
	MALFORMED(HEAD, "ends after line 1 (3 lines expected)");
	MALFORMED(HEAD KEY, "ends after line 2");
	MALFORMED(HEAD KEY "sig " RFC1_SIG, "line 3 does not end with a newline");
	MALFORMED(HEAD KEY SIG "\n", "has more than 3 lines");
	MALFORMED(HEAD KEY SIG "sig " RFC1_SIG "\n", "has more than 3 lines");
	MALFORMED("bootlace-signature v2\n" KEY SIG, "line 1: format \"v2\" is not supported");
	MALFORMED("bootlace-signature  v1\n" KEY SIG, "line 1: format \" v1\" is not supported");
	MALFORMED("bootlace-signature v1 \n" KEY SIG, "line 1: format \"v1 \" is not supported");
	MALFORMED("-----BEGIN PGP SIGNATURE-----\n" KEY SIG, "not a bootlace signature");
	MALFORMED("bootlace-signature v1\r\n" KEY SIG, "line 1 ends in a carriage return");
	MALFORMED(HEAD "key " RFC1_ID "\r\n" SIG, "line 2 ends in a carriage return");
	MALFORMED(HEAD SIG KEY, "line 2 is not \"key <key id>\"");
	MALFORMED(HEAD "key  " RFC1_ID "\n" SIG, "line 2: the key id must be 16 lowercase hex");
	MALFORMED(HEAD "key 06E3FD8FDA29BB60\n" SIG, "line 2: the key id must be 16 lowercase hex");
	MALFORMED(HEAD "key 06e3fd8fda29bb6\n" SIG, "not \"06e3fd8fda29bb6\"");
	MALFORMED(HEAD "key 06e3fd8fda29bb600\n" SIG, "the key id must be");
	MALFORMED(HEAD "key 06e3fd8fda29bb6g\n" SIG, "the key id must be");
	MALFORMED(HEAD "key\n" SIG, "line 2 is not");
	MALFORMED(HEAD KEY "signature " RFC1_SIG "\n", "line 3 is not \"sig <base64>\"");
	/* Base64: too short, too long, padding gone, a bad character, a space,
	 * non-canonical trailing bits (…Cw== and …Cx== decode the same). */
	MALFORMED(HEAD KEY "sig 5VZDAMNg\n", "line 3: the signature must be the 88-character base64");
	MALFORMED(HEAD KEY "sig " RFC1_SIG "AAAA\n", "the signature must be");
	MALFORMED(HEAD KEY "sig 5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQCw\n", "the signature must be");
	MALFORMED(HEAD KEY "sig 5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQC*==\n", "the signature must be");
	MALFORMED(HEAD KEY "sig 5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQ Cw==\n", "the signature must be");
	MALFORMED(HEAD KEY "sig 5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQCx==\n", "the signature must be");
	MALFORMED(HEAD KEY "sig 5VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQCw=A\n", "the signature must be");
	MALFORMED(HEAD KEY "sig =VZDAMNgrHKQhuLMgG6CioSHfx645dl02HPgZSJJAVVfuIIVkKM7rMYeOXAc+bRr0lv"
		  "18FlbviRlUUFDjnoQCw==\n", "the signature must be");
	/* A NUL inside a line, and a body far too large to be a signature. */
	MALFORMED(HEAD "key 06e3fd8f\0da29bb60\n" SIG, "line 2 holds a NUL byte");
	char big[BL_SIGNATURE_MAX_SIZE + 2];
	memset(big, 'a', sizeof(big));
	expect_malformed(big, sizeof(big), "larger than any signature object");
}

/* Signed user data: the last line signs everything before it. */
static void test_inline(void **state)
{
	struct fixture *f = *state;
	char id[BL_KEY_ID_LEN + 1], *msg = NULL, *prefix = NULL, *priv = NULL, *pub = NULL;
	assert_true(asprintf(&prefix, "%s/ud", f->tmp) > 0);
	assert_int_equal(bl_keygen(prefix, id, &msg), 0);
	assert_true(asprintf(&priv, "%s.key", prefix) > 0);
	assert_true(asprintf(&pub, "%s.pub", prefix) > 0);
	char *pem = tu_slurp(pub);
	put_key(f, "ud.pem", pem, 0600);
	free(pem);
	struct bl_keyring *kr = load_ok(f->pattern);
	struct bl_signing_key *key = NULL;
	assert_int_equal(bl_signing_key_load(priv, &key, &msg), 0);

	static const char body[] = "#!/bin/sh\necho from user data\n";
	struct bl_signature sig, got;
	struct bl_buf ud = {0};
	assert_int_equal(bl_sign(key, body, strlen(body), &sig), 0);
	assert_int_equal(bl_buf_append(&ud, body, strlen(body)), 0);
	assert_int_equal(bl_signature_format_inline(&sig, &ud), 0);
	size_t signed_len = 0;
	assert_int_equal(bl_signature_split_inline(ud.data, ud.len, &signed_len, &got, &msg), 0);
	assert_int_equal(signed_len, strlen(body));
	assert_memory_equal(&got, &sig, sizeof(sig));
	assert_int_equal(bl_keyring_verify(kr, ud.data, signed_len, &got, &msg), 0);
	/* Without the final newline it is the same. */
	assert_int_equal(bl_signature_split_inline(ud.data, ud.len - 1, &signed_len, &got, &msg), 0);
	assert_int_equal(signed_len, strlen(body));

	/* A line added after the signature: it is no longer the last line. */
	struct bl_buf more = {0};
	assert_int_equal(bl_buf_printf(&more, "%secho sneaked in\n", ud.data), 0);
	assert_int_equal(bl_signature_split_inline(more.data, more.len, &signed_len, &got, &msg),
			 -BL_ESIGNATURE);
	assert_non_null(strstr(msg, "its last line is not a \"#bootlace-signature v1"));
	free(msg);
	msg = NULL;
	bl_buf_free(&more);
	/* Two newlines after it: the last line is empty. */
	assert_int_equal(bl_buf_printf(&more, "%s\n", ud.data), 0);
	assert_int_equal(bl_signature_split_inline(more.data, more.len, &signed_len, &got, &msg),
			 -BL_ESIGNATURE);
	free(msg);
	msg = NULL;
	bl_buf_free(&more);
	/* A line changed before it: split fine, verify refuses. */
	ud.data[strlen("#!/bin/sh\necho ")] = 'F';
	assert_int_equal(bl_signature_split_inline(ud.data, ud.len, &signed_len, &got, &msg), 0);
	assert_int_equal(bl_keyring_verify(kr, ud.data, signed_len, &got, &msg), -BL_ESIGNATURE);
	free(msg);
	msg = NULL;
	bl_buf_free(&ud);

	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "#!/bin/sh\necho unsigned\n", "it is not signed" },
		{ "", "it is not signed" },
		{ "#bootlace-signature v1 " RFC1_ID " " RFC1_SIG "\n",
		  "has nothing before its signature line" },
		{ "x\n#bootlace-signature v2 " RFC1_ID " " RFC1_SIG "\n",
		  "its signature line: format \"v2\" is not supported" },
		{ "x\n#bootlace-signature v1 " RFC1_ID "\n", "is not \"#bootlace-signature v1 <key id>" },
		{ "x\n#bootlace-signature v1 " RFC1_ID " " RFC1_SIG " extra\n", "the signature must be" },
		{ "x\n#bootlace-signature v1 " RFC1_ID "  " RFC1_SIG "\n", "the signature must be" },
		{ "x\n#bootlace-signature v1 06E3FD8FDA29BB60 " RFC1_SIG "\n", "the key id must be" },
		{ "x\n#bootlace-signature v1 " RFC1_ID " " RFC1_SIG "\r\n", "the signature must be" },
		{ "x\n #bootlace-signature v1 " RFC1_ID " " RFC1_SIG "\n", "it is not signed" },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(bl_signature_split_inline(bad[i].text, strlen(bad[i].text),
							   &signed_len, &got, &msg), -BL_ESIGNATURE);
		if (!strstr(msg, bad[i].want))
			fail_msg("for \"%s\": message \"%s\" lacks \"%s\"", bad[i].text, msg, bad[i].want);
		free(msg);
		msg = NULL;
	}
	/* A NUL in the signed part (binary user data is not for this). */
	static const char nul[] = "a\0b\n#bootlace-signature v1 " RFC1_ID " " RFC1_SIG "\n";
	assert_int_equal(bl_signature_split_inline(nul, sizeof(nul) - 1, &signed_len, &got, &msg),
			 -BL_ESIGNATURE);
	assert_non_null(strstr(msg, "NUL"));
	free(msg);

	bl_signing_key_free(key);
	bl_keyring_free(kr);
	free(prefix);
	free(priv);
	free(pub);
}

/* Key files and their directory must be as sshd's StrictModes wants. */
static void test_key_file_rules(void **state)
{
	struct fixture *f = *state;
	char *single = NULL;
	assert_true(asprintf(&single, "%s/one.pem", f->keys) > 0);

	load_fails(f->pattern, "matches no key file");
	put_key(f, "one.pem", RFC1_PEM, 0644);
	bl_keyring_free(load_ok(single));  /* a plain path works as well as a glob */

	assert_int_equal(chmod(single, 0664), 0);
	load_fails(f->pattern, "/keys/one.pem is group or world writable (mode 0664)");
	assert_int_equal(chmod(single, 0646), 0);
	load_fails(f->pattern, "world writable (mode 0646)");
	assert_int_equal(chmod(single, 0444), 0);
	bl_keyring_free(load_ok(f->pattern));

	assert_int_equal(chmod(f->keys, 0777), 0);
	load_fails(f->pattern, "/keys/one.pem is in ");
	load_fails(f->pattern, "/keys, which is group or world writable (mode 0777)");
	assert_int_equal(chmod(f->keys, 0755), 0);
	bl_keyring_free(load_ok(f->pattern));

	if (geteuid() == 0) {
		assert_int_equal(chown(single, NOBODY, NOBODY), 0);
		load_fails(f->pattern, "one.pem is owned by uid 65534, not by root");
		assert_int_equal(chown(single, 0, 0), 0);
		assert_int_equal(chown(f->keys, NOBODY, NOBODY), 0);
		load_fails(f->pattern, "/keys, which is owned by uid 65534, not by root");
		assert_int_equal(chown(f->keys, 0, 0), 0);
	}

	/* A symbolic link, even to a good key, is refused. */
	char *link_path = NULL;
	assert_true(asprintf(&link_path, "%s/link.pem", f->keys) > 0);
	assert_int_equal(symlink(single, link_path), 0);
	load_fails(f->pattern, "link.pem is a symbolic link");
	assert_int_equal(unlink(link_path), 0);
	/* A directory that matches the glob. */
	assert_int_equal(mkdir(link_path, 0700), 0);
	load_fails(f->pattern, "link.pem is not a regular file");
	assert_int_equal(rmdir(link_path), 0);
	free(link_path);

	/* All bad files are named at once; nothing is loaded. */
	put_key(f, "garbage.pem", "hello\n", 0644);
	put_key(f, "rsa.pem", RSA_PEM, 0644);
	put_key(f, "two.pem", RFC1_PEM RFC2_PEM, 0644);
	put_key(f, "private.pem", "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKpI4/QaZBWnyd8g"
		"35YaXAP/BJZTUtrRXU5QfIuxApQo\n-----END PRIVATE KEY-----\n", 0600);
	struct bl_keyring *kr = NULL;
	char *msg = NULL;
	assert_int_equal(bl_keyring_load(f->pattern, &kr, &msg), -BL_ECONFIG);
	assert_null(kr);
	assert_non_null(strstr(msg, "garbage.pem holds no PEM public key"));
	assert_non_null(strstr(msg, "rsa.pem is a RSA key, not Ed25519"));
	assert_non_null(strstr(msg, "two.pem holds more than one public key"));
	assert_non_null(strstr(msg, "private.pem holds a private key"));
	assert_null(strstr(msg, "one.pem"));
	free(msg);

	/* An unreadable or missing directory. */
	load_fails("/nonexistent-bootlace-keys/*.pem", "/nonexistent-bootlace-keys/*.pem");
	free(single);
}

static void test_keygen_and_private_keys(void **state)
{
	struct fixture *f = *state;
	char id[BL_KEY_ID_LEN + 1], *msg = NULL, *prefix = NULL, *priv = NULL, *pub = NULL;
	assert_true(asprintf(&prefix, "%s/k", f->tmp) > 0);
	assert_true(asprintf(&priv, "%s.key", prefix) > 0);
	assert_true(asprintf(&pub, "%s.pub", prefix) > 0);
	mode_t old = umask(0);
	assert_int_equal(bl_keygen(prefix, id, &msg), 0);
	umask(old);
	struct stat st;
	assert_int_equal(stat(priv, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(pub, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	char *before = tu_slurp(priv);

	/* Never replaced: both files stay as they were. */
	assert_int_equal(bl_keygen(prefix, id, &msg), -BL_EUNSAFE);
	assert_non_null(strstr(msg, "k.key already exists; refusing to replace it"));
	free(msg);
	msg = NULL;
	char *after = tu_slurp(priv);
	assert_string_equal(before, after);
	free(after);
	/* Only the .pub exists: nothing is written, no .key is left behind. */
	char *prefix2 = NULL, *priv2 = NULL;
	assert_true(asprintf(&prefix2, "%s/k2", f->tmp) > 0);
	assert_true(asprintf(&priv2, "%s.key", prefix2) > 0);
	free(tu_write(f->tmp, "k2.pub", "mine\n", 0644));
	assert_int_equal(bl_keygen(prefix2, id, &msg), -BL_EUNSAFE);
	assert_non_null(strstr(msg, "k2.pub already exists"));
	free(msg);
	msg = NULL;
	assert_int_equal(access(priv2, F_OK), -1);

	/* A private key open to others is refused, as ssh does. */
	struct bl_signing_key *key = NULL;
	assert_int_equal(chmod(priv, 0640), 0);
	assert_int_equal(bl_signing_key_load(priv, &key, &msg), -BL_ECONFIG);
	assert_non_null(strstr(msg, "open to group or others (mode 0640)"));
	free(msg);
	msg = NULL;
	assert_int_equal(chmod(priv, 0600), 0);
	/* A public key, or garbage, where the private key should be. */
	assert_int_equal(chmod(pub, 0600), 0);
	assert_int_equal(bl_signing_key_load(pub, &key, &msg), -BL_ECONFIG);
	assert_non_null(strstr(msg, "holds no unencrypted PEM private key"));
	free(msg);
	msg = NULL;
	assert_int_equal(bl_signing_key_load("/nonexistent/k.key", &key, &msg), -BL_ECONFIG);
	assert_non_null(strstr(msg, "/nonexistent/k.key: cannot read"));
	free(msg);
	assert_null(key);

	free(before);
	free(prefix);
	free(prefix2);
	free(priv);
	free(priv2);
	free(pub);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rfc8032_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_id, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_verify, setup, teardown),
		cmocka_unit_test(test_malformed_sig),
		cmocka_unit_test_setup_teardown(test_inline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_key_file_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keygen_and_private_keys, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
