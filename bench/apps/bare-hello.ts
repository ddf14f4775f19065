/** The ceiling: a bare node:http server answering the same bytes as the hello apps. */
import http from 'node:http';

const body = Buffer.from('Hello, WSGI World!');
const port = Number(process.argv[2]);
http
  .createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': String(body.length) });
    res.end(body);
  })
  .listen(port, '127.0.0.1');
