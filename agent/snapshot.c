/*
 * snapshot - what the previous run knew, for an incremental run.
 * See snapshot.h for the contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "snapshot.h"

#define MAGIC	"relaysync-snapshot 1\n"

void
snapshot_init(struct rs_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->cookie);
}

void
snapshot_free(struct rs_snapshot *s)
{
	buf_free(&s->cookie);
	snapshot_init(s);
}

void
snapshot_source(const struct rs_config *c, char *out)
{
	size_t n = config_source(c, NULL, 0);
	const char **p = xcalloc(n, sizeof(*p));

	config_source(c, p, n);
	sha256_parts_hex(p, NULL, n, out);
	free(p);
}

void
snapshot_tables(const struct rs_tables *t, char *out)
{
	const char *p[RS_T_SET];
	size_t len[RS_T_SET];
	int i;

	for (i = 0; i < RS_T_SET; i++) {
		p[i] = t->t[i].data ? t->t[i].data : "";
		len[i] = t->t[i].len;
	}
	sha256_parts_hex(p, len, RS_T_SET, out);
	secret_keyed_hex(out);	/* sasl_passwd is in it */
}

int
snapshot_live_tables(const struct rs_config *c, char *out)
{
	struct rs_tables t;
	struct rs_err err;
	struct buf path;
	int i, rc = 0;

	memset(&t, 0, sizeof(t));
	buf_init(&path);
	for (i = 0; i < RS_T_SET && rc == 0; i++) {
		buf_reset(&path);
		buf_printf(&path, "%s/%s", c->postfix.map_dir,
		    rs_table_info[i].name);
		rc = read_file(path.data, &t.t[i], &err);
	}
	if (rc == 0)
		snapshot_tables(&t, out);
	buf_free(&path);
	render_free(&t);
	return rc;
}

static void
checksum(const char *text, size_t len, char *out)
{
	const char *p[1] = { text };

	sha256_parts_hex(p, &len, 1, out);
}

/* A plain password as an envelope of the local key, so that no password
 * is kept in clear in state_dir; policy opens it like one from the
 * directory. */
static int
seal(void *arg, const struct rs_sendas *s, struct buf *out)
{
	const struct rs_keyring *keys = arg;
	const struct rs_value *pw = &s->f[RS_F_PASSWORD];
	const char *address = s->f[RS_F_ADDRESS].val;
	struct rs_err err;

	if (keys == NULL || keys->n == 0)
		return -1;	/* bound to the entry's address, as policy opens it */
	return secret_encrypt(keys, address ? address : "", pw->val, pw->len,
	    out, &err);
}

int
snapshot_dump(const struct rs_snapshot *s, const struct rs_model *m,
    struct buf *b)
{
	char sum[RS_HASH_HEX + 1];

	buf_reset(b);
	buf_printf(b, MAGIC "source %s\ngeneration %lu\ntables %s\n"
	    "cookie %zu:", s->source, s->generation, s->tables, s->cookie.len);
	buf_add(b, s->cookie.data, s->cookie.len);
	buf_add(b, "\n", 1);
	if (s->seal_with == NULL)
		model_dump(m, b);
	else if (model_dump_sealed(m, seal, (void *)s->seal_with, b) < 0)
		return -1;
	checksum(b->data, b->len, sum);
	buf_printf(b, "end %s\n", sum);
	return 0;
}

/* The header after MAGIC; returns where the entries start, or NULL. */
static const char *
header(const char *p, const char *end, struct rs_snapshot *s)
{
	size_t n;
	int used = 0;

	if (sscanf(p, "source %64[0-9a-f]\ngeneration %lu\ntables "
	    "%64[0-9a-f]\ncookie %zu:%n", s->source, &s->generation,
	    s->tables, &n, &used) != 4 || used == 0)
		return NULL;
	p += used;
	if ((size_t)(end - p) < n + 1 || p[n] != '\n')
		return NULL;
	buf_reset(&s->cookie);
	buf_add(&s->cookie, p, n);
	buf_str(&s->cookie);
	return p + n + 1;
}

int
snapshot_parse(const struct buf *b, struct rs_snapshot *s, struct rs_model *m,
    struct rs_err *err)
{
	char sum[RS_HASH_HEX + 1];
	const char *text = b->data ? b->data : "", *last, *entries;
	size_t len = b->len;

	if (len < strlen(MAGIC) || memcmp(text, MAGIC, strlen(MAGIC)) != 0)
		return rs_err_set(err, RS_EX_FAIL, "not a relaysync snapshot "
		    "of version 1");
	if (len < RS_HASH_HEX + 5 || text[len - 1] != '\n')
		return rs_err_set(err, RS_EX_FAIL, "truncated");
	last = text + len - (RS_HASH_HEX + 5);
	checksum(text, (size_t)(last - text), sum);
	if (memcmp(last, "end ", 4) != 0 ||
	    memcmp(last + 4, sum, RS_HASH_HEX) != 0)
		return rs_err_set(err, RS_EX_FAIL, "checksum mismatch "
		    "(damaged or truncated)");
	entries = header(text + strlen(MAGIC), last, s);
	if (entries == NULL)
		return rs_err_set(err, RS_EX_FAIL, "damaged header");
	if (model_parse(entries, (size_t)(last - entries), m) < 0)
		return rs_err_set(err, RS_EX_FAIL, "damaged entry");
	return 0;
}
