#!/usr/bin/env python3
"""A stage that fails: answers 503 to its first N requests, then forwards each request to the
real stage (UPSTREAM) and relays the answer. For testing the HTTP runner's retries.

usage: flaky-stage.py PORT_FILE UPSTREAM_URL N
"""
import http.client
import http.server
import sys
import urllib.parse

port_file, upstream, failures = sys.argv[1], urllib.parse.urlsplit(sys.argv[2]), int(sys.argv[3])
seen = 0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        global seen
        seen += 1
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if seen <= failures:
            msg = b"flaky stage: failing on purpose\n"
            self.send_response(503)
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            sys.stderr.write("flaky-stage: 503 for request %d\n" % seen)
            return
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request("POST", "/", body=body, headers=headers)
        r = conn.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        sys.stderr.write("flaky-stage: forwarded request %d: %d\n" % (seen, r.status))

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
import os
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
