#include "orchestrator/certrenew.h"

#include <openssl/x509.h>

#include "orchestrator/ca.h"

uint64_t certrenew_delay_ms(time_t not_before, time_t not_after, time_t now,
			    double r)
{
	double life = difftime(not_after, not_before);
	double at;

	if (life <= 0)
		return 0;
	at = (double)not_before + life * (0.5 + 0.3 * r);
	if (at <= (double)now)
		return 0;
	return (uint64_t)((at - (double)now) * 1000.0);
}

int certrenew_delay_for_pem(const char *pem, time_t now, double r,
			    uint64_t *delay_ms, struct sw_err *err)
{
	X509 *cert = ca_cert_parse(pem, err);
	time_t nb, na;
	int rc = -1;

	if (cert == NULL)
		return -1;
	if (ca_cert_validity(cert, &nb, &na, err) == 0) {
		*delay_ms = certrenew_delay_ms(nb, na, now, r);
		rc = 0;
	}
	X509_free(cert);
	return rc;
}
