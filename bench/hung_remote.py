"""A power cut, then the agent started again: once while the app's git host answers, once while it
hangs (accepts connections and never answers, as a host behind a network that drops packets), side
by side in each round. Measures the time from the start to the public address serving again and to
Healthy (see hung-remote.sh)."""

import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import ROOT, Bench, answers, free_port, report, save_results, sh
from power_loss import power_off


class Silent:
    """Accepts every connection on the port and never says a word, until closed."""

    def __init__(self, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(50)
        self.held = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        try:
            while True:
                self.held.append(self.sock.accept()[0])
        except OSError:
            pass

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def git_server(port, root):
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "git_http.py"), str(port), root])
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the git server did not start")


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    port = free_port()
    served = tempfile.mkdtemp(prefix="vtrack-bench-git.")
    url = f"http://127.0.0.1:{port}/app.git"
    server = git_server(port, served)
    b = Bench(doc_filter=lambda doc: re.sub(r"repoURL: file://\S+", "repoURL: " + url, doc))
    os.symlink(b.app, os.path.join(served, "app.git"))
    runs = {"git host answers": [], "git host hangs": []}
    try:
        head = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", head)
        for i in range(rounds):
            for mode in runs:
                power_off(b)
                silent = None
                if mode == "git host hangs":
                    server.terminate()
                    server.wait()
                    silent = Silent(port)
                t0 = time.time()
                b.restart()
                while not answers(b):
                    if time.time() - t0 > 180:
                        raise SystemExit(f"{mode}: the public address does not serve after 180 s")
                    time.sleep(0.05)
                t1 = time.time()
                b.wait("Healthy", head)
                t2 = time.time()
                runs[mode].append({"start to public address 200": t1 - t0, "start to Healthy": t2 - t0})
                print(f"  round {i + 1} {mode:17s} serving after {t1 - t0:5.1f} s, Healthy after {t2 - t0:5.1f} s",
                      flush=True)
                if silent:
                    silent.close()
                    server = git_server(port, served)
    finally:
        b.stop()
        server.terminate()
    for mode, r in runs.items():
        report(f"after a power cut, {mode} (gitTimeout 30 s)", r)
    save_results("hung-remote", runs)


if __name__ == "__main__":
    main()
