#!/usr/bin/env python3
"""Byte-level checks of kprod-mock's secured listener that no client library
exercises: ApiVersions above the gateway's v3, and a request other than
ApiVersions/SaslHandshake before authentication. Plain TCP (run it against a
SASL_PLAINTEXT gateway). Used by test_mock_secured.sh.

  mock_raw_checks.py HOST:PORT apiversions-v4
      ApiVersions v4 must be answered UNSUPPORTED_VERSION (35) in the v0 form,
      listing ApiVersions (18) 0..3 only (KIP-511), and v3 (flexible) must then
      list SaslHandshake (17) 0..1 and SaslAuthenticate (36) 0..2.
  mock_raw_checks.py HOST:PORT metadata-before-auth
      A Metadata v1 request before SaslHandshake must get no answer: the
      connection is closed.
  mock_raw_checks.py HOST:PORT pipelined-apiversions USER PASSWORD
      After SASL PLAIN (SaslHandshake v1, SaslAuthenticate v1), Metadata,
      ApiVersions v0 and Metadata sent back to back must be answered in that
      order: the gateway's own ApiVersions answer (listing 17 and 36) keeps
      its place behind the mock's answer to the first Metadata.

Prints "ok: ..." and exits 0, or "error: ..." and exits 1.
"""
import socket
import struct
import sys


def frame(api_key, version, corr, body=b"", flexible_header=False):
    hdr = struct.pack(">hhih", api_key, version, corr, 4) + b"test"
    if flexible_header:
        hdr += b"\x00"  # no tagged fields
    msg = hdr + body
    return struct.pack(">i", len(msg)) + msg


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed after %d of %d bytes" % (len(data), n))
        data += chunk
    return data


def recv_frame(s):
    (n,) = struct.unpack(">i", recv_exact(s, 4))
    return recv_exact(s, n)


def uvarint(buf, off):
    v = shift = 0
    while True:
        b = buf[off]
        off += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, off
        shift += 7


def apiversions_v4(s):
    s.sendall(frame(18, 4, 7, b"\x05kcat\x061.0.0\x00", flexible_header=True))
    r = recv_frame(s)
    corr, err, n = struct.unpack(">ihi", r[:10])
    keys = [struct.unpack(">hhh", r[10 + 6 * i:16 + 6 * i]) for i in range(n)]
    if corr != 7 or err != 35 or keys != [(18, 0, 3)] or len(r) != 10 + 6 * n:
        return "ApiVersions v4: corr %d error %d keys %s (%d bytes)" % (corr, err, keys, len(r))
    # the client asks again at v3: compact array, tagged fields
    s.sendall(frame(18, 3, 8, b"\x05kcat\x061.0.0\x00", flexible_header=True))
    r = recv_frame(s)
    corr, err = struct.unpack(">ih", r[:6])
    n, off = uvarint(r, 6)
    apis = {}
    for _ in range(n - 1):
        k, lo, hi = struct.unpack(">hhh", r[off:off + 6])
        apis[k] = (lo, hi)
        _, off = uvarint(r, off + 6)
    (throttle,) = struct.unpack(">i", r[off:off + 4])
    _, off = uvarint(r, off + 4)
    if corr != 8 or err != 0 or off != len(r):
        return "ApiVersions v3: corr %d error %d, %d of %d bytes read" % (corr, err, off, len(r))
    want = {17: (0, 1), 36: (0, 2), 18: (0, 3)}
    for k, v in want.items():
        if apis.get(k) != v:
            return "ApiVersions v3 lists api %d as %s, not %s" % (k, apis.get(k), v)
    if 0 not in apis or 3 not in apis:
        return "ApiVersions v3 lacks the mock's Produce or Metadata: %s" % sorted(apis)
    print("ok: v4 -> UNSUPPORTED_VERSION [18: 0..3]; v3 lists 17: 0..1, 36: 0..2, "
          "18: 0..3 and %d APIs in all" % len(apis))
    return None


def metadata_before_auth(s):
    s.sendall(frame(3, 1, 9, struct.pack(">i", -1)))  # Metadata v1: all topics
    try:
        r = s.recv(4096)
    except ConnectionResetError:
        r = b""
    if r:
        return "Metadata before authentication was answered (%d bytes)" % len(r)
    print("ok: Metadata before authentication: connection closed, no answer")
    return None


def pipelined_apiversions(s, user, password):
    s.sendall(frame(17, 1, 1, struct.pack(">h", 5) + b"PLAIN"))
    r = recv_frame(s)
    if struct.unpack(">ih", r[:6]) != (1, 0):
        return "SaslHandshake v1 PLAIN refused: %r" % r
    token = b"\0" + user.encode() + b"\0" + password.encode()
    s.sendall(frame(36, 1, 2, struct.pack(">i", len(token)) + token))
    r = recv_frame(s)
    if struct.unpack(">ih", r[:6]) != (2, 0):
        return "SaslAuthenticate v1 refused: %r" % r
    metadata = struct.pack(">i", 0)  # Metadata v1, no topics
    s.sendall(frame(3, 1, 10, metadata) + frame(18, 0, 11) + frame(3, 1, 12, metadata))
    corrs = []
    for _ in range(3):
        r = recv_frame(s)
        (corr,) = struct.unpack(">i", r[:4])
        corrs.append(corr)
        if corr == 11:
            err, n = struct.unpack(">hi", r[4:10])
            keys = {struct.unpack(">h", r[10 + 6 * i:12 + 6 * i])[0] for i in range(n)}
            if err != 0 or not {17, 18, 36} <= keys:
                return "ApiVersions v0 after Metadata: error %d, keys %s" % (err, sorted(keys))
    if corrs != [10, 11, 12]:
        return "answers came in the order %s, not [10, 11, 12]" % corrs
    print("ok: Metadata, ApiVersions (the gateway's, with 17 and 36), Metadata answered in order")
    return None


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        what = {"apiversions-v4": apiversions_v4,
                "metadata-before-auth": metadata_before_auth,
                "pipelined-apiversions": pipelined_apiversions}[sys.argv[2]]
        problem = what(s, *sys.argv[3:])
    except (OSError, EOFError, struct.error, IndexError) as e:
        problem = "%s: %s" % (type(e).__name__, e)
    finally:
        s.close()
    if problem:
        print("error: " + problem)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
