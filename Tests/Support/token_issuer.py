"""A small token issuer for the registry's token auth (Docker's token flow), for tests.

Usage: token_issuer.py SIGNING_CERT SIGNING_KEY ISSUER USER PASSWORD [expire-first-pull]

Serves GET /token?service=…&scope=repository:NAME:ACTIONS on 127.0.0.1 (a free port, printed
on the first line of standard output). With the right Basic credentials it answers
{"token": JWT}: RS256, signed by openssl with SIGNING_KEY, the certificate in the x5c
header so the registry can check it against its rootcertbundle. Anything else gets 401.
With `expire-first-pull`, the first token issued for a pull-only scope has already run out,
as a long pull's does (tokens to push, such as the one that seeds the registry, are good).
"""
import base64
import http.server
import json
import os
import subprocess
import sys
import time
import urllib.parse

cert, key, issuer, user, password = sys.argv[1:6]
expire_first = sys.argv[6:7] == ["expire-first-pull"]
pulls_issued = 0
der = subprocess.run(["openssl", "x509", "-in", cert, "-outform", "DER"], capture_output=True, check=True).stdout
expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        if url.path != "/token" or self.headers.get("Authorization", "") != expected:
            self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        access = []
        for scope in query.get("scope", []):
            kind, name, actions = scope.split(":")
            access.append({"type": kind, "name": name, "actions": actions.split(",")})
        global pulls_issued
        pull_only = bool(access) and all(entry["actions"] == ["pull"] for entry in access)
        pulls_issued += pull_only
        now = int(time.time()) - (3600 if expire_first and pull_only and pulls_issued == 1 else 0)
        header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
        claims = {"iss": issuer, "sub": user, "aud": query.get("service", [""])[0], "exp": now + 600,
                  "nbf": now - 60, "iat": now, "jti": os.urandom(8).hex(), "access": access}
        signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing_input.encode(),
                                   capture_output=True, check=True).stdout
        token = signing_input + "." + b64url(signature)
        body = json.dumps({"token": token, "expires_in": 600}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Issuer)
print(server.server_address[1], flush=True)
server.serve_forever()
