#include "lib/sslerr.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>

int sslerr_set(struct sw_err *err, enum sw_errkind kind, const char *what)
{
	char detail[400] = "";
	size_t len = 0;
	unsigned long e;

	while ((e = ERR_get_error()) != 0) {
		char one[200];

		ERR_error_string_n(e, one, sizeof(one));
		if (len + strlen(one) + 3 < sizeof(detail))
			len += (size_t)snprintf(detail + len,
						sizeof(detail) - len, "%s%s",
						len > 0 ? "; " : "", one);
	}
	if (len == 0)
		return sw_err_set(err, kind, "%s", what);
	return sw_err_set(err, kind, "%s: %s", what, detail);
}
