#!/usr/bin/env python3
"""citadel e2e: the offline lab mirror. Serves /srv/e2e-mirror/<Host header>/ over HTTPS on
127.0.0.2:443, where /etc/hosts sends download.docker.com and nvidia.github.io."""
import functools
import http.server
import os
import ssl

ROOT = "/srv/e2e-mirror"


class Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        host = (self.headers.get("Host") or "").split(":")[0]
        if not host or "/" in host or host.startswith("."):
            return os.path.join(ROOT, "none")
        self.directory = os.path.join(ROOT, host)
        return super().translate_path(path)


server = http.server.ThreadingHTTPServer(("127.0.0.2", 443), functools.partial(Handler, directory=ROOT))
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain("/etc/e2e-mirror/server.crt", "/etc/e2e-mirror/server.key")
server.socket = ctx.wrap_socket(server.socket, server_side=True)
server.serve_forever()
