/**
 * A small TypeScript WSGI app built with the toolkit: a router with parameters and JSON, static files
 * under /static, gzip for clients that accept it.   nodicorn examples/toolkit-app.ts:app
 */
import { fileURLToPath } from 'node:url';
import { gzip } from '../src/toolkit/gzip.js';
import { serveHttpErrors } from '../src/toolkit/http-errors.js';
import { compose } from '../src/toolkit/middleware.js';
import { mount } from '../src/toolkit/mount.js';
import { Response } from '../src/toolkit/response.js';
import { Router } from '../src/toolkit/router.js';
import { staticApp } from '../src/toolkit/static.js';

// examples/static, whether this runs as examples/toolkit-app.ts (tsx) or compiled in dist/examples.
const here = fileURLToPath(new URL('.', import.meta.url));
const staticDir = here.endsWith('/dist/examples/') ? `${here}../../examples/static` : `${here}static`;

const api = new Router()
  .get('/hello/:name', (req) => Response.json({ hello: req.environ['nodicorn.route_params'] }))
  .post('/echo', async (req) => Response.json({ got: await req.json() }))
  .get('/cookie', (req) =>
    new Response(`you sent ${JSON.stringify(req.cookies)}`).setCookie('seen', '1', { httpOnly: true }),
  );

export const app = compose(
  gzip(),
  serveHttpErrors,
  mount({ '/api': api, '/static': staticApp(staticDir) }),
)((_environ, startResponse) => {
  startResponse('302 Found', [['Location', '/static/']]);
  return [];
});
