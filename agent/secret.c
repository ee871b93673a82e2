/*
 * secret - encrypted passwords at rest, and files that hold secrets.
 * See secret.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "secret.h"

#define NONCE_LEN	12
#define TAG_LEN		16

static const struct rs_key *keyring_find(const struct rs_keyring *,
    const char *, size_t);
static void gcm_forget(void);

void
buf_wipe(struct buf *b)
{
	if (b->data)
		OPENSSL_cleanse(b->data, b->cap);
	buf_free(b);
}

void
secret_free_str(char *s)
{
	if (s == NULL)
		return;
	OPENSSL_cleanse(s, strlen(s));
	free(s);
}

int
private_file_read(const char *path, struct buf *out, struct rs_err *err)
{
	struct stat st;
	struct rs_err rerr;

	if (stat(path, &st) < 0)
		return rs_err_set(err, RS_EX_CONFIG, "%s: %s; create it with "
		    "mode 600", path, strerror(errno));
	if (st.st_mode & 077)
		return rs_err_set(err, RS_EX_CONFIG, "%s: holds a secret but "
		    "group or others may read it (mode %03o); run: chmod 600 %s",
		    path, (unsigned)(st.st_mode & 0777), path);
	if (read_file(path, out, &rerr) < 0)
		return rs_err_set(err, RS_EX_CONFIG, "%s", rerr.msg);
	while (out->len && (out->data[out->len - 1] == '\n' ||
	    out->data[out->len - 1] == '\r'))
		out->data[--out->len] = '\0';
	return 0;
}

static int
valid_key_id(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > 32)
		return 0;
	for (i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._-", s[i]))
			return 0;
	return 1;
}

static int
parse_key_line(const char *line, struct rs_key *k)
{
	const char *sp = strchr(line, ' ');
	const char *hex;

	if (sp == NULL || !valid_key_id(line, (size_t)(sp - line)))
		return -1;
	memcpy(k->id, line, (size_t)(sp - line));
	k->id[sp - line] = '\0';
	for (hex = sp; *hex == ' '; hex++)
		;
	if (strlen(hex) != 2 * sizeof(k->key))
		return -1;
	return hex_decode(hex, sizeof(k->key), k->key);
}

static int
keyring_parse(const char *path, char *text, struct rs_keyring *r,
    struct rs_err *err)
{
	char *line, *save = NULL;
	unsigned long lineno = 0;
	struct rs_key k;

	for (line = text; line; line = save) {
		lineno++;
		if ((save = strchr(line, '\n')) != NULL)
			*save++ = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		if (parse_key_line(line, &k) < 0) {
			OPENSSL_cleanse(&k, sizeof(k));
			return rs_err_set(err, RS_EX_CONFIG, "%s:%lu: not a "
			    "key line; write \"<key-id> <64 hex digits>\", for "
			    "example: echo \"k1 $(openssl rand -hex 32)\"",
			    path, lineno);
		}
		r->keys = vec_grow(r->keys, &r->cap, r->n, sizeof(*r->keys));
		r->keys[r->n++] = k;
	}
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

/* The key of secret_keyed_hex(), derived from the first local key. */
static unsigned char digest_key[32];
static int have_digest_key;

static void
digest_key_from(const struct rs_key *k)
{
	static const char label[] = "relaysync state digest";

	hmac_sha256(k->key, sizeof(k->key), label, sizeof(label) - 1,
	    digest_key);
	have_digest_key = 1;
}

int
keyring_load(const char *path, int may_be_missing, struct rs_keyring *r,
    struct rs_err *err)
{
	struct buf b;
	int rc;

	memset(r, 0, sizeof(*r));
	if (path == NULL || *path == '\0' ||
	    (may_be_missing && access(path, F_OK) < 0 && errno == ENOENT))
		return 0;
	buf_init(&b);
	rc = private_file_read(path, &b, err);
	if (rc == 0)
		rc = keyring_parse(path, (char *)buf_str(&b), r, err);
	buf_wipe(&b);
	if (rc < 0)
		keyring_free(r);
	else if (r->n > 0)
		digest_key_from(&r->keys[0]);
	return rc;
}

void
secret_keyed_hex(char *hex)
{
	if (have_digest_key)
		hmac_sha256_hex(digest_key, sizeof(digest_key), hex, strlen(hex),
		    hex);
}

void
keyring_free(struct rs_keyring *r)
{
	gcm_forget();
	if (r->keys)
		OPENSSL_cleanse(r->keys, r->cap * sizeof(*r->keys));
	free(r->keys);
	memset(r, 0, sizeof(*r));
}

int
secret_is_encrypted(const char *s, size_t n)
{
	size_t p = sizeof(RS_SECRET_PREFIX) - 1;

	return n >= p && memcmp(s, RS_SECRET_PREFIX, p) == 0;
}

int
secret_key_id(const char *s, size_t n, char *id, size_t len)
{
	size_t p = sizeof(RS_SECRET_PREFIX) - 1;
	const char *colon;

	if (!secret_is_encrypted(s, n) ||
	    (colon = memchr(s + p, ':', n - p)) == NULL ||
	    !valid_key_id(s + p, (size_t)(colon - s - p)) ||
	    (size_t)(colon - s - p) >= len)
		return -1;
	memcpy(id, s + p, (size_t)(colon - s - p));
	id[colon - s - p] = '\0';
	return 0;
}

int
keyring_has(const struct rs_keyring *r, const char *id)
{
	return keyring_find(r, id, strlen(id)) != NULL;
}

static const struct rs_key *
keyring_find(const struct rs_keyring *r, const char *id, size_t n)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		if (strlen(r->keys[i].id) == n &&
		    memcmp(r->keys[i].id, id, n) == 0)
			return &r->keys[i];
	return NULL;
}

/* Strict base64 decoding: length a multiple of 4, '=' only at the end. */
static int
b64_decode(const char *in, size_t n, struct buf *out)
{
	size_t pad = 0;
	int len;

	if (n == 0 || n % 4 != 0 || n > 4096)
		return -1;
	while (pad < 2 && in[n - 1 - pad] == '=')
		pad++;
	buf_reset(out);
	out->data = xrealloc(out->data, n + 1);
	out->cap = n + 1;
	len = EVP_DecodeBlock((unsigned char *)out->data,
	    (const unsigned char *)in, (int)n);
	if (len < 0 || (size_t)len < pad)
		return -1;
	out->len = (size_t)len - pad;
	return 0;
}

/* AES-256-GCM, looked up once (OpenSSL 3 fetches it on every use of
 * EVP_aes_256_gcm(), which costs more than a short decryption); and the
 * key whose destructor drops a thread's cipher contexts when it ends. */
static EVP_CIPHER *gcm_cipher;
static pthread_key_t gcm_key;
static pthread_once_t gcm_once = PTHREAD_ONCE_INIT;

static void
gcm_thread_ends(void *arg)
{
	(void)arg;
	gcm_forget();
}

static void
gcm_setup(void)
{
	gcm_cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
	(void)pthread_key_create(&gcm_key, gcm_thread_ends);
}

static const EVP_CIPHER *
aes_gcm(void)
{
	pthread_once(&gcm_once, gcm_setup);
	return gcm_cipher;
}

/*
 * The additional data every envelope is bound to: the format version, the
 * key id and the lower-cased address, each ended by a NUL (no part can
 * contain one, so no two bindings share a byte string).
 */
static void
binding(struct buf *b, const struct rs_key *k, const char *address)
{
	size_t at;

	buf_reset(b);
	buf_add(b, RS_SECRET_FORMAT, sizeof(RS_SECRET_FORMAT));
	buf_add(b, k->id, strlen(k->id) + 1);
	at = b->len;
	buf_add(b, address, strlen(address) + 1);
	str_lower(b->data + at);	/* up to the NUL just added */
}

/*
 * One cipher context per direction and thread, kept with the key it was
 * set up for: the key schedule and GCM's hash key are worked out once for
 * the many values of a run, not once per value. keyring_free() drops the
 * calling thread's; another thread's go when it ends (gcm_key).
 */
static _Thread_local struct gcm_ctx {
	EVP_CIPHER_CTX *ctx;
	unsigned char key[32];
} gcm_ctx[2];

static void
gcm_forget(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		EVP_CIPHER_CTX_free(gcm_ctx[i].ctx);
		OPENSSL_cleanse(&gcm_ctx[i], sizeof(gcm_ctx[i]));
	}
}

/* The context of direction enc set up for k and nonce; NULL on failure. */
static EVP_CIPHER_CTX *
gcm_ctx_for(int enc, const struct rs_key *k, const unsigned char *nonce)
{
	struct gcm_ctx *g = &gcm_ctx[enc != 0];

	if (g->ctx != NULL && memcmp(g->key, k->key, sizeof(g->key)) == 0)
		return EVP_CipherInit_ex(g->ctx, NULL, NULL, NULL, nonce, enc) ?
		    g->ctx : NULL;
	EVP_CIPHER_CTX_free(g->ctx);
	OPENSSL_cleanse(g->key, sizeof(g->key));
	if ((g->ctx = EVP_CIPHER_CTX_new()) == NULL || aes_gcm() == NULL ||
	    !EVP_CipherInit_ex(g->ctx, aes_gcm(), NULL, NULL, NULL, enc) ||
	    !EVP_CIPHER_CTX_ctrl(g->ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN,
	    NULL) || !EVP_CipherInit_ex(g->ctx, NULL, NULL, k->key, nonce,
	    enc)) {
		EVP_CIPHER_CTX_free(g->ctx);
		g->ctx = NULL;
		return NULL;
	}
	memcpy(g->key, k->key, sizeof(g->key));
	(void)pthread_setspecific(gcm_key, gcm_ctx);	/* dropped at its end */
	return g->ctx;
}

static int
gcm(int enc, const struct rs_key *k, const char *address,
    const unsigned char *nonce, const unsigned char *in, int inlen,
    unsigned char *out, unsigned char *tag)
{
	EVP_CIPHER_CTX *ctx = gcm_ctx_for(enc, k, nonce);
	struct buf aad;
	int len, ok;

	buf_init(&aad);
	binding(&aad, k, address);
	ok = ctx != NULL &&
	    EVP_CipherUpdate(ctx, NULL, &len, (const unsigned char *)aad.data,
	    (int)aad.len) &&
	    EVP_CipherUpdate(ctx, out, &len, in, inlen) &&
	    (enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
	    tag)) &&
	    EVP_CipherFinal_ex(ctx, out + len, &len) &&
	    (!enc || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
	    tag));
	buf_free(&aad);
	return ok ? 0 : -1;
}

int
secret_decrypt(const struct rs_keyring *r, const char *address,
    const char *s, size_t n, struct buf *out, const char **why)
{
	const char *body = s + sizeof(RS_SECRET_PREFIX) - 1, *colon;
	size_t blen = n - (sizeof(RS_SECRET_PREFIX) - 1);
	const struct rs_key *k;
	struct buf raw;
	unsigned char *p;
	int clen, rc;

	if ((colon = memchr(body, ':', blen)) == NULL) {
		*why = "the encrypted value has no key id";
		return -1;
	}
	if ((k = keyring_find(r, body, (size_t)(colon - body))) == NULL) {
		*why = "the encrypted value names a key id that is not in "
		    "secrets.key_file";
		return -1;
	}
	buf_init(&raw);
	if (b64_decode(colon + 1, blen - (size_t)(colon - body) - 1, &raw) < 0
	    || raw.len < NONCE_LEN + TAG_LEN) {
		buf_free(&raw);
		*why = "the encrypted value is not well-formed base64 of "
		    "nonce, ciphertext and tag";
		return -1;
	}
	p = (unsigned char *)raw.data;
	clen = (int)(raw.len - NONCE_LEN - TAG_LEN);
	buf_reset(out);
	out->data = xrealloc(out->data, (size_t)clen + 16 + 1);
	out->cap = (size_t)clen + 16 + 1;
	rc = gcm(0, k, address, p, p + NONCE_LEN, clen, (unsigned char *)out->data,
	    p + NONCE_LEN + clen);
	buf_wipe(&raw);
	if (rc < 0) {
		buf_wipe(out);
		*why = "the encrypted value does not authenticate with its key "
		    "for this address (made for another address, wrong key, "
		    "or tampered)";
		return -1;
	}
	out->len = (size_t)clen;
	out->data[clen] = '\0';
	return 0;
}

int
secret_encrypt(const struct rs_keyring *r, const char *address,
    const char *plain, size_t n, struct buf *out, struct rs_err *err)
{
	unsigned char *raw;
	size_t rawlen = NONCE_LEN + n + TAG_LEN;
	int b64len;

	if (r->n == 0)
		return rs_err_set(err, RS_EX_CONFIG, "no key in "
		    "secrets.key_file; create one with: echo \"k1 $(openssl "
		    "rand -hex 32)\" > FILE; chmod 600 FILE");
	raw = xmalloc(rawlen + 16);
	if (RAND_bytes(raw, NONCE_LEN) != 1 ||
	    gcm(1, &r->keys[0], address, raw, (const unsigned char *)plain,
	    (int)n,
	    raw + NONCE_LEN, raw + NONCE_LEN + n) < 0) {
		OPENSSL_cleanse(raw, rawlen);
		free(raw);
		return rs_err_set(err, RS_EX_FAIL, "encryption failed "
		    "(OpenSSL)");
	}
	buf_reset(out);
	buf_printf(out, "%s%s:", RS_SECRET_PREFIX, r->keys[0].id);
	out->data = xrealloc(out->data, out->len + 4 * (rawlen / 3 + 1) + 1);
	out->cap = out->len + 4 * (rawlen / 3 + 1) + 1;
	b64len = EVP_EncodeBlock((unsigned char *)out->data + out->len, raw,
	    (int)rawlen);
	out->len += (size_t)b64len;
	out->data[out->len] = '\0';
	OPENSSL_cleanse(raw, rawlen);
	free(raw);
	return 0;
}
