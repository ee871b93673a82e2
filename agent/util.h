/*
 * util - memory, growable buffers, string maps, errors and logging.
 *
 * The bottom layer of relaysync: it knows nothing about LDAP or Postfix.
 *
 * Functions
 *	xmalloc(), xcalloc(), xrealloc(), xstrdup(), xstrndup() allocate or
 *	abort the program with a message (there is no useful recovery from
 *	out-of-memory in a sync run; the installed tables stay as they were).
 *	buf_*() build byte strings; buf_str() is always NUL-terminated;
 *	buf_addu() adds a number in decimal (what printf("%lu") would);
 *	buf_reserve() makes room for more bytes ahead of time.
 *	A stream is a buffer that a producer fills and that is handed to
 *	its drain (then emptied) whenever it holds RS_STREAM_CHUNK bytes or
 *	more (stream_step()) and at the end (stream_end(), which returns -1
 *	when a drain failed; after a failure nothing more is drained): what
 *	is written to a file need never be whole in memory. A stream
 *	without a drain keeps everything in its buffer; drain_nothing()
 *	drops what it is given (for a stream written only for its digest).
 *	strmap_*() is an open-addressing hash map from C strings to pointers;
 *	strmap_free_values() also frees every value. hash_bytes(p, len) is
 *	the hash of every table (a word at a time; never stored in a file).
 *	An arena holds many small allocations that are freed together, in
 *	large chunks (no allocation of their own, nothing moves):
 *	arena_init(); arena_alloc(a, n) (aligned for any pointer);
 *	arena_copy(a, s, len) a NUL-terminated copy of len bytes;
 *	arena_strdup(a, s) the same of a C string (NULL stays NULL);
 *	arena_free() overwrites every byte handed out with zeroes before
 *	freeing the chunks (an arena may hold passwords). a->used counts the
 *	bytes handed out.
 *	rs_err_set(err, code, fmt, ...) records an error message and the exit
 *	code it maps to, and returns -1. rs_fail(err) logs the message as an
 *	error and returns its exit code (RS_EX_FAIL when it has none): the
 *	end of a command that failed.
 *	rs_log_open() decides where rs_log() writes: when standard error is a
 *	terminal, to it; when it is the journal (JOURNAL_STREAM names it, as
 *	systemd sets it for a service), to it only, each line with the
 *	journal's "<N>" priority prefix; otherwise (cron) to syslog (ident
 *	relaysync, facility mail) too. rs_log() writes one message: errors
 *	and warnings always reach standard error (cron mail, the journal),
 *	information (one line per applied change, one summary per run) goes
 *	to the terminal, the journal or syslog, debug lines (--verbose, which
 *	also shows information on standard error) to standard error and
 *	syslog. Under the journal no line is written twice. Without a syslog
 *	socket (_PATH_LOG, looked for at most once a second) nothing is sent
 *	to syslog: the messages would be lost anyway, and each would cost a
 *	failed connection.
 *	read_file() reads a whole file; str_lower() lower-cases ASCII.
 *	file_identity(path, out) adds "dev inode size mtime ctime" of a file
 *	(nanosecond times; what changes when it is written, replaced,
 *	linked or touched) and returns 0, or -1 adding nothing when it does
 *	not exist.
 *	run_cmd() runs a program named by its absolute path (never a PATH
 *	search), with an environment of its own (PATH=/usr/sbin:/usr/bin:
 *	/sbin:/bin and the C locale, nothing inherited), standard input from
 *	/dev/null, collects its standard output and error, and returns its
 *	exit status (127 with "cannot run PATH: reason" as output when it
 *	cannot be started, -1 when its output or status cannot be had,
 *	128+N when killed by signal N); run_cmd_in() does the same with
 *	standard input from a file. Both start the program with
 *	posix_spawn() (no copy of this process's memory: the same cost at
 *	any size) and may be called from several threads at once.
 *	The one digest helper (OpenSSL; a failure aborts the program):
 *	sha256_hex(bytes, len, out) writes the SHA-256 of a byte string as 64
 *	lower-case hexadecimal digits and a NUL; sha256_parts_hex(parts, lens,
 *	n, out) that of n parts, each followed by a NUL so that no two lists
 *	collide (lens NULL: the parts are C strings); hmac_sha256(key,
 *	key_len, bytes, len, md) the HMAC-SHA256 as 32 bytes,
 *	hmac_sha256_hex() as 64 digits (out may be the input).
 *	For many digests under one key: hmac_prepare(h, key, key_len) keys a
 *	struct rs_hmac once (the key is not kept in h beyond OpenSSL's
 *	context); hmac_hex(h, bytes, len, out) is then hmac_sha256_hex()
 *	with that key, byte for byte (out may be the input), restarting
 *	from the keyed state instead of setting the key up again (h is
 *	reused, so one h serves one thread);
 *	hmac_free(h) wipes and releases it (NULL ctx: nothing to do).
 *	sha256_begin(), sha256_add(ctx, bytes, len) and sha256_end_hex(ctx,
 *	out) compute one piece by piece (a stream's checksum).
 *	hex_encode(bytes, n, out) writes 2n lower-case hexadecimal digits and
 *	a NUL; hex_decode(hex, n, out) reads 2n digits (either case) into n
 *	bytes, -1 at a non-digit.
 *	monotonic_seconds() is the time in seconds on the monotonic clock,
 *	for measuring how long something took; memory_use(&rss, &peak)
 *	the process's resident memory now and at its peak, in KiB (-1 when
 *	/proc does not tell).
 *	run_halves(fn, mine, other, split) runs fn(other) in a thread of its
 *	own while the caller runs fn(mine), and returns when both are done;
 *	both run in the caller, mine first, when split is 0 or no thread can
 *	be had (fn must not mind which). Halves of a stage's work whose
 *	outputs are disjoint (render, policy) share it.
 *	url_redact(buf, url) writes url for a message: user and password
 *	shown as ***, and the query and fragment as ?*** (they often carry
 *	tokens).
 *	printable() copies a hostile value into a buffer with every byte that
 *	is not printable ASCII shown as \xNN, for reports only.
 *
 * Conventions (every module)
 *	Ownership: every *_init(), *_open() and *_load() leaves its object
 *	freeable, whether it succeeds or fails, and the caller always
 *	releases it with the matching *_free() or *_close(), once. A
 *	function that returns a char * the caller frees says so; pointers
 *	into an argument live as long as the argument.
 *	Errors: a function that can fail returns -1 (0 on success) and fills
 *	its struct rs_err with a message naming the file, line, key, DN or
 *	address involved and the fix, and the exit code below.
 *
 * Diagnostics
 *	Errors carry the process exit code (enum rs_exit; relaysync(8) EXIT
 *	STATUS documents it for users).
 */
#ifndef RS_UTIL_H
#define RS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum rs_exit {
	RS_EX_OK = 0,		/* success; a dry run: no changes pending */
	RS_EX_FAIL = 1,		/* other failure (a reload after the install, */
				/* a failed gateway check) */
	RS_EX_PENDING = 2,	/* a dry run with changes pending */
	RS_EX_USAGE = 64,	/* usage error */
	RS_EX_UNAVAILABLE = 69,	/* directory unavailable or a search */
				/* incomplete: nothing written */
	RS_EX_CANTCREAT = 73,	/* tables not written: installed set kept */
	RS_EX_TEMPFAIL = 75,	/* refused by a safety limit, the lock held */
				/* by another run, or syncs held (rollback) */
	RS_EX_CONFIG = 78	/* configuration error, including a key */
				/* file the directory's secrets need */
};

struct rs_err {
	int code;
	char msg[2048];
};

struct buf {
	char *data;
	size_t len;
	size_t cap;
};

struct strmap_slot {
	char *key;
	void *val;
	uint64_t hash;		/* of key, so probes and growth skip strcmp */
};

struct strmap {
	struct strmap_slot *slots;
	size_t cap;
	size_t count;
};

#define RS_ARENA_CHUNK	((size_t)1 << 20)

struct rs_arena_chunk;

struct rs_arena {
	struct rs_arena_chunk *chunks;	/* newest first */
	size_t used;
};

enum rs_loglevel { RS_LOG_ERROR, RS_LOG_WARN, RS_LOG_INFO, RS_LOG_DEBUG };

extern int rs_verbosity;

void *xmalloc(size_t n);
void arena_init(struct rs_arena *a);
void *arena_alloc(struct rs_arena *a, size_t n);
char *arena_copy(struct rs_arena *a, const char *s, size_t len);
char *arena_strdup(struct rs_arena *a, const char *s);
void arena_free(struct rs_arena *a);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *vec_grow(void *p, size_t *cap, size_t n, size_t elsz);

void buf_init(struct buf *b);
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
void buf_add(struct buf *b, const void *p, size_t n);
void buf_adds(struct buf *b, const char *s);
void buf_addc(struct buf *b, char c);
void buf_addu(struct buf *b, unsigned long n);
void buf_reserve(struct buf *b, size_t more);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *buf_str(struct buf *b);

#define RS_STREAM_CHUNK	65536

typedef int (*rs_drain_fn)(void *arg, const char *data, size_t len);

struct rs_hmac {
	void *ctx;		/* OpenSSL's keyed HMAC-SHA256 context */
};

struct rs_stream {
	struct buf b;
	rs_drain_fn drain;	/* NULL: keep everything in b */
	void *arg;
	int failed;
};

void stream_init(struct rs_stream *s, rs_drain_fn drain, void *arg);
void stream_step(struct rs_stream *s);
int stream_end(struct rs_stream *s);
int drain_nothing(void *arg, const char *p, size_t n);

uint64_t hash_bytes(const void *p, size_t len);
void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
void strmap_free_values(struct strmap *m);
void **strmap_slot(struct strmap *m, const char *key);
void *strmap_get(const struct strmap *m, const char *key);

int rs_err_set(struct rs_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int rs_fail(const struct rs_err *err);
void rs_log_open(void);
void rs_log(enum rs_loglevel level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int read_file(const char *path, struct buf *out, struct rs_err *err);
int file_identity(const char *path, struct buf *out);
void sha256_hex(const void *bytes, size_t len, char *out);
void *sha256_begin(void);
void sha256_add(void *ctx, const void *bytes, size_t len);
void sha256_end_hex(void *ctx, char *out);
void sha256_parts_hex(const char *const *parts, const size_t *lens, size_t n,
    char *out);
void hmac_sha256(const void *key, size_t key_len, const void *bytes,
    size_t len, unsigned char md[32]);
void hmac_sha256_hex(const void *key, size_t key_len, const void *bytes,
    size_t len, char *out);
void hmac_prepare(struct rs_hmac *h, const void *key, size_t key_len);
void hmac_hex(struct rs_hmac *h, const void *bytes, size_t len,
    char *out);
void hmac_free(struct rs_hmac *h);
void hex_encode(const void *bytes, size_t n, char *out);
int hex_decode(const char *hex, size_t n, unsigned char *out);
double monotonic_seconds(void);
void run_halves(void *(*fn)(void *), void *mine, void *other, int split);
void memory_use(long *rss_kib, long *peak_kib);
int run_cmd(char *const argv[], struct buf *out);
int run_cmd_in(char *const argv[], const char *in, struct buf *out);
void str_lower(char *s);
const char *printable(struct buf *b, const char *s, size_t n);
const char *url_redact(struct buf *buf, const char *url);

#endif
