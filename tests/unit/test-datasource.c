/* test-datasource.c - the nocloud seed loader (modules/datasource-nocloud.c) and datasource selection with a fake sysfs (src/datasource.c). */
#include "testutil.h"


#include "bootlace/config.h"
#include "bootlace/datasource.h"
#include "bootlace/error.h"
#include "bootlace/instance.h"

struct fixture {
	char *tmp;
	char *seed;   /* <tmp>/seed, not created */
	char *sysfs;  /* <tmp>/root, BOOTLACE_SYSFS_ROOT, empty unless a test fills it */
	struct bl_config cfg;
	struct bl_instance inst;
};

static void mkdirs(const char *base, const char *rel)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/%s", base, rel) > 0);
	for (char *p = path + strlen(base) + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char saved = *p;
			*p = '\0';
			if (mkdir(path, 0755) < 0)
				assert_true(access(path, F_OK) == 0);
			*p = saved;
			if (!saved)
				break;
		}
	}
	free(path);
}

static void put(const char *dir, const char *name, const char *text)
{
	free(tu_write(dir, name, text, 0644));
}

static void put_seed(struct fixture *f, const char *meta_data)
{
	mkdirs(f->tmp, "seed");
	put(f->seed, "meta-data", meta_data);
}

/* Writes <sysfs root>/rel (directories made) with text. */
static void put_sysfs(struct fixture *f, const char *rel, const char *text)
{
	char *copy = strdup(rel);
	*strrchr(copy, '/') = '\0';
	mkdirs(f->sysfs, copy);
	free(copy);
	put(f->sysfs, rel, text);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->tmp = tu_mkdtemp();
	assert_non_null(f->tmp);
	assert_true(asprintf(&f->seed, "%s/seed", f->tmp) > 0);
	assert_true(asprintf(&f->sysfs, "%s/root", f->tmp) > 0);
	assert_int_equal(mkdir(f->sysfs, 0755), 0);
	/* Whatever machine runs the tests, detection sees only our fake tree. */
	assert_int_equal(setenv("BOOTLACE_SYSFS_ROOT", f->sysfs, 1), 0);
	assert_int_equal(unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT"), 0);
	assert_int_equal(bl_config_init(&f->cfg), 0);
	free(f->cfg.datasource_dir);
	f->cfg.datasource_dir = strdup(f->seed);
	assert_non_null(f->cfg.datasource_dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	unsetenv("BOOTLACE_SYSFS_ROOT");
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	bl_instance_free(&f->inst);
	bl_config_free(&f->cfg);
	free(f->sysfs);
	free(f->seed);
	tu_rmtree(f->tmp);
	free(f);
	return 0;
}

static void set_datasource(struct fixture *f, const char *name)
{
	free(f->cfg.datasource);
	f->cfg.datasource = strdup(name);
	assert_non_null(f->cfg.datasource);
}

static int load(struct fixture *f)
{
	bl_instance_free(&f->inst);
	return bl_datasource_nocloud.load(&f->cfg, &f->inst);
}

/* load(), with what it logs (bootlace logs to stderr) in *log (malloc'd). */
static int load_logged(struct fixture *f, char **log)
{
	char *path = NULL;
	assert_true(asprintf(&path, "%s/stderr.log", f->tmp) > 0);
	int saved = tu_stderr_to(path);
	int r = load(f);
	*log = tu_stderr_back(&saved, path);
	free(path);
	return r;
}

static const char good_meta[] =
	"instance-id: i-0abc123def\n"
	"local-hostname: web-1\n"
	"region: eu-west-1\n"
	"availability-zone: eu-west-1b\n"
	"tags:\n"
	"  role: web\n"
	"  environment: prod\n"
	"  Name: \"web server 1\"\n";

static void test_load_good_seed(void **state)
{
	struct fixture *f = *state;
	put_seed(f, good_meta);
	/* User data is bytes: NULs, CRs, no trailing newline, all kept. */
	static const char user[] = "#!/bin/sh\r\necho \0hi\n\x1f\x8b\xff";
	char *path = NULL;
	assert_true(asprintf(&path, "%s/user-data", f->seed) > 0);
	FILE *u = fopen(path, "wb");
	assert_non_null(u);
	assert_int_equal(fwrite(user, 1, sizeof(user) - 1, u), sizeof(user) - 1);
	assert_int_equal(fclose(u), 0);
	free(path);

	assert_int_equal(load(f), 0);
	assert_string_equal(f->inst.datasource, "nocloud");
	assert_string_equal(f->inst.instance_id, "i-0abc123def");
	assert_string_equal(f->inst.region, "eu-west-1");
	assert_string_equal(f->inst.availability_zone, "eu-west-1b");
	assert_int_equal(f->inst.n_tags, 3);
	assert_string_equal(f->inst.tags[0].key, "role");
	assert_string_equal(f->inst.tags[0].value, "web");
	assert_string_equal(bl_instance_tag(&f->inst, "environment"), "prod");
	assert_string_equal(bl_instance_tag(&f->inst, "Name"), "web server 1");
	assert_null(bl_instance_tag(&f->inst, "name"));
	assert_true(f->inst.has_user_data);
	assert_int_equal(f->inst.user_data.len, sizeof(user) - 1);
	assert_memory_equal(f->inst.user_data.data, user, sizeof(user) - 1);
}

static void test_load_minimal_no_user_data(void **state)
{
	struct fixture *f = *state;
	put_seed(f, "instance-id: i-1\n");
	assert_int_equal(load(f), 0);
	assert_string_equal(f->inst.instance_id, "i-1");
	assert_null(f->inst.region);
	assert_null(f->inst.availability_zone);
	assert_int_equal(f->inst.n_tags, 0);
	assert_false(f->inst.has_user_data);
	assert_int_equal(f->inst.user_data.len, 0);
	assert_null(f->inst.user_data.data);

	/* tags: null is no tags; an unknown key is only a warning. */
	put_seed(f, "instance-id: i-2\ntags: ~\nplatform: metal\n");
	assert_int_equal(load(f), 0);
	assert_string_equal(f->inst.instance_id, "i-2");
	assert_int_equal(f->inst.n_tags, 0);

	/* An empty user-data file is user data of length 0. */
	put(f->seed, "user-data", "");
	assert_int_equal(load(f), 0);
	assert_true(f->inst.has_user_data);
	assert_int_equal(f->inst.user_data.len, 0);
}

static void test_load_errors(void **state)
{
	struct fixture *f = *state;
	/* Each bad meta-data and the FILE:LINE:COL: message it must produce. */
	static const struct { const char *meta, *log; } bad[] = {
		/* no instance id */
		{ "region: eu-west-1\ntags:\n  role: web\n", "meta-data:1:1: instance-id is required" },
		{ "instance-id: ~\n", "meta-data:1:14: instance-id: expected a string" },
		{ "instance-id:\n", "meta-data:1:13: instance-id: expected a string" },
		{ "instance-id: [i-1]\n", "meta-data:1:14: instance-id: expected a string" },
		{ "instance-id: {a: b}\n", "meta-data:1:14: instance-id: expected a string" },
		/* an instance id that is not a safe path component */
		{ "instance-id: ../x\n", "meta-data:1:14: instance-id must match [A-Za-z0-9._-]{1,128}" },
		{ "instance-id: \"..\"\n", "meta-data:1:14: instance-id must match" },
		{ "instance-id: \".\"\n", "meta-data:1:14: instance-id must match" },
		{ "instance-id: \"\"\n", "meta-data:1:14: instance-id must match" },
		{ "instance-id: i-1/../../x\n", "meta-data:1:14: instance-id must match" },
		{ "instance-id: \"i 1\"\n", "meta-data:1:14: instance-id must match" },
		{ "instance-id: i-0000000000000000000000000000000000000000000000000000000000000000"
		  "000000000000000000000000000000000000000000000000000000000000000000\n",
		  "meta-data:1:14: instance-id must match" },
		/* tags that are not a map of strings */
		{ "instance-id: i-1\ntags: [role, web]\n",
		  "meta-data:2:7: tags: expected a mapping of tag key to value" },
		{ "instance-id: i-1\ntags: web\n",
		  "meta-data:2:7: tags: expected a mapping of tag key to value" },
		{ "instance-id: i-1\ntags:\n  role: [web]\n",
		  "meta-data:3:9: tags.role: expected a string value" },
		{ "instance-id: i-1\ntags:\n  role: {a: b}\n",
		  "meta-data:3:9: tags.role: expected a string value" },
		/* other string fields */
		{ "instance-id: i-1\nregion: [eu]\n", "meta-data:2:9: region: expected a string" },
		{ "instance-id: i-1\navailability-zone: ~\n",
		  "meta-data:2:20: availability-zone: expected a string" },
		/* not a mapping */
		{ "", "meta-data:0:0: meta-data must be a mapping with instance-id" },
		{ "# nothing\n", "meta-data:0:0: meta-data must be a mapping with instance-id" },
		{ "- instance-id: i-1\n", "meta-data:1:1: meta-data must be a mapping with instance-id" },
		{ "i-1\n", "meta-data:1:1: meta-data must be a mapping with instance-id" },
		/* not (acceptable) YAML */
		{ "instance-id: i-1\ninstance-id: i-2\n", "meta-data:2:1: duplicate key \"instance-id\"" },
		{ "instance-id: i-1\ntags: {role: web\n",
		  "meta-data:3:1: YAML syntax error: did not find expected ',' or '}'" },
		{ "instance-id: \"i-1\n",
		  "meta-data:2:1: YAML syntax error: found unexpected end of stream" },
		{ "instance-id: i-1\n  region: x\n",
		  "meta-data:2:9: YAML syntax error: mapping values are not allowed in this context" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put_seed(f, bad[i].meta);
		char *log = NULL;
		int r = load_logged(f, &log);
		if (r != -BL_EDATASOURCE)
			fail_msg("meta-data #%zu \"%s\": got %d, want %d", i, bad[i].meta, r,
				 -BL_EDATASOURCE);
		if (!strstr(log, bad[i].log) || !strstr(log, f->seed))
			fail_msg("meta-data #%zu \"%s\": log \"%s\" lacks \"%s\"", i, bad[i].meta,
				 log, bad[i].log);
		free(log);
	}
	/* The 128 character limit itself is fine. */
	char meta[200];
	snprintf(meta, sizeof(meta), "instance-id: %0128d\n", 7);
	put_seed(f, meta);
	assert_int_equal(load(f), 0);
	assert_int_equal(strlen(f->inst.instance_id), 128);
}

static void test_load_missing_seed(void **state)
{
	struct fixture *f = *state;
	assert_int_equal(load(f), -BL_EDATASOURCE);
	mkdirs(f->tmp, "seed/meta-data");  /* a directory, not a file */
	assert_int_equal(load(f), -BL_EDATASOURCE);
}

static void test_load_too_big(void **state)
{
	struct fixture *f = *state;
	put_seed(f, "instance-id: i-1\n");
	char *path = NULL;
	assert_true(asprintf(&path, "%s/user-data", f->seed) > 0);
	FILE *u = fopen(path, "w");
	assert_non_null(u);
	assert_int_equal(ftruncate(fileno(u), 1024 * 1024 + 1), 0);
	fclose(u);
	assert_int_equal(load(f), -BL_EDATASOURCE);
	assert_int_equal(truncate(path, 1024 * 1024), 0);  /* exactly 1 MiB is fine */
	assert_int_equal(load(f), 0);
	assert_int_equal(f->inst.user_data.len, 1024 * 1024);
	free(path);
	assert_true(asprintf(&path, "%s/meta-data", f->seed) > 0);
	assert_int_equal(truncate(path, 64 * 1024 + 1), 0);
	assert_int_equal(load(f), -BL_EDATASOURCE);
	free(path);
}

static void test_detect(void **state)
{
	struct fixture *f = *state;
	char *why = NULL;
	assert_false(bl_datasource_nocloud.detect(&f->cfg, &why));
	assert_null(why);
	put_seed(f, "instance-id: i-1\n");
	assert_true(bl_datasource_nocloud.detect(&f->cfg, &why));
	char *want = NULL;
	assert_true(asprintf(&want, "seed %s", f->seed) > 0);
	assert_string_equal(why, want);
	free(want);
	free(why);
}

static void test_find(void **state)
{
	(void)state;
	assert_ptr_equal(bl_datasource_find("nocloud"), &bl_datasource_nocloud);
	assert_string_equal(bl_datasource_nocloud.name, "nocloud");
	assert_ptr_equal(bl_datasource_find("ec2"), &bl_datasource_ec2);
	assert_null(bl_datasource_find("NoCloud"));
	assert_null(bl_datasource_find(""));
}

static void test_sysfs_root(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(bl_sysfs_root(), f->sysfs);
	unsetenv("BOOTLACE_SYSFS_ROOT");
	assert_string_equal(bl_sysfs_root(), "");
	assert_int_equal(setenv("BOOTLACE_SYSFS_ROOT", f->sysfs, 1), 0);
}

static void expect_select(struct fixture *f, int want_r, const struct bl_datasource *want)
{
	const struct bl_datasource *ds = (const struct bl_datasource *)&ds;  /* must be reset */
	assert_int_equal(bl_datasource_select(&f->cfg, &ds), want_r);
	assert_ptr_equal(ds, want);
}

static void test_select_explicit(void **state)
{
	struct fixture *f = *state;
	/* Named explicitly: no detection, even without a seed or on EC2. */
	set_datasource(f, "nocloud");
	expect_select(f, 0, &bl_datasource_nocloud);
	put_sysfs(f, "sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
	expect_select(f, 0, &bl_datasource_nocloud);
	set_datasource(f, "ec2");
	expect_select(f, 0, &bl_datasource_ec2);
	set_datasource(f, "openstack");
	expect_select(f, -BL_EDATASOURCE, NULL);
}

static void test_select_auto(void **state)
{
	struct fixture *f = *state;
	assert_string_equal(f->cfg.datasource, "auto");  /* the default */
	/* No seed, not EC2: nothing. */
	expect_select(f, -BL_EDATASOURCE, NULL);
	/* A seed directory without meta-data is no seed. */
	mkdirs(f->tmp, "seed");
	expect_select(f, -BL_EDATASOURCE, NULL);
	put_seed(f, "instance-id: i-1\n");
	expect_select(f, 0, &bl_datasource_nocloud);
	/* Other platforms' DMI data changes nothing. */
	put_sysfs(f, "sys/class/dmi/id/sys_vendor", "QEMU\n");
	put_sysfs(f, "sys/class/dmi/id/board_vendor", "Amazon EC2 (not exactly)\n");
	put_sysfs(f, "sys/hypervisor/uuid", "5a1d7c0e-0000-0000-0000-000000000000\n");
	expect_select(f, 0, &bl_datasource_nocloud);
	/* An empty endpoint variable is not set. */
	assert_int_equal(setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "", 1), 0);
	expect_select(f, 0, &bl_datasource_nocloud);
}

/* EC2 evidence picks ec2, and wins over a nocloud seed.  (Selection reads
 * local evidence only: nothing here contacts IMDS.) */
static void expect_ec2(struct fixture *f)
{
	expect_select(f, 0, &bl_datasource_ec2);
	put_seed(f, "instance-id: i-1\n");
	expect_select(f, 0, &bl_datasource_ec2);
}

static void test_select_auto_ec2_sys_vendor(void **state)
{
	struct fixture *f = *state;
	put_sysfs(f, "sys/class/dmi/id/sys_vendor", "Amazon EC2\n");
	expect_ec2(f);
}

static void test_select_auto_ec2_board_vendor(void **state)
{
	struct fixture *f = *state;
	put_sysfs(f, "sys/class/dmi/id/sys_vendor", "Xen\n");
	put_sysfs(f, "sys/class/dmi/id/board_vendor", "Amazon EC2");
	expect_ec2(f);
}

static void test_select_auto_ec2_hypervisor_uuid(void **state)
{
	struct fixture *f = *state;
	put_sysfs(f, "sys/hypervisor/uuid", "ec2e1916-9099-7caf-fd21-012345abcdef\n");
	expect_ec2(f);
}

static void test_select_auto_ec2_hypervisor_uuid_upper(void **state)
{
	struct fixture *f = *state;
	put_sysfs(f, "sys/hypervisor/uuid", "EC2E1916-9099-7CAF-FD21-012345ABCDEF\n");
	expect_ec2(f);
}

static void test_select_auto_ec2_endpoint(void **state)
{
	struct fixture *f = *state;
	/* Never contacted: detection only looks at whether it is set. */
	assert_int_equal(setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/", 1), 0);
	expect_ec2(f);
	/* The config's imds.endpoint is as explicit as the variable. */
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	f->cfg.imds_endpoint = strdup("http://127.0.0.1:9");
	assert_non_null(f->cfg.imds_endpoint);
	expect_select(f, 0, &bl_datasource_ec2);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_load_good_seed),
		T(test_load_minimal_no_user_data),
		T(test_load_errors),
		T(test_load_missing_seed),
		T(test_load_too_big),
		T(test_detect),
		T(test_find),
		T(test_sysfs_root),
		T(test_select_explicit),
		T(test_select_auto),
		T(test_select_auto_ec2_sys_vendor),
		T(test_select_auto_ec2_board_vendor),
		T(test_select_auto_ec2_hypervisor_uuid),
		T(test_select_auto_ec2_hypervisor_uuid_upper),
		T(test_select_auto_ec2_endpoint),
	};
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
