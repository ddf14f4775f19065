/**
 * The ceiling: a bare node:http server answering every bench path with the bytes the WSGI apps answer
 * (examples/hello.py, bench/apps/payloads.py, the JSON routes), with nothing in between. node:http adds
 * Date and the keep-alive headers, as it does for nodicorn.
 *   node dist/bench/apps/bare-node.js PORT   (listens on 127.0.0.1)
 */
import http from 'node:http';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
  console.error('usage: bare-node.js PORT');
  process.exit(2);
}
// Exit normally on SIGTERM, so that `node --cpu-prof` writes its profile like nodicorn's does.
process.once('SIGTERM', () => process.exit(0));

const tenKib = Buffer.alloc(10240, 'x');
const streamChunk = Buffer.alloc(16384, 'y');
const json = Buffer.from('{"message": "Hello, WSGI World!", "items": [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]}');

function stream(res: http.ServerResponse, left: number): void {
  while (left > 0) {
    left--;
    if (!res.write(streamChunk)) {
      res.once('drain', () => stream(res, left));
      return;
    }
  }
  res.end();
}

http
  .createServer((req, res) => {
    switch (req.url) {
      case '/':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '18' });
        res.end('Hello, WSGI World!');
        return;
      case '/10k':
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '10240' });
        res.end(tenKib);
        return;
      case '/json':
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': json.length });
        res.end(json);
        return;
      case '/stream':
        res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
        stream(res, 64);
        return;
      case '/upload': {
        let received = 0;
        req.on('data', (chunk: Buffer) => {
          received += chunk.length;
        });
        req.on('end', () => {
          const body = `received ${received}`;
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length });
          res.end(body);
        });
        return;
      }
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain', 'Content-Length': '10' });
        res.end('not found\n');
    }
  })
  .listen(port, '127.0.0.1', () => {
    console.error(`bare node:http listening at http://127.0.0.1:${port}`);
  });
