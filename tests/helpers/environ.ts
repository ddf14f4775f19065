/** A valid environ for calling apps directly in unit tests. */
import type { Environ } from '../../src/contract/types.js';
import { BodyReader } from '../../src/server/wsgi-input.js';

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

/** Calls an app like a server would: collects status, headers and body, and closes the body. */
export async function callApp(
  app: import('../../src/contract/types.js').WsgiApp,
  environ: Environ = makeEnviron(),
) {
  let status = '';
  let headers: ReadonlyArray<readonly [string, string]> = [];
  const written: Uint8Array[] = [];
  const body = await app(environ, (s, h) => {
    status = s;
    headers = h;
    return (data) => written.push(data);
  });
  const chunks = [...written];
  try {
    if (Symbol.asyncIterator in body) for await (const c of body as AsyncIterable<Uint8Array>) chunks.push(c);
    else for (const c of body as Iterable<Uint8Array>) chunks.push(c);
  } finally {
    await body.close?.();
  }
  return { status, headers, body: Buffer.concat(chunks).toString('latin1'), raw: body };
}
