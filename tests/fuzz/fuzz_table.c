/*
 * libFuzzer target: the table line format (table.h). The first byte picks
 * a table; the rest is key, value, hop and secret separated by 0x1f.
 * When those parts are valid for the table (table.h's rules), the line
 * table_put() writes must read back through table_get() as the same
 * parts. Whatever the bytes, reading them as a text of that table
 * (table_next(), table_masked(), table_diff()) must not crash, and
 * table_masked() must not show what follows the first colon of a
 * private table's line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

struct parts {
	char *p[4];		/* key, value, hop, secret */
};

static int
has_any(const char *s, const char *bytes)
{
	return strpbrk(s, bytes) != NULL;
}

static int
valid_hop(const char *h)
{
	const char *close = strstr(h, "]:");

	return h[0] == '[' && close != NULL && close > h &&
	    !has_any(h, " \t\n");
}

/* Are the parts valid for table t (and which does its form use)? */
static int
valid(enum rs_table t, const struct parts *x)
{
	enum rs_line_form f = rs_table_info[t].form;
	const char *key = x->p[0], *value = x->p[1], *hop = x->p[2];

	if (*key == '\0' || *key == '#' || has_any(key, " \t\n") ||
	    has_any(value, "\n") || has_any(x->p[3], "\n"))
		return 0;
	if ((f == RS_LF_VIA || f == RS_LF_FILTER || f == RS_LF_LOGIN) &&
	    has_any(value, ":"))
		return 0;
	if (f == RS_LF_POLICY)
		return valid_hop(key);
	return f == RS_LF_PLAIN || f == RS_LF_LOGIN || valid_hop(hop);
}

static void
same(const char *got, size_t len, const char *want)
{
	if (want == NULL ? got != NULL : got == NULL || len != strlen(want) ||
	    memcmp(got, want, len) != 0)
		abort();
}

/* Write the parts as a line of t, read it back: the same parts. */
static void
round_trip(enum rs_table t, const struct parts *x)
{
	enum rs_line_form f = rs_table_info[t].form;
	const char *hop = f == RS_LF_POLICY ? x->p[0] : f == RS_LF_PLAIN ||
	    f == RS_LF_LOGIN ? NULL : x->p[2];
	const char *secret = f == RS_LF_LOGIN && *x->p[3] ? x->p[3] : NULL;
	struct rs_line l;
	struct buf b;

	buf_init(&b);
	table_put(&b, t, x->p[0], x->p[1], x->p[2], secret);
	if (b.len == 0 || b.data[b.len - 1] != '\n' ||
	    table_get(t, buf_str(&b), &l) < 0)
		abort();
	same(l.key, l.key_len, x->p[0]);
	same(l.value, l.value_len, f == RS_LF_HOP ? "" : x->p[1]);
	same(l.hop, l.hop_len, hop);
	same(l.secret, l.secret_len, secret);
	if (table_next_line(b.data) != b.data + b.len)
		abort();
	buf_free(&b);
}

static void
noop(void *arg, const char *old, const char *new)
{
	(void)arg;
	if (old == NULL && new == NULL)
		abort();
}

/* Read arbitrary text as table t: nothing may crash or leak a secret. */
static void
read_any(enum rs_table t, const char *text)
{
	const char *cur = text, *line, *colon;
	struct rs_line l;
	struct buf b;
	size_t k;

	buf_init(&b);
	while (table_next(t, &cur, &l))
		if (l.key_len == 0 || l.key + l.key_len > cur)
			abort();
	for (line = text; *line; line = table_next_line(line)) {
		buf_reset(&b);
		table_masked(&b, t, line);
		k = table_key_len(line);
		colon = memchr(line + k, ':', strcspn(line + k, "\n"));
		if (rs_table_info[t].mode == 0600 && colon != NULL &&
		    strcmp(b.data + (colon - line) + 1, "********") != 0)
			abort();
	}
	(void)table_diff(text, strlen(text), "", 0, noop, NULL);
	(void)table_diff("", 0, text, strlen(text), noop, NULL);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum rs_table t;
	struct parts x;
	char *text, *p;
	int i;

	if (size == 0)
		return 0;
	t = (enum rs_table)(data[0] % RS_T_SET);
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	read_any(t, text);
	for (i = 0, p = text; i < 4; i++) {
		x.p[i] = p;
		if (p != NULL && (p = strchr(p, 0x1f)) != NULL)
			*p++ = '\0';
		if (x.p[i] == NULL)
			x.p[i] = "";
	}
	if (valid(t, &x))
		round_trip(t, &x);
	free(text);
	return 0;
}
