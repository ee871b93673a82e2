/*
 * util - memory, growable buffers, string maps, errors and logging.
 * See util.h for the contract.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int rs_verbosity = RS_LOG_INFO;
static int log_interactive = 1;
static int log_journal;	/* standard error is the journal */
/* When syslog's socket was last there, and last looked for: atomic, as
 * threads of a run (apply's table workers) log too. */
static _Atomic time_t log_socket_seen;
static _Atomic time_t log_socket_checked;

static void
oom(void)
{
	fputs("relaysync: out of memory\n", stderr);
	abort();
}

struct rs_arena_chunk {
	struct rs_arena_chunk *next;
	size_t size, used;
	char data[];
};

#define ARENA_ALIGN	(sizeof(void *))

void
arena_init(struct rs_arena *a)
{
	memset(a, 0, sizeof(*a));
}

void *
arena_alloc(struct rs_arena *a, size_t n)
{
	struct rs_arena_chunk *c = a->chunks;
	size_t size;
	void *p;

	n = (n + ARENA_ALIGN - 1) & ~(ARENA_ALIGN - 1);
	if (c == NULL || c->size - c->used < n) {
		size = n > RS_ARENA_CHUNK / 4 ? n : RS_ARENA_CHUNK;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = a->chunks;
		a->chunks = c;
	}
	p = c->data + c->used;
	c->used += n;
	a->used += n;
	return p;
}

char *
arena_copy(struct rs_arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
arena_strdup(struct rs_arena *a, const char *s)
{
	return s ? arena_copy(a, s, strlen(s)) : NULL;
}

void
arena_free(struct rs_arena *a)
{
	struct rs_arena_chunk *c, *next;

	for (c = a->chunks; c != NULL; c = next) {
		next = c->next;
		OPENSSL_cleanse(c->data, c->used);
		free(c);
	}
	arena_init(a);
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n ? n : 1, sz ? sz : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

/* Make room for one more element of size elsz in an array of n. */
void *
vec_grow(void *p, size_t *cap, size_t n, size_t elsz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	if (*cap > SIZE_MAX / elsz)
		oom();
	return xrealloc(p, *cap * elsz);
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

void
stream_init(struct rs_stream *s, rs_drain_fn drain, void *arg)
{
	buf_init(&s->b);
	s->drain = drain;
	s->arg = arg;
	s->failed = 0;
}

static void
stream_drain(struct rs_stream *s)
{
	if (s->drain == NULL)
		return;
	if (!s->failed && s->b.len > 0 && s->drain(s->arg, s->b.data,
	    s->b.len) < 0)
		s->failed = 1;
	buf_reset(&s->b);
}

void
stream_step(struct rs_stream *s)
{
	if (s->b.len >= RS_STREAM_CHUNK)
		stream_drain(s);
}

int
drain_nothing(void *arg, const char *p, size_t n)
{
	(void)arg;
	(void)p;
	(void)n;
	return 0;
}

int
stream_end(struct rs_stream *s)
{
	stream_drain(s);
	return s->failed ? -1 : 0;
}

void
buf_reserve(struct buf *b, size_t more)
{
	size_t need = b->len + more + 1;

	if (need <= b->cap)
		return;
	if (b->cap == 0)
		b->cap = 64;
	while (b->cap < need)
		b->cap *= 2;
	b->data = xrealloc(b->data, b->cap);
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

void
buf_addu(struct buf *b, unsigned long n)
{
	char digits[24], *p = digits + sizeof(digits);

	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) != 0);
	buf_add(b, p, (size_t)(digits + sizeof(digits) - p));
}

void
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

const char *
buf_str(struct buf *b)
{
	buf_reserve(b, 0);
	b->data[b->len] = '\0';
	return b->data;
}

/* Eight bytes at a time, each word mixed in by a multiplication, then a
 * final mix so that the low bits (the slot) depend on every byte. */
uint64_t
hash_bytes(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0x9e3779b97f4a7c15ULL ^ len, w;

	for (; len >= 8; s += 8, len -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, len);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 29;
	h *= 0xff51afd7ed558ccdULL;
	return h ^ (h >> 32);
}

static uint64_t
hash_str(const char *s)
{
	return hash_bytes(s, strlen(s));
}

void
strmap_init(struct strmap *m)
{
	m->slots = NULL;
	m->cap = m->count = 0;
}

void
strmap_free(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	strmap_init(m);
}

void
strmap_free_values(struct strmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].val);
	strmap_free(m);
}

static struct strmap_slot *
strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
	size_t i;

	if (m->cap == 0)
		return NULL;
	i = h & (m->cap - 1);
	while (m->slots[i].key != NULL && (m->slots[i].hash != h ||
	    strcmp(m->slots[i].key, key) != 0))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static void
strmap_rehash(struct strmap *m)
{
	struct strmap old = *m;
	size_t i, j;

	m->cap = old.cap ? old.cap * 2 : 64;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (i = 0; i < old.cap; i++) {
		if (old.slots[i].key == NULL)
			continue;
		j = old.slots[i].hash & (m->cap - 1);
		while (m->slots[j].key != NULL)
			j = (j + 1) & (m->cap - 1);
		m->slots[j] = old.slots[i];
	}
	free(old.slots);
}

/* The value slot for key, created (NULL) when absent. */
void **
strmap_slot(struct strmap *m, const char *key)
{
	uint64_t h = hash_str(key);
	struct strmap_slot *s;

	if ((m->count + 1) * 2 > m->cap)
		strmap_rehash(m);
	s = strmap_find(m, key, h);
	if (s->key == NULL) {
		s->key = xstrdup(key);
		s->val = NULL;
		s->hash = h;
		m->count++;
	}
	return &s->val;
}

void *
strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *s;

	if (m->count == 0)
		return NULL;
	s = strmap_find(m, key, hash_str(key));
	return s && s->key ? s->val : NULL;
}

int
rs_err_set(struct rs_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
rs_fail(const struct rs_err *err)
{
	rs_log(RS_LOG_ERROR, "%s", err->msg);
	return err->code ? err->code : RS_EX_FAIL;
}

void
rs_log_open(void)
{
	struct stat st;
	unsigned long long dev, ino;
	const char *js = getenv("JOURNAL_STREAM");

	log_interactive = isatty(2);
	log_journal = js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
	    fstat(2, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
	if (!log_interactive && !log_journal)
		openlog("relaysync", LOG_PID, LOG_MAIL);
}

/* Is there a syslog socket to send to? Looked for at most once a second:
 * without one, syslog() would try to connect for every message, and
 * the message would be lost all the same. */
static int
syslog_there(void)
{
	time_t now = time(NULL);

	if (now != log_socket_checked) {
		log_socket_checked = now;
		if (access(_PATH_LOG, W_OK) == 0)
			log_socket_seen = now;
	}
	return log_socket_seen == now;
}

void
rs_log(enum rs_loglevel level, const char *fmt, ...)
{
	static const char *const tag[] = { "error", "warning", "info",
	    "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO,
	    LOG_DEBUG };
	int logged = level <= RS_LOG_INFO || (int)level <= rs_verbosity;
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (log_journal) {
		if (logged)	/* "<N>": the journal's priority prefix */
			fprintf(stderr, "<%d>%s: %s\n", prio[level],
			    tag[level], msg);
		return;
	}
	if ((int)level <= rs_verbosity && (log_interactive ||
	    level != RS_LOG_INFO || rs_verbosity >= RS_LOG_DEBUG))
		fprintf(stderr, "relaysync: %s: %s\n", tag[level], msg);
	if (!log_interactive && logged && syslog_there())
		syslog(prio[level], "%s: %s", tag[level], msg);
}

int
file_identity(const char *path, struct buf *out)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -1;
	buf_printf(out, "%ju %ju %jd %jd.%09ld %jd.%09ld", (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino, (intmax_t)st.st_size,
	    (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
	    (intmax_t)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
	return 0;
}

int
read_file(const char *path, struct buf *out, struct rs_err *err)
{
	struct stat st;
	ssize_t n;
	int fd;

	buf_reset(out);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return rs_err_set(err, RS_EX_FAIL, "%s: %s", path,
		    strerror(errno));
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		buf_reserve(out, (size_t)st.st_size);	/* read in place */
	do {
		buf_reserve(out, 65536);
		if ((n = read(fd, out->data + out->len, out->cap - out->len -
		    1)) > 0)
			out->len += (size_t)n;
	} while (n > 0);
	if (n < 0) {
		rs_err_set(err, RS_EX_FAIL, "%s: read: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	buf_str(out);
	return 0;
}

void
str_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

const char *
printable(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;
	char esc[4] = { '\\', 'x' };

	buf_reset(b);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			continue;
		buf_add(b, s + start, i - start);
		esc[2] = hex[c >> 4];
		esc[3] = hex[c & 15];
		buf_add(b, esc, sizeof(esc));
		start = i + 1;
	}
	buf_add(b, s + start, n - start);
	return buf_str(b);
}

/* The whole environment of every program relaysync runs: nothing a
 * caller (cron, a shell, an attacker's PATH) set is passed on. */
static char *const child_env[] = {
	"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C", NULL
};

int
run_cmd(char *const argv[], struct buf *out)
{
	return run_cmd_in(argv, NULL, out);
}

/* Start argv[0] (an absolute path) as a child with standard input from
 * in (NULL: /dev/null) and standard output and error into out; 0 with
 * *pid, else an errno. posix_spawn() (vfork semantics): the child costs
 * the same however large this process is, and threads may spawn at
 * once. The child sees its name, not the path, as Postfix's programs
 * prefix their messages with argv[0]. */
static int
spawn(char *const argv[], const char *in, int out, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	const char *path = argv[0];
	char **args;
	size_t n = 0;
	int rc;

	if (path[0] != '/')
		return EINVAL;	/* never a PATH search */
	while (argv[n] != NULL)
		n++;
	args = xcalloc(n + 1, sizeof(*args));
	memcpy(args, argv, n * sizeof(*args));
	args[0] = strrchr(path, '/') + 1;
	if ((rc = posix_spawn_file_actions_init(&fa)) == 0) {
		if ((rc = posix_spawn_file_actions_addopen(&fa, 0, in ? in :
		    "/dev/null", O_RDONLY, 0)) == 0 &&
		    (rc = posix_spawn_file_actions_adddup2(&fa, out, 1)) == 0 &&
		    (rc = posix_spawn_file_actions_adddup2(&fa, out, 2)) == 0)
			rc = posix_spawn(pid, path, &fa, NULL, args, child_env);
		posix_spawn_file_actions_destroy(&fa);
	}
	free(args);
	return rc;
}

int
run_cmd_in(char *const argv[], const char *in, struct buf *out)
{
	char chunk[65536];
	int p[2], status, rc;
	ssize_t n;
	pid_t pid;

	buf_reset(out);
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	if ((rc = spawn(argv, in, p[1], &pid)) != 0) {
		close(p[0]);
		close(p[1]);
		buf_printf(out, "cannot run %s: %s", argv[0], strerror(rc));
		return 127;
	}
	close(p[1]);
	while ((n = read(p[0], chunk, sizeof(chunk))) > 0 ||
	    (n < 0 && errno == EINTR))
		if (n > 0)
			buf_add(out, chunk, (size_t)n);
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	while (out->len && (out->data[out->len - 1] == '\n'))
		out->data[--out->len] = '\0';
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

void
hex_encode(const void *bytes, size_t n, char *out)
{
	static const char digit[] = "0123456789abcdef";
	const unsigned char *b = bytes;
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digit[b[i] >> 4];
		out[2 * i + 1] = digit[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

int
hex_decode(const char *hex, size_t n, unsigned char *out)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if ((hi = hex_digit(hex[2 * i])) < 0 ||
		    (lo = hex_digit(hex[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void
digest_failed(void)
{
	rs_log(RS_LOG_ERROR, "cannot compute SHA-256 (OpenSSL)");
	abort();
}

/* SHA-256 of n parts, each followed by a NUL when sep, into out. */
static void
sha256_of(const char *const *part, const size_t *len, size_t n, int sep,
    char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t i;
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);

	for (i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, part[i], len ? len[i] :
		    strlen(part[i])) && (!sep || EVP_DigestUpdate(ctx, "", 1));
	ok = ok && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		digest_failed();
	hex_encode(md, mdlen, out);
}

void *
sha256_begin(void)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();

	if (ctx == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		digest_failed();
	return ctx;
}

void
sha256_add(void *ctx, const void *p, size_t len)
{
	if (!EVP_DigestUpdate(ctx, p, len))
		digest_failed();
}

void
sha256_end_hex(void *ctx, char *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	int ok = EVP_DigestFinal_ex(ctx, md, &mdlen);

	EVP_MD_CTX_free(ctx);
	if (!ok)
		digest_failed();
	hex_encode(md, mdlen, out);
}

void
sha256_hex(const void *p, size_t len, char *out)
{
	const char *part = p;

	sha256_of(&part, &len, 1, 0, out);
}

void
sha256_parts_hex(const char *const *parts, const size_t *lens, size_t n,
    char *out)
{
	sha256_of(parts, lens, n, 1, out);
}

void
hmac_sha256(const void *key, size_t key_len, const void *p, size_t len,
    unsigned char md[32])
{
	unsigned n = 32;

	if (HMAC(EVP_sha256(), key, (int)key_len, p, len, md, &n) == NULL)
		digest_failed();
}

void
hmac_sha256_hex(const void *key, size_t key_len, const void *p, size_t len,
    char *out)
{
	unsigned char md[32];

	hmac_sha256(key, key_len, p, len, md);
	hex_encode(md, sizeof(md), out);
}

void
hmac_prepare(struct rs_hmac *h, const void *key, size_t key_len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {
		OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
		OSSL_PARAM_END
	};

	h->ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac);
	if (h->ctx == NULL || !EVP_MAC_init(h->ctx, key, key_len, params))
		digest_failed();
}

void
hmac_hex(struct rs_hmac *h, const void *p, size_t len, char *out)
{
	unsigned char md[32];
	size_t n = 0;

	/* A NULL key starts the next digest from the prepared key's state. */
	if (!EVP_MAC_init(h->ctx, NULL, 0, NULL) ||
	    !EVP_MAC_update(h->ctx, p, len) ||
	    !EVP_MAC_final(h->ctx, md, &n, sizeof(md)) || n != sizeof(md))
		digest_failed();
	hex_encode(md, sizeof(md), out);
}

void
hmac_free(struct rs_hmac *h)
{
	EVP_MAC_CTX_free(h->ctx);
	h->ctx = NULL;
}

double
monotonic_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
run_halves(void *(*fn)(void *), void *mine, void *other, int split)
{
	pthread_t th;
	int two = split && pthread_create(&th, NULL, fn, other) == 0;

	fn(mine);
	if (two)
		pthread_join(th, NULL);
	else
		fn(other);
}

void
memory_use(long *rss_kib, long *peak_kib)
{
	char line[128];
	FILE *f = fopen("/proc/self/status", "r");

	*rss_kib = *peak_kib = -1;
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmHWM:", 6) == 0)
			*peak_kib = strtol(line + 6, NULL, 10);
		else if (strncmp(line, "VmRSS:", 6) == 0)
			*rss_kib = strtol(line + 6, NULL, 10);
	}
	if (f != NULL)
		fclose(f);
}

/* A URL for messages: its user and password and its query left out. */
const char *
url_redact(struct buf *b, const char *url)
{
	const char *host = strstr(url, "://"), *end, *at, *query;

	buf_reset(b);
	if (host == NULL) {
		buf_adds(b, "(not a URL)");
		return buf_str(b);
	}
	host += 3;
	end = host + strcspn(host, "/?#");
	at = memrchr(host, '@', (size_t)(end - host));
	buf_add(b, url, (size_t)(host - url));
	if (at != NULL) {
		buf_adds(b, "***@");
		host = at + 1;
	}
	query = end + strcspn(end, "?#");
	buf_add(b, host, (size_t)(query - host));
	if (*query)
		buf_adds(b, "?***");
	return buf_str(b);
}
