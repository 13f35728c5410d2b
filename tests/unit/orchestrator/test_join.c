/* Tests for orchestrator/join.c: the join messages' codec and checks, and
 * which role a presented token grants (with dockerd's texts and statuses),
 * using the tokens recorded from dockerd 20.10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "orchestrator/join.h"

#define SAMPLE_DIGEST "4nukacf7vb1hs9nj42exhsqi239kp7f7m3jtcdtncat9nxb0i3"
#define WORKER "SWMTKN-1-" SAMPLE_DIGEST "-ecmvz8dw299tjjchsjzdc09n2"
#define MANAGER "SWMTKN-1-" SAMPLE_DIGEST "-1t53oj04tofz03sxgfco9h9y2"
#define CSR                                                                    \
	"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END "                 \
	"CERTIFICATE REQUEST-----\n"
#define BAD_SECRET                                                             \
	"rpc error: code = InvalidArgument desc = A valid join token is "      \
	"necessary to join this cluster"

static Swarmd__Cluster cluster(void)
{
	Swarmd__Cluster cl = SWARMD__CLUSTER__INIT;

	cl.worker_token = WORKER;
	cl.manager_token = MANAGER;
	return cl;
}

static void test_token_roles(void **state)
{
	Swarmd__Cluster cl = cluster();
	enum ca_role role = 0;
	struct sw_err err;

	assert_int_equal(join_token_role(WORKER, &cl, &role, &err), 0);
	assert_int_equal(role, CA_ROLE_WORKER);
	assert_int_equal(join_token_role(MANAGER, &cl, &role, &err), 0);
	assert_int_equal(role, CA_ROLE_MANAGER);
}

static void test_token_wrong_secret(void **state)
{
	Swarmd__Cluster cl = cluster();
	enum ca_role role = 0;
	struct sw_err err;

	/* Well-formed, but not a current token: 400 with SwarmKit's text. */
	assert_int_equal(join_token_role("SWMTKN-1-" SAMPLE_DIGEST
					 "-0000000000000000000000000",
					 &cl, &role, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg, BAD_SECRET);
	assert_int_equal(err.status, 0);
	/* A rotated-away token is refused the same way. */
	cl.worker_token =
	    "SWMTKN-1-" SAMPLE_DIGEST "-zzzzzzzzzzzzzzzzzzzzzzzzz";
	assert_int_equal(join_token_role(WORKER, &cl, &role, &err),
			 -SW_EINVALID);
	assert_string_equal(err.msg, BAD_SECRET);
}

static void test_token_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    "SWMTKN-1-nonsense",
	    "SWMTKN-1-" SAMPLE_DIGEST,
	    "SWMTKN-3-" SAMPLE_DIGEST "-ecmvz8dw299tjjchsjzdc09n2",
	    "SWMTKN-1-" SAMPLE_DIGEST "-ECMVZ8DW299TJJCHSJZDC09N2",
	    NULL};
	Swarmd__Cluster cl = cluster();
	enum ca_role role = 0;
	struct sw_err err;

	for (size_t i = 0; bad[i] != NULL; i++) {
		assert_int_equal(join_token_role(bad[i], &cl, &role, &err),
				 -SW_EINVALID);
		/* dockerd answers a malformed token with a 500. */
		assert_string_equal(err.msg, "invalid join token");
		assert_int_equal(err.status, 500);
	}
}

static void *pack_request(const char *token, const char *csr, const char *addr,
			  const char *avail, size_t *len)
{
	Swarmd__JoinRequest rq = SWARMD__JOIN_REQUEST__INIT;

	rq.token = (char *)token;
	rq.csr_pem = (char *)csr;
	rq.advertise_addr = (char *)addr;
	rq.availability = (char *)avail;
	rq.hostname = "vm";
	rq.nano_cpus = 2000000000;
	return join_pack(&rq.base, len);
}

static void test_request_roundtrip(void **state)
{
	size_t len;
	void *buf = pack_request(WORKER, CSR, "127.0.0.12:2377", "drain", &len);
	struct sw_err err;
	Swarmd__JoinRequest *rq = join_request_decode(buf, len, &err);

	assert_non_null(rq);
	assert_string_equal(rq->token, WORKER);
	assert_string_equal(rq->csr_pem, CSR);
	assert_string_equal(rq->advertise_addr, "127.0.0.12:2377");
	assert_string_equal(rq->availability, "drain");
	assert_string_equal(rq->hostname, "vm");
	assert_int_equal(rq->nano_cpus, 2000000000);
	swarmd__join_request__free_unpacked(rq, NULL);
	free(buf);
}

static void test_request_refused(void **state)
{
	struct {
		const char *token, *csr, *addr, *avail;
	} cases[] = {
	    {"", CSR, "127.0.0.12:2377", ""},
	    {WORKER, "", "127.0.0.12:2377", ""},
	    {WORKER, CSR, "127.0.0.12", ""},
	    {WORKER, CSR, ":2377", ""},
	    {WORKER, CSR, "127.0.0.12:0", ""},
	    {WORKER, CSR, "127.0.0.12:99999", ""},
	    {WORKER, CSR, "127.0.0.12:2377", "sleepy"},
	};
	char *huge = malloc(JOIN_PEM_MAX + 2);
	struct sw_err err;
	size_t len;
	void *buf;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf = pack_request(cases[i].token, cases[i].csr, cases[i].addr,
				   cases[i].avail, &len);
		assert_null(join_request_decode(buf, len, &err));
		assert_int_equal(err.kind, SW_EINVALID);
		free(buf);
	}
	memset(huge, 'A', JOIN_PEM_MAX + 1);
	huge[JOIN_PEM_MAX + 1] = '\0';
	buf = pack_request(WORKER, huge, "127.0.0.12:2377", "", &len);
	assert_null(join_request_decode(buf, len, &err));
	free(buf);
	free(huge);
	/* Not protobuf at all. */
	assert_null(join_request_decode("\xff\xff\xff\xff", 4, &err));
	assert_int_equal(err.kind, SW_EINVALID);
}

static Swarmd__ManagerPeer peer = {
    PROTOBUF_C_MESSAGE_INIT(&swarmd__manager_peer__descriptor),
    "c57w0ggrnjb9m61c711kp06ws", 42, "127.0.0.11:2377"};

static void *pack_response(const char *role, uint64_t raft_id,
			   const char *node_id, size_t *len)
{
	Swarmd__JoinResponse r = SWARMD__JOIN_RESPONSE__INIT;
	Swarmd__ManagerPeer *peers[] = {&peer};

	r.cert_pem = "cert";
	r.root_ca_pem = "root";
	r.cluster_id = "03fpwxqlm5tbhzvnkiw1fdcnb";
	r.node_id = (char *)node_id;
	r.role = (char *)role;
	r.raft_id = raft_id;
	r.managers = peers;
	r.n_managers = 1;
	return join_pack(&r.base, len);
}

static void test_response_checks(void **state)
{
	Swarmd__JoinResponse *r;
	Swarmd__JoinResponse e = SWARMD__JOIN_RESPONSE__INIT;
	struct sw_err err;
	size_t len;
	void *buf;

	buf = pack_response("manager", 7, "lho5sexw7bfe2lcecq8uaeds1", &len);
	r = join_response_decode(buf, len, &err);
	assert_non_null(r);
	assert_string_equal(r->role, "manager");
	assert_int_equal(r->raft_id, 7);
	assert_int_equal(r->n_managers, 1);
	assert_string_equal(r->managers[0]->addr, "127.0.0.11:2377");
	swarmd__join_response__free_unpacked(r, NULL);
	free(buf);
	/* A manager without a raft id, an unknown role, a node ID that
	 * could not be a certificate's CN. */
	buf = pack_response("manager", 0, "lho5sexw7bfe2lcecq8uaeds1", &len);
	assert_null(join_response_decode(buf, len, &err));
	assert_int_equal(err.kind, SW_ESYSTEM);
	free(buf);
	buf = pack_response("admin", 0, "lho5sexw7bfe2lcecq8uaeds1", &len);
	assert_null(join_response_decode(buf, len, &err));
	free(buf);
	buf = pack_response("worker", 0, "../../etc", &len);
	assert_null(join_response_decode(buf, len, &err));
	free(buf);
	/* An error answer carries only the error. */
	e.error_kind = SW_EINVALID;
	e.error = BAD_SECRET;
	buf = join_pack(&e.base, &len);
	r = join_response_decode(buf, len, &err);
	assert_non_null(r);
	assert_int_equal(r->error_kind, SW_EINVALID);
	assert_string_equal(r->error, BAD_SECRET);
	swarmd__join_response__free_unpacked(r, NULL);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_token_roles),
	    cmocka_unit_test(test_token_wrong_secret),
	    cmocka_unit_test(test_token_malformed),
	    cmocka_unit_test(test_request_roundtrip),
	    cmocka_unit_test(test_request_refused),
	    cmocka_unit_test(test_response_checks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
