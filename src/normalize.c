/*
 * normalize.c: identifier normalization (pure C + ICU, no backend code).
 *
 * Rules, for every kind:
 *   1. Unicode NFC, so composed and decomposed forms are one identifier;
 *   2. leading and trailing White_Space code points removed (tabs,
 *      newlines, NBSP, ideographic space ...);
 *   3. empty after that: NORM_EMPTY.
 * Then per kind:
 *   text   Unicode default case folding unless case_sensitive.  Folding is
 *          done as NFC(fold(NFD(x))), the canonical caseless form, which is
 *          stable: normalizing a normalized value gives it back.
 *   email  folded like text; exactly one '@' with a non-empty local part and
 *          domain, and no white space inside.
 *   phone  spaces, dashes, dots and parentheses dropped, a leading '+' kept,
 *          then 7 to 15 ASCII digits (E.164).
 *
 * Pure-ASCII input, by far the common case, never touches ICU: NFC is the
 * identity on ASCII and default case folding is A-Z -> a-z.  The test
 * suite checks that both paths agree.
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
 * Apply one ICU normalizer (NFC or NFD) to src, into a new buffer.
 */
static UChar *
icu_normalize(const UNormalizer2 *norm, const UChar *src, int32_t len,
			  int32_t *outlen, UErrorCode *status,
			  norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	/* NFC/NFD expand at most 3x (UAX #15, "Stream-Safe" bounds) */
	int32_t		cap = len * 3 + 1;
	UChar	   *dst = alloc_fn(sizeof(UChar) * cap);

	if (dst == NULL)
	{
		*status = U_MEMORY_ALLOCATION_ERROR;
		return NULL;
	}
	*outlen = unorm2_normalize(norm, src, len, dst, cap, status);
	if (U_FAILURE(*status))
	{
		free_fn(dst);
		return NULL;
	}
	return dst;
}

static UChar *
icu_fold(const UChar *src, int32_t len, int32_t *outlen, UErrorCode *status,
		 norm_alloc_fn alloc_fn, norm_free_fn free_fn)
{
	/* full case folding expands one code unit to at most three */
	int32_t		cap = len * 3 + 1;
	UChar	   *dst = alloc_fn(sizeof(UChar) * cap);

	if (dst == NULL)
	{
		*status = U_MEMORY_ALLOCATION_ERROR;
		return NULL;
	}
	*outlen = u_strFoldCase(dst, cap, src, len, U_FOLD_CASE_DEFAULT, status);
	if (U_FAILURE(*status))
	{
		free_fn(dst);
		return NULL;
	}
	return dst;
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
	UChar	   *u16 = NULL;
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

	n1 = icu_normalize(nfc, u16, u16len, &n1len, &status, alloc_fn, free_fn);
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

		n2 = icu_normalize(nfd, cur, curlen, &n2len, &status, alloc_fn, free_fn);
		if (n2 == NULL)
			goto icu_error;
		folded = icu_fold(n2, n2len, &foldlen, &status, alloc_fn, free_fn);
		if (folded == NULL)
			goto icu_error;
		free_fn(n2);
		n2 = folded;
		n3 = icu_normalize(nfc, n2, foldlen, &n3len, &status, alloc_fn, free_fn);
		if (n3 == NULL)
			goto icu_error;
		cur = n3;
		curlen = n3len;
	}

	/* UTF-16 -> UTF-8: at most 3 bytes per UTF-16 code unit */
	u8cap = curlen * 3 + 1;
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
	for (size_t i = 0; i < len; i++)
	{
		char		c = s[i];

		if (c >= '0' && c <= '9')
		{
			dst[n++] = c;
			digits++;
		}
		else if (c == '+' && n == 0)
			dst[n++] = c;
		else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')')
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
