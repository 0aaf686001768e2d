# What happens when AWS says no, or is not there yet: a wrong secret key
# (moto rejects the signature), an IMDS token that stops being accepted
# mid-run, credentials rotated between runs, IMDS down at boot, and user
# data from IMDS (a "#bootlace" document and a "#!" script).
. "$(dirname "$0")/lib.sh"
world_init web production
aws_world

# A wrong secret: S3 refuses, the error says so, nothing runs, no secret shown.
python3 - "$WORLD_DATA" > "$WORLD/bad.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["credentials"]["SecretAccessKey"] = "wrongwrongwrongwrongwrongwrongwrongwrong"
print(json.dumps({"credentials": d["credentials"]}))
PY
imds_control POST data "$(cat "$WORLD/bad.json")" >/dev/null
bl run
expect_rc 3
expect_out "S3 refused the credentials from instance role $WORLD_ROLE"
expect_out "SignatureDoesNotMatch"
expect_no_out "wrongwrongwrong"
[ ! -e "$ORDER" ] || fail "layers ran with refused credentials"

# Rotated credentials (a new AssumeRole) work on the next run.
world_rotate_credentials
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# The IMDS token is revoked mid-run: one new token, the run goes on.
fresh_state
imds_fault '{"reject_tokens": 1}' >/dev/null
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
[ "$(imds_requests text | grep -c 'PUT /latest/api/token')" -ge 2 ] || fail "no new token was fetched"

# IMDS does not answer for the first 2 s of boot: bootlace waits for it.
fresh_state
imds_fault '{"unavailable_for": 2}' >/dev/null
bl run
expect_rc 0
expect_out "answered after"
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# User data from IMDS: a "#bootlace" document that changes the config...
fresh_state
ud=$(printf '#bootlace\nlayers:\n  - { path: "base/{event}.sh", required: true }\n')
imds_control POST data "$(python3 -c 'import json,sys; print(json.dumps({"user-data": sys.argv[1]}))' "$ud")" >/dev/null
bl run
expect_rc 0
expect_order "base/setup.sh "
# ... and a "#!" script, which runs last.
fresh_state
ud=$(printf '#!/bin/sh\necho user-data >> %s\n' "$ORDER")
imds_control POST data "$(python3 -c 'import json,sys; print(json.dumps({"user-data": sys.argv[1]}))' "$ud")" >/dev/null
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh user-data "
