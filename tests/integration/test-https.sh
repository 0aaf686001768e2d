# https:// layers: a plain GET through the same transfer engine as S3, TLS
# always verified.  A server whose certificate comes from a private CA is
# refused until tls.ca_file adds that CA; an http:// source works but warns.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../emulators/lib.sh"
world_init web production
pki="$WORLD/pki"
mkdir -p "$pki"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=bootlace test CA" \
	-keyout "$pki/ca.key" -out "$pki/ca.pem" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign" 2>/dev/null || fail "cannot make a CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$pki/server.key" \
	-out "$pki/server.csr" 2>/dev/null || fail "cannot make a key"
printf 'subjectAltName=IP:127.0.0.1\n' > "$pki/ext"
openssl x509 -req -in "$pki/server.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" \
	-CAcreateserial -days 2 -extfile "$pki/ext" -out "$pki/server.pem" 2>/dev/null ||
	fail "cannot sign the server certificate"
faultproxy_start --static "$WORLD/layers" --tls-cert "$pki/server.pem" --tls-key "$pki/server.key" ||
	fail "the fault proxy did not start"
sed -i "s|^source:.*|source: https://127.0.0.1:$FAULTPROXY_PORT/|" "$CONFIG"

# A CA the system does not know: refused, nothing runs.
bl run
expect_rc 3
expect_out "https://127.0.0.1:$FAULTPROXY_PORT/base/setup.sh"
[ ! -e "$ORDER" ] || fail "layers ran over an unverified TLS connection"

# tls.ca_file adds the CA: verified, all layers run.
printf 'tls:\n  ca_file: %s\n' "$pki/ca.pem" >> "$CONFIG"
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "

# A server that stalls mid-body and one that resets: retried, then fine.
fresh_state
faultproxy_fault '[{"match": "roles/web", "action": "reset", "times": 1}, {"match": "environments/", "action": "truncate", "times": 1}]'
bl run
expect_rc 0
expect_order "base/setup.sh roles/web/setup.sh environments/production/setup.sh "
