/*
 * secret - encrypted passwords at rest, and files that hold secrets.
 *
 * An encrypted value is "{AES256-GCM}<key-id>:<base64>" where the base64
 * holds a 96-bit random nonce, the ciphertext and the 128-bit tag. The
 * additional data authenticated with it is the format version
 * (RS_SECRET_FORMAT), the key id and the lower-cased send-as address it was
 * made for: a value moved to another key or to another entry's address does
 * not decrypt. The key file has lines "<key-id> <64 hex digits>", '#'
 * comments and blank lines; the first key encrypts, every key decrypts.
 *
 * Functions
 *	private_file_read() reads a file that holds a secret (bind password,
 *	key file), refusing one that group or others may read; a trailing
 *	newline is removed.
 *	keyring_load() reads a key file; a missing file gives an empty ring
 *	when the caller allows it. keyring_free() wipes the keys.
 *	secret_is_encrypted() tells whether a value carries the envelope;
 *	secret_key_id() copies the key id an envelope names (-1: none).
 *	keyring_has() tells whether a ring holds a key id.
 *	secret_decrypt(keyring, address, value, len, out, why) opens an
 *	envelope made for address; secret_encrypt(keyring, address, plain,
 *	len, out, err) makes one for address with the first key. Both may
 *	run in several threads at once, each with cipher contexts of its
 *	own (dropped when the thread ends, or by keyring_free()).
 *	secret_keyed_hex() turns a 64-digit hex digest that covers secrets
 *	(the tables' checksums in state_dir) into an HMAC-SHA256 of it under
 *	a key derived from the first key of the last keyring_load(), so that
 *	a password cannot be guessed from it offline; without a key it is
 *	left as it is. buf_wipe() and secret_free_str() clear memory that
 *	held a secret before freeing it.
 *
 * Diagnostics
 *	No function ever puts a secret, or any part of one, into a message.
 *	private_file_read() and keyring_load() fail with RS_EX_CONFIG and
 *	name the file and the fix (chmod 600, the line format).
 *	secret_decrypt() returns -1 with a static reason in *why.
 */
#ifndef RS_SECRET_H
#define RS_SECRET_H

#include <stddef.h>

#include "util.h"

#define RS_SECRET_PREFIX "{AES256-GCM}"
#define RS_SECRET_FORMAT "relaysync-secret-v2"

struct rs_key {
	char id[33];
	unsigned char key[32];
};

struct rs_keyring {
	struct rs_key *keys;
	size_t n;
	size_t cap;
};

int private_file_read(const char *path, struct buf *out, struct rs_err *err);
int keyring_load(const char *path, int may_be_missing, struct rs_keyring *r,
    struct rs_err *err);
void keyring_free(struct rs_keyring *r);
int secret_is_encrypted(const char *s, size_t n);
int secret_key_id(const char *s, size_t n, char *id, size_t len);
int keyring_has(const struct rs_keyring *r, const char *id);
int secret_decrypt(const struct rs_keyring *keyring, const char *address,
    const char *value, size_t len, struct buf *out, const char **why);
int secret_encrypt(const struct rs_keyring *keyring, const char *address,
    const char *plain, size_t len, struct buf *out, struct rs_err *err);
void secret_keyed_hex(char *hex);
void buf_wipe(struct buf *b);
void secret_free_str(char *s);

#endif
