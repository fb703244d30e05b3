#!/usr/bin/env bash
# test_kprod_oidc.sh BUILD_DIR — OAUTHBEARER with OIDC client credentials
# (KIP-768, src/net/oauth.c): kprod-console gets its tokens from a local
# HTTPS token endpoint this test starts (tests/tools/token_endpoint.py:
# Python's http.server and ssl, a certificate made here with the openssl
# CLI) and produces through kprod-mock --sasl OAUTHBEARER, which accepts the
# endpoint's unsecured JWS tokens; kcat reads the records back. Then:
# tokens of 3 s with 1 s broker sessions (KIP-368) over 6 s make kprod ask
# the endpoint again and re-authenticate with the new token; a wrong
# client secret (401) and an endpoint whose CA is not trusted (the
# system's store by default) fail creation at once with a message naming
# the endpoint and the cause; the secret appears in no output.
B=${1:?usage: test_kprod_oidc.sh BUILD_DIR}
MOCK=$B/tools/kprod-mock
CONSOLE=$B/tools/kprod-console
HERE=$(cd "$(dirname "$0")" && pwd)
SECRET='0idc-Cl1ent-s3cret'
skip() { echo "SKIP: $1 (scripts/install-deps.sh installs it)"; exit 77; }
command -v kcat >/dev/null || skip "kcat is not installed"
command -v openssl >/dev/null || skip "the openssl command is not installed"
command -v python3 >/dev/null || skip "python3 is not installed"
[ -x "$MOCK" ] && [ -x "$CONSOLE" ] || { echo "build first"; exit 1; }

T=$(mktemp -d)
. "$HERE/lib.sh"
trap cleanup_pids EXIT

(
  cd "$T" || exit 1
  set -e
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=kprod test CA"
  openssl req -newkey rsa:2048 -nodes -keyout idp.key -out idp.csr -subj "/CN=localhost"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >idp.ext
  openssl x509 -req -in idp.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out idp.pem \
    -days 2 -extfile idp.ext
) >"$T/openssl.log" 2>&1 || { echo "openssl failed:"; cat "$T/openssl.log"; exit 1; }

# start_idp LIFETIME_S: sets URL, IDP_PID; requests logged in $T/idp.log
start_idp() {
  python3 "$HERE/token_endpoint.py" --cert "$T/idp.pem" --key "$T/idp.key" \
    --client-id kprod-app --client-secret "$SECRET" --lifetime "$1" >"$T/idp.port" 2>"$T/idp.log" &
  IDP_PID=$!
  PIDS+=("$IDP_PID")
  wait_for '[ -s "$T/idp.port" ] || exited "$IDP_PID"'
  URL="https://127.0.0.1:$(head -1 "$T/idp.port")/token"
}
stop_idp() { kill -TERM "$IDP_PID"; wait "$IDP_PID" 2>/dev/null; }
# start_mock NAME ARGS...: sets BOOT, MOCK_PID
start_mock() {
  local name=$1; shift
  "$MOCK" --brokers 2 --topic t:2 --sasl OAUTHBEARER "$@" >"$T/$name.out" 2>"$T/$name.err" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for '[ "$(wc -l <"$T/$name.out")" -ge 1 ] || exited "$MOCK_PID"'
  BOOT=$(head -1 "$T/$name.out")
}
stop_mock() { kill -TERM "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null; }
# jaas SECRET [MORE OPTIONS]: the OAuthBearerLoginModule line Java users write
jaas() {
  echo "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"kprod-app\" clientSecret=\"$1\" scope=\"kafka produce\" extension_logicalCluster=\"lkc-test1\" extension_identityPoolId=\"pool-test1\" $2;"
}
# produce LABEL SECS JAAS: kprod-console sends 50 lines to t over SECS
# seconds; sets RC and ELAPSED
produce() {
  local label=$1 secs=$2 j=$3
  seq 1 50 | sed "s/^/$label /" >"$T/$label.sent"
  local t0=$SECONDS
  while read -r line; do echo "$line"; sleep "$(echo "$secs / 50" | bc -l)"; done <"$T/$label.sent" |
    KPROD_DEBUG=1 timeout 120 "$CONSOLE" --bootstrap-server "$BOOT" --topic t \
      --producer-property delivery.timeout.ms=60000 \
      --producer-property security.protocol=SASL_PLAINTEXT \
      --producer-property sasl.mechanism=OAUTHBEARER \
      --producer-property "sasl.oauthbearer.token.endpoint.url=$URL" \
      --producer-property sasl.login.callback.handler.class=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler \
      --producer-property sasl.login.connect.timeout.ms=5000 \
      --producer-property sasl.login.read.timeout.ms=5000 \
      --producer-property "sasl.jaas.config=$j" \
      >"$T/$label.pout" 2>"$T/$label.perr"
  RC=$?
  ELAPSED=$((SECONDS - t0))
}
read_back() {
  local label=$1
  timeout 60 kcat -C -b "$BOOT" -t t -e -q -f '%s\n' -X security.protocol=SASL_PLAINTEXT \
    -X sasl.mechanisms=OAUTHBEARER -X enable.sasl.oauthbearer.unsecure.jwt=true \
    -X sasl.oauthbearer.config=principal=reader 2>"$T/$label.cerr" >"$T/$label.read"
  [ -z "$(sort "$T/$label.sent" | comm -23 - <(sort "$T/$label.read"))" ]
}
no_secret() { ! grep -qF "$SECRET" "$T/$1.perr" "$T/$1.pout" "$T/idp.log"; }
command -v bc >/dev/null || bc() { python3 -c "import sys; print(eval(sys.stdin.read()))"; }

# 1. client credentials against the endpoint, trusted through sasl.jaas.config's ssl.* (Java's way)
start_idp 3600
start_mock ok
produce ok 0 "$(jaas "$SECRET" "ssl.truststore.location=\"$T/ca.pem\"")"
check "OIDC: kprod-console's 50 records acknowledged" '[ "$RC" = 0 ]'
check "OIDC: kcat reads them back" "read_back ok"
check "OIDC: the endpoint saw grant_type=client_credentials with the scope and client id" \
  'grep -q "POST /token client=kprod-app grant=client_credentials scope=kafka produce status=200" "$T/idp.log"'
check "OIDC: the secret is in no output (debug log included)" "no_secret ok"
[ "$RC" = 0 ] || { cat "$T/ok.perr" | tail -20; }
stop_mock
stop_idp

# 2. 3 s tokens, 1 s sessions: refreshed (at 80-85 %) and used by re-authentications
start_idp 3
start_mock refresh --sasl-session-lifetime-ms 1000
produce refresh 6 "$(jaas "$SECRET" "ssl.truststore.location=\"$T/ca.pem\"")"
check "OIDC refresh: 50 records over 6 s with 3 s tokens acknowledged" '[ "$RC" = 0 ]'
check "OIDC refresh: kprod asked the endpoint again (3 or more tokens)" \
  '[ "$(grep -c "status=200" "$T/idp.log")" -ge 3 ]'
check "OIDC refresh: the gateway saw re-authentications and no refused or expired token" \
  'grep -q "re-authenticated" "$T/refresh.err" && ! grep -qE "SASL_AUTHENTICATION_FAILED|expired" "$T/refresh.err"'
[ "$RC" = 0 ] || { tail -20 "$T/refresh.perr"; tail -20 "$T/refresh.err"; }
stop_mock
stop_idp

# 3. a wrong secret: 401, creation fails at once naming the endpoint and the status
start_idp 3600
start_mock wrong
produce wrong 0 "$(jaas "wrong-$SECRET" "ssl.truststore.location=\"$T/ca.pem\"")"
check "OIDC wrong secret: kprod-console fails (rc $RC) within 10 s ($ELAPSED s)" \
  '[ "$RC" != 0 ] && [ "$ELAPSED" -le 10 ]'
check "OIDC wrong secret: the error names the endpoint and HTTP 401 with the provider's error" \
  'grep -F "$URL answered HTTP 401" "$T/wrong.perr" | grep -q invalid_client'
check "OIDC wrong secret: the secret is in no output" \
  '! grep -qF "$SECRET" "$T/wrong.perr" "$T/wrong.pout"'
grep -F "cannot create" "$T/wrong.perr" | head -1

# 4. the endpoint's CA not given: the system's store does not trust it
produce untrusted 0 "$(jaas "$SECRET")"
check "OIDC untrusted endpoint: fails within 10 s, naming the endpoint and the certificate" \
  '[ "$RC" != 0 ] && [ "$ELAPSED" -le 10 ] && grep -F "$URL" "$T/untrusted.perr" | grep -qi "certificate"'
grep -F "cannot create" "$T/untrusted.perr" | head -1
stop_mock
stop_idp

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
