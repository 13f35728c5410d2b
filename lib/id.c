#include "lib/id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

static void random_bytes(unsigned char *p, size_t n)
{
	if (RAND_bytes(p, (int)n) != 1) {
		fprintf(stderr, "swarmd: no randomness available\n");
		abort();
	}
}

void id_base36_128(const unsigned char bytes[16], char out[ID_SWARM_LEN + 1])
{
	unsigned char num[16];
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

	memcpy(num, bytes, sizeof(num));
	/* Repeated long division of the 128-bit number by 36. */
	for (int pos = ID_SWARM_LEN - 1; pos >= 0; pos--) {
		unsigned rem = 0;

		for (size_t i = 0; i < sizeof(num); i++) {
			unsigned cur = rem * 256 + num[i];

			num[i] = (unsigned char)(cur / 36);
			rem = cur % 36;
		}
		out[pos] = digits[rem];
	}
	out[ID_SWARM_LEN] = '\0';
}

void id_new_swarm(char out[ID_SWARM_LEN + 1])
{
	unsigned char bytes[16];

	random_bytes(bytes, sizeof(bytes));
	id_base36_128(bytes, out);
}

void id_new_hex(char out[ID_HEX_LEN + 1])
{
	unsigned char bytes[ID_HEX_LEN / 2];

	random_bytes(bytes, sizeof(bytes));
	for (size_t i = 0; i < sizeof(bytes); i++)
		snprintf(out + 2 * i, 3, "%02x", bytes[i]);
	out[ID_HEX_LEN] = '\0';
}
