/* fuzz-template.c - layer path templates (src/template.c) against a fuzzed
 * instance.  Input: NUL-separated fields TEMPLATE, EVENT, the tag names
 * behind {role} and {environment} ("" = role, environment), then tag KEY,
 * VALUE pairs.  An expansion is a relative path of safe components, or an
 * error that names the tag to blame: never "..", never a template that
 * bl_template_validate refused. */
#include <string.h>

#include "bootlace/config.h"
#include "bootlace/error.h"
#include "bootlace/instance.h"
#include "bootlace/template.h"
#include "fuzz.h"

static void check_path(const char *path)
{
	FUZZ_ASSERT(*path && *path != '/' && !fuzz_has_control(path));
	FUZZ_ASSERT(!strpbrk(path, "{}\\"));
	for (const char *s = path;; ) {
		size_t n = strcspn(s, "/");
		FUZZ_ASSERT(n > 0 && !(n == 1 && s[0] == '.') &&
			    !(n == 2 && s[0] == '.' && s[1] == '.'));
		if (!s[n])
			break;
		s += n + 1;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_fields f;
	if (!fuzz_fields_init(&f, data, size))
		return 0;
	const char *tmpl = fuzz_field(&f);
	const char *event = fuzz_field(&f);
	struct bl_config cfg = { .tag_role = fuzz_field(&f), .tag_environment = fuzz_field(&f) };
	if (!*cfg.tag_role)
		cfg.tag_role = "role";
	if (!*cfg.tag_environment)
		cfg.tag_environment = "environment";
	struct bl_instance inst = {0};
	while (fuzz_fields_left(&f)) {
		const char *key = fuzz_field(&f);
		if (bl_instance_set_tag(&inst, key, fuzz_field(&f)) < 0)
			goto out;
	}

	char *msg = NULL;
	int col = 0;
	int valid = bl_template_validate(tmpl, &msg, &col);
	FUZZ_ASSERT(valid == 0 || valid == -BL_ECONFIG || valid == -BL_ENOMEM);
	if (valid == -BL_ECONFIG) {
		FUZZ_ASSERT(msg && !fuzz_has_control(msg));
		FUZZ_ASSERT(col >= 1 && (size_t)col <= strlen(tmpl) + 1);
	}
	FUZZ_ASSERT(valid == -BL_ECONFIG || !msg);
	free(msg);

	char *path = NULL, *tag = NULL;
	int r = bl_template_expand(tmpl, event, &inst, &cfg, &path, &tag);
	if (valid == -BL_ECONFIG)
		FUZZ_ASSERT(r == -BL_ECONFIG);
	else if (valid == 0)
		FUZZ_ASSERT(r == 0 || r == -BL_EMISSINGTAG || r == -BL_EUNSAFE || r == -BL_ENOMEM);
	FUZZ_ASSERT((r == 0) == (path != NULL));
	if (r == 0)
		check_path(path);
	/* An unsafe value names its tag; an unsafe path from safe values
	 * (tag NULL) would mean validation let a bad template through. */
	FUZZ_ASSERT((r == -BL_EMISSINGTAG || r == -BL_EUNSAFE) == (tag != NULL));
	if (r == -BL_EMISSINGTAG)
		FUZZ_ASSERT(!bl_instance_tag(&inst, tag));
	free(path);
	free(tag);
out:
	bl_instance_free(&inst);
	fuzz_fields_free(&f);
	return 0;
}
