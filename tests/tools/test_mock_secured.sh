#!/usr/bin/env bash
# kprod-mock's secured listeners (--tls, --sasl; tools/mock_gateway.c) proven
# by clients we did not write:
#   kcat         Debian's, on Debian's librdkafka 2.0.2 (OpenSSL, its own
#                SASL PLAIN/SCRAM/OAUTHBEARER; SaslHandshake v1 +
#                SaslAuthenticate, ApiVersions v3)
#   kafka-python Debian's python3-kafka (Python's ssl, its own SASL with
#                SaslHandshake v0 and raw tokens, ApiVersions v0), through
#                tests/tools/mock_secured_client.py
# Certificates are made here with the openssl command: a CA, a broker
# certificate with SAN IP:127.0.0.1 and DNS:localhost, a client certificate
# (mutual TLS), and a client certificate from another CA.
# Controls first: the same clients against the plain mock fail, so every
# success below needs the gateway.
#   test_mock_secured.sh BUILD_DIR
# Exit 77 (skipped) only when kcat, openssl or kafka-python is missing:
# scripts/install-deps.sh installs them.
set -u
B=$1
MOCK=$B/tools/kprod-mock
HERE=$(cd "$(dirname "$0")" && pwd)
PW='Sup3r-s3cret-pw'

skip() { echo "SKIP: $1 (scripts/install-deps.sh installs it)"; exit 77; }
command -v kcat >/dev/null || skip "kcat is not installed"
command -v openssl >/dev/null || skip "the openssl command is not installed"
PY=
for p in python3 /usr/bin/python3; do
  if command -v "$p" >/dev/null && "$p" -c 'import kafka' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || skip "kafka-python (Debian python3-kafka) is not installed"
features=$(kcat -V 2>&1 | sed -n 's/.*builtin.features=\([^)]*\).*/\1/p' | tr , ' ')
for f in ssl sasl_plain sasl_scram sasl_oauthbearer; do
  echo " $features " | grep -q " $f " || skip "kcat's librdkafka lacks $f (builtin.features: $features)"
done
[ -x "$MOCK" ] || { echo "no $MOCK: build first"; exit 1; }

T=$(mktemp -d)
. "$HERE/lib.sh"
trap cleanup_pids EXIT

# ---- certificates -------------------------------------------------------------
(
  cd "$T" || exit 1
  set -e
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
    -subj "/CN=kprod test CA"
  openssl req -newkey rsa:2048 -nodes -keyout broker.key -out broker.csr -subj "/CN=localhost"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >broker.ext
  openssl x509 -req -in broker.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out broker.pem \
    -days 2 -extfile broker.ext
  printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=client"
  openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem \
    -days 2 -extfile client.ext
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 \
    -subj "/CN=another CA"
  openssl req -newkey rsa:2048 -nodes -keyout stranger.key -out stranger.csr -subj "/CN=stranger"
  openssl x509 -req -in stranger.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial \
    -out stranger.pem -days 2 -extfile client.ext
) >"$T/openssl.log" 2>&1 || { echo "openssl could not make the certificates:"; cat "$T/openssl.log"; exit 1; }
C=$T

# ---- helpers --------------------------------------------------------------------
# start_mock NAME ARGS...: a 2-broker kprod-mock with topic t (2 partitions);
# sets BOOT, ERR (its stderr) and MOCK_PID
start_mock() {
  local name=$1; shift
  ERR=$T/$name.err
  "$MOCK" --brokers 2 --topic t:2 "$@" >"$T/$name.out" 2>"$ERR" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for '[ "$(wc -l <"$T/$name.out")" -ge 1 ] || exited "$MOCK_PID"'
  BOOT=$(head -1 "$T/$name.out")
  [ -n "$BOOT" ] || { echo "kprod-mock $* did not start:"; cat "$ERR"; }
}
stop_mock() { kill -TERM "$MOCK_PID"; wait "$MOCK_PID"; MOCK_RC=$?; }

# kc_roundtrip LABEL KCAT_ARGS...: kcat produces 20 records to t and reads
# back all of t; true when every record sent is read back
kc_roundtrip() {
  local label=$1; shift
  seq 1 20 | sed "s/^/$label /" >"$T/$label.sent"
  timeout 60 kcat -P -b "$BOOT" -t t -m 10 "$@" <"$T/$label.sent" >/dev/null 2>"$T/$label.perr"
  timeout 60 kcat -C -b "$BOOT" -t t -e -q -m 10 -f '%s\n' "$@" 2>"$T/$label.cerr" >"$T/$label.read"
  [ -z "$(sort "$T/$label.sent" | comm -23 - <(sort "$T/$label.read"))" ]
}
# kc_list KCAT_ARGS...: kcat -L (metadata) to $T/list.out/.err; its status
kc_list() { timeout 60 kcat -L -b "$BOOT" -m 5 "$@" >"$T/list.out" 2>"$T/list.err"; }
# the brokers kcat's metadata names are exactly the printed bootstrap list
advertised_is_boot() {
  [ "$(sed -nE 's/^ *broker [0-9]+ at ([0-9.]+:[0-9]+).*/\1/p' "$T/list.out" | sort | tr '\n' ,)" = \
    "$(echo "$BOOT" | tr , '\n' | sort | tr '\n' ,)" ]
}
# py_client LABEL ARGS...: kafka-python produces 20 and reads them back
py_client() {
  local label=$1; shift
  timeout 120 "$PY" "$HERE/mock_secured_client.py" "$BOOT" t 20 "$@" >"$T/$label.py" 2>&1
}
no_secret() { ! grep -qF "$PW" "$ERR"; }

SCRAM512=(-X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice
          -X "sasl.password=$PW" -X "ssl.ca.location=$C/ca.pem")

# ---- controls: the plain mock refuses what the gateway accepts ----------------------
start_mock plain
check "control: kcat SASL_PLAINTEXT PLAIN against the plain mock fails" \
  '! kc_list -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=alice -X "sasl.password=$PW"'
check "control: kcat SSL against the plain mock fails" \
  '! kc_list -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem"'
check "control: kafka-python SASL_PLAINTEXT SCRAM-SHA-512 against the plain mock fails" \
  '! py_client control --protocol SASL_PLAINTEXT --mechanism SCRAM-SHA-512 --user alice --password "$PW"'
stop_mock

# ---- TLS only -------------------------------------------------------------------
start_mock tls --tls "$C/broker.pem,$C/broker.key"
check "TLS: the bootstrap list is the gateway's (2 ports)" \
  '[ "$(echo "$BOOT" | tr , "\n" | grep -cE "^127\.0\.0\.1:[0-9]+$")" = 2 ]'
check "TLS: stderr gives security.protocol=SSL and a PEM truststore" \
  'grep -q "security.protocol=SSL$" "$ERR" && grep -q "ssl.truststore.type=PEM" "$ERR"'
check "TLS: kcat (SSL) produces and consumes 20 records" \
  'kc_roundtrip tls -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem"'
kc_list -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -d feature
check "TLS: the brokers advertise the gateway's ports, not the mock's" 'advertised_is_boot'
check "TLS: ApiVersions (v3, kcat's) lists SaslHandshake 0..1 and SaslAuthenticate 0..2" \
  'grep -qE "ApiKey SaslHandshake \(17\) Versions 0\.\.1" "$T/list.err" &&
   grep -qE "ApiKey SaslAuthenticate \(36\) Versions 0\.\.2" "$T/list.err"'
check "TLS: kcat PLAINTEXT against the TLS port fails" '! kc_list -X security.protocol=PLAINTEXT'
check "TLS: kcat trusting another CA fails (certificate verify failed)" \
  '! kc_list -X security.protocol=SSL -X "ssl.ca.location=$C/other-ca.pem" &&
   grep -qi "certificate verify failed" "$T/list.err"'
stop_mock
check "TLS: kprod-mock exits 0 on SIGTERM" '[ $MOCK_RC = 0 ]'

# ---- SASL_PLAINTEXT PLAIN ----------------------------------------------------------
start_mock plain-sasl --sasl PLAIN --user "alice:$PW" --user bob:other
check "PLAIN: stderr gives SASL_PLAINTEXT, PLAIN and the JAAS line with password [hidden]" \
  'grep -q "security.protocol=SASL_PLAINTEXT$" "$ERR" && grep -q "sasl.mechanism=PLAIN$" "$ERR" &&
   grep -qF "PlainLoginModule required username=\"alice\" password=\"[hidden]\";" "$ERR"'
check "PLAIN: the password is not in kprod-mock's command line (ps)" \
  '! tr "\0" " " </proc/$MOCK_PID/cmdline | grep -qF "$PW"'
check "PLAIN: kcat (SASL_PLAINTEXT PLAIN) produces and consumes 20 records" \
  'kc_roundtrip plain -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=alice -X "sasl.password=$PW"'
check "PLAIN: the gateway authenticated alice with PLAIN" \
  'grep -q "authenticated as '"'"'alice'"'"' with PLAIN" "$ERR"'
check "PLAIN: kafka-python (SASL_PLAINTEXT PLAIN, handshake v0) produces and reads back 20" \
  'py_client py-plain --protocol SASL_PLAINTEXT --mechanism PLAIN --user bob --password other'
check "PLAIN: kcat with a wrong password is refused: Invalid username or password" \
  '! kc_list -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=PLAIN -X sasl.username=alice -X sasl.password=wrong &&
   grep -q "SASL authentication error: Authentication failed: Invalid username or password" "$T/list.err"'
check "PLAIN: ...and the gateway says SASL_AUTHENTICATION_FAILED (wrong password)" \
  'grep -q "SASL_AUTHENTICATION_FAILED (58): PLAIN, user alice: wrong password" "$ERR"'
check "PLAIN: kcat asking SCRAM-SHA-256 is refused: Unsupported SASL mechanism, broker has PLAIN" \
  '! kc_list -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X "sasl.password=$PW" &&
   grep -q "Unsupported SASL mechanism: broker.s supported mechanisms: PLAIN" "$T/list.err"'
check "PLAIN: ...and the gateway says UNSUPPORTED_SASL_MECHANISM" \
  'grep -q "UNSUPPORTED_SASL_MECHANISM (33): client asked for SCRAM-SHA-256, the gateway has PLAIN" "$ERR"'
check "PLAIN: kafka-python asking SCRAM-SHA-512 gets UnsupportedSaslMechanismError (33)" \
  '! py_client py-unsup --protocol SASL_PLAINTEXT --mechanism SCRAM-SHA-512 --user alice --password "$PW" &&
   grep -q "\[Error 33\] UnsupportedSaslMechanismError" "$T/py-unsup.py"'
check "PLAIN: kcat PLAINTEXT (Metadata before SASL) is closed: the gateway says why" \
  '! kc_list -X security.protocol=PLAINTEXT &&
   grep -q "unexpected Metadata request (api key 3) before SASL authentication: closing" "$ERR"'
p=$(echo "$BOOT" | cut -d, -f1)
check "PLAIN: a raw Metadata request before SaslHandshake gets no answer, the connection closed" \
  '"$PY" "$HERE/mock_raw_checks.py" "$p" metadata-before-auth >"$T/raw1.out" || { cat "$T/raw1.out"; false; }'
check "PLAIN: raw ApiVersions v4 -> UNSUPPORTED_VERSION in the v0 form, v3 lists 17 and 36" \
  '"$PY" "$HERE/mock_raw_checks.py" "$p" apiversions-v4 >"$T/raw2.out" || { cat "$T/raw2.out"; false; }'
check "PLAIN: a raw ApiVersions pipelined after Metadata is answered in its place, with 17 and 36" \
  '"$PY" "$HERE/mock_raw_checks.py" "$p" pipelined-apiversions alice "$PW" >"$T/raw3.out" || { cat "$T/raw3.out"; false; }'
check "PLAIN: no password in kprod-mock's output" 'no_secret'
stop_mock

# ---- SASL_SSL SCRAM-SHA-256 and SCRAM-SHA-512 ------------------------------------------
start_mock scram --tls "$C/broker.pem,$C/broker.key" --sasl SCRAM-SHA-512 --sasl SCRAM-SHA-256 \
  --sasl PLAIN --user "alice:$PW"
check "SCRAM: stderr gives SASL_SSL SCRAM-SHA-512, ScramLoginModule with [hidden], the others" \
  'grep -q "security.protocol=SASL_SSL$" "$ERR" && grep -q "sasl.mechanism=SCRAM-SHA-512$" "$ERR" &&
   grep -qF "ScramLoginModule required username=\"alice\" password=\"[hidden]\";" "$ERR" &&
   grep -q "also accepts sasl.mechanism PLAIN, SCRAM-SHA-256" "$ERR"'
check "SCRAM-SHA-256: kcat (SASL_SSL) produces and consumes 20 records" \
  'kc_roundtrip scram256 -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X "sasl.password=$PW" -X "ssl.ca.location=$C/ca.pem"'
check "SCRAM-SHA-512: kcat (SASL_SSL) produces and consumes 20 records" 'kc_roundtrip scram512 "${SCRAM512[@]}"'
check "SCRAM: the gateway authenticated alice with SCRAM-SHA-256 and SCRAM-SHA-512" \
  'grep -q "authenticated as '"'"'alice'"'"' with SCRAM-SHA-256" "$ERR" &&
   grep -q "authenticated as '"'"'alice'"'"' with SCRAM-SHA-512" "$ERR"'
kc_list "${SCRAM512[@]}"
check "SCRAM: the brokers advertise the gateway's ports" 'advertised_is_boot'
check "SCRAM-SHA-512: kafka-python (SASL_SSL) produces and reads back 20" \
  'py_client py-scram512 --protocol SASL_SSL --mechanism SCRAM-SHA-512 --user alice --password "$PW" --cafile "$C/ca.pem"'
check "SCRAM-SHA-256: kafka-python (SASL_SSL) produces and reads back 20" \
  'py_client py-scram256 --protocol SASL_SSL --mechanism SCRAM-SHA-256 --user alice --password "$PW" --cafile "$C/ca.pem"'
check "PLAIN over TLS: kafka-python (SASL_SSL PLAIN) produces and reads back 20" \
  'py_client py-plain-ssl --protocol SASL_SSL --mechanism PLAIN --user alice --password "$PW" --cafile "$C/ca.pem"'
check "SCRAM-SHA-512: kcat with a wrong password is refused with the broker's message" \
  '! kc_list -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice -X sasl.password=wrong -X "ssl.ca.location=$C/ca.pem" &&
   grep -q "SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512" "$T/list.err"'
check "SCRAM-SHA-512: ...and the gateway says SASL_AUTHENTICATION_FAILED (proof does not match)" \
  'grep -q "SASL_AUTHENTICATION_FAILED (58): SCRAM-SHA-512, user alice: the client.s proof does not match" "$ERR"'
check "SCRAM-SHA-256: kcat as an unknown user is refused" \
  '! kc_list -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=mallory -X "sasl.password=$PW" -X "ssl.ca.location=$C/ca.pem" &&
   grep -q "invalid credentials with SASL mechanism SCRAM-SHA-256" "$T/list.err" &&
   grep -q "SCRAM-SHA-256, user mallory: unknown user" "$ERR"'
grep -c "SASL_AUTHENTICATION_FAILED" "$ERR" >"$T/fails.before"
check "SCRAM-SHA-512: kafka-python with a wrong password fails while authenticating" \
  '! py_client py-wrong --protocol SASL_SSL --mechanism SCRAM-SHA-512 --user alice --password wrong --cafile "$C/ca.pem" &&
   grep -q "<authenticating>.*Error receiving reply from server" "$T/py-wrong.py"'
check "SCRAM-SHA-512: ...and the gateway says SASL_AUTHENTICATION_FAILED for it" \
  '[ "$(grep -c SASL_AUTHENTICATION_FAILED "$ERR")" -gt "$(cat "$T/fails.before")" ]'
check "SCRAM: no password in kprod-mock's output" 'no_secret'
stop_mock
check "SCRAM: kprod-mock exits 0 on SIGTERM" '[ $MOCK_RC = 0 ]'

# ---- mutual TLS ------------------------------------------------------------------
start_mock mtls --tls "$C/broker.pem,$C/broker.key,$C/ca.pem"
check "mTLS: stderr names the CA as the truststore and asks for a keystore" \
  'grep -q "ssl.truststore.location=$(realpath "$C/ca.pem")$" "$ERR" && grep -q "ssl.keystore.location=" "$ERR"'
check "mTLS: kcat with a client certificate produces and consumes 20 records" \
  'kc_roundtrip mtls -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -X "ssl.certificate.location=$C/client.pem" -X "ssl.key.location=$C/client.key"'
check "mTLS: kafka-python with a client certificate produces and reads back 20" \
  'py_client py-mtls --protocol SSL --cafile "$C/ca.pem" --certfile "$C/client.pem" --keyfile "$C/client.key"'
check "mTLS: kcat without a certificate is refused (certificate required)" \
  '! kc_list -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" && grep -qi "certificate required" "$T/list.err"'
check "mTLS: ...and the gateway says the peer did not return a certificate" \
  'grep -q "TLS handshake failed: .*peer did not return a certificate" "$ERR"'
check "mTLS: kafka-python without a certificate fails" \
  '! py_client py-nocert --protocol SSL --cafile "$C/ca.pem"'
check "mTLS: kcat with a certificate from another CA is refused" \
  '! kc_list -X security.protocol=SSL -X "ssl.ca.location=$C/ca.pem" -X "ssl.certificate.location=$C/stranger.pem" -X "ssl.key.location=$C/stranger.key" &&
   grep -q "TLS handshake failed: .*certificate verify failed" "$ERR"'
stop_mock

# ---- OAUTHBEARER (Java's unsecured JWS) ------------------------------------------------
start_mock oauth --tls "$C/broker.pem,$C/broker.key" --sasl OAUTHBEARER
check "OAUTHBEARER: stderr gives the OAuthBearerLoginModule line" \
  'grep -q "OAuthBearerLoginModule required unsecuredLoginStringClaim_sub=" "$ERR"'
check "OAUTHBEARER: kcat (librdkafka's unsecured JWT) produces and consumes 20 records" \
  'kc_roundtrip oauth -X security.protocol=SASL_SSL -X sasl.mechanisms=OAUTHBEARER -X enable.sasl.oauthbearer.unsecure.jwt=true -X sasl.oauthbearer.config=principal=carol -X "ssl.ca.location=$C/ca.pem"'
check "OAUTHBEARER: kafka-python (an unsecured JWS of its token provider) produces and reads back 20" \
  'py_client py-oauth --protocol SASL_SSL --mechanism OAUTHBEARER --oauth-sub dave --cafile "$C/ca.pem"'
check "OAUTHBEARER: the gateway authenticated carol and dave" \
  'grep -q "authenticated as '"'"'carol'"'"' with OAUTHBEARER" "$ERR" && grep -q "authenticated as '"'"'dave'"'"' with OAUTHBEARER" "$ERR"'
check "OAUTHBEARER: an expired token (kafka-python) is refused: AuthenticationFailedError" \
  '! py_client py-expired --protocol SASL_SSL --mechanism OAUTHBEARER --oauth-sub erin --oauth-exp-offset -60 --cafile "$C/ca.pem" &&
   grep -q "AuthenticationFailedError" "$T/py-expired.py"'
check "OAUTHBEARER: ...and the gateway says SASL_AUTHENTICATION_FAILED: the token expired" \
  'grep -q "SASL_AUTHENTICATION_FAILED (58): OAUTHBEARER, user erin: the token expired" "$ERR"'
check "OAUTHBEARER: a token without a sub (kcat, principal claim renamed) is refused with a message" \
  '! kc_list -X security.protocol=SASL_SSL -X sasl.mechanisms=OAUTHBEARER -X enable.sasl.oauthbearer.unsecure.jwt=true -X "sasl.oauthbearer.config=principal=frank principalClaimName=user" -X "ssl.ca.location=$C/ca.pem" &&
   grep -q "SASL authentication error: Authentication failed: the token has no \"sub\" claim" "$T/list.err" &&
   grep -q "SASL_AUTHENTICATION_FAILED (58): OAUTHBEARER: the token has no \"sub\" claim" "$ERR"'
stop_mock

# ---- valgrind: the gateway's threads, TLS and SCRAM, a refusal, SIGTERM ------------------
if command -v valgrind >/dev/null; then
  VG=$T/vg.log
  ERR=$T/vg.err
  env --default-signal valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite,indirect --log-file="$VG" \
    "$MOCK" --brokers 2 --topic t:2 --tls "$C/broker.pem,$C/broker.key" --sasl SCRAM-SHA-512 \
    --user "alice:$PW" >"$T/vg.out" 2>"$ERR" &
  MOCK_PID=$!
  PIDS+=("$MOCK_PID")
  wait_for '[ "$(wc -l <"$T/vg.out")" -ge 1 ] || exited "$MOCK_PID"'
  BOOT=$(head -1 "$T/vg.out")
  check "valgrind: kcat SCRAM-SHA-512 over TLS through kprod-mock under valgrind" \
    'kc_roundtrip vg "${SCRAM512[@]}"'
  kc_list -X security.protocol=SASL_SSL -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice \
    -X sasl.password=wrong -X "ssl.ca.location=$C/ca.pem"
  stop_mock
  check "valgrind: kprod-mock with a secured listener is valgrind-clean (exit $MOCK_RC)" '[ $MOCK_RC = 0 ] && [ ! -s "$VG" ]'
  [ -s "$VG" ] && head -40 "$VG"
else
  echo "(valgrind not installed: the valgrind case is not run)"
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
