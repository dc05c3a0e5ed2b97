"""Start → first answer through a new switch proxy, with and without its class-data archive (see
proxy-start.sh)."""

import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from benchlib import ROOT, free_port, save_results

JAR = os.path.join(ROOT, "agent", "target", "vtrack-agent.jar")
ARCHIVE = os.path.join(ROOT, "agent", "target", "vtrack-proxy.jsa")


def once(state, public, archive):
    """Seconds from the proxy's exec to a 200 from the app through its public address."""
    opts = ["-XX:+UseSerialGC", "-Xss512k"]
    if archive:
        opts += [f"-XX:SharedArchiveFile={ARCHIVE}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    t0 = time.time()
    proxy = subprocess.Popen(["java", *opts, "-cp", JAR, "io.vtrack.agent.cli.VtrackCli", "proxy",
                              "--state-dir", state], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{public}/", timeout=2) as r:
                    if r.status == 200:
                        return time.time() - t0
            except Exception:
                if proxy.poll() is not None:
                    raise SystemExit("the proxy exited")
                time.sleep(0.005)
    finally:
        proxy.send_signal(signal.SIGTERM)
        proxy.wait(timeout=30)


def main():
    runs = int(sys.argv[1])
    work = tempfile.mkdtemp(prefix="vtrack-proxystart.")
    upstream, public = free_port(), free_port()
    app = subprocess.Popen(["python3", "-m", "http.server", str(upstream), "--bind", "127.0.0.1"],
                           cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = os.path.join(work, "state")
        os.makedirs(os.path.join(state, "proxy"))
        with open(os.path.join(state, "api-token"), "w") as f:
            f.write("bench")
        with open(os.path.join(state, "proxy", "routes.json"), "w") as f:
            json.dump({"version": 1, "routes": [{"listen": f"127.0.0.1:{public}", "deployment": "bench",
                                                   "service": "web", "upstream": f"127.0.0.1:{upstream}",
                                                   "instance": "blue", "drainMillis": 0}]}, f)
        without, with_ = [], []
        for _ in range(runs):
            without.append(once(state, public, False))
            with_.append(once(state, public, True))
        print(f"start -> first answer through the proxy ({runs} runs each, alternating; ms)")
        for name, xs in (("without archive", without), ("with archive", with_)):
            ms = sorted(x * 1000 for x in xs)
            print(f"  {name:16s} min {ms[0]:6.0f}  median {statistics.median(ms):6.0f}  max {ms[-1]:6.0f}")
        save_results("proxy-start", {"without": without, "with": with_})
    finally:
        app.terminate()
        app.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
