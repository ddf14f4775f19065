/**
 * The ceiling: a bare node:http server answering the same bytes as nodicorn serving examples/hello.ts
 * (status line, Content-Type, Content-Length and body; node:http adds Date and the keep-alive headers to
 * both). Usage: node dist/bench/apps/bare-hello.js PORT   (listens on 127.0.0.1)
 */
import http from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bare-hello.js PORT');
  process.exit(2);
}
// Exit normally on SIGTERM, so that `node --cpu-prof` writes its profile like nodicorn's does.
process.once('SIGTERM', () => process.exit(0));
http
  .createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '18' });
    res.end('Hello, WSGI World!');
  })
  .listen(port, '127.0.0.1', () => {
    console.error(`bare node:http listening at http://127.0.0.1:${port}`);
  });
