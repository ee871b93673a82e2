/*
 * table - the line format of relaysync's tables.
 * See table.h for the contract.
 */
#include <string.h>

#include "table.h"

#define FILTER	"FILTER "

const struct rs_table_info rs_table_info[RS_T_SET] = {
	[RS_T_SENDER_RELAY] = { "sender_relay", 0640, 1, RS_LF_HOP, 1, NULL },
	[RS_T_SENDER_TRANSPORT] = { "sender_transport", 0640, 1, RS_LF_VIA, 1,
	    "ssl" },
	[RS_T_SASL_PASSWD] = { "sasl_passwd", 0600, 1, RS_LF_LOGIN, 0, NULL },
	[RS_T_TLS_POLICY] = { "tls_policy", 0640, 1, RS_LF_POLICY, 0, NULL },
	[RS_T_SENDER_ACCESS] = { "sender_access", 0640, 1, RS_LF_FILTER, 0,
	    NULL },
	[RS_T_SENDER_LOGIN] = { "sender_login", 0640, 1, RS_LF_PLAIN, 0,
	    NULL },
	[RS_T_OWNERS] = { "owners", 0640, 0, RS_LF_PLAIN, 0, NULL },
};

void
table_put(struct buf *out, enum rs_table t, const char *key,
    const char *value, const char *hop, const char *secret)
{
	enum rs_line_form form = rs_table_info[t].form;

	buf_adds(out, key);
	buf_addc(out, ' ');
	if (form == RS_LF_FILTER)
		buf_adds(out, FILTER);
	if (form != RS_LF_HOP)
		buf_adds(out, value);
	if (form == RS_LF_VIA || form == RS_LF_FILTER)
		buf_addc(out, ':');
	if (form == RS_LF_HOP || form == RS_LF_VIA || form == RS_LF_FILTER)
		buf_adds(out, hop);
	if (form == RS_LF_LOGIN && secret != NULL) {
		buf_addc(out, ':');
		buf_adds(out, secret);
	}
	buf_addc(out, '\n');
}

const char *
table_hop(struct buf *out, const char *host, int port)
{
	buf_reset(out);
	buf_addc(out, '[');
	buf_adds(out, host);
	buf_add(out, "]:", 2);
	buf_addu(out, (unsigned long)port);
	return buf_str(out);
}

size_t
table_key_len(const char *line)
{
	return strcspn(line, " \t\n");
}

const char *
table_next_line(const char *line)
{
	line += strcspn(line, "\n");
	return *line ? line + 1 : line;
}

const char *
table_result(const char *line, size_t *len)
{
	size_t k = table_key_len(line);
	const char *v = line + k + strspn(line + k, " \t");

	*len = strcspn(v, "\n");
	return v;
}

/* Is s (n bytes) a next hop "[host]:port"? */
static int
is_hop(const char *s, size_t n)
{
	size_t i;

	if (n < 3 || s[0] != '[')
		return 0;
	for (i = 0; i < n; i++)
		if (s[i] == ' ' || s[i] == '\t')
			return 0;
	for (i = 1; i + 1 < n; i++)
		if (s[i] == ']' && s[i + 1] == ':')
			return 1;
	return 0;
}

/* Split "value:rest" of n bytes at its first colon; -1 without one. */
static int
split_colon(const char *s, size_t n, struct rs_line *l, const char **rest,
    size_t *rest_len)
{
	const char *colon = memchr(s, ':', n);

	if (colon == NULL)
		return -1;
	l->value = s;
	l->value_len = (size_t)(colon - s);
	*rest = colon + 1;
	*rest_len = n - l->value_len - 1;
	return 0;
}

/* The parts after the key and its space: n bytes at s. */
static int
get_rest(enum rs_line_form form, const char *s, size_t n, struct rs_line *l)
{
	size_t fl = strlen(FILTER);

	l->value = s;
	l->value_len = n;
	switch (form) {
	case RS_LF_PLAIN:
		return 0;
	case RS_LF_POLICY:
		l->hop = l->key;
		l->hop_len = l->key_len;
		break;
	case RS_LF_HOP:
		l->value_len = 0;
		l->hop = s;
		l->hop_len = n;
		break;
	case RS_LF_FILTER:
		if (n < fl || memcmp(s, FILTER, fl) != 0)
			return -1;
		s += fl;
		n -= fl;
		/* FALLTHROUGH */
	case RS_LF_VIA:
		if (split_colon(s, n, l, &l->hop, &l->hop_len) < 0)
			return -1;
		break;
	case RS_LF_LOGIN:
		if (split_colon(s, n, l, &l->secret, &l->secret_len) < 0)
			l->secret = NULL;
		return 0;
	}
	return is_hop(l->hop, l->hop_len) ? 0 : -1;
}

int
table_get(enum rs_table t, const char *line, struct rs_line *l)
{
	size_t len = strcspn(line, "\n");

	memset(l, 0, sizeof(*l));
	l->key = line;
	l->key_len = table_key_len(line);
	if (l->key_len == 0 || *line == '#' || l->key_len >= len ||
	    line[l->key_len] != ' ')
		return -1;
	return get_rest(rs_table_info[t].form, line + l->key_len + 1,
	    len - l->key_len - 1, l);
}

int
table_next(enum rs_table t, const char **cursor, struct rs_line *l)
{
	const char *line;

	while (**cursor) {
		line = *cursor;
		*cursor = table_next_line(line);
		if (table_get(t, line, l) == 0)
			return 1;
	}
	return 0;
}

/*
 * In a private table everything after the first colon past the key is
 * the secret (RS_LF_LOGIN), also in a line that is not valid otherwise:
 * a damaged line still never shows a password.
 */
void
table_masked(struct buf *out, enum rs_table t, const char *line)
{
	size_t len = strcspn(line, "\n"), k = table_key_len(line);
	const char *colon = memchr(line + k, ':', len - k);

	if (rs_table_info[t].mode == 0600 && colon != NULL) {
		buf_add(out, line, (size_t)(colon - line) + 1);
		buf_adds(out, "********");
	} else
		buf_add(out, line, len);
	buf_str(out);
}

/* Compare the keys of two lines as the tables are sorted. */
static int
cmp_keys(const char *a, const char *b)
{
	size_t ka = table_key_len(a), kb = table_key_len(b);
	int c = strncmp(a, b, ka < kb ? ka : kb);

	return c ? c : ka < kb ? -1 : ka > kb;
}

/* The start of the line that holds byte at (a line start: itself). */
static size_t
line_start(const char *text, size_t lo, size_t at)
{
	while (at > lo && text[at - 1] != '\n')
		at--;
	return at;
}

int
table_ascends_at(const char *text, size_t len, size_t at)
{
	if (at == 0 || at >= len)
		return 1;
	return cmp_keys(text + line_start(text, 0, at - 1), text + at) < 0;
}

const char *
table_find(const char *text, size_t len, const char *key)
{
	size_t lo = 0, hi = len, mid, kl = strlen(key), ll;
	const char *nl;
	int c;

	while (lo < hi) {
		mid = line_start(text, lo, lo + (hi - lo) / 2);
		ll = table_key_len(text + mid);
		c = strncmp(text + mid, key, ll < kl ? ll : kl);
		if (c == 0 && ll == kl)
			return text + mid;
		if (c < 0 || (c == 0 && ll < kl)) {
			nl = memchr(text + mid, '\n', hi - mid);
			lo = nl ? (size_t)(nl - text) + 1 : hi;
		} else
			hi = mid;
	}
	return NULL;
}

/* The bytes of the line at p, which ends at its newline or at end, the
 * newline not counted. */
static size_t
line_len(const char *p, const char *end)
{
	const char *at = memchr(p, '\n', (size_t)(end - p));

	return at ? (size_t)(at - p) : (size_t)(end - p);
}

/* The line after the one at p (never p itself: a text holding a NUL
 * byte still ends). */
static const char *
past(const char *p, const char *end)
{
	p += line_len(p, end);
	return p < end ? p + 1 : p;
}

/* Advance over one line (before end); note when the keys do not
 * ascend. */
static const char *
step(const char *line, const char *end, const char **prev, int *unsorted)
{
	if (*prev != NULL && cmp_keys(*prev, line) >= 0)
		*unsorted = 1;
	*prev = line;
	return past(line, end);
}

/* The length of the line at old, its newline included, when the line at
 * new is the same bytes; else 0 (a line without a newline: 0). */
static size_t
same_line(const char *old, const char *oe, const char *new, const char *ne)
{
	size_t n = line_len(old, oe) + 1;	/* its newline, if it has one */

	return old + n <= oe && n <= (size_t)(ne - new) &&
	    memcmp(old, new, n) == 0 ? n : 0;
}

/*
 * Most lines of two texts of a table are the same: such a line is passed
 * over with one comparison of its bytes and one order check (the check
 * of the line before it serves both texts when that line was the same
 * too). The other lines are compared key by key. Neither text is copied:
 * plan compares the middles of whole tables.
 */
int
table_diff(const char *old, size_t old_len, const char *new, size_t new_len,
    table_diff_fn fn, void *arg)
{
	const char *po = NULL, *pn = NULL, *oe = old + old_len;
	const char *ne = new + new_len;
	int c, unsorted = 0, both = 0;
	size_t lo, ln;

	while ((old < oe || new < ne) && !unsorted) {
		if (old < oe && (lo = same_line(old, oe, new, ne)) > 0) {
			if ((po != NULL && cmp_keys(po, old) >= 0) ||
			    (!both && pn != NULL && cmp_keys(pn, new) >= 0))
				unsorted = 1;
			po = old;
			pn = new;
			old += lo;
			new += lo;
			both = 1;
			continue;
		}
		both = 0;
		c = old >= oe ? 1 : new >= ne ? -1 : cmp_keys(old, new);
		lo = old < oe ? line_len(old, oe) : 0;
		ln = new < ne ? line_len(new, ne) : 0;
		if (c != 0 || lo != ln || memcmp(old, new, lo) != 0)
			fn(arg, c <= 0 ? old : NULL, c >= 0 ? new : NULL);
		if (c <= 0)
			old = step(old, oe, &po, &unsorted);
		if (c >= 0)
			new = step(new, ne, &pn, &unsorted);
	}
	return unsorted ? -1 : 0;
}
