"""A stand-in for the Docker Engine API on a unix socket, for the conformance tier: this machine
has no Docker engine, and Alloy's discovery.docker and loki.source.docker need one to ship
container logs. It answers only the calls those two components make at the versions we pin, with
the lab's own containers, and streams each container's log lines the way the engine does.

What Alloy v1.19.0 asks, read in its module at that tag and in its dependencies:
- github.com/moby/moby/client v0.5.1 (client.go, ping.go): HEAD /_ping first, reading the
  `Api-Version` header to negotiate; later calls are prefixed /v<version>.
- discovery.docker is Prometheus v0.313.2's discovery/moby (docker.go, network.go):
  GET /containers/json and GET /networks; a container without a network yields no target.
- loki.source.docker (internal/component/loki/source/docker/tailer.go): GET /containers/<id>/json
  (Config.Tty, State.Running, State.FinishedAt), then GET /containers/<id>/logs with
  follow, stdout, stderr and timestamps; without a TTY the body is the engine's multiplexed
  stream (stdcopy): an 8-byte header (stream 1 or 2, three zero bytes, big-endian length) per
  frame, each line starting with an RFC 3339 timestamp and a space.

Usage: docker_api.py SOCKET CONTAINERS_JSON
CONTAINERS_JSON: [{"name": "vllm", "id": "<64 hex>", "ip": "172.18.0.5",
                   "stdout": ["line", ...], "stderr": ["line", ...]}]
"""
import http.server
import json
import os
import socketserver
import struct
import sys
import threading
import time
from datetime import datetime, timezone

SOCKET, CONTAINERS = sys.argv[1], sys.argv[2]
# github.com/docker/docker@v28.5.2 api/common.go: DefaultVersion = "1.51", the API of the Docker
# Engine 28.5 the lab installs (Pulumi.citadel.yaml hosts.citadel.docker.version).
API_VERSION = "1.51"
NETWORK = {"Name": "ladon", "Id": "1adon" + "0" * 59, "Scope": "local", "Internal": False, "Ingress": False}

with open(CONTAINERS, encoding="utf-8") as f:
    LAB = json.load(f)
BY_ID = {c["id"]: c for c in LAB}


def summary(c):
    return {
        "Id": c["id"],
        "Names": ["/" + c["name"]],
        "Image": c.get("image", ""),
        "Labels": {},
        "State": "running",
        "HostConfig": {"NetworkMode": NETWORK["Name"]},
        "NetworkSettings": {
            "Networks": {NETWORK["Name"]: {"NetworkID": NETWORK["Id"], "IPAddress": c["ip"]}}
        },
        "Ports": [],
    }


def inspect(c):
    return {
        "Id": c["id"],
        "Name": "/" + c["name"],
        "State": {"Running": True, "Status": "running", "FinishedAt": "0001-01-01T00:00:00Z"},
        "Config": {"Tty": False, "Labels": {}},
        "HostConfig": {"NetworkMode": NETWORK["Name"]},
        "Mounts": [],
        "NetworkSettings": {
            "Networks": {NETWORK["Name"]: {"NetworkID": NETWORK["Id"], "IPAddress": c["ip"]}}
        },
    }


def frame(stream, line):
    ts = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    payload = f"{ts} {line}\n".encode()
    return struct.pack(">BxxxI", stream, len(payload)) + payload


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one request per connection; a log stream ends when it closes

    def _json(self, body, status=200):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _path(self):
        p = self.path.split("?", 1)[0]
        if p.startswith("/v") and "/" in p[1:]:
            p = p[p.index("/", 1):]
        return p

    def do_HEAD(self):  # noqa: N802 (http.server's naming)
        self.send_response(200)
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()

    def do_GET(self):  # noqa: N802
        p = self._path()
        if p == "/_ping":
            return self._json("OK")
        if p == "/containers/json":
            return self._json([summary(c) for c in LAB])
        if p == "/networks":
            return self._json([dict(NETWORK, Labels={})])
        parts = p.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "containers" and parts[1] in BY_ID:
            c = BY_ID[parts[1]]
            if parts[2] == "json":
                return self._json(inspect(c))
            if parts[2] == "logs":
                self.send_response(200)
                self.send_header("Api-Version", API_VERSION)
                self.send_header("Content-Type", "application/vnd.docker.multiplexed-stream")
                self.end_headers()
                for line in c.get("stdout", []):
                    self.wfile.write(frame(1, line))
                for line in c.get("stderr", []):
                    self.wfile.write(frame(2, line))
                self.wfile.flush()
                # Follow: the engine keeps the stream open while the container runs.
                time.sleep(3600)
                return None
        return self._json({"message": f"no such endpoint: {self.path}"}, 404)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


if os.path.lexists(SOCKET):
    os.unlink(SOCKET)  # the empty placeholder the host's filesystem had; ours to replace
server = Server(SOCKET, Handler)
os.chmod(SOCKET, 0o666)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    while True:
        time.sleep(3600)
except KeyboardInterrupt:
    pass
