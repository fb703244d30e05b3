#!/usr/bin/env python3
"""kafka-python (Debian python3-kafka) against kprod-mock's secured listeners.

Produces COUNT records to TOPIC and reads them back with a consumer, both
through the given security settings; kafka-python has its own SASL (PLAIN,
SCRAM, OAUTHBEARER) and uses Python's ssl module, so neither shares code with
the gateway or with librdkafka. Used by test_mock_secured.sh.

  mock_secured_client.py BOOTSTRAP TOPIC COUNT --protocol P [--mechanism M]
      [--user U --password W] [--cafile CA] [--certfile C --keyfile K]
      [--oauth-sub SUB [--oauth-exp-offset S]]

Exit 0 with "ok: produced N, read back N" when every record came back; exit 1
with "error: <exception class>: <message>" otherwise, followed by kafka-python's
own log lines about connections that failed while authenticating.
"""
import argparse
import base64
import json
import logging
import sys
import time


class AuthFailures(logging.Handler):
    """Keeps kafka-python's own log lines about connections that failed while
    <authenticating>: its errors, and the reason it gives when it closes one
    (at INFO level: an UnsupportedSaslMechanismError appears only there).
    With SaslHandshake v0 (kafka-python's) a broker refuses credentials by
    closing the connection, and these lines are what the client says."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        msg = record.getMessage()
        if "<authenticating>" not in msg or len(self.lines) >= 3:
            return
        if record.levelno >= logging.ERROR:
            exc = record.exc_info[1] if record.exc_info else None
            self.lines.append("%s%s" % (msg, ": %s" % exc if exc else ""))
        elif "Closing connection. " in msg and not msg.endswith("Closing connection. "):
            self.lines.append(msg)


class UnsecuredToken:
    """Java's unsecured JWS (alg none, empty signature), as
    OAuthBearerUnsecuredLoginCallbackHandler makes them."""

    def __init__(self, sub, exp_offset):
        self.sub = sub
        self.exp_offset = exp_offset

    @staticmethod
    def _b64(obj):
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def token(self):
        now = int(time.time())
        return "%s.%s." % (self._b64({"alg": "none"}),
                           self._b64({"sub": self.sub, "iat": now, "exp": now + self.exp_offset}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bootstrap")
    ap.add_argument("topic")
    ap.add_argument("count", type=int)
    ap.add_argument("--protocol", required=True)
    ap.add_argument("--mechanism")
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--cafile")
    ap.add_argument("--certfile")
    ap.add_argument("--keyfile")
    ap.add_argument("--oauth-sub")
    ap.add_argument("--oauth-exp-offset", type=int, default=3600)
    a = ap.parse_args()

    try:
        from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    except ImportError as e:
        print("error: ImportError: %s (Debian: python3-kafka)" % e)
        return 1

    common = dict(bootstrap_servers=a.bootstrap.split(","), security_protocol=a.protocol,
                  request_timeout_ms=15000, api_version_auto_timeout_ms=10000)
    if a.cafile:
        common.update(ssl_cafile=a.cafile, ssl_check_hostname=True)
    if a.certfile:
        common.update(ssl_certfile=a.certfile, ssl_keyfile=a.keyfile)
    if a.mechanism:
        common["sasl_mechanism"] = a.mechanism
        if a.mechanism == "OAUTHBEARER":
            common["sasl_oauth_token_provider"] = UnsecuredToken(a.oauth_sub, a.oauth_exp_offset)
        else:
            common.update(sasl_plain_username=a.user, sasl_plain_password=a.password)

    auth_failures = AuthFailures()
    kafka_log = logging.getLogger("kafka.conn")
    kafka_log.addHandler(auth_failures)
    kafka_log.setLevel(logging.INFO)
    kafka_log.propagate = False
    try:
        producer = KafkaProducer(acks="all", max_block_ms=15000, **common)
        sent = set()
        futures = []
        for i in range(a.count):
            value = ("%s record %d" % (a.mechanism or a.protocol, i)).encode()
            sent.add(value)
            futures.append(producer.send(a.topic, key=str(i).encode(), value=value))
        for f in futures:
            f.get(timeout=15)
        producer.flush()
        producer.close()

        consumer = KafkaConsumer(group_id=None, enable_auto_commit=False,
                                 consumer_timeout_ms=10000, **common)
        parts = consumer.partitions_for_topic(a.topic) or set()
        tps = [TopicPartition(a.topic, p) for p in sorted(parts)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        got = set()
        deadline = time.time() + 20
        while time.time() < deadline:
            for _, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    got.add(r.value)
            if all(consumer.position(tp) >= ends[tp] for tp in tps):
                break
        consumer.close()
    except Exception as e:  # report every failure the same way
        print("error: %s: %s" % (type(e).__name__, e))
        for line in auth_failures.lines:
            print("kafka-python: %s" % line)
        return 1
    missing = sent - got
    if missing:
        print("error: %d of %d records not read back" % (len(missing), len(sent)))
        return 1
    print("ok: produced %d, read back %d" % (len(sent), len(sent & got)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
