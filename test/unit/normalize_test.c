/*
 * Unit tests of the identifier normalizers (src/normalize.c), linked on
 * their own with ICU: no server needed.  Prints TAP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "normalize.h"

static int	tests = 0;
static int	failures = 0;

static void *
xalloc(size_t n)
{
	return malloc(n);
}

static void
check(IdentKind kind, bool cs, const char *in, NormStatus want_status,
	  const char *want)
{
	char	   *out = NULL;
	size_t		outlen = 0;
	const char *why = NULL;
	NormStatus	st = ident_normalize(kind, cs, in, strlen(in), &out, &outlen, &why,
									 xalloc, free);
	int			ok = st == want_status &&
		(st != NORM_OK || (want && strcmp(out, want) == 0 && strlen(out) == outlen));

	/* idempotence: normalizing the result gives it back */
	if (ok && st == NORM_OK)
	{
		char	   *again = NULL;
		size_t		againlen = 0;

		ok = ident_normalize(kind, cs, out, outlen, &again, &againlen, &why,
							 xalloc, free) == NORM_OK && strcmp(again, out) == 0;
		free(again);
	}
	tests++;
	if (!ok)
		failures++;
	printf("%s %d - kind %d%s \"%s\" -> %s%s%s (status %d, why %s)\n",
		   ok ? "ok" : "not ok", tests, kind, cs ? " case-sensitive" : "", in,
		   st == NORM_OK ? "\"" : "", st == NORM_OK ? out : "error",
		   st == NORM_OK ? "\"" : "", st, why ? why : "-");
	free(out);
}

int
main(void)
{
	IdentKind	k;

	/* text: trim, fold, NFC */
	check(IDENT_KIND_TEXT, false, "ABC", NORM_OK, "abc");
	check(IDENT_KIND_TEXT, false, " \t\nAbC \r\n", NORM_OK, "abc");
	check(IDENT_KIND_TEXT, false, "a b", NORM_OK, "a b");
	check(IDENT_KIND_TEXT, false, "\xC3\x89" "COLE", NORM_OK, "\xC3\xA9" "cole");	/* ÉCOLE */
	check(IDENT_KIND_TEXT, false, "e\xCC\x81" "cole", NORM_OK, "\xC3\xA9" "cole");	/* e + U+0301 */
	check(IDENT_KIND_TEXT, false, "Stra\xC3\x9F" "e", NORM_OK, "strasse");	/* Straße */
	check(IDENT_KIND_TEXT, false, "\xE1\xBA\x9E", NORM_OK, "ss");	/* U+1E9E capital sharp s */
	check(IDENT_KIND_TEXT, false, "\xC2\xA0" "x" "\xE3\x80\x80", NORM_OK, "x");	/* NBSP, ideographic space */
	check(IDENT_KIND_TEXT, false, "\xE2\x80\xA8" "x" "\xC2\x85", NORM_OK, "x");	/* LS, NEL */
	check(IDENT_KIND_TEXT, false, "\xCD\x85", NORM_OK, "\xCE\xB9");	/* U+0345 -> iota */
	check(IDENT_KIND_TEXT, false, "\xE2\x84\xAB", NORM_OK, "\xC3\xA5");	/* Angstrom sign -> å */
	check(IDENT_KIND_TEXT, true, "AbE\xCC\x81", NORM_OK, "Ab\xC3\x89");	/* case kept, composed */
	check(IDENT_KIND_TEXT, false, "", NORM_EMPTY, NULL);
	check(IDENT_KIND_TEXT, false, " \t ", NORM_EMPTY, NULL);
	check(IDENT_KIND_TEXT, false, "\xC2\xA0\xE3\x80\x80", NORM_EMPTY, NULL);
	check(IDENT_KIND_TEXT, false, "\xC3\x28", NORM_BAD_ENCODING, NULL);	/* invalid UTF-8 */
	check(IDENT_KIND_TEXT, false, "\xED\xA0\x80", NORM_BAD_ENCODING, NULL);	/* surrogate */
	{
		/* an embedded NUL (never in a PostgreSQL text) is rejected */
		char	   *out = NULL;
		size_t		outlen;
		const char *why;

		tests++;
		if (ident_normalize(IDENT_KIND_TEXT, false, "a\0b", 3, &out, &outlen, &why,
							xalloc, free) != NORM_BAD_ENCODING)
		{
			failures++;
			printf("not ok %d - embedded NUL\n", tests);
		}
		else
			printf("ok %d - embedded NUL\n", tests);
		free(out);
	}

	/* email */
	check(IDENT_KIND_EMAIL, false, " Alice@Example.COM ", NORM_OK, "alice@example.com");
	check(IDENT_KIND_EMAIL, false, "no-at", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_EMAIL, false, "a@b@c", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_EMAIL, false, "@b", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_EMAIL, false, "a@", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_EMAIL, false, "a b@c", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_EMAIL, false, "a\xC2\xA0" "b@c", NORM_BAD_FORMAT, NULL);	/* inner NBSP */

	/* phone */
	check(IDENT_KIND_PHONE, false, "+1 (415) 555-0100", NORM_OK, "+14155550100");
	check(IDENT_KIND_PHONE, false, "415.555.0100", NORM_OK, "4155550100");
	check(IDENT_KIND_PHONE, false, "1234567", NORM_OK, "1234567");
	check(IDENT_KIND_PHONE, false, "123456789012345", NORM_OK, "123456789012345");
	check(IDENT_KIND_PHONE, false, "123456", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_PHONE, false, "1234567890123456", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_PHONE, false, "1+234567", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_PHONE, false, "555-CALL", NORM_BAD_FORMAT, NULL);
	check(IDENT_KIND_PHONE, false, "   ", NORM_EMPTY, NULL);

	/* PRECIS-style width mapping and invisible characters (issue #10) */
	check(IDENT_KIND_TEXT, false, "\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93",
		  NORM_OK, "abc123");	/* ＡＢＣ１２３ */
	check(IDENT_KIND_TEXT, true, "\xEF\xBC\xA1\xEF\xBD\x82", NORM_OK, "Ab");	/* Ａｂ, case kept */
	check(IDENT_KIND_TEXT, false, "\xEF\xBD\xB6", NORM_OK, "\xE3\x82\xAB");	/* half-width KA -> KA */
	check(IDENT_KIND_TEXT, false, "\xEF\xBB\xBF" "abc", NORM_OK, "abc");	/* leading BOM */
	check(IDENT_KIND_TEXT, false, "a\xE2\x80\x8B" "b\xE2\x80\x8C" "c\xE2\x80\x8D" "d\xE2\x81\xA0" "e",
		  NORM_OK, "abcde");	/* ZWSP, ZWNJ, ZWJ, WJ inside */
	check(IDENT_KIND_TEXT, false, "\xE2\x80\x8B\xEF\xBB\xBF\xE2\x81\xA0", NORM_EMPTY, NULL);	/* only invisible */
	check(IDENT_KIND_TEXT, false, " \xE2\x80\x8B ", NORM_EMPTY, NULL);
	check(IDENT_KIND_EMAIL, false, "\xEF\xBC\xA1lice@Example.com\xE2\x80\x8B", NORM_OK, "alice@example.com");
	check(IDENT_KIND_PHONE, false, "\xEF\xBC\x8B\xEF\xBC\x91 415 555 0100", NORM_OK, "+14155550100");	/* ＋１ */

	/* every Default_Ignorable_Code_Point is dropped (1.7, issue #24) */
	check(IDENT_KIND_TEXT, false, "ad\xC2\xAD" "min", NORM_OK, "admin");	/* SOFT HYPHEN */
	check(IDENT_KIND_TEXT, false, "\xC2\xAD", NORM_EMPTY, NULL);	/* only a soft hyphen */
	check(IDENT_KIND_TEXT, false, "\xE2\x81\xA3", NORM_EMPTY, NULL);	/* U+2063 INVISIBLE SEPARATOR */
	check(IDENT_KIND_TEXT, false, "\xEF\xB8\x8F", NORM_EMPTY, NULL);	/* U+FE0F VARIATION SELECTOR-16 */
	check(IDENT_KIND_TEXT, false, " \xC2\xAD\xE2\x81\xA3\xEF\xB8\x8F ", NORM_EMPTY, NULL);
	check(IDENT_KIND_TEXT, false, "a\xE2\x80\x8E" "b\xE2\x80\xAE" "c", NORM_OK, "abc");	/* LRM, RLO */
	check(IDENT_KIND_TEXT, false, "x\xF3\xA0\x80\x81" "y", NORM_OK, "xy");	/* U+E0001 LANGUAGE TAG */
	check(IDENT_KIND_TEXT, false, "\xE2\x9D\xA4\xEF\xB8\x8F", NORM_OK, "\xE2\x9D\xA4");	/* heart + VS16 */
	check(IDENT_KIND_EMAIL, false, "al\xC2\xAD" "ice@example.com", NORM_OK, "alice@example.com");
	check(IDENT_KIND_TEXT, true, "Ad\xC2\xAD" "Min", NORM_OK, "AdMin");	/* case-sensitive too */

	/* phone separators: every space and dash (1.7, issue #24) */
	check(IDENT_KIND_PHONE, false, "+33\xC2\xA0" "1\xC2\xA0" "23\xC2\xA0" "45\xC2\xA0" "67\xC2\xA0" "89", NORM_OK, "+33123456789");	/* NBSP */
	check(IDENT_KIND_PHONE, false, "+33\xE2\x80\xAF" "1\xE2\x80\xAF" "23456789", NORM_OK, "+33123456789");	/* NARROW NBSP */
	check(IDENT_KIND_PHONE, false, "415\xE2\x80\x91" "555\xE2\x80\x93" "0100", NORM_OK, "4155550100");	/* NB hyphen, en dash */
	check(IDENT_KIND_PHONE, false, "415\xE3\x80\x80" "555\tx0100", NORM_BAD_FORMAT, NULL);	/* a letter stays refused */
	check(IDENT_KIND_PHONE, false, "\xEF\xBC\x94\xEF\xBC\x91\xEF\xBC\x95 555 0100", NORM_OK, "4155550100");	/* full-width digits */
	check(IDENT_KIND_PHONE, false, "415\xC2\xAD" "5550100", NORM_OK, "4155550100");	/* soft hyphen: dropped by rule 1 */

	/* U+1F80..U+1FAF: NFD grows fourfold; buffers come from ICU's preflight */
	{
		char		greek[36 * 3 * 8 + 1];
		size_t		n = 0;

		for (int rep = 0; rep < 8; rep++)
			for (unsigned cp = 0x1F80; cp < 0x1F80 + 36; cp++)
			{
				greek[n++] = (char) (0xE0 | (cp >> 12));
				greek[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
				greek[n++] = (char) (0x80 | (cp & 0x3F));
			}
		greek[n] = '\0';
		for (int cs = 0; cs < 2; cs++)
		{
			char	   *out = NULL;
			size_t		outlen;
			const char *why;
			NormStatus	st = ident_normalize(IDENT_KIND_TEXT, cs, greek, n, &out, &outlen,
											 &why, xalloc, free);

			tests++;
			if (st != NORM_OK)
				failures++;
			printf("%s %d - 288 Greek letters with ypogegrammeni%s (status %d, %s)\n",
				   st == NORM_OK ? "ok" : "not ok", tests, cs ? ", case-sensitive" : "",
				   st, why ? why : "-");
			free(out);
		}
	}

	/*
	 * The documented length limit: no code point normalizes to more than 3x
	 * its UTF-8 bytes, so any value of at most 682 bytes (2048 / 3) fits in
	 * the 2048-byte limit.  Checked for every code point, as a run of 60
	 * (which also lets composition and reordering act).
	 */
	{
		double		worst = 0;
		unsigned	worst_cp = 0;

		for (unsigned cp = 1; cp <= 0x10FFFF; cp++)
		{
			char		in[60 * 4];
			size_t		n = 0;
			char	   *out = NULL;
			size_t		outlen = 0;
			const char *why;

			if (cp >= 0xD800 && cp <= 0xDFFF)
				continue;
			for (int rep = 0; rep < 60; rep++)
			{
				if (cp < 0x80)
					in[n++] = (char) cp;
				else if (cp < 0x800)
				{
					in[n++] = (char) (0xC0 | (cp >> 6));
					in[n++] = (char) (0x80 | (cp & 0x3F));
				}
				else if (cp < 0x10000)
				{
					in[n++] = (char) (0xE0 | (cp >> 12));
					in[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
					in[n++] = (char) (0x80 | (cp & 0x3F));
				}
				else
				{
					in[n++] = (char) (0xF0 | (cp >> 18));
					in[n++] = (char) (0x80 | ((cp >> 12) & 0x3F));
					in[n++] = (char) (0x80 | ((cp >> 6) & 0x3F));
					in[n++] = (char) (0x80 | (cp & 0x3F));
				}
			}
			for (int kind = 0; kind < 2; kind++)
			{
				if (ident_normalize(IDENT_KIND_TEXT, kind == 1, in, n, &out, &outlen,
									&why, xalloc, free) == NORM_OK &&
					(double) outlen / n > worst)
				{
					worst = (double) outlen / n;
					worst_cp = cp;
				}
				free(out);
				out = NULL;
			}
		}
		tests++;
		if (worst > 3.0)
			failures++;
		printf("%s %d - worst growth %.3fx (U+%04X) is at most 3x\n",
			   worst <= 3.0 ? "ok" : "not ok", tests, worst, worst_cp);
	}

	/* kind names */
	tests++;
	if (!(ident_kind_from_name("text", &k) && k == IDENT_KIND_TEXT &&
		  ident_kind_from_name("email", &k) && k == IDENT_KIND_EMAIL &&
		  ident_kind_from_name("phone", &k) && k == IDENT_KIND_PHONE &&
		  !ident_kind_from_name("Text", &k) && !ident_kind_from_name("", &k)))
	{
		failures++;
		printf("not ok %d - kind names\n", tests);
	}
	else
		printf("ok %d - kind names\n", tests);

	printf("1..%d\n", tests);
	printf("%d passed, %d failed\n", tests - failures, failures);
	return failures ? 1 : 0;
}
