"""Blue-green against recreate on the example app, and the switch proxy against a direct connection,
haproxy and nginx (see switch.sh)."""

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from benchlib import ROOT, Bench, free_port, save_results, sh
from failure_modes import MODES

GOOD = ("good upgrade", [("VERSION", "1.0.0", "2.0.0")])


class User:
    """Asks the public frontend address every 20 ms and counts what did not answer 200."""

    def __init__(self, port):
        self.ok, self.failed, self.stop = 0, 0, False
        self.url = f"http://127.0.0.1:{port}/api/config/get-sources"
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop:
            t0 = time.time()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        self.ok += 1
                    else:
                        self.failed += 1
            except Exception:
                self.failed += 1
            time.sleep(max(0, 0.02 - (time.time() - t0)))

    def mark(self):
        return self.ok, self.failed


def scenarios(strategy):
    b = Bench(strategy=strategy)
    results = []
    try:
        v1 = sh("git", "rev-parse", "HEAD", cwd=b.app)
        b.wait("Healthy", v1)
        user = User(b.frontend)
        time.sleep(1)
        for name, edits in [GOOD] + MODES:
            def edit():
                sh("git", "checkout", "-q", v1, "--", ".", cwd=b.app)
                for path, old, new in edits:
                    p = os.path.join(b.app, path)
                    with open(p) as f:
                        text = f.read()
                    assert old in text, (name, old)
                    with open(p, "w") as f:
                        f.write(text.replace(old, new, 1))
            ok0, failed0 = user.mark()
            sha, sent = b.push(edit, name)
            want = ("Healthy",) if name == "good upgrade" else ("RolledBack", "Failed")
            deadline = time.time() + 180
            while time.time() < deadline:
                st = b.status()
                last = st.get("lastRollout", {})
                if last.get("to") == sha and st.get("phase") in want and last.get("result"):
                    break
                time.sleep(0.05)
            else:
                raise SystemExit(f"{strategy} {name}: not over within 180 s: {st}")
            done = time.time()
            time.sleep(1.5)  # the user keeps asking: what follows the end counts too
            ok1, failed1 = user.mark()
            results.append({
                "strategy": strategy, "scenario": name, "phase": st.get("phase"),
                "reason": last.get("reason"),
                "push to over ms": round((done - sent) * 1000),
                "requests": ok1 - ok0 + failed1 - failed0, "failed": failed1 - failed0,
            })
            print(f"  {strategy:9s} {name:26s} {st.get('phase'):11s} {str(last.get('reason')):14s}"
                  f" {results[-1]['push to over ms']:7d} ms  {failed1 - failed0:4d} failed of "
                  f"{results[-1]['requests']}", flush=True)
            # Back to v1 for the next scenario.
            if name == "good upgrade":
                sha_back, _ = b.push(lambda: sh("git", "checkout", "-q", v1, "--", ".", cwd=b.app), "back to v1")
                b.wait("Healthy", sha_back)
                v1 = sha_back
        user.stop = True
    finally:
        b.stop()
    return results


def wrk(url, conns, secs=8):
    out = subprocess.run(["wrk", "-t", "1" if conns == 1 else "2", "-c", str(conns), "-d", f"{secs}s",
                          "--latency", url], capture_output=True, text=True, check=True).stdout

    def ms(label):
        m = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out)
        v, unit = float(m.group(1)), m.group(2)
        return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {"p50 ms": ms("50"), "p99 ms": ms("99"), "rps": rps}


def warm_up(url, conns):
    """Load until two 3 s runs in a row agree within 5 % (at most 30 s): the JIT and the pools are
    warm, so each path is measured as it serves for weeks, not in its first seconds."""
    last = wrk(url, conns, 3)["rps"]
    for _ in range(9):
        rps = wrk(url, conns, 3)["rps"]
        if abs(rps - last) <= 0.05 * max(rps, last):
            return
        last = rps


UPSTREAMS = {
    # Costs nothing per request: what is left is the proxy's own cost.
    "trivial node server": lambda port, work: (["node", "-e", f"""
require('http').createServer((q, s) => {{ s.writeHead(200, {{'Content-Type': 'text/plain'}}); s.end('ok'); }})
  .listen({port}, '127.0.0.1');"""], {}, "/"),
    # The example backend (Python, a SQLite query per request): what the proxy fronts in practice.
    "example backend": lambda port, work: (
        ["python3", os.path.join(ROOT, "examples", "vtrack-app", "backend", "app.py")],
        {"BACKEND_PORT": str(port), "VTRACK_DB": os.path.join(work, "events.db"),
         "VTRACK_LOG": os.path.join(work, "app.log")},
        "/api/config/get-sources"),
}


def proxies(upstream_name):
    work = tempfile.mkdtemp(prefix="vtrack-proxybench.")
    upstream = free_port()
    argv, env, path = UPSTREAMS[upstream_name](upstream, work)
    app = subprocess.Popen(argv, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    procs = [app]
    ports = {"direct": upstream}
    try:
        # vtrack proxy
        state = os.path.join(work, "state")
        os.makedirs(os.path.join(state, "proxy"))
        with open(os.path.join(state, "api-token"), "w") as f:
            f.write("bench")
        vt = free_port()
        with open(os.path.join(state, "proxy", "routes.json"), "w") as f:
            json.dump({"version": 1, "routes": [{"listen": f"127.0.0.1:{vt}", "deployment": "bench",
                                                   "service": "web", "upstream": f"127.0.0.1:{upstream}",
                                                   "instance": "blue", "drainMillis": 0}]}, f)
        procs.append(subprocess.Popen([os.path.join(ROOT, "bin", "vtrack"), "proxy", "--state-dir", state],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports["vtrack proxy"] = vt
        # haproxy
        hp = free_port()
        with open(os.path.join(work, "haproxy.cfg"), "w") as f:
            f.write(f"""global
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend f
  bind 127.0.0.1:{hp}
  default_backend b
backend b
  server s 127.0.0.1:{upstream}
""")
        procs.append(subprocess.Popen(["haproxy", "-f", os.path.join(work, "haproxy.cfg")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports["haproxy"] = hp
        # nginx
        ng = free_port()
        with open(os.path.join(work, "nginx.conf"), "w") as f:
            f.write(f"""daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  upstream u {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{ng};
    location / {{ proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
        procs.append(subprocess.Popen(["nginx", "-c", os.path.join(work, "nginx.conf"), "-p", work],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        ports["nginx"] = ng
        for name, port in ports.items():
            deadline = time.time() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2).read()
                    break
                except Exception:
                    if time.time() > deadline:
                        raise SystemExit(f"{name} does not answer on {port}")
                    time.sleep(0.2)
        out = []
        for conns in (1, 32):
            for name, port in ports.items():
                warm_up(f"http://127.0.0.1:{port}{path}", conns)
            for name, port in ports.items():
                r = wrk(f"http://127.0.0.1:{port}{path}", conns)
                r.update({"upstream": upstream_name, "path": name, "connections": conns})
                out.append(r)
                print(f"  c={conns:2d} {name:13s} p50 {r['p50 ms']:7.3f} ms  p99 {r['p99 ms']:7.3f} ms"
                      f"  {r['rps']:9.0f} req/s", flush=True)
        return out
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else ""
    results = {}
    if only != "--proxy-only":
        print("\npush -> old revision serving again, and a user's failed requests (polling every 20 ms)")
        results["scenarios"] = scenarios("recreate") + scenarios("blue-green")
    if only != "--scenarios-only":
        results["proxy"] = []
        for upstream in UPSTREAMS:
            print(f"\nthe switch proxy against a direct connection, haproxy and nginx (wrk, 8 s each once warm),"
                  f" in front of the {upstream}")
            results["proxy"] += proxies(upstream)
    save_results("switch", results)


if __name__ == "__main__":
    main()
