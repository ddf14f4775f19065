/**
 * An Express server with a Flask app mounted under /py: Express answers its own routes, nodicorn's worker
 * pool runs Flask for everything below /py (Flask sees SCRIPT_NAME=/py).
 *   npm run build && node dist/examples/express-with-flask.js
 * PORT (default 3000) and NODICORN_PYTHON (an interpreter with Flask, e.g. /usr/bin/python3) are read from
 * the environment.
 */
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import express from 'express';
import { pythonWsgi } from '../src/adapters/node.js';

// examples/, whether this runs as examples/express-with-flask.ts (tsx) or compiled in dist/examples.
const here = fileURLToPath(new URL('.', import.meta.url));
const examplesDir = here.endsWith('/dist/examples/') ? `${here}../../examples` : here;

const flask = pythonWsgi({
  app: 'flask_hello:app',
  chdir: examplesDir,
  python: process.env.NODICORN_PYTHON ?? '',
  workers: 2,
});

const app = express();
app.get('/', (_req, res) => {
  res.type('text/plain').send('Hello from Express; Flask is under /py\n');
});
app.use('/py', flask);

// Workers boot before the server takes requests, so a broken app stops the start rather than a request.
await flask.ready();
const server = app.listen(Number(process.env.PORT ?? 3000), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`Listening at: http://127.0.0.1:${port} (Flask workers: ${flask.workerPids.join(', ')})`);
});

// Stop the workers with the server: nothing is left running once this process exits.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeIdleConnections();
    void flask.close().then(() => process.exit(0));
  });
}
