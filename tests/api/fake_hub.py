#!/usr/bin/env python3
"""A local HTTP server laid out like the Hugging Face hub, for `sskai models pull` tests.

  GET /api/models/{repo}/revision/{rev}[?blobs=true] -> {"id","sha","siblings":[{"rfilename","size","lfs"?}]}
  GET /{repo}/resolve/{rev}/{file}  -> *.safetensors: 302 to http://localhost:PORT/cdn/{repo}/{file}
                                       (another origin) with X-Linked-Etag
                                       (sha256) and X-Linked-Size; other files: 200, ETag = git blob sha1
  GET /cdn/{repo}/{file}            -> the bytes (Range supported)

Usage: fake_hub.py CONFIG.json PORT_FILE [CERT.pem KEY.pem]. With a certificate the hub (and its
  CDN) speak HTTPS, and the redirect goes to https://localhost:PORT. CONFIG: {"repos": {"org/name": {"dir": "...",
  "gated": false, "drop": {"file": N}, "bad_sha": ["file"]}}, "token": "secret"}
  drop: N or [K, N]: after K good CDN answers for that file, the next N send half the
  requested bytes, then close the connection.
  bad_sha: the CDN serves those files with a corrupted first byte.
The server writes its port to PORT_FILE and logs requests (path, range, authorization) as JSON
lines to PORT_FILE + ".log".
"""
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading

CONFIG = json.load(open(sys.argv[1]))
PORT_FILE = sys.argv[2]
TLS = len(sys.argv) >= 5
LOCK = threading.Lock()
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def git_sha1(path):
    data = open(path, "rb").read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def handle(self):
        if TLS:
            try:
                self.connection.do_handshake()
            except (ssl.SSLError, OSError):
                return  # e.g. the client rejected the certificate
        super().handle()

    def record(self):
        with LOCK, open(PORT_FILE + ".log", "a") as log:
            log.write(json.dumps({"path": self.path, "range": self.headers.get("Range", ""),
                                  "auth": self.headers.get("Authorization", "")}) + "\n")

    def send(self, code, body=b"", headers=None, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def repo_of(self, parts):
        # repo ids have one slash: parts[0]/parts[1]
        name = parts[0] + "/" + parts[1]
        return name, CONFIG["repos"].get(name)

    def authorized(self, repo):
        if not repo.get("gated"):
            return True
        return self.headers.get("Authorization", "") == "Bearer " + CONFIG.get("token", "")

    def do_GET(self):
        self.record()
        path = self.path.split("?")[0]
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 6 and parts[0] == "api" and parts[1] == "models" and parts[4] == "revision":
            name, repo = self.repo_of(parts[2:4])
            if repo is None:
                return self.send(404, b'{"error":"Repository not found"}')
            if not self.authorized(repo):
                return self.send(401, b'{"error":"Access to model is restricted"}')
            siblings = []
            for f in sorted(os.listdir(repo["dir"])):
                p = os.path.join(repo["dir"], f)
                s = {"rfilename": f, "size": os.path.getsize(p)}
                if f.endswith(".safetensors"):
                    s["lfs"] = {"sha256": sha256_file(p), "size": os.path.getsize(p)}
                siblings.append(s)
            siblings.append({"rfilename": "original/consolidated.pth", "size": 1})
            return self.send(200, json.dumps({"id": name, "sha": COMMIT, "siblings": siblings}).encode())
        if len(parts) >= 5 and parts[2] == "resolve":
            name, repo = self.repo_of(parts[0:2])
            if repo is None:
                return self.send(404, b'{"error":"Repository not found"}')
            if not self.authorized(repo):
                return self.send(401, b'{"error":"Access to model is restricted"}')
            fname = "/".join(parts[4:])
            p = os.path.join(repo["dir"], fname)
            if not os.path.isfile(p):
                return self.send(404, b'{"error":"Entry not found"}')
            if fname.endswith(".safetensors"):
                sha = sha256_file(p)
                # Like the real hub, the CDN is another origin (localhost vs 127.0.0.1 here).
                cdn = "%s://localhost:%d" % ("https" if TLS else "http", self.server.server_address[1])
                return self.send(302, b"", {"Location": cdn + "/cdn/" + name + "/" + fname,
                                            "X-Linked-Etag": '"' + sha + '"',
                                            "X-Linked-Size": str(os.path.getsize(p)),
                                            "ETag": '"' + git_sha1(p) + '"'})
            return self.serve_file(p, {"ETag": '"' + git_sha1(p) + '"'}, repo, fname)
        if len(parts) >= 4 and parts[0] == "cdn":
            name, repo = self.repo_of(parts[1:3])
            fname = "/".join(parts[3:])
            p = os.path.join(repo["dir"], fname)
            return self.serve_file(p, {}, repo, fname)
        return self.send(404, b'{"error":"no route"}')

    def serve_file(self, p, headers, repo, fname):
        data = open(p, "rb").read()
        if fname in repo.get("bad_sha", []):  # the CDN serves corrupted bytes
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start, end = 0, len(data) - 1
        code = 200
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            a, _, b = rng[6:].partition("-")
            start = int(a)
            end = min(int(b), len(data) - 1) if b else len(data) - 1
            if start >= len(data):
                return self.send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            code = 206
            headers = dict(headers, **{"Content-Range": "bytes %d-%d/%d" % (start, end, len(data))})
        body = data[start:end + 1]
        with LOCK:
            drops = repo.setdefault("drop", {})
            rule = drops.get(fname, 0)
            if isinstance(rule, int):
                rule = [0, rule]
            skip, count = rule
            dropping = skip == 0 and count > 0
            if skip > 0:
                drops[fname] = [skip - 1, count]
            elif count > 0:
                drops[fname] = [0, count - 1]
        if dropping:
            self.send_response(code)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.send(code, body, headers, "application/octet-stream")


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if TLS:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    # Handshakes happen in the handler threads (a client that rejects the certificate fails there).
    server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
server.serve_forever()
