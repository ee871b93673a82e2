/*
 * model - what relaysync knows about the directory, as plain C structs.
 *
 * The model holds raw directory values: nothing in it has been validated.
 * policy decides; render writes. Each value keeps its byte length and the
 * number of values the attribute had, so that a NUL byte or a second value
 * in a single-valued attribute can be seen and rejected later.
 *
 * Functions
 *	model_init(), model_free() manage a model.
 *	model_add_policy(), model_add_user(), model_add_sendas() append
 *	entries, copying their arguments and indexing them by normalized
 *	DN (a later entry with the same DN wins the index); a send-as entry's
 *	owner is the given DN, or its parent entry when NULL;
 *	model_set_disabled() marks a user. model_set_field(m, sendas, field,
 *	val, len, count) sets a value of a send-as entry of m; model_add_login(m, user, value,
 *	len) adds one raw value of the mapping's login attributes to a user.
 *	model_user() and model_policy() find an entry by normalized DN.
 *
 *	Memory: every string and value of a model lives in the model's
 *	arena (large chunks), never in an allocation of its own: callers
 *	read the strings but never free or replace them (set values with
 *	model_set_field()). Normalized DNs and the values that repeat (OU
 *	DNs, owners, hosts, ports, security, verified flags) are stored
 *	once: a send-as entry's owner is its user's DN string. The DN
 *	indexes hold entry numbers, not copies of the keys. A value that is
 *	replaced or an entry that model_merge() removes leaves garbage in
 *	the arena; model_merge() copies the live entries into a fresh arena
 *	when the arena holds more than twice what was live after the last
 *	copy (or, when the model was never merged, before its first merge:
 *	a model read or parsed holds no garbage). model_free() (and that
 *	copy) overwrites the whole arena with zeroes before freeing it:
 *	plaintext passwords from the directory do not outlive the model.
 *	"Normalized DN" means dn_norm()'s form (see dn.h).
 *
 *	Every entry carries its sync UUID (the value of the mapping's
 *	uuid_attribute, entryUUID or 389-ds' nsUniqueId, in the 8-4-4-4-12
 *	form of the 16 bytes an RFC 4533 server sends; empty when it gave
 *	none); an incremental run uses it to apply what changed:
 *	model_changes_init(), model_changes_free() manage a change set (what
 *	an RFC 4533 refresh or persist search announced). model_changed()
 *	records a changed entry with its DN; model_sync_state() records a
 *	UUID announced present or deleted (a Sync State control or a
 *	syncIdSet); model_phase_end() closes a refresh phase the server
 *	declared a present phase (refreshPresent, or syncDone/refreshDelete
 *	with refreshDeletes FALSE) or a delete phase, and returns -1 when the
 *	phase contradicts itself (a present phase that also named deleted
 *	entries). A present phase that named no present entry at all is read
 *	as a delete phase (389-ds ends every refresh that way, and sends its
 *	deletions in a syncIdSet with refreshDeletes TRUE): only a present
 *	phase that named what is present removes what it did not name.
 *	model_reads() lists what must be read again for a change set: each
 *	changed entry by itself, or its whole subtree when it may have moved
 *	entries below it (a renamed entry that had entries below it in the
 *	model, an entry the model does not know), and each entry the change
 *	set removes (deleted, or left out of a present phase), so that the
 *	merge never removes an entry the directory still holds.
 *	model_merge() returns -1, leaving the model as it was, when the fresh
 *	read holds an entry the change set removes (the server's answer is
 *	inconsistent: read everything); otherwise it removes from the model
 *	every entry the change set deleted, changed or left out of a present
 *	phase, every entry below a subtree that was read again, and every
 *	entry whose UUID the fresh read holds, and adds the fresh entries
 *	(which it takes over, leaving fresh empty).
 *	model_dump() writes the model in the snapshot format and
 *	model_parse() reads it back; both keep every byte of every value.
 *	model_entry_len(text, len) is the length of the entry line of that
 *	format at text (its newline included), 0 when the len bytes do not
 *	hold all of it yet: what a reader that gets the text a piece at a
 *	time may parse (a damaged line counts up to its first bad byte, for
 *	model_parse() to refuse).
 *	model_dump_sealed() is model_dump() into a stream (util.h), entry
 *	by entry, where every password that is not an {AES256-GCM} envelope
 *	is replaced by what seal() makes of it (an envelope); it stops with
 *	-1 when seal() fails.
 */
#ifndef RS_MODEL_H
#define RS_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

struct rs_value {
	char *val;		/* first value, NUL-terminated copy */
	uint32_t len;		/* its length in bytes (may contain NUL) */
	uint32_t count;		/* how many values the attribute had */
};

enum rs_tristate { RS_UNSET = -1, RS_NO = 0, RS_YES = 1 };

#define RS_UUID_LEN	36	/* 8-4-4-4-12 hexadecimal digits */

struct rs_ou_policy {
	char uuid[RS_UUID_LEN + 1];
	char *dn;		/* normalized */
	int allow;		/* RS_YES or RS_NO */
};

struct rs_user {
	char uuid[RS_UUID_LEN + 1];
	char *dn;		/* normalized */
	char *display_dn;	/* as the server returned it */
	char *mail;
	int disabled;
	struct rs_value *logins;	/* login names, raw (users.login_attribute) */
	size_t nlogins;
};

struct rs_sendas {
	char uuid[RS_UUID_LEN + 1];
	char *dn;		/* as the server returned it */
	char *owner;		/* normalized DN of the parent entry */
	struct rs_value f[RS_F_COUNT];
};

struct rs_dn_index {		/* open addressing, entry number + 1 */
	uint64_t *slots;	/* hash << 32 | (index + 1); 0: empty */
	size_t cap, count;
};

struct rs_interned {
	char *p;
	uint32_t len, hash;
};

struct rs_model {
	struct rs_ou_policy *pol;
	size_t npol, cappol;
	struct rs_user *users;
	size_t nusers, capusers;
	struct rs_sendas *sendas;
	size_t nsendas, capsendas;
	struct rs_dn_index pol_by_dn;	/* normalized DN -> index + 1 */
	struct rs_dn_index user_by_dn;	/* normalized DN -> index + 1 */
	struct rs_interned *strs;	/* repeated strings in the arena */
	size_t capstrs, nstrs;
	struct rs_arena arena;	/* every string and value (util.h) */
	size_t live;		/* arena bytes after the last copy (0: never
				 * merged) */
};

struct rs_changed {
	char uuid[RS_UUID_LEN + 1];
	char *dn;		/* as the server returned it */
};

struct rs_changes {
	struct rs_changed *e;
	size_t n, cap;
	struct strmap at;	/* UUID -> index in e + 1 */
	struct strmap gone;	/* deleted UUIDs */
	struct strmap present;	/* unchanged UUIDs, in a present phase */
	int present_phase;	/* what is neither present nor changed is gone */
	int present_as_delete;	/* a present phase named nothing present */
	size_t phase_present;	/* present and deleted UUIDs announced */
	size_t phase_gone;	/* in the refresh phase under way */
};

enum rs_read_kind {
	RS_READ_ENTRY,		/* read the entry again */
	RS_READ_SUBTREE,	/* read it and everything below it again */
	RS_DROP_SUBTREE		/* forget what was below its old DN */
};

struct rs_read {
	enum rs_read_kind kind;
	char *dn;		/* as the server returned it */
	char *ndn;		/* normalized */
};

struct rs_reads {
	struct rs_read *r;
	size_t n, cap;
};

void model_init(struct rs_model *m);
void model_free(struct rs_model *m);
struct rs_ou_policy *model_add_policy(struct rs_model *m, const char *dn,
    int allow);
struct rs_user *model_add_user(struct rs_model *m, const char *dn,
    const char *mail);
struct rs_sendas *model_add_sendas(struct rs_model *m, const char *dn,
    const char *owner);
void model_set_field(struct rs_model *m, struct rs_sendas *sendas,
    enum rs_field field, const char *val, size_t len, unsigned count);
void model_add_login(struct rs_model *m, struct rs_user *user,
    const char *value, size_t len);
int model_set_disabled(struct rs_model *m, const char *dn);
struct rs_user *model_user(const struct rs_model *m, const char *ndn);
const struct rs_ou_policy *model_policy(const struct rs_model *m,
    const char *ndn);

void model_changes_init(struct rs_changes *ch);
void model_changes_free(struct rs_changes *ch);
void model_changed(struct rs_changes *ch, const char *uuid, const char *dn);
void model_sync_state(struct rs_changes *ch, const char *uuid, int present);
int model_phase_end(struct rs_changes *ch, int declared_present);
void model_reads(const struct rs_model *m, const struct rs_changes *ch,
    struct rs_reads *r);
void model_reads_free(struct rs_reads *r);
int model_merge(struct rs_model *m, const struct rs_changes *ch,
    const struct rs_reads *r, struct rs_model *fresh);
typedef int (*rs_seal_fn)(void *, const struct rs_sendas *, struct buf *);

void model_dump(const struct rs_model *m, struct buf *b);
int model_dump_sealed(const struct rs_model *m, rs_seal_fn seal, void *arg,
    struct rs_stream *out);
int model_parse(const char *text, size_t len, struct rs_model *m);
size_t model_entry_len(const char *text, size_t len);

#endif
