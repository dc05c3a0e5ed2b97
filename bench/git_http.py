"""A git smart-HTTP server for the benchmarks, fetch only: GET <repo>/info/refs?service=git-upload-pack
and POST <repo>/git-upload-pack, answered by `git upload-pack --stateless-rpc` on <root>/<repo>.
Usage: python3 git_http.py PORT ROOT"""

import gzip
import subprocess
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GitHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def repo(self):
        return sys.argv[2] + "/" + self.path.split("/")[1]

    def answer(self, content_type, body):
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if "/info/refs?service=git-upload-pack" not in self.path:
            self.send_error(404)
            return
        refs = subprocess.run(["git", "upload-pack", "--stateless-rpc", "--advertise-refs", self.repo()],
                              capture_output=True).stdout
        self.answer("application/x-git-upload-pack-advertisement", b"001e# service=git-upload-pack\n0000" + refs)

    def do_POST(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        out = subprocess.run(["git", "upload-pack", "--stateless-rpc", self.repo()], input=body,
                             capture_output=True).stdout
        self.answer("application/x-git-upload-pack-result", out)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), GitHandler).serve_forever()
