/*
 * libFuzzer target for the identifier normalizers (src/normalize.c).
 *
 * For every kind, with and without case sensitivity: no crash, no memory
 * error (built with AddressSanitizer), and idempotence: a value that
 * normalizes must normalize to itself again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

static void *
xalloc(size_t n)
{
	return malloc(n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const IdentKind kinds[] = {IDENT_KIND_TEXT, IDENT_KIND_EMAIL, IDENT_KIND_PHONE};

	for (int k = 0; k < 3; k++)
	{
		for (int cs = 0; cs < 2; cs++)
		{
			char	   *out = NULL;
			size_t		outlen = 0;
			const char *why = NULL;

			NormStatus	st = ident_normalize(kinds[k], cs, (const char *) data, size,
											 &out, &outlen, &why, xalloc, free);

			/* ICU never fails on a valid input: a buffer was sized wrong */
			if (st == NORM_ICU_ERROR)
				abort();
			if (st == NORM_OK)
			{
				char	   *again = NULL;
				size_t		againlen = 0;

				if (outlen != strlen(out))
					abort();
				if (ident_normalize(kinds[k], cs, out, outlen, &again, &againlen,
									&why, xalloc, free) != NORM_OK ||
					againlen != outlen || memcmp(again, out, outlen) != 0)
					abort();	/* not idempotent */
				free(again);
			}
			free(out);
		}
	}
	return 0;
}
