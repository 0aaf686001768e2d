/* userdata.c - decodes and classifies the instance's user data (userdata.h).
 *
 * User data is the one input any launcher of the instance controls, so gzip
 * is inflated in fixed chunks against a hard cap: a small compressed bomb
 * fails as soon as it passes the cap instead of being materialised first.
 * Nothing here logs: the content may hold secrets, and the caller knows
 * which datasource the bytes came from. */
#include "bootlace/userdata.h"

#include <limits.h>
#include <string.h>

#define ZLIB_CONST
#include <zlib.h>

#include "bootlace/error.h"

static int inflate_gzip(const void *raw, size_t len, struct bl_buf *out)
{
	/* avail_in is a uInt; no sane user data comes near it. */
	if (len > UINT_MAX)
		return -BL_ETOOBIG;

	z_stream zs = { .next_in = raw, .avail_in = (uInt)len };
	/* 16 + MAX_WBITS: a gzip wrapper and nothing else (no raw or zlib). */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -BL_ENOMEM;

	unsigned char chunk[16384];
	int zr, r = 0;
	do {
		zs.next_out = chunk;
		zs.avail_out = sizeof(chunk);
		zr = inflate(&zs, Z_NO_FLUSH);
		if (zr != Z_OK && zr != Z_STREAM_END)
			break;
		size_t n = sizeof(chunk) - zs.avail_out;
		if (out->len + n > BL_USERDATA_MAX_INFLATED) {
			r = -BL_ETOOBIG;
			break;
		}
		r = bl_buf_append(out, chunk, n);
	} while (r == 0 && zr == Z_OK);
	inflateEnd(&zs);

	if (r < 0)
		return r;
	if (zr == Z_MEM_ERROR)
		return -BL_ENOMEM;
	/* Z_BUF_ERROR here means the input ran out mid-stream: truncated.
	 * Bytes left after the end are refused too, rather than guessing
	 * whether they are padding, another member or an attack. */
	return zr == Z_STREAM_END && zs.avail_in == 0 ? 0 : -BL_EFORMAT;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!memchr(" \t\r\n\v\f", s[i], 6))
			return false;
	return true;
}

static enum bl_userdata_kind classify(const char *s, size_t len)
{
	static const char bom[] = "\xef\xbb\xbf";
	static const char magic[] = "#bootlace";

	if (all_space(s, len))
		return BL_USERDATA_EMPTY;
	/* No BOM skipping here: the kernel only honours "#!" as the very
	 * first bytes, so a script behind a BOM would not run. */
	if (len >= 2 && memcmp(s, "#!", 2) == 0)
		return BL_USERDATA_SCRIPT;
	/* Editors on some systems prepend a BOM; YAML ignores it, so do we. */
	if (len >= sizeof(bom) - 1 && memcmp(s, bom, sizeof(bom) - 1) == 0) {
		s += sizeof(bom) - 1;
		len -= sizeof(bom) - 1;
	}
	if (len < sizeof(magic) - 1 || memcmp(s, magic, sizeof(magic) - 1) != 0)
		return BL_USERDATA_UNKNOWN;
	size_t i = sizeof(magic) - 1;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == len || s[i] == '\n' || (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n'))
		return BL_USERDATA_CONFIG;
	return BL_USERDATA_UNKNOWN;
}

int bl_userdata_decode(const void *raw, size_t len, struct bl_buf *out,
		       enum bl_userdata_kind *kind)
{
	/* Decoded aside and moved in at the end, so out may even be the
	 * buffer raw points into. */
	struct bl_buf buf = {0};
	int r;

	if (len >= 2 && memcmp(raw, "\x1f\x8b", 2) == 0)
		r = inflate_gzip(raw, len, &buf);
	else
		r = bl_buf_append(&buf, raw, len);
	if (r < 0) {
		bl_buf_free(&buf);
		bl_buf_free(out);
		return r;
	}
	bl_buf_move(out, &buf);
	*kind = classify(out->data, out->len);
	return 0;
}

const char *bl_userdata_kind_name(enum bl_userdata_kind kind)
{
	/* A switch, not a table, so -Wswitch flags a kind added without a name. */
	switch (kind) {
	case BL_USERDATA_EMPTY:
		return "empty";
	case BL_USERDATA_SCRIPT:
		return "script";
	case BL_USERDATA_CONFIG:
		return "bootlace config";
	case BL_USERDATA_UNKNOWN:
		return "unknown";
	}
	return "invalid";
}
