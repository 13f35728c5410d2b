/* Containers as Docker shows them (GET /containers/json items, GET
 * /containers/{id}/json), finding the container a client names, the
 * container list filters, and the multiplexed stream framing of logs and
 * exec output. Pure functions over orchestrator/runtime.h structs. */
#ifndef SW_API_CODEC_CONTAINER_H
#define SW_API_CODEC_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "engine-api/filters.h"
#include "lib/buf.h"
#include "lib/err.h"
#include "orchestrator/runtime.h"

/* Finds ref as Docker does: a full ID, an exact name (with or without the
 * leading '/'), or a unique ID prefix. The index, or -1 with err: 404
 * "No such container: ref", or 400 for an ambiguous prefix. */
int codec_container_find(const struct rt_container *c, size_t n,
			 const char *ref, struct sw_err *err);

/* Docker's State.Status word: created, running, exited or dead. */
const char *codec_container_state(const struct rt_container *c);

/* go-units HumanDuration: "Less than a second", "5 seconds",
 * "About a minute", "3 hours", ... */
void codec_human_duration(int64_t ns, char *out, size_t n);

/* The Status column: "Up 5 minutes", "Exited (0) 2 seconds ago",
 * "Created". now_ns is the current time. */
void codec_container_status(const struct rt_container *c, int64_t now_ns,
			    char *out, size_t n);

/* The Command column: the path, then the arguments, each quoted in '...'
 * when it has a space. Malloc'd. */
char *codec_container_command(const struct rt_container *c);

/* Validates GET /containers/json filters (keys and the status, exited
 * and is-task values). -1 with Docker's 400 text. */
int codec_container_filters_check(const struct filters *f, struct sw_err *err);

/* True when c passes the filters: id and name are regular expressions
 * (names match with and without the leading '/'), label "k" or "k=v",
 * status, exited, is-task, ancestor (the image as created, or an ID
 * prefix). The other keys Docker knows are accepted and ignored. */
bool codec_container_matches(const struct rt_container *c,
			     const struct filters *f);

/* One GET /containers/json item. */
struct json_object *codec_container_summary(const struct rt_container *c,
					    int64_t now_ns);

/* GET /containers/{id}/json for a detailed container; exec_ids are the
 * IDs of its exec instances. */
struct json_object *codec_container_inspect(const struct rt_container *c,
					    char *const *exec_ids,
					    size_t n_exec);

/* Appends one frame of Docker's multiplexed stream (stdcopy): an 8-byte
 * header [stream, 0, 0, 0, big-endian length] then data. stream 1 is
 * stdout, 2 stderr. Empty data adds nothing. */
void codec_frame(struct buf *b, int stream, const void *data, size_t n);

#endif
