#!/usr/bin/env bash
# kprod's SASL (security.protocol SASL_PLAINTEXT / SASL_SSL: src/net/auth.c,
# src/net/sasl.c) against kprod-mock's secured listeners (tools/mock_gateway.c,
# whose server side test_mock_secured.sh proves with kcat and kafka-python):
# kprod-console produces with each mechanism, and kcat (a client we did not
# write) reads the records back through the same listener. Then the bad
# cases: a wrong password and a mechanism the broker lacks fail at once
# (not after delivery.timeout.ms) with the broker's word, and no secret is
# in kprod's debug log.
#   test_kprod_sasl.sh BUILD_DIR
# Exit 77 (skipped) only when kcat or openssl is missing (install-deps
# installs them).
set -u
B=$1
MOCK=$B/tools/kprod-mock
CONSOLE=$B/tools/kprod-console
PW='Sup3r-s3cret-pw'
skip() { echo "SKIP: $1 (scripts/install-deps.sh installs it)"; exit 77; }
command -v kcat >/dev/null || skip "kcat is not installed"
command -v openssl >/dev/null || skip "the openssl command is not installed"
[ -x "$MOCK" ] && [ -x "$CONSOLE" ] || { echo "build first"; exit 1; }

T=$(mktemp -d)
. "$(dirname "$0")/lib.sh"
trap cleanup_pids EXIT

(
  cd "$T" || exit 1
  set -e
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=kprod test CA"
  openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >broker.ext
  openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
    -days 2 -extfile broker.ext
) >"$T/openssl.log" 2>&1 || { echo "openssl failed:"; cat "$T/openssl.log"; exit 1; }

# start_mock NAME ARGS...: sets BOOT, MOCK_PID
start_mock() {
  local name=$1; shift
  "$MOCK" --brokers 2 --topic t:2 "$@" >"$T/$name.out" 2>"$T/$name.err" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for '[ "$(wc -l <"$T/$name.out")" -ge 1 ] || exited "$MOCK_PID"'
  BOOT=$(head -1 "$T/$name.out")
}
stop_mock() { kill -TERM "$MOCK_PID"; wait "$MOCK_PID" 2>/dev/null; }

jaas() { # MODULE USER PASSWORD
  echo "org.apache.kafka.common.security.$1 required username=\"$2\" password=\"$3\";"
}
# produce LABEL PROPS...: kprod-console sends 50 lines to t; sets RC and SECS
produce() {
  local label=$1; shift
  local args=() p
  for p in "$@"; do args+=(--producer-property "$p"); done
  seq 1 50 | sed "s/^/$label /" >"$T/$label.sent"
  local t0=$SECONDS
  KPROD_DEBUG=1 timeout 120 "$CONSOLE" --bootstrap-server "$BOOT" --topic t \
    --producer-property delivery.timeout.ms=60000 "${args[@]}" <"$T/$label.sent" \
    >"$T/$label.pout" 2>"$T/$label.perr"
  RC=$?
  SECS=$((SECONDS - t0))
}
# read_back LABEL KCAT_ARGS...: every line sent is read back by kcat
read_back() {
  local label=$1; shift
  timeout 60 kcat -C -b "$BOOT" -t t -e -q -m 10 -f '%s\n' "$@" 2>"$T/$label.cerr" >"$T/$label.read"
  [ -z "$(sort "$T/$label.sent" | comm -23 - <(sort "$T/$label.read"))" ]
}
no_secret() { ! grep -qF "$PW" "$T/$1.perr" "$T/$1.pout"; }

for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
  module=plain.PlainLoginModule
  [ "$mech" = PLAIN ] || module=scram.ScramLoginModule
  start_mock "m-$mech" --sasl "$mech" --user "alice:$PW"
  produce "$mech" security.protocol=SASL_PLAINTEXT "sasl.mechanism=$mech" \
    "sasl.jaas.config=$(jaas $module alice "$PW")"
  check "SASL_PLAINTEXT $mech: kprod-console's 50 records acknowledged" '[ "$RC" = 0 ]'
  check "SASL_PLAINTEXT $mech: kcat reads them back" \
    "read_back $mech -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=$mech -X sasl.username=alice -X sasl.password=$PW"
  check "SASL_PLAINTEXT $mech: the password is in no line kprod printed (debug log on)" "no_secret $mech"
  stop_mock
done

start_mock tls-scram --tls "$T/broker.pem,$T/broker.key" --sasl SCRAM-SHA-512 --user "alice:$PW"
produce tls security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-512 \
  "sasl.jaas.config=$(jaas scram.ScramLoginModule alice "$PW")" \
  ssl.truststore.type=PEM "ssl.truststore.location=$T/ca.pem"
check "SASL_SSL SCRAM-SHA-512 over TLS: 50 records acknowledged" '[ "$RC" = 0 ]'
check "SASL_SSL SCRAM-SHA-512: kcat reads them back" \
  "read_back tls -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice -X sasl.password=$PW -X ssl.ca.location=$T/ca.pem"

# the same under valgrind: TLS, SCRAM and the client's teardown leak nothing
if command -v valgrind >/dev/null; then
  seq 1 5 | sed "s/^/vg /" >"$T/vg.sent"
  timeout 300 valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect "$CONSOLE" --bootstrap-server "$BOOT" --topic t \
    --producer-property security.protocol=SASL_SSL --producer-property sasl.mechanism=SCRAM-SHA-512 \
    --producer-property "sasl.jaas.config=$(jaas scram.ScramLoginModule alice "$PW")" \
    --producer-property ssl.truststore.type=PEM --producer-property "ssl.truststore.location=$T/ca.pem" \
    <"$T/vg.sent" >"$T/vg.pout" 2>"$T/vg.perr"
  rc=$?
  check "SASL_SSL SCRAM-SHA-512 under valgrind: clean, 5 records acknowledged (exit $rc)" '[ $rc = 0 ]'
  [ "$rc" = 0 ] || head -40 "$T/vg.perr"
else
  echo "note: valgrind is not installed: the valgrind case is not run"
fi

# a wrong password: refused at once with the broker's word
produce wrongpw security.protocol=SASL_SSL sasl.mechanism=SCRAM-SHA-512 \
  "sasl.jaas.config=$(jaas scram.ScramLoginModule alice wrong-password)" \
  ssl.truststore.type=PEM "ssl.truststore.location=$T/ca.pem" max.block.ms=60000
check "wrong password: kprod-console fails" '[ "$RC" = 1 ]'
check "wrong password: within 20 s, not max.block.ms (60 s) ($SECS s)" '[ "$SECS" -lt 20 ]'
check "wrong password: the error is SASL_AUTHENTICATION_FAILED" \
  'grep -q SASL_AUTHENTICATION_FAILED "$T/wrongpw.perr"'
check "wrong password: neither password is printed" \
  '! grep -qF wrong-password "$T/wrongpw.perr" && no_secret wrongpw'
stop_mock

# a mechanism the broker does not enable
start_mock only-plain --sasl PLAIN --user "alice:$PW"
produce nomech security.protocol=SASL_PLAINTEXT sasl.mechanism=SCRAM-SHA-256 \
  "sasl.jaas.config=$(jaas scram.ScramLoginModule alice "$PW")" max.block.ms=60000
check "mechanism the broker lacks: fails within 20 s ($SECS s)" '[ "$RC" = 1 ] && [ "$SECS" -lt 20 ]'
check "mechanism the broker lacks: UNSUPPORTED_SASL_MECHANISM naming PLAIN" \
  'grep -q "UNSUPPORTED_SASL_MECHANISM" "$T/nomech.perr" && grep -q "PLAIN" "$T/nomech.perr"'
stop_mock

# KIP-368: sessions of 1 s; kprod re-authenticates between requests while it
# sends for 4 s, so the gateway never has to close a connection for an
# expired session, and nothing fails
start_mock reauth --sasl SCRAM-SHA-256 --user "alice:$PW" --sasl-session-lifetime-ms 1000
seq 1 40 | sed "s/^/reauth /" >"$T/reauth.sent"
t0=$SECONDS
while read -r line; do echo "$line"; sleep 0.1; done <"$T/reauth.sent" |
  timeout 120 "$CONSOLE" --bootstrap-server "$BOOT" --topic t --producer-property linger.ms=0 \
    --producer-property security.protocol=SASL_PLAINTEXT \
    --producer-property sasl.mechanism=SCRAM-SHA-256 \
    --producer-property "sasl.jaas.config=$(jaas scram.ScramLoginModule alice "$PW")" \
    >"$T/reauth.pout" 2>"$T/reauth.perr"
RC=$?
check "KIP-368: 40 records sent over $((SECONDS - t0)) s with 1 s sessions, all acknowledged" '[ "$RC" = 0 ]'
check "KIP-368: the gateway saw kprod re-authenticate (at least twice)" \
  '[ "$(grep -c "re-authenticated as .alice." "$T/reauth.err")" -ge 2 ]'
check "KIP-368: no connection closed for an expired session" \
  '! grep -q "after the session expired" "$T/reauth.err"'
check "KIP-368: no disconnect logged by kprod" '! grep -q "disconnected" "$T/reauth.perr"'
check "KIP-368: kcat reads the 40 records back" \
  "read_back reauth -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X sasl.password=$PW"
stop_mock

# OAUTHBEARER with Java's unsecured token
start_mock oauth --sasl OAUTHBEARER
produce oauth security.protocol=SASL_PLAINTEXT sasl.mechanism=OAUTHBEARER \
  'sasl.jaas.config=org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="alice";'
check "SASL_PLAINTEXT OAUTHBEARER (unsecured token): 50 records acknowledged" '[ "$RC" = 0 ]'
stop_mock

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
