"""Alertmanager's webhook receiver for the conformance tier: appends each POSTed JSON body to a
file, one line each. Listens only on the address it is given (the sandbox bridge)."""
import http.server
import json
import sys

ADDRESS, PORT, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(OUT, "a", encoding="utf-8") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer((ADDRESS, PORT), Handler).serve_forever()
