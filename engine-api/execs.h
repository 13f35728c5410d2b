/* Exec instances (POST /containers/{id}/exec → POST /exec/{id}/start):
 * what dockerd keeps of each one so it can be started once and inspected
 * afterwards (its exit code). In memory only, at most EXECS_MAX of them:
 * when full, the oldest one that is not running makes room. */
#ifndef SW_API_EXECS_H
#define SW_API_EXECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/err.h"
#include "orchestrator/runtime.h"

enum { EXECS_MAX = 256 };

struct api_exec {
	char id[65];
	char container_id[RT_ID_MAX];
	char **argv; /* owned, argc > 0 */
	size_t argc;
	char *user; /* owned */
	bool tty;
	bool privileged;
	bool attach_stdin;
	bool attach_stdout;
	bool attach_stderr;
	bool running;
	bool exited; /* then exit_code is valid */
	int exit_code;
	uint64_t seq; /* creation order */
};

struct api_execs;

struct api_execs *execs_new(void);
void execs_free(struct api_execs *x);

/* Stores a new instance made from *e (the store takes e's argv and user)
 * under a fresh ID. NULL with err (503) when every slot holds a running
 * instance; the caller still owns e's argv and user then. */
struct api_exec *execs_add(struct api_execs *x, const struct api_exec *e,
			   struct sw_err *err);

/* The instance with this exact ID, or NULL. */
struct api_exec *execs_get(struct api_execs *x, const char *id);

/* The IDs of container_id's instances, oldest first, into a malloc'd
 * array of borrowed strings (valid until the store changes). */
size_t execs_of(struct api_execs *x, const char *container_id, char ***ids);

#endif
