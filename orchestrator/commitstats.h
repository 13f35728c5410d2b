/* Commit latency of raft proposals, for benchmarks: a log-scale histogram
 * of the time from consensus_propose to its apply callback, written as
 * JSON to a file once a second while it changes.
 *
 * Off unless the environment names the file (SWARMD_COMMIT_STATS=path), so
 * a production daemon pays one branch per proposal. The file is cumulative
 * since start: a benchmark diffs two snapshots to get one phase's
 * percentiles. Format: {"n":N,"sum_us":S,"max_us":M,"lo_us":[...],
 * "counts":[...]}, bucket i holding latencies >= lo_us[i]. */
#ifndef SW_ORCH_COMMITSTATS_H
#define SW_ORCH_COMMITSTATS_H

#include <stdint.h>

#include <uv.h>

struct commitstats;

/* A recorder writing to $SWARMD_COMMIT_STATS, or NULL when it is unset. */
struct commitstats *commitstats_from_env(uv_loop_t *loop);

/* Records one commit that took ns nanoseconds. s may be NULL. */
void commitstats_record(struct commitstats *s, int64_t ns);

/* Writes the file a last time and frees s from the loop. s may be NULL. */
void commitstats_free(struct commitstats *s);

#endif
