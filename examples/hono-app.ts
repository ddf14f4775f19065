/**
 * A Hono app served by nodicorn: Hono speaks the Fetch API, fromFetchHandler turns it into a WSGI app.
 *   nodicorn examples/hono-app.ts:app
 */
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { HTTPException } from 'hono/http-exception';
import { fromFetchHandler } from '../src/adapters/fetch.js';

const hono = new Hono();

hono.get('/', (c) => c.text('Hello from Hono'));

hono.get('/users/:id{[0-9]+}', (c) => c.json({ id: Number(c.req.param('id')), q: c.req.query('q') ?? null }));

hono.post('/echo', async (c) => {
  const body = await c.req.json();
  return c.json({ received: body }, 201, { 'X-Echo': 'yes' });
});

hono.get('/login', (c) => {
  setCookie(c, 'session', 'abc123', { httpOnly: true, path: '/' });
  setCookie(c, 'theme', 'dark', { path: '/', maxAge: 3600 });
  return c.text('logged in');
});

hono.get('/whoami', (c) => c.json({ session: getCookie(c, 'session') ?? null }));

hono.get('/logout', (c) => {
  deleteCookie(c, 'session', { path: '/' });
  return c.body(null, 204);
});

hono.get('/teapot', () => {
  throw new HTTPException(418, { message: 'short and stout' });
});

// WSGI's environ reaches the handler as Hono's `c.env`.
hono.get('/mount', (c) => c.json({ scriptName: (c.env as { SCRIPT_NAME: string }).SCRIPT_NAME }));

hono.notFound((c) => c.json({ error: 'not found', path: c.req.path }, 404));

export const app = fromFetchHandler(hono.fetch);
