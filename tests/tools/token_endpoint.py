#!/usr/bin/env python3
"""token_endpoint — a local HTTPS OAuth 2 token endpoint for
test_kprod_oidc.sh: the client credentials grant (RFC 6749 4.4) as
identity providers serve it to Kafka clients (KIP-768).

POST /token with HTTP basic authentication (client id and secret, RFC 7617)
and grant_type=client_credentials[&scope=...] is answered with
{"access_token", "token_type": "Bearer", "expires_in"}; the access token is
Java's unsecured JWS (header {"alg":"none"}, claims sub = the client id,
iat, exp = now + --lifetime, scope), which kprod-mock --sasl OAUTHBEARER
accepts. Wrong credentials get 401 {"error": "invalid_client", ...}, a
wrong grant 400, another path 404. Python's http.server and ssl: written
for the test, not by the code under test.

Prints the port on stdout once listening; logs one line per request on
stderr (method, path, client id, grant, scope, status; never the secret).
"""
import argparse
import base64
import json
import ssl
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-id", required=True)
    ap.add_argument("--client-secret", required=True)
    ap.add_argument("--lifetime", type=int, default=3600, help="token lifetime, seconds")
    a = ap.parse_args()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt, *args):
            pass

        def answer(self, status, obj, note):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            print(f"{self.command} {self.path} {note} status={status}", file=sys.stderr, flush=True)

        def do_POST(self):
            n = int(self.headers.get("Content-Length") or 0)
            form = urllib.parse.parse_qs(self.rfile.read(n).decode())
            if self.path != "/token":
                return self.answer(404, {"error": "not_found"}, "client=-")
            client, secret = "-", None
            auth = self.headers.get("Authorization") or ""
            if auth.startswith("Basic "):
                try:
                    client, _, secret = base64.b64decode(auth[6:], validate=True).decode().partition(":")
                except Exception:
                    pass
            grant = (form.get("grant_type") or ["-"])[0]
            scope = (form.get("scope") or [""])[0]
            note = f"client={client} grant={grant} scope={scope or '-'}"
            if client != a.client_id or secret != a.client_secret:
                return self.answer(401, {"error": "invalid_client",
                                         "error_description": "client authentication failed"}, note)
            if grant != "client_credentials":
                return self.answer(400, {"error": "unsupported_grant_type"}, note)
            now = int(time.time())
            claims = {"sub": client, "iat": now, "exp": now + a.lifetime}
            if scope:
                claims["scope"] = scope
            token = (b64url(json.dumps({"alg": "none"}).encode()) + "." +
                     b64url(json.dumps(claims).encode()) + ".")
            self.answer(200, {"access_token": token, "token_type": "Bearer",
                              "expires_in": a.lifetime}, note)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print(srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
