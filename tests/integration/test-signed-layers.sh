# Signed layers (security.require_signature) fail closed: keygen, sign and
# verify on the command line (and against openssl's own Ed25519); file://
# layers; check-config's key checks; signed user data; then against the
# emulated S3: a good run, and a missing .sig, a tampered object and another
# key's signature each refused with nothing run, also when convergence gets
# a 304 for the object.
. "$(dirname "$0")/lib.sh"
KEYS=$WORLD/keys
mkdir -m 0700 "$KEYS" "$WORLD/release"

# The key id is sha256 of the DER SubjectPublicKeyInfo, first 16 hex digits.
key_id_of() {
	openssl pkey -pubin -in "$1" -outform DER | sha256sum | cut -c1-16
}

# sign_layers FILE...: FILE.sig for each, with the release key.
sign_layers() {
	"$BOOTLACE" sign --key "$WORLD/release/main.key" "$@" > /dev/null ||
		fail "sign $*"
}

# --- The command line ---------------------------------------------------
out=$("$BOOTLACE" keygen --out "$WORLD/release/main") || fail "keygen: $out"
ID=$(key_id_of "$WORLD/release/main.pub")
printf '%s\n' "$out" | grep -q "^key $ID: private key $WORLD/release/main.key" ||
	fail "keygen does not name the key id $ID: $out"
[ "$(stat -c %a "$WORLD/release/main.key")" = 600 ] || fail "the private key is not 0600"
[ "$(stat -c %a "$WORLD/release/main.pub")" = 644 ] || fail "the public key is not 0644"
cp "$WORLD/release/main.pub" "$KEYS/release.pem"
before=$(cat "$WORLD/release/main.key")
RC=0; OUT=$("$BOOTLACE" keygen --out "$WORLD/release/main" 2>&1) || RC=$?
expect_rc 1
expect_out "main.key already exists; refusing to replace it"
[ "$(cat "$WORLD/release/main.key")" = "$before" ] || fail "keygen replaced a private key"
"$BOOTLACE" keygen --out "$WORLD/release/other" > /dev/null || fail "keygen other"
OTHER=$(key_id_of "$WORLD/release/other.pub")

printf '#!/bin/sh\necho hi\n' > "$WORLD/file.sh"
RC=0; OUT=$("$BOOTLACE" sign --key "$WORLD/release/main.key" "$WORLD/file.sh" 2>&1) || RC=$?
expect_rc 0
expect_out "file.sh.sig: signed by key $ID"
[ "$(head -1 "$WORLD/file.sh.sig")" = "bootlace-signature v1" ] || fail "not a v1 .sig"
RC=0; OUT=$("$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/file.sh" 2>&1) || RC=$?
expect_rc 0
expect_out "file.sh: good signature by trusted key $ID"
# The signature is plain Ed25519 over the file: openssl agrees both ways.
sed -n 's/^sig //p' "$WORLD/file.sh.sig" | base64 -d > "$WORLD/file.raw"
openssl pkeyutl -verify -pubin -inkey "$WORLD/release/main.pub" -rawin -in "$WORLD/file.sh" \
	-sigfile "$WORLD/file.raw" > /dev/null || fail "openssl does not verify bootlace's signature"
printf '#!/bin/sh\necho from openssl\n' > "$WORLD/ossl.sh"
printf 'bootlace-signature v1\nkey %s\nsig %s\n' "$ID" "$(openssl pkeyutl -sign -rawin \
	-inkey "$WORLD/release/main.key" -in "$WORLD/ossl.sh" | base64 -w0)" > "$WORLD/ossl.sh.sig"
"$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/ossl.sh" > /dev/null ||
	fail "bootlace does not verify openssl's signature"
# Tampered, unsigned, signed by another key: exit 1, each named; every
# file is checked.
printf 'echo extra\n' >> "$WORLD/ossl.sh"
RC=0; OUT=$("$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/ossl.sh" "$WORLD/file.sh" \
	"$WORLD/none.sh" 2>&1) || RC=$?
expect_rc 1
expect_out "ossl.sh: refused: does not verify with trusted key $ID"
expect_out "file.sh: good signature"
expect_out "cannot read $WORLD/none.sh: no such file"
printf 'x\n' > "$WORLD/unsigned.sh"
RC=0; OUT=$("$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/unsigned.sh" 2>&1) || RC=$?
expect_rc 1
expect_out "unsigned.sh: refused: $WORLD/unsigned.sh.sig: no such file"
"$BOOTLACE" sign --key "$WORLD/release/other.key" "$WORLD/unsigned.sh" > /dev/null
RC=0; OUT=$("$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/unsigned.sh" 2>&1) || RC=$?
expect_rc 1
expect_out "signed with key $OTHER, which is not trusted (trusted keys: $ID)"
# Unusable keys or a bad command line: exit 2.
chmod 0664 "$KEYS/release.pem"
RC=0; OUT=$("$BOOTLACE" verify --keys "$KEYS/*.pem" "$WORLD/file.sh" 2>&1) || RC=$?
expect_rc 2
expect_out "release.pem is group or world writable (mode 0664)"
chmod 0644 "$KEYS/release.pem"
chmod 0644 "$WORLD/release/other.key"
RC=0; OUT=$("$BOOTLACE" sign --key "$WORLD/release/other.key" "$WORLD/file.sh" 2>&1) || RC=$?
expect_rc 2
expect_out "other.key is a private key open to group or others (mode 0644)"
chmod 0600 "$WORLD/release/other.key"
for args in "keygen" "sign $WORLD/file.sh" "sign --key $WORLD/release/main.key" "verify" \
	"keygen --out x --config $CONFIG" "run --key k"; do
	rc=0
	# shellcheck disable=SC2086 # split on purpose
	"$BOOTLACE" $args > /dev/null 2>&1 || rc=$?
	[ "$rc" -eq 2 ] || fail "bootlace $args exits $rc, not 2"
done
out=$("$BOOTLACE" --help)
for c in "keygen --out PREFIX" "sign --key PRIVATE.pem" "verify \[--keys PATTERN\]"; do
	printf '%s\n' "$out" | grep -q -- "$c" || fail "--help lacks $c"
done

# --- file:// layers -------------------------------------------------------
world_init web production
cat >> "$CONFIG" <<YAML
security:
  require_signature: true
  trusted_keys: $KEYS/*.pem
YAML
L=$WORLD/layers
sign_layers "$L/base/setup.sh" "$L/roles/web/setup.sh" "$L/environments/production/setup.sh"
bl run --dry-run
expect_rc 0
expect_out "signatures   required: each layer's <url>.sig, by a key of $KEYS/\*.pem"
bl run
expect_rc 0
expect_out "signatures of 3 layers verified"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
grep -q "\"signed_by\": \"$ID\"" "$WORLD/state/runs/setup.json" ||
	fail "the record does not say who signed: $(cat "$WORLD/state/runs/setup.json")"

# An optional layer that exists without a .sig is refused: nothing runs,
# not even the layers before it.
fresh_state
rm "$L/environments/production/setup.sh.sig"
bl run
expect_rc 1
expect_out "layer environments/production/setup.sh: signature refused: no signature object at file://$L/environments/production/setup.sh.sig (security.require_signature; trusted keys: $ID); nothing was run"
[ ! -e "$ORDER" ] || fail "layers ran although one was not signed: $(cat "$ORDER")"
grep -q '"failure": "environments/production/setup.sh: signature refused' \
	"$WORLD/state/runs/setup.json" || fail "the record lacks the refusal"
# A layer that does not exist stays skipped, signed or not.
fresh_state
rm "$L/environments/production/setup.sh"
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh "

# check-config loads the keys as a run would, and names a refused key file.
bl check-config
expect_rc 0
expect_out "^configuration OK$"
expect_out "^trusted key $ID $KEYS/release.pem$"
chmod 0777 "$KEYS"
bl check-config
expect_rc 2
expect_out "release.pem is in $KEYS, which is group or world writable (mode 0777)"
fresh_state
bl run
expect_rc 2
expect_out "trusted keys (security.trusted_keys): "
chmod 0700 "$KEYS"
fresh_state

# --- Signed user data -----------------------------------------------------
world_init web production
cat >> "$CONFIG" <<YAML
security:
  require_signed_user_data: true
  trusted_keys: $KEYS/*.pem
YAML
printf '#!/bin/sh\necho user-data >> "%s"\n' "$ORDER" > "$WORLD/ud.sh"
cp "$WORLD/ud.sh" "$WORLD/seed/user-data"
bl run
expect_rc 1
expect_out "user data from nocloud refused (security.require_signed_user_data): its last line is not a \"#bootlace-signature v1 <key id> <signature>\" line"
[ ! -e "$ORDER" ] || fail "layers ran with unsigned user data"
"$BOOTLACE" sign --key "$WORLD/release/main.key" --user-data "$WORLD/ud.sh" > /dev/null
[ "$(stat -c %a "$WORLD/ud.sh.signed")" = 600 ] || fail "signed user data is not 0600"
tail -1 "$WORLD/ud.sh.signed" | grep -q "^#bootlace-signature v1 $ID " || fail "no signature line"
gzip -c "$WORLD/ud.sh.signed" > "$WORLD/seed/user-data"
RC=0; OUT=$("$BOOTLACE" verify --user-data --keys "$KEYS/*.pem" "$WORLD/seed/user-data" 2>&1) ||
	RC=$?
expect_rc 0
bl run
expect_rc 0
expect_out "user data: signed by trusted key $ID"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
# One line changed after signing: refused.
fresh_state
sed 's/echo user-data/echo evil/' "$WORLD/ud.sh.signed" > "$WORLD/seed/user-data"
bl run
expect_rc 1
expect_out "user data from nocloud refused (security.require_signed_user_data): does not verify with trusted key $ID"
[ ! -e "$ORDER" ] || fail "layers ran with tampered user data"
# A #bootlace document may not touch security, signed or not.
printf '#bootlace\nsecurity:\n  require_signature: false\n' > "$WORLD/ud.yaml"
"$BOOTLACE" sign --key "$WORLD/release/main.key" --user-data "$WORLD/ud.yaml" > /dev/null
cp "$WORLD/ud.yaml.signed" "$WORLD/seed/user-data"
bl run
expect_rc 2
expect_out "user-data:2:1: security: not allowed in user data"
[ ! -e "$ORDER" ] || fail "layers ran with a #bootlace document setting security"

# --- Against the emulated S3 ---------------------------------------------
world_init web production
for l in base/configure.sh roles/web/configure.sh environments/production/configure.sh; do
	layer "$l" 0
done
for f in "$L"/*/*.sh "$L"/*/*/*.sh; do
	sign_layers "$f"
done
aws_world
cat >> "$CONFIG" <<YAML
security:
  require_signature: true
  trusted_keys: $KEYS/*.pem
YAML
S3=s3://$WORLD_BUCKET/$WORLD_PREFIX

bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
faultproxy_requests text | grep -q "GET /$WORLD_BUCKET/${WORLD_PREFIX}roles/web/setup.sh.sig 200" ||
	fail "no GET of the .sig: $(faultproxy_requests text)"

# Missing .sig: refused, nothing runs.
fresh_state
world_delete "${WORLD_PREFIX}roles/web/setup.sh.sig"
bl run
expect_rc 1
expect_out "layer roles/web/setup.sh: signature refused: no signature object at ${S3}roles/web/setup.sh.sig"
expect_out "trusted keys: $ID"
[ ! -e "$ORDER" ] || fail "layers ran without a signature: $(cat "$ORDER")"
world_put "${WORLD_PREFIX}roles/web/setup.sh.sig" "$L/roles/web/setup.sh.sig"

# Tampered object (its old signature kept): refused, nothing runs.
fresh_state
cp "$L/base/setup.sh" "$WORLD/tampered.sh"
echo 'echo pwned' >> "$WORLD/tampered.sh"
world_put "${WORLD_PREFIX}base/setup.sh" "$WORLD/tampered.sh"
bl run
expect_rc 1
expect_out "layer base/setup.sh: signature refused: ${S3}base/setup.sh: does not verify with trusted key $ID ($KEYS/release.pem)"
[ ! -e "$ORDER" ] || fail "layers ran with a tampered base: $(cat "$ORDER")"
world_put "${WORLD_PREFIX}base/setup.sh" "$L/base/setup.sh"

# Signed by a key that is not trusted: refused, nothing runs.
fresh_state
cp "$L/environments/production/setup.sh" "$WORLD/env.sh"
"$BOOTLACE" sign --key "$WORLD/release/other.key" "$WORLD/env.sh" > /dev/null
world_put "${WORLD_PREFIX}environments/production/setup.sh.sig" "$WORLD/env.sh.sig"
bl run
expect_rc 1
expect_out "layer environments/production/setup.sh: signature refused: ${S3}environments/production/setup.sh: signed with key $OTHER, which is not trusted (trusted keys: $ID)"
[ ! -e "$ORDER" ] || fail "layers ran with another key's signature: $(cat "$ORDER")"
world_put "${WORLD_PREFIX}environments/production/setup.sh.sig" \
	"$L/environments/production/setup.sh.sig"

# Convergence: the object unchanged (304, served from the cache) is
# verified again with its current .sig, which another key made now.
fresh_state
bl run
expect_rc 0
bl converge
expect_rc 0
expect_out "first look at the configure layers"
bl converge
expect_rc 0
expect_out "converge: nothing changed"
cp "$L/roles/web/configure.sh" "$WORLD/conf.sh"
"$BOOTLACE" sign --key "$WORLD/release/other.key" "$WORLD/conf.sh" > /dev/null
world_put "${WORLD_PREFIX}roles/web/configure.sh.sig" "$WORLD/conf.sh.sig"
faultproxy_control POST reset > /dev/null
: > "$ORDER"
bl converge
expect_rc 1
faultproxy_requests text | grep -q "GET /$WORLD_BUCKET/${WORLD_PREFIX}roles/web/configure.sh 304" ||
	fail "no 304 for the unchanged object: $(faultproxy_requests text)"
expect_out "layer roles/web/configure.sh: signature refused: ${S3}roles/web/configure.sh: signed with key $OTHER"
[ ! -s "$ORDER" ] || fail "configure ran with a refused cached object: $(cat "$ORDER")"
