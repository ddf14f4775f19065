/** A valid environ, and a minimal server loop, for calling apps directly in unit tests. */
import type { Environ, HeaderList, WsgiApp } from '../../src/contract/types.js';
import { BodyReader } from '../../src/server/wsgi-input.js';

/** A valid environ for a GET of `/`; `overrides` replace keys (undefined removes one in effect). */
export function makeEnviron(overrides: Record<string, unknown> = {}, body?: Uint8Array): Environ {
  const lines: string[] = [];
  return {
    REQUEST_METHOD: 'GET',
    SCRIPT_NAME: '',
    PATH_INFO: '/',
    QUERY_STRING: '',
    SERVER_NAME: 'test.local',
    SERVER_PORT: '80',
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: '127.0.0.1',
    'wsgi.version': [1, 0],
    'wsgi.url_scheme': 'http',
    'wsgi.input': new BodyReader(
      body === undefined
        ? null
        : (async function* () {
            yield body;
          })(),
    ),
    'wsgi.errors': { write: (t) => lines.push(t), writelines: (ls) => lines.push(...ls), flush: () => {} },
    'wsgi.multithread': false,
    'wsgi.multiprocess': false,
    'wsgi.run_once': false,
    ...overrides,
  } as Environ;
}

/**
 * Calls an app like a server would: collects status, headers and body, and closes the body. Its
 * start_response re-raises exc_info once a non-empty chunk went out (PEP 3333).
 */
export async function callApp(app: WsgiApp, environ: Environ = makeEnviron()) {
  let status = '';
  let headers: HeaderList = [];
  let headersSent = false;
  const chunks: Uint8Array[] = [];
  const send = (data: Uint8Array) => {
    if (data.byteLength > 0) headersSent = true;
    chunks.push(data);
  };
  const body = await app(environ, (s, h, excInfo?) => {
    if (excInfo !== undefined && excInfo !== null && headersSent) throw excInfo;
    status = s;
    headers = h;
    return send;
  });
  try {
    if (Symbol.asyncIterator in body) for await (const c of body as AsyncIterable<Uint8Array>) send(c);
    else for (const c of body as Iterable<Uint8Array>) send(c);
  } finally {
    await body.close?.();
  }
  return { status, headers, body: Buffer.concat(chunks).toString('latin1'), raw: body };
}
