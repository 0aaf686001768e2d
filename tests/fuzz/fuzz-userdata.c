/* fuzz-userdata.c - user data as any launcher of an instance can set it:
 * bl_userdata_decode (gzip inflation under its cap, classification), and a
 * "#bootlace" document then merged into a config, as the agent does. */
#include <string.h>

#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/userdata.h"
#include "fuzz.h"

/* The agent's next step for a "#bootlace" document. */
static void merge(const struct bl_buf *text)
{
	struct bl_config cfg;
	struct bl_config_diags diags = {0};
	if (bl_config_init(&cfg) < 0)
		return;
	int r = bl_config_merge_user_data(&cfg, text->data, text->len, &diags);
	FUZZ_ASSERT(r == 0 || r == -BL_ECONFIG || r == -BL_ENOMEM);
	FUZZ_ASSERT(!cfg.require_signature && !cfg.require_signed_user_data);
	FUZZ_ASSERT(strcmp(cfg.trusted_keys, BL_DEFAULT_TRUSTED_KEYS) == 0);
	bl_config_diags_free(&diags);
	bl_config_free(&cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
	struct bl_buf out = {0};
	enum bl_userdata_kind kind;
	int r = bl_userdata_decode(data, size, &out, &kind);
	FUZZ_ASSERT(r == 0 || r == -BL_ENOMEM || (gzip && (r == -BL_ETOOBIG || r == -BL_EFORMAT)));
	if (r < 0) {
		FUZZ_ASSERT(!out.data && out.len == 0);
		return 0;
	}
	FUZZ_ASSERT(out.data && out.data[out.len] == '\0');
	FUZZ_ASSERT(gzip ? out.len <= BL_USERDATA_MAX_INFLATED
			 : out.len == size && memcmp(out.data, data, size) == 0);
	FUZZ_ASSERT(strcmp(bl_userdata_kind_name(kind), "invalid") != 0);
	if (kind == BL_USERDATA_SCRIPT)
		FUZZ_ASSERT(memcmp(out.data, "#!", 2) == 0);

	/* The documented in-place use (main.c decodes a buffer into itself)
	 * must give the same answer. */
	struct bl_buf inplace = {0};
	enum bl_userdata_kind inplace_kind;
	if (bl_buf_append(&inplace, data, size) == 0 &&
	    bl_userdata_decode(inplace.data, inplace.len, &inplace, &inplace_kind) == 0) {
		FUZZ_ASSERT(inplace_kind == kind && inplace.len == out.len);
		FUZZ_ASSERT(memcmp(inplace.data, out.data, out.len) == 0);
	}
	bl_buf_free(&inplace);

	if (kind == BL_USERDATA_CONFIG)
		merge(&out);
	bl_buf_free(&out);
	return 0;
}
