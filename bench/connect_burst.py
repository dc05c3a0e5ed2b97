"""Bursts of new connections against the example backend, backlog 128 against 5 (see connect-burst.sh)."""

import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from benchlib import ROOT, free_port

BACKEND = os.path.join(ROOT, "examples", "vtrack-app", "backend")


def start(work, backlog):
    port = free_port()
    # The app itself; only its Server's backlog is set when one is given.
    code = ("import sys; sys.path.insert(0, %r); import app\n" % BACKEND
            + ("app.Server.request_queue_size = %d\n" % backlog if backlog else "")
            + "app.main()")
    env = {**os.environ, "BACKEND_PORT": str(port), "VTRACK_DB": os.path.join(work, f"{port}.db"),
           "VTRACK_LOG": os.path.join(work, f"{port}.log")}
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the example backend did not listen")


def burst(port, n):
    times = []

    def one():
        t0 = time.time()
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(b"GET /api/config/get-sources HTTP/1.1\r\nHost: bench\r\n\r\n")
            while s.recv(65536):
                pass
        times.append(time.time() - t0)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return max(times)


def main():
    bursts = int(sys.argv[1])
    work = tempfile.mkdtemp(prefix="vtrack-burst.")
    servers = {"backlog 128 (as shipped)": start(work, None), "backlog 5 (http.server)": start(work, 5)}
    try:
        print(f"the slowest answer of each burst of new connections, {bursts} bursts per size")
        for n in (5, 10, 20):
            for name, (_, port) in servers.items():
                worst = [burst(port, n) for _ in range(bursts)]
                print(f"  {n:2d} at once  {name:26s} median {statistics.median(worst) * 1000:7.1f} ms"
                      f"  max {max(worst) * 1000:7.1f} ms  bursts over 0.9 s: {sum(w > 0.9 for w in worst)}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
