// V_Track example frontend: a node standard-library server for the dashboard page, proxying
// /api/ to the backend. FRONTEND_PORT (default 3000) and BACKEND_PORT (default 8080).
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');

const port = Number(process.env.FRONTEND_PORT || 3000);
const backendPort = Number(process.env.BACKEND_PORT || 8080);
const page = fs.readFileSync(path.join(__dirname, 'index.html'));

// Once SIGTERM came, every answer closes its connection: a client that keeps a keep-alive
// connection busy would otherwise be served on it (by a frontend whose backend may be gone) and
// hold the process up until the timeout below.
let stopping = false;
function head(res, status, headers) {
  res.writeHead(status, stopping ? { ...headers, connection: 'close' } : headers);
}

const server = http.createServer((req, res) => {
  if (req.url.startsWith('/api/')) {
    const upstream = http.request(
      { host: '127.0.0.1', port: backendPort, path: req.url, method: req.method, headers: req.headers },
      (r) => {
        head(res, r.statusCode, r.headers);
        r.pipe(res);
      });
    upstream.on('error', (e) => {
      head(res, 502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ success: false, error: 'backend unreachable: ' + e.message }));
    });
    req.pipe(upstream);
    return;
  }
  if (req.url === '/' || req.url === '/index.html') {
    head(res, 200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(page);
    return;
  }
  head(res, 404, { 'Content-Type': 'text/plain' });
  res.end('not found');
});

server.listen(port, '127.0.0.1', () => console.log(`frontend listening on 127.0.0.1:${port}`));
process.on('SIGTERM', () => {
  // Stop accepting, drop idle keep-alive connections (node 18 keeps them), close busy ones after
  // their answer, exit when done.
  stopping = true;
  server.close(() => process.exit(0));
  if (server.closeIdleConnections) server.closeIdleConnections();
  setTimeout(() => process.exit(0), 3000).unref();
});
