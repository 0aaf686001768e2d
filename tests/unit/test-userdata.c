/* test-userdata.c - user data classification and gzip decoding: the kinds,
 * the #bootlace first-line rule, and the inflate cap against gzip bombs.
 * Every gzip stream is built here with zlib, so the tests need no fixtures. */
#include "testutil.h"

#define ZLIB_CONST
#include <zlib.h>

#include "bootlace/error.h"
#include "bootlace/userdata.h"

#define MIB (1024 * 1024)

/* gzips total bytes made of data[0..len) repeated, streaming, into gz. */
static void gzip_repeat(struct bl_buf *gz, const void *data, size_t len, size_t total)
{
	z_stream zs = {0};
	unsigned char out[65536];
	int zr;

	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8,
				      Z_DEFAULT_STRATEGY), Z_OK);
	do {
		size_t n = total < len ? total : len;
		zs.next_in = data;
		zs.avail_in = (uInt)n;
		total -= n;
		do {
			zs.next_out = out;
			zs.avail_out = sizeof(out);
			zr = deflate(&zs, total ? Z_NO_FLUSH : Z_FINISH);
			assert_true(zr == Z_OK || zr == Z_STREAM_END || zr == Z_BUF_ERROR);
			assert_int_equal(bl_buf_append(gz, out, sizeof(out) - zs.avail_out), 0);
		} while (zs.avail_out == 0);
		assert_int_equal(zs.avail_in, 0);
	} while (total);
	assert_int_equal(zr, Z_STREAM_END);
	deflateEnd(&zs);
}

static void gzip(struct bl_buf *gz, const void *data, size_t len)
{
	gzip_repeat(gz, data, len, len);
}

static void expect_kind(const void *raw, size_t len, enum bl_userdata_kind want)
{
	struct bl_buf out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;
	int r = bl_userdata_decode(raw, len, &out, &kind);
	assert_int_equal(r, 0);
	assert_int_equal(kind, want);
	/* Not gzip: out is the input, byte for byte. */
	assert_int_equal(out.len, len);
	assert_non_null(out.data);
	if (len)
		assert_memory_equal(out.data, raw, len);
	bl_buf_free(&out);
}

#define EXPECT_KIND(lit, want) expect_kind(lit, sizeof(lit) - 1, want)

static void expect_error(const void *raw, size_t len, int want)
{
	struct bl_buf out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;
	/* Whatever out held is gone after an error. */
	assert_int_equal(bl_buf_append(&out, "old", 3), 0);
	assert_int_equal(bl_userdata_decode(raw, len, &out, &kind), want);
	assert_null(out.data);
	assert_int_equal(out.len, 0);
}

static void test_script(void **state)
{
	(void)state;
	EXPECT_KIND("#!/bin/sh\necho hello\n", BL_USERDATA_SCRIPT);
	EXPECT_KIND("#!", BL_USERDATA_SCRIPT);
	EXPECT_KIND("#!/usr/bin/env python3\r\nprint(1)\r\n", BL_USERDATA_SCRIPT);
	/* The kernel wants "#!" as the first bytes. */
	EXPECT_KIND(" #!/bin/sh\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("\n#!/bin/sh\n", BL_USERDATA_UNKNOWN);
}

static void test_config(void **state)
{
	(void)state;
	EXPECT_KIND("#bootlace\nsource: file:///srv/layers\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("#bootlace\r\nsource: file:///srv/layers\r\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("#bootlace  \t \nlayers: []\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("#bootlace \t\r\nlayers: []\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("#bootlace", BL_USERDATA_CONFIG);
	EXPECT_KIND("#bootlace  ", BL_USERDATA_CONFIG);
}

static void test_config_near_misses(void **state)
{
	(void)state;
	EXPECT_KIND("#bootlacex\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#bootlace x\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#bootlace:\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#bootlace\r", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#bootlace\rx\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#BOOTLACE\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND(" #bootlace\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#bootlac", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("source: x\n#bootlace\n", BL_USERDATA_UNKNOWN);
}

static void test_bom(void **state)
{
	(void)state;
	EXPECT_KIND("\xef\xbb\xbf#bootlace\nlayers: []\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("\xef\xbb\xbf#bootlace\r\n", BL_USERDATA_CONFIG);
	EXPECT_KIND("\xef\xbb\xbf#bootlacex\n", BL_USERDATA_UNKNOWN);
	/* A BOM before "#!" would stop the kernel from running it. */
	EXPECT_KIND("\xef\xbb\xbf#!/bin/sh\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("\xef\xbb\xbf", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("\xef\xbb", BL_USERDATA_UNKNOWN);
}

static void test_unknown(void **state)
{
	(void)state;
	EXPECT_KIND("#cloud-config\npackages: [nginx]\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("Content-Type: multipart/mixed; boundary=x\n", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("hello", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("#", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("\x00\x01\x02", BL_USERDATA_UNKNOWN);
	/* One byte of the gzip magic is not gzip. */
	EXPECT_KIND("\x1f", BL_USERDATA_UNKNOWN);
	EXPECT_KIND("\x8b\x1f", BL_USERDATA_UNKNOWN);
}

static void test_empty(void **state)
{
	(void)state;
	struct bl_buf out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_UNKNOWN;
	assert_int_equal(bl_userdata_decode(NULL, 0, &out, &kind), 0);
	assert_int_equal(kind, BL_USERDATA_EMPTY);
	assert_int_equal(out.len, 0);
	assert_string_equal(out.data, "");
	bl_buf_free(&out);

	EXPECT_KIND("", BL_USERDATA_EMPTY);
	EXPECT_KIND(" ", BL_USERDATA_EMPTY);
	EXPECT_KIND(" \t\r\n\v\f\n", BL_USERDATA_EMPTY);
	EXPECT_KIND("\n\n x", BL_USERDATA_UNKNOWN);
}

static void test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(bl_userdata_kind_name(BL_USERDATA_EMPTY), "empty");
	assert_string_equal(bl_userdata_kind_name(BL_USERDATA_SCRIPT), "script");
	assert_string_equal(bl_userdata_kind_name(BL_USERDATA_CONFIG), "bootlace config");
	assert_string_equal(bl_userdata_kind_name(BL_USERDATA_UNKNOWN), "unknown");
}

static void expect_gzip(const char *text, enum bl_userdata_kind want)
{
	struct bl_buf gz = {0}, out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;
	size_t len = strlen(text);

	gzip(&gz, text, len);
	assert_int_equal(bl_userdata_decode(gz.data, gz.len, &out, &kind), 0);
	assert_int_equal(kind, want);
	assert_int_equal(out.len, len);
	assert_non_null(out.data);
	assert_memory_equal(out.data, text, len);
	assert_int_equal(out.data[len], '\0');
	bl_buf_free(&gz);
	bl_buf_free(&out);
}

static void test_gzip_script(void **state)
{
	(void)state;
	expect_gzip("#!/bin/sh\nset -eu\necho \"from gzip\"\n", BL_USERDATA_SCRIPT);
}

static void test_gzip_config(void **state)
{
	(void)state;
	expect_gzip("#bootlace\r\nlayers:\n  - path: x.sh\n", BL_USERDATA_CONFIG);
	expect_gzip("#cloud-config\n", BL_USERDATA_UNKNOWN);
	expect_gzip("", BL_USERDATA_EMPTY);
	expect_gzip("\n \n", BL_USERDATA_EMPTY);
}

static void test_gzip_in_gzip_not_unwrapped(void **state)
{
	(void)state;
	static const char script[] = "#!/bin/sh\necho inner\n";
	struct bl_buf inner = {0}, outer = {0}, out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;

	gzip(&inner, script, sizeof(script) - 1);
	gzip(&outer, inner.data, inner.len);
	assert_int_equal(bl_userdata_decode(outer.data, outer.len, &out, &kind), 0);
	assert_int_equal(kind, BL_USERDATA_UNKNOWN);
	assert_int_equal(out.len, inner.len);
	assert_memory_equal(out.data, inner.data, inner.len);
	bl_buf_free(&inner);
	bl_buf_free(&outer);
	bl_buf_free(&out);
}

static void test_gzip_bomb(void **state)
{
	(void)state;
	static const char zeros[65536];
	struct bl_buf gz = {0};

	gzip_repeat(&gz, zeros, sizeof(zeros), (size_t)50 * MIB);
	/* The point of a bomb: tiny on the wire. */
	assert_true(gz.len < 100 * 1024);
	expect_error(gz.data, gz.len, -BL_ETOOBIG);
	bl_buf_free(&gz);
}

/* A script of exactly size bytes, gzipped. */
static void gzip_script_of_size(struct bl_buf *gz, char **text, size_t size)
{
	static const char head[] = "#!/bin/sh\n";
	*text = malloc(size);
	assert_non_null(*text);
	memset(*text, '#', size);
	memcpy(*text, head, sizeof(head) - 1);
	gzip(gz, *text, size);
}

static void test_gzip_cap_exact(void **state)
{
	(void)state;
	struct bl_buf gz = {0}, out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;
	char *text;

	gzip_script_of_size(&gz, &text, BL_USERDATA_MAX_INFLATED);
	assert_int_equal(bl_userdata_decode(gz.data, gz.len, &out, &kind), 0);
	assert_int_equal(kind, BL_USERDATA_SCRIPT);
	assert_int_equal(out.len, MIB);
	assert_memory_equal(out.data, text, MIB);
	bl_buf_free(&gz);
	bl_buf_free(&out);
	free(text);
}

static void test_gzip_cap_plus_one(void **state)
{
	(void)state;
	struct bl_buf gz = {0};
	char *text;

	gzip_script_of_size(&gz, &text, BL_USERDATA_MAX_INFLATED + 1);
	expect_error(gz.data, gz.len, -BL_ETOOBIG);
	bl_buf_free(&gz);
	free(text);
}

static void test_gzip_truncated(void **state)
{
	(void)state;
	static const char script[] = "#!/bin/sh\necho truncated\n";
	struct bl_buf gz = {0};

	gzip(&gz, script, sizeof(script) - 1);
	/* Mid-trailer, mid-body, header only, magic only. */
	expect_error(gz.data, gz.len - 1, -BL_EFORMAT);
	expect_error(gz.data, gz.len - 8, -BL_EFORMAT);
	expect_error(gz.data, gz.len / 2, -BL_EFORMAT);
	expect_error(gz.data, 10, -BL_EFORMAT);
	expect_error(gz.data, 2, -BL_EFORMAT);
	bl_buf_free(&gz);
}

static void test_gzip_corrupt(void **state)
{
	(void)state;
	static const char script[] = "#!/bin/sh\necho corrupt\n";
	struct bl_buf gz = {0};

	gzip(&gz, script, sizeof(script) - 1);
	/* Byte 2 is the method (8, deflate); then the CRC and the length. */
	size_t pos[] = { 2, gz.len - 8, gz.len - 1 };
	for (size_t i = 0; i < ARRAY_SIZE(pos); i++) {
		gz.data[pos[i]] ^= 0x55;
		expect_error(gz.data, gz.len, -BL_EFORMAT);
		gz.data[pos[i]] ^= 0x55;
	}
	/* Garbage after a valid header. */
	memset(gz.data + 10, 0xff, gz.len - 10);
	expect_error(gz.data, gz.len, -BL_EFORMAT);
	bl_buf_free(&gz);
}

static void test_gzip_trailing_data(void **state)
{
	(void)state;
	static const char script[] = "#!/bin/sh\necho trailing\n";
	struct bl_buf gz = {0}, two = {0};

	gzip(&gz, script, sizeof(script) - 1);
	assert_int_equal(bl_buf_append(&two, gz.data, gz.len), 0);
	/* A second member is refused, not silently dropped. */
	gzip(&two, script, sizeof(script) - 1);
	expect_error(two.data, two.len, -BL_EFORMAT);
	assert_int_equal(bl_buf_append(&gz, "\n", 1), 0);
	expect_error(gz.data, gz.len, -BL_EFORMAT);
	bl_buf_free(&gz);
	bl_buf_free(&two);
}

static void test_replaces_out(void **state)
{
	(void)state;
	static const char script[] = "#!/bin/sh\n";
	struct bl_buf out = {0};
	enum bl_userdata_kind kind = BL_USERDATA_EMPTY;

	assert_int_equal(bl_buf_append(&out, "previous contents", 17), 0);
	assert_int_equal(bl_userdata_decode(script, sizeof(script) - 1, &out, &kind), 0);
	assert_int_equal(kind, BL_USERDATA_SCRIPT);
	assert_string_equal(out.data, script);
	/* out may be the very buffer being decoded. */
	assert_int_equal(bl_userdata_decode(out.data, out.len, &out, &kind), 0);
	assert_int_equal(kind, BL_USERDATA_SCRIPT);
	assert_string_equal(out.data, script);
	bl_buf_free(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_config_near_misses),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_gzip_script),
		cmocka_unit_test(test_gzip_config),
		cmocka_unit_test(test_gzip_in_gzip_not_unwrapped),
		cmocka_unit_test(test_gzip_bomb),
		cmocka_unit_test(test_gzip_cap_exact),
		cmocka_unit_test(test_gzip_cap_plus_one),
		cmocka_unit_test(test_gzip_truncated),
		cmocka_unit_test(test_gzip_corrupt),
		cmocka_unit_test(test_gzip_trailing_data),
		cmocka_unit_test(test_replaces_out),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
