#!/usr/bin/python3
"""A local HTTP server for relaysync's webhook test: every POST body is
appended to LOG, one line each; "--status N" answers N instead of 204.
Usage: webhook.py PORT LOG [--status N]; prints "ready"."""
import http.server
import sys

port, log = int(sys.argv[1]), sys.argv[2]
status = int(sys.argv[4]) if len(sys.argv) > 4 else 204


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(log, "ab") as f:
            f.write(self.headers.get("Content-Type", "").encode() + b" " +
                    body.strip() + b"\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args):
        pass


srv = http.server.HTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
srv.serve_forever()
