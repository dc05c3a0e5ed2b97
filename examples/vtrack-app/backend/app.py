"""V_Track example backend: a standard-library HTTP API over a SQLite database in WAL mode.

Ports and paths come from the environment so that a dev and a prod copy can run on one host:
BACKEND_PORT (default 8080), VTRACK_DB (default database/events.db), VTRACK_LOG (default
logs/app.log). The database lives in a shared path, so it survives revisions.
"""

import json
import logging
import os
import signal
import sqlite3
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(os.environ.get("BACKEND_PORT", "8080"))
DB_PATH = os.environ.get("VTRACK_DB", os.path.join(HERE, "database", "events.db"))
LOG_PATH = os.environ.get("VTRACK_LOG", os.path.join(HERE, "logs", "app.log"))
CONFIG_PATH = os.path.join(HERE, "..", "config.json")
VERSION_PATH = os.path.join(HERE, "..", "VERSION")

os.makedirs(os.path.dirname(LOG_PATH), exist_ok=True)
logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(message)s",
    handlers=[logging.FileHandler(LOG_PATH), logging.StreamHandler(sys.stdout)],
)
log = logging.getLogger("vtrack")


def read_version():
    try:
        with open(VERSION_PATH) as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def connect():
    conn = sqlite3.connect(DB_PATH, timeout=10)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


def migrate():
    """Creates the schema and seeds it from config.json on first start."""
    os.makedirs(os.path.dirname(DB_PATH), exist_ok=True)
    with open(CONFIG_PATH) as f:
        config = json.load(f)
    conn = connect()
    with conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS video_sources ("
            " id INTEGER PRIMARY KEY, name TEXT NOT NULL, url TEXT NOT NULL, active INTEGER NOT NULL DEFAULT 1)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS processing_config ("
            " id INTEGER PRIMARY KEY, selected_cameras TEXT NOT NULL, fps INTEGER NOT NULL)"
        )
        conn.execute(
            "CREATE TABLE IF NOT EXISTS events ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, camera_id INTEGER, kind TEXT, at REAL)"
        )
        # Cameras new in config.json are added; existing rows (maybe edited by users) are kept.
        for cam in config["cameras"]:
            conn.execute(
                "INSERT OR IGNORE INTO video_sources(id, name, url) VALUES (?, ?, ?)",
                (cam["id"], cam["name"], cam["url"]),
            )
        if conn.execute("SELECT COUNT(*) FROM processing_config").fetchone()[0] == 0:
            selected = [c["id"] for c in config["cameras"] if c.get("selected")]
            conn.execute(
                "INSERT INTO processing_config(id, selected_cameras, fps) VALUES (1, ?, ?)",
                (json.dumps(selected), config.get("fps", 5)),
            )
    conn.close()


def record_events(stop):
    """Keeps writing, as the real app does while cameras report: backups must cope with it."""
    conn = connect()
    while not stop.is_set():
        with conn:
            conn.execute("INSERT INTO events(camera_id, kind, at) VALUES (1, 'heartbeat', ?)", (time.time(),))
        stop.wait(0.5)
    conn.close()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        try:
            conn = connect()
            try:
                self.route(conn)
            finally:
                conn.close()
        except Exception as e:  # the API answers, and the log says why
            log.error("request %s failed: %s", self.path, e)
            self.send_json(500, {"success": False, "error": str(e)})

    def route(self, conn):
        path = self.path.split("?")[0]
        if path == "/api/health":
            self.send_json(200, {"status": "ok", "version": read_version(),
                                 "commit": os.environ.get("VTRACK_COMMIT", "")})
        elif path == "/api/config/get-sources":
            rows = conn.execute("SELECT id, name, url, active FROM video_sources ORDER BY id").fetchall()
            data = [{"id": r[0], "name": r[1], "url": r[2], "active": bool(r[3])} for r in rows]
            self.send_json(200, {"success": True, "data": data})
        elif path == "/api/config/get-processing-cameras":
            row = conn.execute("SELECT selected_cameras FROM processing_config WHERE id = 1").fetchone()
            selected = json.loads(row[0]) if row else []
            self.send_json(200, {"selected_cameras": selected, "count": len(selected)})
        elif path == "/api/config/camera-status":
            row = conn.execute("SELECT id, selected_cameras, fps FROM processing_config WHERE id = 1").fetchone()
            events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
            config = {"id": row[0], "selected_cameras": json.loads(row[1]), "fps": row[2]} if row else None
            self.send_json(200, {"processing_config": config, "events": events})
        else:
            self.send_json(404, {"success": False, "error": "not found: " + path})


class Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a handful of clients connecting at once (users,
    # health checks, a smoke test) overflow it, and the kernel drops their SYNs, retried only
    # 1 s and 3 s later.
    request_queue_size = 128


def main():
    migrate()
    stop = threading.Event()
    writer = threading.Thread(target=record_events, args=(stop,), daemon=True)
    writer.start()
    server = Server(("127.0.0.1", PORT), Handler)

    def shutdown(signum, frame):
        log.info("signal %s: shutting down", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    log.info("backend %s listening on 127.0.0.1:%d (db %s)", read_version(), PORT, DB_PATH)
    # shutdown() waits for the loop to look at its flag: a short poll stops the server within
    # ~50 ms of SIGTERM instead of the default 0.5 s.
    server.serve_forever(poll_interval=0.05)
    writer.join(timeout=2)


if __name__ == "__main__":
    main()
