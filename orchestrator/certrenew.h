/* When a node asks for a new certificate: at a random point between 50 %
 * and 80 % of its current certificate's validity, as SwarmKit does, so the
 * nodes of a swarm do not all renew at once. */
#ifndef SW_ORCH_CERTRENEW_H
#define SW_ORCH_CERTRENEW_H

#include <stdint.h>
#include <time.h>

#include "lib/err.h"

/* Milliseconds from now until the renewal point of a certificate valid
 * from not_before to not_after; r in [0, 1) picks the point. 0 when the
 * point has passed (renew now). */
uint64_t certrenew_delay_ms(time_t not_before, time_t not_after, time_t now,
			    double r);

/* The same for a PEM certificate. Returns 0, or -1 with err set when the
 * certificate cannot be read. */
int certrenew_delay_for_pem(const char *pem, time_t now, double r,
			    uint64_t *delay_ms, struct sw_err *err);

#endif
