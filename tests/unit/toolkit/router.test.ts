/** The router, responses and HTTP errors, through the test client. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from '../../../src/testing/client.js';
import { NotFound } from '../../../src/toolkit/http-errors.js';
import { compose } from '../../../src/toolkit/middleware.js';
import { mount } from '../../../src/toolkit/mount.js';
import { ROUTE_PARAMS } from '../../../src/toolkit/request.js';
import { Response } from '../../../src/toolkit/response.js';
import { Router } from '../../../src/toolkit/router.js';

const router = new Router()
  .get('/items/:id', (req) => Response.json({ id: req.environ[ROUTE_PARAMS] }))
  .post('/items', async (req) => Response.json(await req.json(), { status: 201 }))
  .get('/missing', () => {
    throw new NotFound('no such thing');
  })
  .get('/cookie', () =>
    new Response('set').setCookie('session', 'a b', { httpOnly: true }).setCookie('x', '1'),
  );

test('parameters, JSON in and out, 201', async () => {
  const got = await request(router, { path: '/items/42' });
  assert.equal(got.statusCode, 200);
  assert.deepEqual(got.json(), { id: { id: '42' } });
  const made = await request(router, { path: '/items', json: { name: 'n' } });
  assert.equal(made.status, '201 Created');
  assert.deepEqual(made.json(), { name: 'n' });
});

test('404 for no route, 405 with Allow for a wrong method, OPTIONS answered, HEAD served by GET', async () => {
  assert.equal((await request(router, { path: '/nope' })).statusCode, 404);
  const wrong = await request(router, { path: '/items', method: 'GET' });
  assert.equal(wrong.statusCode, 405);
  assert.equal(wrong.header('Allow'), 'OPTIONS, POST');
  const options = await request(router, { path: '/items/1', method: 'OPTIONS' });
  assert.equal(options.statusCode, 204);
  assert.equal(options.header('Allow'), 'GET, HEAD, OPTIONS');
  const head = await request(router, { path: '/items/1', method: 'HEAD' });
  assert.equal(head.statusCode, 200);
  assert.equal(head.body.length, 0);
  const thrown = await request(router, { path: '/missing' });
  assert.equal(thrown.statusCode, 404);
  assert.match(thrown.text(), /no such thing/);
});

test('several Set-Cookie headers, values encoded', async () => {
  const res = await request(router, { path: '/cookie' });
  assert.deepEqual(res.headerAll('Set-Cookie'), ['session=a%20b; HttpOnly', 'x=1']);
});

test('mount moves the prefix from PATH_INFO to SCRIPT_NAME; compose applies middleware in order', async () => {
  const seen = new Router().get('/*rest', (req) => Response.json({ script: req.scriptName, path: req.path }));
  const tag =
    (name: string) =>
    (app: Parameters<ReturnType<typeof mount>>[0]): typeof app =>
    (environ, startResponse) => {
      environ['x.order'] = `${(environ['x.order'] as string | undefined) ?? ''}${name}`;
      return app(environ, startResponse);
    };
  const app = compose(tag('a'), tag('b'), mount({ '/admin': seen }))(new NotFound());
  const res = await request(app, { path: '/admin/users/1' });
  assert.deepEqual(res.json(), { script: '/admin', path: '/users/1' });
  assert.equal((await request(app, { path: '/administrator' })).statusCode, 404);
  let order = '';
  await request(
    compose(
      tag('a'),
      tag('b'),
    )((environ, startResponse) => {
      order = environ['x.order'] as string;
      startResponse('204 No Content', []);
      return [];
    }),
  );
  assert.equal(order, 'ab');
});
