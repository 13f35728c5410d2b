/* Identifiers in Docker's shapes: swarm objects get 25 characters of
 * lowercase base36 (128 random bits, zero-padded), local objects 64 hex
 * characters. Randomness comes from OpenSSL's CSPRNG. */
#ifndef SW_ID_H
#define SW_ID_H

#include <stddef.h>

enum { ID_SWARM_LEN = 25, ID_HEX_LEN = 64 };

/* Writes a NUL-terminated 25-character base36 ID into out[26]. */
void id_new_swarm(char out[ID_SWARM_LEN + 1]);

/* Writes a NUL-terminated 64-character hex ID into out[65]. */
void id_new_hex(char out[ID_HEX_LEN + 1]);

/* Encodes a 16-byte big-endian number as 25 base36 digits into out[26]. */
void id_base36_128(const unsigned char bytes[16], char out[ID_SWARM_LEN + 1]);

#endif
