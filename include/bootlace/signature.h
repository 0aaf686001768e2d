/* signature.h - Ed25519 signatures over what bootlace runs: the trusted
 * public keys (security.trusted_keys), the detached signature object that
 * sits next to a layer (<url>.sig), the signature line that ends signed user
 * data, and the keys and signatures the keygen and sign commands make.
 *
 * The formats (bootlace(8), SIGNED LAYERS, documents them for operators):
 *   key id     the first 16 hex digits of the SHA-256 of the public key's
 *              DER SubjectPublicKeyInfo, as
 *              `openssl pkey -pubin -in K.pub -outform DER | sha256sum`
 *   key file   one PEM public key ("BEGIN PUBLIC KEY", Ed25519) per file,
 *              a regular file owned by root (or by the user bootlace runs
 *              as), in a directory owned likewise, neither writable by
 *              group or others: as sshd's StrictModes, a key anyone else
 *              could replace vouches for nothing
 *   .sig       exactly three lines, each ending in "\n", nothing else:
 *                bootlace-signature v1
 *                key <key id>
 *                sig <base64 of the 64-byte signature, 88 characters>
 *   user data  its last line is
 *                #bootlace-signature v1 <key id> <base64>
 *              (one "\n" after it at most), over every byte before it
 * A signature is plain Ed25519 (RFC 8032, not pre-hashed) over the bytes
 * as they are: no canonicalisation, so what runs is exactly what was
 * signed, and `openssl pkeyutl -sign -rawin` makes the same signature. */
#ifndef BOOTLACE_SIGNATURE_H
#define BOOTLACE_SIGNATURE_H

#include <stddef.h>

#include "util.h"

#define BL_KEY_ID_LEN 16
#define BL_SIGNATURE_LEN 64
#define BL_SIGNATURE_SUFFIX ".sig"
/* A .sig object is 136 bytes; anything much larger is not one. */
#define BL_SIGNATURE_MAX_SIZE 1024

/* One signature: which key made it, and the signature itself. */
struct bl_signature {
	char key_id[BL_KEY_ID_LEN + 1];
	unsigned char sig[BL_SIGNATURE_LEN];
};

/* Trusted public keys. */
struct bl_keyring;

/* Loads every file that pattern (a path or a glob(7) pattern) matches.
 * All or nothing: any file that is unsafe (see the top), unreadable, not
 * one Ed25519 public key, or a private key, fails the whole load, as does
 * a pattern that matches nothing.  -BL_ECONFIG with *msg (malloc'd) naming
 * every file that failed and why; -BL_ENOMEM. */
int bl_keyring_load(const char *pattern, struct bl_keyring **out, char **msg);
void bl_keyring_free(struct bl_keyring *kr);

size_t bl_keyring_count(const struct bl_keyring *kr);
/* Key i's id and the file it came from. */
const char *bl_keyring_key_id(const struct bl_keyring *kr, size_t i);
const char *bl_keyring_key_path(const struct bl_keyring *kr, size_t i);
/* "id, id, ..." of every key, for messages; malloc'd. */
char *bl_keyring_ids(const struct bl_keyring *kr);

/* Checks data against sig with every trusted key of sig's key id.  0, or
 * -BL_ESIGNATURE with *msg saying which key ids were tried (or that none
 * is trusted, listing those that are); -BL_ENOMEM. */
int bl_keyring_verify(const struct bl_keyring *kr, const void *data, size_t len,
		      const struct bl_signature *sig, char **msg);

/* Parses a detached signature object strictly (the .sig format above).
 * 0, or -BL_ESIGNATURE with *msg saying what is wrong and where. */
int bl_signature_parse(const void *text, size_t len, struct bl_signature *out, char **msg);

/* Splits signed user data: *signed_len is where its signature line starts
 * (the bytes it covers end there).  0, or -BL_ESIGNATURE with *msg when the
 * last line is not a well-formed signature line or nothing precedes it. */
int bl_signature_split_inline(const void *text, size_t len, size_t *signed_len,
			      struct bl_signature *out, char **msg);

/* Appends sig as a .sig object / as the signature line of user data. */
int bl_signature_format(const struct bl_signature *sig, struct bl_buf *out);
int bl_signature_format_inline(const struct bl_signature *sig, struct bl_buf *out);

/* A private key, for signing. */
struct bl_signing_key;

/* Loads an unencrypted PEM Ed25519 private key.  The file must not be
 * readable by group or others (as ssh refuses such keys).  -BL_ECONFIG
 * with *msg naming the file and the problem; -BL_ENOMEM. */
int bl_signing_key_load(const char *path, struct bl_signing_key **out, char **msg);
void bl_signing_key_free(struct bl_signing_key *key);
const char *bl_signing_key_id(const struct bl_signing_key *key);

int bl_sign(const struct bl_signing_key *key, const void *data, size_t len,
	    struct bl_signature *out);

/* Makes a new key pair: prefix.key (the private key, PEM, 0600) and
 * prefix.pub (the public key, PEM, 0644), refusing to replace either file.
 * key_id receives the new key's id.  -BL_EIO / -BL_EUNSAFE (a file exists)
 * with *msg naming the file. */
int bl_keygen(const char *prefix, char key_id[BL_KEY_ID_LEN + 1], char **msg);

#endif
