/*
 * util - memory, growable buffers, string maps, errors and logging.
 *
 * The bottom layer of relaysync: it knows nothing about LDAP or Postfix.
 *
 * Functions
 *	xmalloc(), xcalloc(), xrealloc(), xstrdup(), xstrndup() allocate or
 *	abort the program with a message (there is no useful recovery from
 *	out-of-memory in a sync run; the installed tables stay as they were).
 *	buf_*() build byte strings; buf_str() is always NUL-terminated.
 *	strmap_*() is an open-addressing hash map from C strings to pointers;
 *	strmap_free_values() also frees every value.
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
 *	syslog. Under the journal no line is written twice.
 *	read_file() reads a whole file; str_lower() lower-cases ASCII.
 *	run_cmd() runs a program named by its absolute path (never a PATH
 *	search), with an environment of its own (PATH=/usr/sbin:/usr/bin:
 *	/sbin:/bin and the C locale, nothing inherited), standard input from
 *	/dev/null, collects its standard output and error, and returns its
 *	exit status (-1 when it could not run, 128+N when killed by signal N);
 *	run_cmd_in() does the same with standard input from a file.
 *	The one digest helper (OpenSSL; a failure aborts the program):
 *	sha256_hex(bytes, len, out) writes the SHA-256 of a byte string as 64
 *	lower-case hexadecimal digits and a NUL; sha256_parts_hex(parts, lens,
 *	n, out) that of n parts, each followed by a NUL so that no two lists
 *	collide (lens NULL: the parts are C strings); hmac_sha256(key,
 *	key_len, bytes, len, md) the HMAC-SHA256 as 32 bytes,
 *	hmac_sha256_hex() as 64 digits (out may be the input).
 *	hex_encode(bytes, n, out) writes 2n lower-case hexadecimal digits and
 *	a NUL; hex_decode(hex, n, out) reads 2n digits (either case) into n
 *	bytes, -1 at a non-digit.
 *	monotonic_seconds() is the time in seconds on the monotonic clock,
 *	for measuring how long something took.
 *	url_redact(buf, url) writes url for a message: user and password
 *	shown as ***, and the query and fragment as ?*** (they often carry
 *	tokens).
 *	printable() copies a hostile value into a buffer with every byte that
 *	is not printable ASCII shown as \xNN, for reports only.
 *
 * Diagnostics
 *	Errors carry the process exit code of DESIGN.md (RS_EX_*).
 */
#ifndef RS_UTIL_H
#define RS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum rs_exit {
	RS_EX_OK = 0,
	RS_EX_FAIL = 1,
	RS_EX_PENDING = 2,
	RS_EX_USAGE = 64,
	RS_EX_UNAVAILABLE = 69,
	RS_EX_CANTCREAT = 73,
	RS_EX_TEMPFAIL = 75,
	RS_EX_CONFIG = 78
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

enum rs_loglevel { RS_LOG_ERROR, RS_LOG_WARN, RS_LOG_INFO, RS_LOG_DEBUG };

extern int rs_verbosity;

void *xmalloc(size_t);
void *xcalloc(size_t, size_t);
void *xrealloc(void *, size_t);
char *xstrdup(const char *);
char *xstrndup(const char *, size_t);
void *vec_grow(void *, size_t *, size_t, size_t);

void buf_init(struct buf *);
void buf_free(struct buf *);
void buf_reset(struct buf *);
void buf_add(struct buf *, const void *, size_t);
void buf_adds(struct buf *, const char *);
void buf_addc(struct buf *, char);
void buf_printf(struct buf *, const char *, ...)
	__attribute__((format(printf, 2, 3)));
const char *buf_str(struct buf *);

void strmap_init(struct strmap *);
void strmap_free(struct strmap *);
void strmap_free_values(struct strmap *);
void **strmap_slot(struct strmap *, const char *);
void *strmap_get(const struct strmap *, const char *);

int rs_err_set(struct rs_err *, int, const char *, ...)
	__attribute__((format(printf, 3, 4)));
int rs_fail(const struct rs_err *err);
void rs_log_open(void);
void rs_log(enum rs_loglevel, const char *, ...)
	__attribute__((format(printf, 2, 3)));

int read_file(const char *, struct buf *, struct rs_err *);
void sha256_hex(const void *bytes, size_t len, char *out);
void sha256_parts_hex(const char *const *parts, const size_t *lens, size_t n,
    char *out);
void hmac_sha256(const void *key, size_t key_len, const void *bytes,
    size_t len, unsigned char md[32]);
void hmac_sha256_hex(const void *key, size_t key_len, const void *bytes,
    size_t len, char *out);
void hex_encode(const void *bytes, size_t n, char *out);
int hex_decode(const char *hex, size_t n, unsigned char *out);
double monotonic_seconds(void);
int run_cmd(char *const[], struct buf *);
int run_cmd_in(char *const[], const char *, struct buf *);
void str_lower(char *);
const char *printable(struct buf *, const char *, size_t);
const char *url_redact(struct buf *buf, const char *url);

#endif
