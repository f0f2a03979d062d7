"""An HTTPS reverse proxy that refuses large request bodies, for tests: a registry behind a
proxy with a body size limit (nginx's client_max_body_size, say).

Usage: size_limit_proxy.py TARGET_PORT CA_FILE CERT_FILE KEY_FILE LIMIT_BYTES

Listens on 127.0.0.1 (a free port, printed on the first line of standard output) with TLS
from CERT_FILE and KEY_FILE, and passes each request to https://127.0.0.1:TARGET_PORT
(trusting CA_FILE), Host header included, so that the registry's upload locations name the
proxy. A request whose body is over LIMIT_BYTES is read and answered 413, as such proxies
answer. Each request is logged on standard error as `METHOD PATH BODY_BYTES STATUS`.
"""
import http.client
import http.server
import ssl
import sys

target_port, ca_file, cert_file, key_file, limit = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
upstream_context = ssl.create_default_context(cafile=ca_file)
hop_by_hop = {"connection", "transfer-encoding", "keep-alive", "content-length"}


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if length > limit:
            self.reply(413, [], b"request body too large\n")
            print(self.command, self.path, length, 413, file=sys.stderr, flush=True)
            return
        upstream = http.client.HTTPSConnection("127.0.0.1", int(target_port), context=upstream_context)
        # Header by header: a registry client sends several Accept headers.
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for name, value in self.headers.items():
            if name.lower() not in hop_by_hop:
                upstream.putheader(name, value)
        if body is not None or self.command in ("PUT", "POST", "PATCH"):
            upstream.putheader("Content-Length", str(length))
        upstream.endheaders(body)
        response = upstream.getresponse()
        data = response.read()
        kept = [(name, value) for name, value in response.getheaders() if name.lower() not in hop_by_hop]
        if self.command == "HEAD":
            kept.append(("Content-Length", response.getheader("Content-Length", "0")))
            data = None
        self.reply(response.status, kept, data)
        print(self.command, self.path, length, response.status, file=sys.stderr, flush=True)

    def reply(self, status, headers, data):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if data is not None:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert_file, key_file)
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
