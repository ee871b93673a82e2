/*
 * snapshot - what the previous run knew, for an incremental run.
 * See snapshot.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"
#include "snapshot.h"

#define MAGIC	"relaysync-snapshot 1\n"

static const char *header(const char *p, const char *end,
    struct rs_snapshot *s);

void
snapshot_init(struct rs_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->cookie);
	buf_init(&s->journal);
	buf_init(&s->record);
	buf_init(&s->digested);
}

void
snapshot_free(struct rs_snapshot *s)
{
	snapshot_digest_join(s);
	buf_free(&s->digested);
	buf_free(&s->cookie);
	buf_free(&s->journal);
	buf_wipe(&s->record);
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

/* The checksum of an end line: the SHA-256 of the text before it and a
 * NUL (what sha256_parts_hex() of that one part is), taken whole or a
 * piece at a time (checksum_end() finishes sha256_begin()'s ctx). */
static void
checksum_end(void *ctx, char *out)
{
	sha256_add(ctx, "", 1);
	sha256_end_hex(ctx, out);
}

static void
checksum(const char *text, size_t len, char *out)
{
	void *ctx = sha256_begin();

	sha256_add(ctx, text, len);
	checksum_end(ctx, out);
}

/* A plain password as an envelope of the local key, so that no password
 * is kept in clear in state_dir; policy opens it like one from the
 * directory. Counted: a snapshot that sealed one has no digest. */
struct sealing {
	const struct rs_keyring *keys;
	size_t n;
};

static int
seal(void *arg, const struct rs_sendas *s, struct buf *out)
{
	struct sealing *k = arg;
	const struct rs_value *pw = &s->f[RS_F_PASSWORD];
	const char *address = s->f[RS_F_ADDRESS].val;
	struct rs_err err;

	if (k->keys == NULL || k->keys->n == 0)
		return -1;	/* bound to the entry's address, as policy opens it */
	k->n++;
	return secret_encrypt(k->keys, address ? address : "", pw->val,
	    pw->len, out, &err);
}

/* What a snapshot's checksum covers goes through it on its way out. */
struct summed {
	void *sha;
	rs_drain_fn drain;
	void *arg;
};

static int
summed_drain(void *arg, const char *p, size_t n)
{
	struct summed *h = arg;

	sha256_add(h->sha, p, n);
	return h->drain(h->arg, p, n);
}

/* Everything before the entries. */
static void
header_text(const struct rs_snapshot *s, struct buf *b)
{
	buf_printf(b, MAGIC "source %s\ngeneration %lu\ntables %s\n"
	    "cookie %zu:", s->source, s->generation, s->tables, s->cookie.len);
	buf_add(b, s->cookie.data, s->cookie.len);
	buf_add(b, "\n", 1);
}

/* A snapshot with header head through drain, sealing with k (NULL:
 * nothing sealed); sum gets its checksum (the end line's). */
static int
write_summed(const struct buf *head, const struct rs_model *m,
    struct sealing *k, rs_drain_fn drain, void *arg, char *sum)
{
	struct summed h = { sha256_begin(), drain, arg };
	struct rs_stream out;
	int rc;

	stream_init(&out, summed_drain, &h);
	buf_add(&out.b, head->data, head->len);
	rc = model_dump_sealed(m, k ? seal : NULL, k, &out);
	if (stream_end(&out) < 0)
		rc = -1;
	checksum_end(h.sha, sum);
	buf_printf(&out.b, "end %s\n", sum);
	if (rc == 0 && drain(arg, out.b.data, out.b.len) < 0)
		rc = -1;
	buf_wipe(&out.b);
	return rc;
}

int
snapshot_write_digest(const struct rs_snapshot *s, const struct rs_model *m,
    rs_drain_fn drain, void *arg, char *digest)
{
	struct sealing k = { s->seal_with, 0 };
	char sum[RS_HASH_HEX + 1];
	struct buf head;
	int rc;

	buf_init(&head);
	header_text(s, &head);
	rc = write_summed(&head, m, s->seal_with ? &k : NULL, drain, arg, sum);
	buf_free(&head);
	if (digest != NULL && k.n == 0)
		secret_keyed_hex(strcpy(digest, sum));	/* passwords in it */
	else if (digest != NULL)
		*digest = '\0';	/* sealed: not the model's text */
	return rc;
}

int
snapshot_write(const struct rs_snapshot *s, const struct rs_model *m,
    rs_drain_fn drain, void *arg)
{
	return snapshot_write_digest(s, m, drain, arg, NULL);
}

/* The digest of a snapshot of m with header head, nothing sealed. */
static void
unsealed_digest(const struct buf *head, const struct rs_model *m, char *out)
{
	(void)write_summed(head, m, NULL, drain_nothing, NULL, out);
	secret_keyed_hex(out);
}

/* "file dev inode size mtime ctime" of the snapshot in state_dir. */
static void
snapshot_identity(const struct rs_config *c, struct buf *out)
{
	struct buf path;
	size_t len = out->len;

	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_SNAPSHOT_FILE);
	buf_adds(out, "file ");
	if (file_identity(path.data, out) == 0)
		buf_addc(out, '\n');
	else
		out->len = len;
	buf_free(&path);
}

void
snapshot_digest_text(const struct rs_config *c, const char *digest,
    struct buf *out)
{
	buf_reset(out);
	if (*digest == '\0')
		return;
	snapshot_identity(c, out);
	buf_printf(out, "digest %s\n", digest);
}

/* The header of the snapshot file in state_dir, into head (empty when
 * it has none). */
static void
file_header(const char *state_dir, struct buf *head)
{
	char chunk[65536];
	struct rs_snapshot tmp;
	const char *entries = NULL;
	struct buf path;
	ssize_t n = -1;
	int fd;

	buf_init(&path);
	buf_printf(&path, "%s/%s", state_dir, RS_SNAPSHOT_FILE);
	snapshot_init(&tmp);
	if ((fd = open(path.data, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
		n = read(fd, chunk, sizeof(chunk) - 1);
		close(fd);
	}
	if (n > (ssize_t)strlen(MAGIC) && (chunk[n] = '\0', 1) &&
	    memcmp(chunk, MAGIC, strlen(MAGIC)) == 0)
		entries = header(chunk + strlen(MAGIC), chunk + n, &tmp);
	buf_reset(head);
	if (entries != NULL)
		buf_add(head, chunk, (size_t)(entries - chunk));
	snapshot_free(&tmp);
	buf_free(&path);
}

/* Does the digest file name the snapshot file in state_dir as it is?
 * Then its digest in digest. */
static int
digest_file(const struct rs_config *c, char *digest)
{
	struct buf path, kept, now;
	struct rs_err ignored;
	int yes;

	buf_init(&path);
	buf_init(&kept);
	buf_init(&now);
	buf_printf(&path, "%s/%s", c->state_dir, RS_DIGEST_FILE);
	snapshot_identity(c, &now);
	yes = read_file(path.data, &kept, &ignored) == 0 && now.len > 0 &&
	    kept.len == now.len + strlen("digest \n") + RS_HASH_HEX &&
	    memcmp(kept.data, now.data, now.len) == 0 &&
	    sscanf(kept.data + now.len, "digest %64[0-9a-f]", digest) == 1;
	buf_free(&path);
	buf_free(&kept);
	buf_free(&now);
	return yes;
}

/* Is there a digest file that names the snapshot file as it is, and is
 * that file's header s's? Then its digest in digest. */
static int
digest_recorded(const struct rs_config *c, const struct rs_snapshot *s,
    char *digest)
{
	struct buf now, head;
	int yes;

	if (!digest_file(c, digest))
		return 0;
	buf_init(&now);
	buf_init(&head);
	header_text(s, &head);
	file_header(c->state_dir, &now);
	yes = now.len == head.len && memcmp(now.data, head.data,
	    head.len) == 0;
	buf_free(&now);
	buf_free(&head);
	return yes;
}

int
snapshot_holds(const struct rs_config *c, const struct rs_model *m)
{
	char recorded[RS_HASH_HEX + 1], now[RS_HASH_HEX + 1];
	struct buf path, head;
	int yes;

	buf_init(&path);
	buf_init(&head);
	buf_printf(&path, "%s/%s", c->state_dir, RS_JOURNAL_FILE);
	yes = access(path.data, F_OK) < 0 && errno == ENOENT &&
	    digest_file(c, recorded);
	if (yes) {
		file_header(c->state_dir, &head);
		unsealed_digest(&head, m, now);
		yes = head.len > 0 && strcmp(now, recorded) == 0;
	}
	buf_free(&path);
	buf_free(&head);
	return yes;
}

/* The digest of the snapshot file's header with s->model's entries:
 * what it holds, if its header is the run's (see snapshot_kept()). */
static void *
digest_thread(void *arg)
{
	struct rs_snapshot *s = arg;

	unsealed_digest(&s->digested, s->model, s->digest);
	return NULL;
}

void
snapshot_digest_start(const struct rs_config *c, struct rs_snapshot *s,
    const struct rs_model *m)
{
	struct buf path;

	s->digest[0] = '\0';
	s->model = m;
	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_DIGEST_FILE);
	if (s->cookie.len > 0 && s->record.len == 0 && !s->unchanged &&
	    access(path.data, F_OK) == 0)
		file_header(c->state_dir, &s->digested);
	s->digesting = s->digested.len > 0 &&
	    pthread_create(&s->digester, NULL, digest_thread, s) == 0;
	buf_free(&path);
}

void
snapshot_digest_join(struct rs_snapshot *s)
{
	if (s->digesting)
		pthread_join(s->digester, NULL);
	s->digesting = 0;
}

const char *
snapshot_digest(struct rs_snapshot *s, const struct rs_model *m)
{
	struct buf head;

	snapshot_digest_join(s);
	buf_init(&head);
	header_text(s, &head);
	if (s->digest[0] == '\0' || s->model != m ||
	    head.len != s->digested.len || memcmp(head.data,
	    s->digested.data, head.len) != 0) {
		unsealed_digest(&head, m, s->digest);
		s->model = m;
		buf_reset(&s->digested);
		buf_add(&s->digested, head.data, head.len);
	}
	buf_free(&head);
	return s->digest;
}

int
snapshot_kept(const struct rs_config *c, struct rs_snapshot *s,
    const struct rs_model *m)
{
	char recorded[RS_HASH_HEX + 1];

	snapshot_digest_join(s);
	return digest_recorded(c, s, recorded) &&
	    strcmp(recorded, snapshot_digest(s, m)) == 0;
}

static int
append_drain(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

int
snapshot_dump(const struct rs_snapshot *s, const struct rs_model *m,
    struct buf *b)
{
	buf_reset(b);
	return snapshot_write(s, m, append_drain, b);
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

/*
 * Reading a snapshot a piece at a time: the header, then every entry line
 * that is whole (model_entry_len()); what is left waits for the next
 * piece. The end line (its last END_LEN bytes, known from its size) is
 * checked against the SHA-256 of everything before it once all is read.
 */
#define END_LEN		(RS_HASH_HEX + 5)	/* "end <sum>\n" */
#define HEADER_MAX	(1024 * 1024)	/* a header longer is damaged */
#define PARSE_PIECE	509	/* snapshot_parse()'s pieces: entries cut
				 * anywhere, as snapshot_load() may get them */

struct loader {
	struct rs_snapshot *s;
	struct rs_model *m;
	struct buf pending;	/* read, not parsed yet */
	int in_entries;		/* the header was parsed */
	int bad;
	const char *why;
};

static void
loader_init(struct loader *l, struct rs_snapshot *s, struct rs_model *m)
{
	memset(l, 0, sizeof(*l));
	l->s = s;
	l->m = m;
	buf_init(&l->pending);
}

static void
loader_fail(struct loader *l, const char *why)
{
	if (!l->bad)
		l->why = why;
	l->bad = 1;
}

/* Parse what pending holds whole; keep the rest. At the end (last),
 * nothing may be left. */
static void
loader_step(struct loader *l, int last)
{
	const char *p, *end, *from;
	size_t n;

	buf_str(&l->pending);	/* for header()'s sscanf */
	p = l->pending.data;
	end = p + l->pending.len;
	if (!l->in_entries) {
		if (l->pending.len >= strlen(MAGIC) &&
		    memcmp(p, MAGIC, strlen(MAGIC)) != 0) {
			loader_fail(l, "not a relaysync snapshot of version 1");
			return;
		}
		from = l->pending.len >= strlen(MAGIC) ?
		    header(p + strlen(MAGIC), end, l->s) : NULL;
		if (from == NULL) {
			if (last || l->pending.len > HEADER_MAX)
				loader_fail(l, "damaged header");
			return;
		}
		l->in_entries = 1;
		p = from;
	}
	for (from = p; p < end && (n = model_entry_len(p,
	    (size_t)(end - p))) > 0; p += n)
		;
	if (p > from && model_parse(from, (size_t)(p - from), l->m) < 0)
		loader_fail(l, "damaged entry");
	else if (last && p < end)
		loader_fail(l, "truncated entry");
	n = (size_t)(p - l->pending.data);
	memmove(l->pending.data, p, l->pending.len - n);
	l->pending.len -= n;
}

static void
loader_feed(struct loader *l, const char *p, size_t n)
{
	if (l->bad)
		return;
	buf_add(&l->pending, p, n);
	loader_step(l, 0);
}

/* The end: all is parsed, and the end line names sum, the SHA-256 of
 * everything before it. */
static int
loader_end(struct loader *l, const char *tail, const char *sum,
    size_t size, struct rs_err *err)
{
	if (!l->bad)
		loader_step(l, 1);
	if (!l->bad && (memcmp(tail, "end ", 4) != 0 ||
	    memcmp(tail + 4, sum, RS_HASH_HEX) != 0 || tail[END_LEN - 1] !=
	    '\n'))
		loader_fail(l, "checksum mismatch (damaged or truncated)");
	buf_wipe(&l->pending);
	if (l->bad)
		return rs_err_set(err, RS_EX_FAIL, "%s", l->why);
	memcpy(l->s->base, tail + 4, RS_HASH_HEX);
	l->s->base[RS_HASH_HEX] = '\0';
	l->s->size = size;
	return 0;
}

int
snapshot_parse(const struct buf *b, struct rs_snapshot *s, struct rs_model *m,
    struct rs_err *err)
{
	char sum[RS_HASH_HEX + 1];
	const char *text = b->data ? b->data : "";
	struct loader l;
	size_t n;

	if (b->len < strlen(MAGIC) || memcmp(text, MAGIC, strlen(MAGIC)) != 0)
		return rs_err_set(err, RS_EX_FAIL, "not a relaysync snapshot "
		    "of version 1");
	if (b->len < END_LEN + strlen(MAGIC))
		return rs_err_set(err, RS_EX_FAIL, "truncated");
	checksum(text, b->len - END_LEN, sum);
	loader_init(&l, s, m);
	for (n = 0; n < b->len - END_LEN; n += PARSE_PIECE)
		loader_feed(&l, text + n, b->len - END_LEN - n < PARSE_PIECE ?
		    b->len - END_LEN - n : PARSE_PIECE);
	return loader_end(&l, text + b->len - END_LEN, sum, b->len, err);
}

/*
 * snapshot_load(): a thread reads the file and checksums it, a piece at a
 * time, while this one parses the pieces it handed over (two pieces in
 * flight at most).
 */
#define PIECE		(1024 * 1024)
#define PIECES		2

struct reading {
	int fd;
	size_t size, done;	/* bytes in the file, read so far */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char *piece[PIECES];
	size_t len[PIECES];	/* 0: free */
	size_t head, tail;	/* next to fill, next to parse */
	int eof, error, stop;	/* error: errno, or -1 for a short file */
	char tailbuf[END_LEN];	/* the end line */
	char sum[RS_HASH_HEX + 1];
};

/* Read on into to (at most a piece): what comes before the end line is
 * checksummed and counted in *body, the end line is kept apart. The
 * bytes read, 0 at the end of the file, -1 on an error. */
static ssize_t
read_piece(struct reading *r, void *ctx, char *to, size_t *body)
{
	size_t want = r->size - r->done, last = r->size - END_LEN, n, k;
	ssize_t got;

	if (want > PIECE)
		want = PIECE;
	if ((got = read(r->fd, to, want)) <= 0)
		return got;
	n = (size_t)got;
	k = r->done >= last ? 0 : r->done + n <= last ? n : last - r->done;
	sha256_add(ctx, to, k);
	if (k < n)		/* the end line, or part of it */
		memcpy(r->tailbuf + (r->done + k - last), to + k, n - k);
	r->done += n;
	*body = k;
	return got;
}

/* Wait for a free piece; its index, or -1 when the parser stopped. */
static int
free_piece(struct reading *r)
{
	int i;

	pthread_mutex_lock(&r->lock);
	while (r->len[r->head % PIECES] != 0 && !r->stop)
		pthread_cond_wait(&r->cond, &r->lock);
	i = r->stop ? -1 : (int)(r->head % PIECES);
	pthread_mutex_unlock(&r->lock);
	return i;
}

static void *
reader_thread(void *arg)
{
	struct reading *r = arg;
	void *ctx = sha256_begin();
	ssize_t n = 1;
	size_t body = 0;
	int i = 0;

	while (r->done < r->size && (i = free_piece(r)) >= 0 &&
	    (n = read_piece(r, ctx, r->piece[i], &body)) > 0) {
		pthread_mutex_lock(&r->lock);
		if (body > 0) {
			r->len[i] = body;
			r->head++;
			pthread_cond_broadcast(&r->cond);
		}
		pthread_mutex_unlock(&r->lock);
	}
	checksum_end(ctx, r->sum);
	pthread_mutex_lock(&r->lock);
	if (i >= 0 && n <= 0)
		r->error = n < 0 ? errno : -1;
	r->eof = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Parse the pieces as the thread hands them over, until it is done. */
static void
parse_pieces(struct reading *r, struct loader *l)
{
	size_t i;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (r->len[r->tail % PIECES] == 0 && !r->eof)
			pthread_cond_wait(&r->cond, &r->lock);
		i = r->tail % PIECES;
		if (r->len[i] == 0) {
			pthread_mutex_unlock(&r->lock);
			return;
		}
		pthread_mutex_unlock(&r->lock);
		loader_feed(l, r->piece[i], r->len[i]);
		pthread_mutex_lock(&r->lock);
		r->len[i] = 0;
		r->tail++;
		r->stop = l->bad;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
	}
}

int
snapshot_load(const char *path, struct rs_snapshot *s, struct rs_model *m,
    struct rs_err *err)
{
	struct reading r;
	struct loader l;
	struct stat st;
	pthread_t t;
	int rc, i;

	memset(&r, 0, sizeof(r));
	if ((r.fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
	    fstat(r.fd, &st) < 0) {
		rs_err_set(err, RS_EX_FAIL, "%s: %s", path, strerror(errno));
		if (r.fd >= 0)
			close(r.fd);
		return -2;
	}
	r.size = (size_t)st.st_size;
	if (!S_ISREG(st.st_mode) || r.size < END_LEN + strlen(MAGIC)) {
		close(r.fd);
		return rs_err_set(err, RS_EX_FAIL, "truncated");
	}
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	for (i = 0; i < PIECES; i++)
		r.piece[i] = xmalloc(PIECE);
	loader_init(&l, s, m);
	if (pthread_create(&t, NULL, reader_thread, &r) != 0)
		abort();	/* no thread: no useful recovery */
	parse_pieces(&r, &l);
	pthread_join(t, NULL);
	if (r.error != 0 && !l.bad)
		loader_fail(&l, r.error > 0 ? strerror(r.error) :
		    "it was cut short while being read");
	rc = loader_end(&l, r.tailbuf, r.sum, r.size, err);
	for (i = 0; i < PIECES; i++) {
		explicit_bzero(r.piece[i], PIECE);
		free(r.piece[i]);
	}
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	close(r.fd);
	return rc;
}

/* Journal */

#define JOURNAL_MAGIC	"relaysync-journal 1 "

static void
add_counted(struct buf *b, const char *p, size_t len)
{
	buf_printf(b, "%zu:", len);
	buf_add(b, p, len);
	buf_addc(b, '\n');
}

int
snapshot_record(struct rs_snapshot *next, const struct rs_changes *ch,
    const struct rs_model *fresh)
{
	struct buf *b = &next->record;
	struct rs_stream entries;
	size_t i;
	int rc;

	buf_reset(b);
	if (ch->present_phase)
		return -1;
	stream_init(&entries, NULL, NULL);
	buf_printf(b, "changed %zu\n", ch->n);
	for (i = 0; i < ch->n; i++) {
		buf_printf(b, "%s ", ch->e[i].uuid);
		add_counted(b, ch->e[i].dn, strlen(ch->e[i].dn));
	}
	buf_printf(b, "gone %zu\n", ch->gone.count);
	for (i = 0; i < ch->gone.cap; i++)
		if (ch->gone.slots[i].key != NULL)
			buf_printf(b, "%s\n", ch->gone.slots[i].key);
	rc = model_dump_sealed(fresh, next->seal_with ? seal : NULL,
	    (void *)next->seal_with, &entries);	/* small: kept whole */
	if (rc == 0) {
		buf_adds(b, "entries ");
		add_counted(b, entries.b.data ? entries.b.data : "",
		    entries.b.len);
	} else
		buf_reset(b);
	buf_wipe(&entries.b);
	return rc;
}

/* SHA-256 of the previous end and a record's text. */
static void
chain(const char *prev, const char *p, size_t len, char *out)
{
	const char *parts[2] = { prev, p };
	size_t lens[2] = { RS_HASH_HEX, len };

	sha256_parts_hex(parts, lens, 2, out);
}

int
snapshot_journal(const struct rs_snapshot *next, struct buf *out)
{
	char prev[RS_HASH_HEX + 1], sum[RS_HASH_HEX + 1];
	struct buf rec;

	if (next->record.len == 0 || *next->base == '\0' ||
	    next->records >= RS_JOURNAL_RECORDS ||
	    (next->journal.len + next->record.len) * 8 > next->size)
		return -1;
	buf_reset(out);
	if (next->journal.len == 0) {
		buf_printf(out, JOURNAL_MAGIC "%s\n", next->base);
		memcpy(prev, next->base, sizeof(prev));
	} else {
		buf_add(out, next->journal.data, next->journal.len);
		memcpy(prev, out->data + out->len - RS_HASH_HEX - 1,
		    RS_HASH_HEX);
		prev[RS_HASH_HEX] = '\0';
	}
	buf_init(&rec);
	buf_printf(&rec, "generation %lu\ntables %s\ncookie ",
	    next->generation, next->tables);
	add_counted(&rec, next->cookie.data ? next->cookie.data : "",
	    next->cookie.len);
	buf_add(&rec, next->record.data, next->record.len);
	chain(prev, rec.data, rec.len, sum);
	buf_printf(out, "R %zu\n", rec.len);
	buf_add(out, rec.data, rec.len);
	buf_printf(out, "end %s\n", sum);
	buf_wipe(&rec);
	return 0;
}

struct jcur {
	const char *p, *end;
};

/* "<length>:<bytes>\n" at the cursor; NULL when damaged. */
static const char *
take_counted(struct jcur *c, size_t *len)
{
	char *colon;
	unsigned long long n;
	const char *v;

	if (c->p >= c->end || *c->p < '0' || *c->p > '9')
		return NULL;
	n = strtoull(c->p, &colon, 10);
	if (colon >= c->end || *colon != ':' ||
	    n >= (size_t)(c->end - colon - 1) || colon[1 + n] != '\n')
		return NULL;
	v = colon + 1;
	*len = (size_t)n;
	c->p = v + n + 1;
	return v;
}

/* A line "<word> <number>\n" at the cursor. */
static int
take_count(struct jcur *c, const char *word, size_t *n)
{
	size_t w = strlen(word);
	char *after;

	if ((size_t)(c->end - c->p) < w + 2 || memcmp(c->p, word, w) != 0 ||
	    c->p[w] != ' ')
		return -1;
	*n = (size_t)strtoull(c->p + w + 1, &after, 10);
	if (after >= c->end || *after != '\n')
		return -1;
	c->p = after + 1;
	return 0;
}

/* A UUID (or nothing) up to the given byte. */
static int
take_uuid(struct jcur *c, char stop, char *uuid)
{
	const char *v = memchr(c->p, stop, (size_t)(c->end - c->p));

	if (v == NULL || (size_t)(v - c->p) > RS_UUID_LEN)
		return -1;
	memcpy(uuid, c->p, (size_t)(v - c->p));
	uuid[v - c->p] = '\0';
	c->p = v + 1;
	return 0;
}

/* The change set and fresh entries of a record's body. */
static int
take_changes(struct jcur *c, struct rs_changes *ch, struct rs_model *fresh)
{
	char uuid[RS_UUID_LEN + 1], *dn;
	const char *v;
	size_t n, i, len;

	if (take_count(c, "changed", &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (take_uuid(c, ' ', uuid) < 0 ||
		    (v = take_counted(c, &len)) == NULL)
			return -1;
		dn = xcalloc(1, len + 1);
		memcpy(dn, v, len);
		model_changed(ch, uuid, dn);
		free(dn);
	}
	if (take_count(c, "gone", &n) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		if (take_uuid(c, '\n', uuid) < 0)
			return -1;
		model_sync_state(ch, uuid, 0);
	}
	if ((size_t)(c->end - c->p) < 8 || memcmp(c->p, "entries ", 8) != 0)
		return -1;
	c->p += 8;
	if ((v = take_counted(c, &len)) == NULL || c->p != c->end)
		return -1;
	return model_parse(v, len, fresh);
}

/* One record's text: its header into s, its changes merged into m. */
static int
replay_one(const char *p, size_t len, struct rs_snapshot *s,
    struct rs_model *m)
{
	struct jcur c = { p, p + len };
	struct rs_changes ch;
	struct rs_reads r;
	struct rs_model fresh;
	const char *cookie;
	size_t clen;
	int used = 0, rc = -1;

	if (sscanf(p, "generation %lu\ntables %64[0-9a-f]\ncookie %n",
	    &s->generation, s->tables, &used) != 2 || used == 0 ||
	    (size_t)used >= len)
		return -1;
	c.p += used;
	if ((cookie = take_counted(&c, &clen)) == NULL)
		return -1;
	buf_reset(&s->cookie);
	buf_add(&s->cookie, cookie, clen);
	buf_str(&s->cookie);
	model_changes_init(&ch);
	model_init(&fresh);
	if (take_changes(&c, &ch, &fresh) == 0) {
		model_reads(m, &ch, &r);
		rc = model_merge(m, &ch, &r, &fresh);
		model_reads_free(&r);
	}
	model_changes_free(&ch);
	model_free(&fresh);
	return rc;
}

int
snapshot_replay(const struct buf *journal, struct rs_snapshot *s,
    struct rs_model *m, struct rs_err *err)
{
	char prev[RS_HASH_HEX + 1], sum[RS_HASH_HEX + 1];
	const char *p = journal->data, *end = p + journal->len, *rec;
	size_t hl = strlen(JOURNAL_MAGIC), n;
	char *after;

	if (journal->len < hl + RS_HASH_HEX + 1 || memcmp(p, JOURNAL_MAGIC,
	    hl) != 0 || memcmp(p + hl, s->base, RS_HASH_HEX) != 0 ||
	    p[hl + RS_HASH_HEX] != '\n')
		return rs_err_set(err, RS_EX_FAIL, "%s does not follow this "
		    "snapshot", RS_JOURNAL_FILE);
	memcpy(prev, s->base, sizeof(prev));
	s->records = 0;
	for (p += hl + RS_HASH_HEX + 1; p < end; p = rec + n + 69) {
		if (end - p < 3 || memcmp(p, "R ", 2) != 0)
			return rs_err_set(err, RS_EX_FAIL, "%s: damaged",
			    RS_JOURNAL_FILE);
		n = (size_t)strtoull(p + 2, &after, 10);
		rec = after + 1;
		if (after >= end || *after != '\n' ||
		    (size_t)(end - rec) < n + 69 ||
		    memcmp(rec + n, "end ", 4) != 0)
			return rs_err_set(err, RS_EX_FAIL, "%s: truncated",
			    RS_JOURNAL_FILE);
		chain(prev, rec, n, sum);
		if (memcmp(rec + n + 4, sum, RS_HASH_HEX) != 0 ||
		    rec[n + 68] != '\n')
			return rs_err_set(err, RS_EX_FAIL, "%s: checksum "
			    "mismatch (damaged or truncated)", RS_JOURNAL_FILE);
		if (replay_one(rec, n, s, m) < 0)
			return rs_err_set(err, RS_EX_FAIL, "%s: damaged record",
			    RS_JOURNAL_FILE);
		memcpy(prev, sum, sizeof(prev));
		s->records++;
	}
	buf_reset(&s->journal);
	buf_add(&s->journal, journal->data, journal->len);
	return 0;
}

