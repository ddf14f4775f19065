/**
 * Calling a WSGI app without a server (Werkzeug's test client): an environ built from a few options,
 * the app run under the validator (the counterpart of wsgiref.validate) by default, and its answer
 * collected — status, headers and the whole body — with `close()` called, as a server must.
 */
import type { Bytes, Environ, HeaderList, ResponseBody, Status, WsgiApp } from '../contract/types.js';
import { validator } from '../contract/validator.js';
import { fileWrapper } from '../server/file-wrapper.js';
import { BodyReader } from '../server/wsgi-input.js';

export interface RequestOptions {
  readonly method?: string;
  /** The path, with an optional `?query`; percent-encoded as on the wire. Default `/`. */
  readonly path?: string;
  /** Query parameters added to the path's own. */
  readonly query?: Readonly<Record<string, string>> | URLSearchParams;
  readonly headers?: Readonly<Record<string, string>>;
  /** The request body: bytes, text (UTF-8), or a value sent as JSON. */
  readonly body?: Bytes | string;
  readonly json?: unknown;
  /** The mount point the app sees as SCRIPT_NAME. */
  readonly scriptName?: string;
  readonly scheme?: 'http' | 'https';
  readonly host?: string;
  readonly remoteAddr?: string;
  /** Extra environ keys (middleware additions, `nodicorn.*`). */
  readonly environ?: Readonly<Record<string, unknown>>;
  /** Run the app under the validator (default true): any contract violation throws. */
  readonly validate?: boolean;
}

export interface TestResponse {
  readonly status: Status;
  readonly statusCode: number;
  readonly headers: HeaderList;
  readonly body: Buffer;
  /** The first value of a header, case-insensitively; null when absent. */
  header(name: string): string | null;
  /** Every value of a header (Set-Cookie), in order. */
  headerAll(name: string): string[];
  text(): string;
  json(): unknown;
}

/** Percent-decodes a path into the latin-1 "WSGI string" PEP 3333 gives as PATH_INFO. */
function wsgiPath(encoded: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(encoded, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const hex = raw[i] === 0x25 && i + 2 < raw.length ? raw.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('latin1');
}

async function* once(body: Bytes): AsyncIterable<Uint8Array> {
  if (body.byteLength > 0) yield body;
}

/** The environ `options` describe, as a server would build it. */
export function buildTestEnviron(options: RequestOptions = {}): Environ {
  const target = options.path ?? '/';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const extra = new URLSearchParams(options.query as Record<string, string> | undefined).toString();
  const own = q === -1 ? '' : target.slice(q + 1);
  const query = [own, extra].filter((s) => s !== '').join('&');
  const body: Bytes | undefined =
    options.json !== undefined
      ? Buffer.from(JSON.stringify(options.json))
      : typeof options.body === 'string'
        ? Buffer.from(options.body, 'utf8')
        : options.body;
  const scheme = options.scheme ?? 'http';
  const host = options.host ?? 'localhost';
  const [serverName, port] = host.split(':') as [string, string | undefined];
  const environ: Environ = {
    REQUEST_METHOD: (options.method ?? (body === undefined ? 'GET' : 'POST')).toUpperCase(),
    SCRIPT_NAME: options.scriptName ?? '',
    PATH_INFO: wsgiPath(path),
    QUERY_STRING: query,
    SERVER_NAME: serverName,
    SERVER_PORT: port ?? (scheme === 'https' ? '443' : '80'),
    SERVER_PROTOCOL: 'HTTP/1.1',
    REMOTE_ADDR: options.remoteAddr ?? '127.0.0.1',
    RAW_URI: `${options.scriptName ?? ''}${path}${query === '' ? '' : `?${query}`}`,
    HTTP_HOST: host,
    'wsgi.version': [1, 0],
    'wsgi.url_scheme': scheme,
    'wsgi.input': new BodyReader(body === undefined ? null : once(body)),
    'wsgi.errors': { write: () => {}, writelines: () => {}, flush: () => {} },
    'wsgi.multithread': false,
    'wsgi.multiprocess': false,
    'wsgi.run_once': false,
    'wsgi.input_terminated': true,
    'wsgi.file_wrapper': fileWrapper,
  };
  if (body !== undefined) environ.CONTENT_LENGTH = String(body.byteLength);
  if (options.json !== undefined) environ.CONTENT_TYPE = 'application/json';
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    const key = name.toUpperCase().replace(/-/g, '_');
    if (key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH') environ[key] = value;
    else environ[`HTTP_${key}`] = value;
  }
  return Object.assign(environ, options.environ);
}

/** Calls `app` once with the environ `options` describe and collects its whole answer. */
export async function request(app: WsgiApp, options: RequestOptions = {}): Promise<TestResponse> {
  const run = options.validate === false ? app : validator(app);
  const environ = buildTestEnviron(options);
  let head: { status: Status; headers: HeaderList } | null = null;
  const chunks: Buffer[] = [];
  const written: Buffer[] = [];
  const startResponse = (status: Status, headers: HeaderList, excInfo?: unknown) => {
    if (excInfo !== undefined && excInfo !== null && head !== null && chunks.length + written.length > 0)
      throw excInfo; // PEP 3333: headers already sent
    head = { status, headers };
    return (data: Bytes) => {
      written.push(Buffer.from(data));
    };
  };
  const body: ResponseBody = await run(environ, startResponse);
  try {
    if (Symbol.asyncIterator in body)
      for await (const chunk of body as AsyncIterable<Bytes>) chunks.push(Buffer.from(chunk));
    else for (const chunk of body as Iterable<Bytes>) chunks.push(Buffer.from(chunk));
  } finally {
    await body.close?.();
  }
  if (head === null) throw new Error('the application never called start_response()');
  const { status, headers } = head as { status: Status; headers: HeaderList };
  const all = (name: string) =>
    headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
  const bytes = Buffer.concat([...written, ...chunks]);
  return {
    status,
    statusCode: Number(status.slice(0, 3)),
    headers,
    body: environ.REQUEST_METHOD === 'HEAD' ? Buffer.alloc(0) : bytes,
    header: (name) => all(name)[0] ?? null,
    headerAll: all,
    text: () => bytes.toString('utf8'),
    json: () => JSON.parse(bytes.toString('utf8')) as unknown,
  };
}
