/* GET /services' body from rendered heads (engine-api/svclist.h): the same
 * JSON as rendering each service afresh, counts from one pass over tasks,
 * heads refreshed when a record changes and dropped when it goes. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine-api/codec_service.h"
#include "engine-api/svclist.h"
#include "lib/jsonx.h"
#include "orchestrator/change.h"
#include "orchestrator/task.h"

#define SVC_A "aaaaaaaaaaaaaaaaaaaaaaaa1"
#define SVC_B "aaaaaaaaaaaaaaaaaaaaaaaa2"

struct fx {
	char dir[64];
	struct store *st;
	struct svclist *c;
	uint64_t index;
};

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sw_err err;

	strcpy(f->dir, "/tmp/swarmd-svclist-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	f->st = store_open(f->dir, &err);
	assert_non_null(f->st);
	f->c = svclist_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	svclist_free(f->c);
	store_close(f->st);
	nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void commit(struct fx *f, struct change *c)
{
	struct sw_err outcome, err;

	assert_int_equal(store_apply(f->st, c, ++f->index, &outcome, &err), 0);
	assert_int_equal(outcome.kind, SW_EOK);
	change_free(c);
}

static void put_service(struct fx *f, enum change_mode mode, const char *id,
			const char *name, const char *spec, uint64_t replicas)
{
	Swarmd__Service svc = SWARMD__SERVICE__INIT;
	struct change c;
	size_t len;
	uint8_t *buf;

	svc.spec_json.data = (uint8_t *)spec;
	svc.spec_json.len = strlen(spec);
	svc.mode = "replicated";
	svc.replicas = replicas;
	len = swarmd__service__get_packed_size(&svc);
	buf = malloc(len + 1);
	swarmd__service__pack(&svc, buf);
	change_init(&c, (int64_t)f->index * 1000);
	change_put(&c, mode, OBJ_SERVICE, id, name, buf, len, 0);
	commit(f, &c);
	free(buf);
}

static void put_task(struct fx *f, const char *id, const char *svc_id,
		     int state)
{
	Swarmd__Task t = SWARMD__TASK__INIT;
	struct change c;
	size_t len;
	uint8_t *buf;

	t.service_id = (char *)svc_id;
	t.state = state;
	t.desired_state = TASK_RUNNING;
	len = swarmd__task__get_packed_size(&t);
	buf = malloc(len + 1);
	swarmd__task__pack(&t, buf);
	change_init(&c, (int64_t)f->index * 1000);
	change_put(&c, CHANGE_CREATE, OBJ_TASK, id, NULL, buf, len, 0);
	commit(f, &c);
	free(buf);
}

static bool keep_all(void *ctx, const struct store_record *rec,
		     const Swarmd__Service *svc)
{
	(void)ctx;
	(void)rec;
	(void)svc;
	return true;
}

static struct json_object *render(struct fx *f, bool status)
{
	struct sw_err err;
	size_t len;
	char *body = svclist_render(f->c, f->st, status, keep_all, NULL, &len);
	struct json_object *o;

	assert_int_equal(strlen(body), len);
	assert_int_equal(body[len - 1], '\n');
	o = jsonx_parse(body, len, &err);
	free(body);
	assert_non_null(o);
	return o;
}

/* The list item equals the service rendered on its own. */
static void assert_same_as_codec(struct fx *f, struct json_object *item,
				 const char *id)
{
	const struct store_record *rec = store_get(f->st, OBJ_SERVICE, id);
	Swarmd__Service *svc = services_unpack(rec);
	struct json_object *one = codec_service_to_json(NULL, rec, svc, false,
							false);

	assert_true(json_object_equal(one, item));
	json_object_put(one);
	swarmd__service__free_unpacked(svc, NULL);
}

static int64_t running_of(struct json_object *item)
{
	struct json_object *st, *n;

	assert_true(json_object_object_get_ex(item, "ServiceStatus", &st));
	assert_true(json_object_object_get_ex(st, "RunningTasks", &n));
	return json_object_get_int64(n);
}

static void test_list_matches_codec_and_counts(void **state)
{
	struct fx *f = *state;
	struct json_object *list;

	put_service(f, CHANGE_CREATE, SVC_A, "a", "{\"Name\":\"a\"}", 3);
	put_service(f, CHANGE_CREATE, SVC_B, "b", "{\"Name\":\"b\"}", 1);
	put_task(f, "tttttttttttttttttttttttt1", SVC_A, TASK_RUNNING);
	put_task(f, "tttttttttttttttttttttttt2", SVC_A, TASK_RUNNING);
	put_task(f, "tttttttttttttttttttttttt3", SVC_A, TASK_PREPARING);
	put_task(f, "tttttttttttttttttttttttt4", SVC_B, TASK_RUNNING);

	list = render(f, false);
	assert_int_equal(json_object_array_length(list), 2);
	assert_same_as_codec(f, json_object_array_get_idx(list, 0), SVC_A);
	assert_same_as_codec(f, json_object_array_get_idx(list, 1), SVC_B);
	json_object_put(list);

	list = render(f, true);
	assert_int_equal(running_of(json_object_array_get_idx(list, 0)), 2);
	assert_int_equal(running_of(json_object_array_get_idx(list, 1)), 1);
	json_object_put(list);
}

static void test_changed_and_removed_services(void **state)
{
	struct fx *f = *state;
	struct json_object *list;
	struct change c;

	put_service(f, CHANGE_CREATE, SVC_A, "a", "{\"Name\":\"a\"}", 1);
	put_service(f, CHANGE_CREATE, SVC_B, "b", "{\"Name\":\"b\"}", 1);
	json_object_put(render(f, false));
	/* A new version of A: its cached head must not be served. */
	put_service(f, CHANGE_UPSERT, SVC_A, "a",
		    "{\"Name\":\"a\",\"Labels\":{\"v\":\"2\"}}", 1);
	change_init(&c, 0);
	change_delete(&c, CHANGE_UPDATE, OBJ_SERVICE, SVC_B, 0);
	commit(f, &c);
	list = render(f, false);
	assert_int_equal(json_object_array_length(list), 1);
	assert_same_as_codec(f, json_object_array_get_idx(list, 0), SVC_A);
	json_object_put(list);
}

static void test_empty_list(void **state)
{
	struct fx *f = *state;
	size_t len;
	char *body = svclist_render(f->c, f->st, true, keep_all, NULL, &len);

	assert_string_equal(body, "[]\n");
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_list_matches_codec_and_counts, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_changed_and_removed_services, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_list, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
