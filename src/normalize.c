/*
 * normalize.c: identifier normalization (pure C + ICU, no backend code).
 *
 * Rules, for every kind:
 *   1. PRECIS-style preparation (RFC 8264 width mapping, as identity
 *      systems apply it): full-width and half-width forms become their
 *      ordinary counterparts ("ＡＢＣ１２３" is "ABC123"), and every
 *      Default_Ignorable_Code_Point is dropped: the code points that
 *      render as nothing and only ever hide in copied identifiers (ZERO
 *      WIDTH SPACE, ZWNJ, ZWJ, WORD JOINER, the BOM, SOFT HYPHEN U+00AD,
 *      the invisible operators U+2061..U+2064, bidi controls, variation
 *      selectors U+FE00..U+FE0F and U+E0100.., tags U+E0000..), so
 *      "ad<U+00AD>min" is "admin" (1.7; 1.6 dropped only U+200B..U+200D,
 *      U+2060 and U+FEFF);
 *   2. Unicode NFC, so composed and decomposed forms are one identifier;
 *   3. leading and trailing White_Space code points removed (tabs,
 *      newlines, NBSP, ideographic space ...);
 *   4. empty after that (including a value of only invisible characters):
 *      NORM_EMPTY.
 * Then per kind:
 *   text   Unicode default case folding unless case_sensitive.  Folding is
 *          done as NFC(fold(NFD(x))), the canonical caseless form, which is
 *          stable: normalizing a normalized value gives it back.
 *   email  folded like text; exactly one '@' with a non-empty local part and
 *          domain, and no white space inside.
 *   phone  separators dropped (any White_Space code point, NO-BREAK SPACE
 *          and the other spaces included, any Dash code point, '.', '(' and
 *          ')'), a leading '+' kept, then 7 to 15 ASCII digits (E.164;
 *          full-width digits are ASCII after rule 1).
 *
 * Pure-ASCII input, by far the common case, never touches ICU: NFC and
 * the width mapping are the identity on ASCII and default case folding is
 * A-Z -> a-z.  The test suite checks that both paths agree.
 *
 * Buffers for ICU results are never sized by a guess alone: every ICU call
 * that writes one reports the length it needs when the buffer is too small
 * (its preflight), and the call is repeated with exactly that size.  (NFD
 * of U+1F80..U+1FAF grows a string fourfold, more than any fixed factor
 * one might assume.)
 */
#include "normalize.h"

#include <string.h>

#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>
#include <unicode/utf8.h>

bool
ident_kind_from_name(const char *name, IdentKind *kind)
{
	if (strcmp(name, "text") == 0)
		*kind = IDENT_KIND_TEXT;
	else if (strcmp(name, "email") == 0)
		*kind = IDENT_KIND_EMAIL;
	else if (strcmp(name, "phone") == 0)
		*kind = IDENT_KIND_PHONE;
	else
		return false;
	return true;
}

static inline bool
ascii_space(unsigned char c)
{
	/* the White_Space code points below U+0080 */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Copy src[0..len) to a new NUL-terminated buffer, folding A-Z if asked.
 */
static char *
ascii_copy(const char *src, size_t len, bool fold, norm_alloc_fn alloc_fn)
{
	char	   *dst = alloc_fn(len + 1);

	if (dst == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
	{
		char		c = src[i];

		if (fold && c >= 'A' && c <= 'Z')
			c = (char) (c + ('a' - 'A'));
		dst[i] = c;
	}
	dst[len] = '\0';
	return dst;
}

/*
 * Run an ICU transformation into a new buffer: first with a buffer of
 * guess code units, then, if ICU reports it needs more (its preflight),
 * with exactly what it asked for.
 */
typedef int32_t (*icu_transform_fn) (const void *arg, const UChar *src, int32_t len,
									 UChar *dst, int32_t cap, UErrorCode *status);

static UChar *
icu_run(icu_transform_fn fn, const void *arg, const UChar *src, int32_t len,
		int32_t guess, int32_t *outlen, UErrorCode *status,
		norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	int32_t		cap = guess + 1;

	for (int attempt = 0; attempt < 2; attempt++)
	{
		UChar	   *dst = alloc_fn(sizeof(UChar) * cap);

		if (dst == NULL)
		{
			*status = U_MEMORY_ALLOCATION_ERROR;
			return NULL;
		}
		*outlen = fn(arg, src, len, dst, cap, status);
		if (*status == U_BUFFER_OVERFLOW_ERROR && attempt == 0)
		{
			free_fn(dst);
			cap = *outlen + 1;
			*status = U_ZERO_ERROR;
			continue;
		}
		if (U_FAILURE(*status))
		{
			free_fn(dst);
			return NULL;
		}
		return dst;
	}
	return NULL;				/* not reached */
}

static int32_t
normalize_fn(const void *arg, const UChar *src, int32_t len, UChar *dst,
			 int32_t cap, UErrorCode *status)
{
	return unorm2_normalize((const UNormalizer2 *) arg, src, len, dst, cap, status);
}

static int32_t
fold_fn(const void *arg, const UChar *src, int32_t len, UChar *dst,
		int32_t cap, UErrorCode *status)
{
	(void) arg;
	return u_strFoldCase(dst, cap, src, len, U_FOLD_CASE_DEFAULT, status);
}

/* Code points dropped from identifiers (rule 1). */
static inline bool
dropped_code_point(UChar32 c)
{
	return u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT);
}

/*
 * Rule 1, the width mapping and the dropped characters.  A wide or narrow
 * form's decomposition is, per the Unicode data, its ordinary counterpart;
 * the NFKC data holds it.
 */
static int32_t
precis_map_fn(const void *arg, const UChar *src, int32_t len, UChar *dst,
			  int32_t cap, UErrorCode *status)
{
	const UNormalizer2 *nfkc = (const UNormalizer2 *) arg;
	int32_t		i = 0;
	int32_t		n = 0;

	while (i < len)
	{
		UChar32		c;
		int32_t		dt;

		U16_NEXT(src, i, len, c);
		if (dropped_code_point(c))
			continue;
		dt = u_getIntPropertyValue(c, UCHAR_DECOMPOSITION_TYPE);
		if (dt == U_DT_WIDE || dt == U_DT_NARROW)
		{
			UChar		buf[8];
			UErrorCode	st = U_ZERO_ERROR;
			int32_t		dlen = unorm2_getDecomposition(nfkc, c, buf, 8, &st);

			if (U_SUCCESS(st) && dlen > 0)
			{
				for (int32_t k = 0; k < dlen; k++, n++)
					if (n < cap)
						dst[n] = buf[k];
				continue;
			}
		}
		if (n + U16_LENGTH(c) <= cap)
		{
			int32_t		j = n;
			UBool		err = false;

			U16_APPEND(dst, j, cap, c, err);
			(void) err;
		}
		n += U16_LENGTH(c);
	}
	if (n > cap)
		*status = U_BUFFER_OVERFLOW_ERROR;
	return n;
}

/*
 * The Unicode path: UTF-8 -> UTF-16, NFC, trim, optionally fold, -> UTF-8.
 */
static NormStatus
unicode_normalize_text(const char *in, size_t len, bool fold,
					   char **out, size_t *outlen, const char **why,
					   norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	UErrorCode	status = U_ZERO_ERROR;
	const UNormalizer2 *nfc;
	const UNormalizer2 *nfd;
	const UNormalizer2 *nfkc;
	UChar	   *u16 = NULL;
	UChar	   *mapped = NULL;
	int32_t		mappedlen;
	UChar	   *n1 = NULL;
	UChar	   *n2 = NULL;
	UChar	   *n3 = NULL;
	UChar	   *cur;
	int32_t		u16len;
	int32_t		n1len = 0;
	int32_t		curlen;
	int32_t		start;
	int32_t		end;
	int32_t		u8cap;
	int32_t		u8len;
	char	   *u8 = NULL;
	NormStatus	result = NORM_OK;

	if (len > INT32_MAX / 8)
	{
		*why = "value is too long to normalize";
		return NORM_BAD_FORMAT;
	}

	nfc = unorm2_getNFCInstance(&status);
	nfd = unorm2_getNFDInstance(&status);
	nfkc = unorm2_getNFKCInstance(&status);
	if (U_FAILURE(status))
		goto icu_error;

	/* UTF-8 -> UTF-16; a UTF-8 sequence never yields more code units */
	u16 = alloc_fn(sizeof(UChar) * (len + 1));
	if (u16 == NULL)
	{
		status = U_MEMORY_ALLOCATION_ERROR;
		goto icu_error;
	}
	u_strFromUTF8(u16, (int32_t) len + 1, &u16len, in, (int32_t) len, &status);
	if (status == U_INVALID_CHAR_FOUND || status == U_ILLEGAL_CHAR_FOUND)
	{
		free_fn(u16);
		return NORM_BAD_ENCODING;
	}
	if (U_FAILURE(status))
		goto icu_error;

	/* 1. width mapping, invisible characters dropped */
	mapped = icu_run(precis_map_fn, nfkc, u16, u16len, u16len, &mappedlen,
					 &status, alloc_fn, free_fn);
	if (mapped == NULL)
		goto icu_error;

	/* 2. NFC */
	n1 = icu_run(normalize_fn, nfc, mapped, mappedlen, mappedlen, &n1len,
				 &status, alloc_fn, free_fn);
	if (n1 == NULL)
		goto icu_error;

	/* trim White_Space code points at both ends */
	start = 0;
	end = n1len;
	while (start < end)
	{
		UChar32		c;
		int32_t		i = start;

		U16_NEXT(n1, i, end, c);
		if (!u_isUWhiteSpace(c))
			break;
		start = i;
	}
	while (end > start)
	{
		UChar32		c;
		int32_t		i = end;

		U16_PREV(n1, start, i, c);
		if (!u_isUWhiteSpace(c))
			break;
		end = i;
	}
	if (start == end)
	{
		result = NORM_EMPTY;
		goto done;
	}
	cur = n1 + start;
	curlen = end - start;

	if (fold)
	{
		int32_t		n2len;
		int32_t		foldlen;
		int32_t		n3len;
		UChar	   *folded;

		n2 = icu_run(normalize_fn, nfd, cur, curlen, curlen * 2, &n2len,
					 &status, alloc_fn, free_fn);
		if (n2 == NULL)
			goto icu_error;
		folded = icu_run(fold_fn, NULL, n2, n2len, n2len, &foldlen,
						 &status, alloc_fn, free_fn);
		if (folded == NULL)
			goto icu_error;
		free_fn(n2);
		n2 = folded;
		n3 = icu_run(normalize_fn, nfc, n2, foldlen, foldlen, &n3len,
					 &status, alloc_fn, free_fn);
		if (n3 == NULL)
			goto icu_error;
		cur = n3;
		curlen = n3len;
	}

	/* UTF-16 -> UTF-8, sized by ICU's preflight */
	u_strToUTF8(NULL, 0, &u8len, cur, curlen, &status);
	if (status == U_BUFFER_OVERFLOW_ERROR)
		status = U_ZERO_ERROR;
	if (U_FAILURE(status))
		goto icu_error;
	u8cap = u8len + 1;
	u8 = alloc_fn(u8cap);
	if (u8 == NULL)
	{
		status = U_MEMORY_ALLOCATION_ERROR;
		goto icu_error;
	}
	u_strToUTF8(u8, u8cap, &u8len, cur, curlen, &status);
	if (U_FAILURE(status))
		goto icu_error;
	u8[u8len] = '\0';
	*out = u8;
	*outlen = (size_t) u8len;
	u8 = NULL;
	goto done;

icu_error:
	*why = u_errorName(status);
	result = NORM_ICU_ERROR;

done:
	if (u8)
		free_fn(u8);
	if (u16)
		free_fn(u16);
	if (mapped)
		free_fn(mapped);
	if (n1)
		free_fn(n1);
	if (n2)
		free_fn(n2);
	if (n3)
		free_fn(n3);
	return result;
}

static NormStatus
normalize_text(const char *in, size_t len, bool fold,
			   char **out, size_t *outlen, const char **why,
			   norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	size_t		start = 0;
	size_t		end = len;
	bool		ascii = true;

	for (size_t i = 0; i < len; i++)
	{
		if ((unsigned char) in[i] >= 0x80)
		{
			ascii = false;
			break;
		}
	}
	if (!ascii)
		return unicode_normalize_text(in, len, fold, out, outlen, why,
									  alloc_fn, free_fn);

	while (start < end && ascii_space((unsigned char) in[start]))
		start++;
	while (end > start && ascii_space((unsigned char) in[end - 1]))
		end--;
	if (start == end)
		return NORM_EMPTY;
	*out = ascii_copy(in + start, end - start, fold, alloc_fn);
	if (*out == NULL)
	{
		*why = "out of memory";
		return NORM_ICU_ERROR;
	}
	*outlen = end - start;
	return NORM_OK;
}

/* Does the UTF-8 string s contain a White_Space code point? */
static bool
has_inner_space(const char *s, size_t len)
{
	int32_t		i = 0;

	while ((size_t) i < len)
	{
		UChar32		c;

		U8_NEXT(s, i, (int32_t) len, c);
		if (c < 0 || u_isUWhiteSpace(c))
			return true;
	}
	return false;
}

static NormStatus
check_email(const char *s, size_t len, const char **why)
{
	const char *at = memchr(s, '@', len);

	if (at == NULL)
	{
		*why = "an email address needs an \"@\"";
		return NORM_BAD_FORMAT;
	}
	if (memchr(at + 1, '@', len - (size_t) (at - s) - 1) != NULL)
	{
		*why = "an email address has exactly one \"@\"";
		return NORM_BAD_FORMAT;
	}
	if (at == s)
	{
		*why = "the part before \"@\" is empty";
		return NORM_BAD_FORMAT;
	}
	if ((size_t) (at - s) == len - 1)
	{
		*why = "the domain after \"@\" is empty";
		return NORM_BAD_FORMAT;
	}
	if (has_inner_space(s, len))
	{
		*why = "an email address cannot contain white space";
		return NORM_BAD_FORMAT;
	}
	return NORM_OK;
}

static NormStatus
normalize_phone(const char *s, size_t len, char **out, size_t *outlen,
				const char **why, norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	char	   *dst = alloc_fn(len + 1);
	size_t		n = 0;
	size_t		digits = 0;

	if (dst == NULL)
	{
		*why = "out of memory";
		return NORM_ICU_ERROR;
	}
	for (size_t i = 0; i < len;)
	{
		UChar32		c;
		int32_t		at = (int32_t) i;

		/* the input is valid UTF-8: normalize_text() produced it */
		U8_NEXT((const uint8_t *) s, at, (int32_t) len, c);
		i = (size_t) at;
		if (c >= '0' && c <= '9')
		{
			dst[n++] = (char) c;
			digits++;
		}
		else if (c == '+' && n == 0)
			dst[n++] = '+';
		else if (c == '.' || c == '(' || c == ')' ||
				 u_hasBinaryProperty(c, UCHAR_WHITE_SPACE) || u_hasBinaryProperty(c, UCHAR_DASH))
			continue;
		else
		{
			*why = c == '+' ? "\"+\" is allowed only at the start of a phone number"
				: "a phone number has only digits, a leading \"+\", spaces, dashes, dots and parentheses";
			free_fn(dst);
			return NORM_BAD_FORMAT;
		}
	}
	if (digits < 7 || digits > 15)
	{
		*why = "a phone number has 7 to 15 digits (E.164)";
		free_fn(dst);
		return NORM_BAD_FORMAT;
	}
	dst[n] = '\0';
	*out = dst;
	*outlen = n;
	return NORM_OK;
}

NormStatus
ident_normalize(IdentKind kind, bool case_sensitive,
				const char *in, size_t len,
				char **out, size_t *outlen, const char **why,
				norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	NormStatus	st;
	bool		fold = kind == IDENT_KIND_EMAIL ||
		(kind == IDENT_KIND_TEXT && !case_sensitive);

	*why = NULL;
	/* the result is a C string: a NUL inside cannot be represented */
	if (memchr(in, '\0', len) != NULL)
		return NORM_BAD_ENCODING;
	st = normalize_text(in, len, fold, out, outlen, why, alloc_fn, free_fn);
	if (st != NORM_OK)
		return st;

	if (kind == IDENT_KIND_EMAIL)
	{
		st = check_email(*out, *outlen, why);
	}
	else if (kind == IDENT_KIND_PHONE)
	{
		char	   *trimmed = *out;

		st = normalize_phone(trimmed, *outlen, out, outlen, why, alloc_fn, free_fn);
		free_fn(trimmed);
		if (st != NORM_OK)
			*out = NULL;
		return st;
	}
	if (st != NORM_OK)
	{
		free_fn(*out);
		*out = NULL;
	}
	return st;
}
