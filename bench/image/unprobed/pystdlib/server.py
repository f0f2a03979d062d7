"""unprobed-pystdlib: a standard-library web app (http.server) on 127.0.0.1:$PORT.

GET /a answers a plain line and loads nothing beyond what the server itself needs.
GET /b imports, inside its handler, standard-library modules that /a never loads,
most of them backed by C extensions and shared libraries (sqlite3, decimal, csv,
json, hashlib, unicodedata, statistics, xml.etree with expat; zlib, which the
server loads anyway, too) and answers with what it computed from them. Every answer is computed from
fixed inputs (no time, pid or host name), so every request answers the same bytes.
An exception in a handler answers 500 with its type and message, as an app's
catch-all error handler would.
"""
import os
from http.server import BaseHTTPRequestHandler, HTTPServer


def answer_a():
    return "unprobed-pystdlib: a\n"


def answer_b():
    # Imported here, on the first request for /b: /a never loads them.
    import csv
    import decimal
    import hashlib
    import io
    import json
    import sqlite3
    import statistics
    import unicodedata
    import xml.etree.ElementTree as ElementTree
    import zlib

    text = "whittle unprobed"
    db = sqlite3.connect(":memory:")
    db.execute("create table animal (name text, legs integer)")
    db.executemany("insert into animal values (?, ?)", [("ant", 6), ("bear", 4), ("crane", 2)])
    legs, names = db.execute("select sum(legs), group_concat(name, '+') from animal").fetchone()
    db.close()

    decimal.getcontext().prec = 30
    third = decimal.Decimal(1) / decimal.Decimal(7)

    rows = list(csv.reader(io.StringIO('name,legs\n"bear, brown",4\nant,6\n')))

    doc = {
        "app": "unprobed-pystdlib",
        "sqlite": {"legs": legs, "names": names, "version_major": sqlite3.sqlite_version.split(".")[0]},
        "decimal": str(third),
        "csv": rows,
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
        "md5": hashlib.md5(text.encode()).hexdigest(),
        "crc32": "%08x" % zlib.crc32(text.encode()),
        "zlib_roundtrip": zlib.decompress(zlib.compress(text.encode() * 10, 9)).decode() == text * 10,
        "statistics": [str(statistics.median([6, 4, 2, 0])), str(statistics.fmean([6, 4, 2, 0]))],
        "xml": [animal.get("name") for animal in ElementTree.fromstring(
            '<zoo><animal name="ant"/><animal name="bear"/></zoo>').iter("animal")],
        "unicode": [unicodedata.name("\u00e9"), unicodedata.normalize("NFD", "\u00e9") == "e\u0301",
                    unicodedata.category("\u2603")],
    }
    return json.dumps(doc, sort_keys=True, indent=1) + "\n"


ROUTES = {"/a": answer_a, "/b": answer_b}


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        route = ROUTES.get(self.path)
        if route is None:
            status, body = 404, "not found: %s\n" % self.path
        else:
            try:
                status, body = 200, route()
            except Exception as e:  # the catch-all handler: 500 and what went wrong
                status, body = 500, "%s: %s\n" % (type(e).__name__, e)
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "18091"))
    server = HTTPServer(("127.0.0.1", port), Handler)
    print("unprobed-pystdlib listening on 127.0.0.1:%d" % port, flush=True)
    server.serve_forever()
