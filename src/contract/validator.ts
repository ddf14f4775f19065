/**
 * The validator: the TypeScript counterpart of Python's `wsgiref.validate.validator`. Wrapped around an
 * app, it checks both sides of the contract on every call:
 *   - the server's side: the environ's keys, value types and forms (PEP 3333 "environ Variables"), and
 *     that the server calls the body's close();
 *   - the app's side: status and headers (contract/rules.ts, the same rules the server enforces),
 *     start_response call rules and exc_info, write() and body chunks being bytes, a body returned only
 *     once start_response was called (or called by the body's first step).
 * A violation throws a WsgiViolation (so the server answers 500), or with `onViolation` is reported and
 * the call goes on. close() can only be missed after the fact: `assertClosed(body)` checks it.
 */
import { checkHeader, checkStatus, HOP_BY_HOP } from './rules.js';
import type {
  Bytes,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  WriteCallable,
  WsgiApp,
} from './types.js';

export type ViolationCode =
  | 'environ-missing-key'
  | 'environ-type'
  | 'environ-value'
  | 'status-invalid'
  | 'headers-invalid'
  | 'header-invalid'
  | 'header-hop-by-hop'
  | 'start-response-twice'
  | 'start-response-missing'
  | 'write-not-bytes'
  | 'chunk-not-bytes'
  | 'body-invalid'
  | 'close-twice'
  | 'close-not-called';

export class WsgiViolation extends Error {
  override readonly name = 'WsgiViolation';
  constructor(
    readonly code: ViolationCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export interface ValidatorOptions {
  /** Receives each violation; without it, a violation is thrown. */
  readonly onViolation?: (violation: WsgiViolation) => void;
}

const REQUIRED_STRINGS = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'wsgi.url_scheme',
] as const;
const REQUIRED_BOOLEANS = ['wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once'] as const;

const closedBodies = new WeakMap<object, { closed: boolean }>();

/** Throws close-not-called when `body` came from a validated app and the server has not closed it. */
export function assertClosed(body: ResponseBody): void {
  const state = closedBodies.get(body);
  if (state !== undefined && !state.closed) {
    throw new WsgiViolation('close-not-called', 'the server did not call close() on the response body');
  }
}

/** The problems PEP 3333 sees in an environ (an empty list when there are none). */
export function environViolations(environ: Environ): WsgiViolation[] {
  const found: WsgiViolation[] = [];
  const bad = (code: ViolationCode, message: string) => found.push(new WsgiViolation(code, message));
  if (typeof environ !== 'object' || environ === null)
    return [new WsgiViolation('environ-type', 'environ is not an object')];
  for (const key of REQUIRED_STRINGS) {
    if (!(key in environ)) bad('environ-missing-key', `${key} is missing`);
    else if (typeof environ[key] !== 'string') bad('environ-type', `${key} must be a string`);
  }
  for (const key of REQUIRED_BOOLEANS) {
    if (typeof environ[key] !== 'boolean') bad('environ-type', `${key} must be a boolean`);
  }
  const version = environ['wsgi.version'];
  if (!Array.isArray(version) || version[0] !== 1 || version[1] !== 0)
    bad('environ-value', 'wsgi.version must be [1, 0]');
  const scheme = environ['wsgi.url_scheme'];
  if (scheme !== 'http' && scheme !== 'https')
    bad('environ-value', `wsgi.url_scheme is ${JSON.stringify(scheme)}`);
  const input = environ['wsgi.input'] as unknown as Record<string | symbol, unknown> | undefined;
  if (
    typeof input !== 'object' ||
    input === null ||
    !['read', 'readline', 'readlines'].every((m) => typeof input[m] === 'function') ||
    typeof input[Symbol.asyncIterator] !== 'function'
  ) {
    bad('environ-type', 'wsgi.input needs read, readline, readlines and async iteration');
  }
  const errors = environ['wsgi.errors'] as unknown as Record<string, unknown> | undefined;
  if (
    typeof errors !== 'object' ||
    errors === null ||
    !['write', 'writelines', 'flush'].every((m) => typeof errors[m] === 'function')
  ) {
    bad('environ-type', 'wsgi.errors needs write, writelines and flush');
  }
  for (const [key, value] of Object.entries(environ)) {
    if (/^[A-Z][A-Z0-9_]*$/.test(key) && typeof value !== 'string')
      bad('environ-type', `${key} must be a string`);
  }
  for (const key of ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH']) {
    if (key in environ) bad('environ-value', `${key} must not be set: it is ${key.slice(5)}`);
  }
  const length = environ.CONTENT_LENGTH;
  if (typeof length === 'string' && length !== '' && !/^\d+$/.test(length))
    bad('environ-value', `CONTENT_LENGTH ${JSON.stringify(length)}`);
  const script = environ.SCRIPT_NAME;
  if (typeof script === 'string' && script !== '' && !script.startsWith('/'))
    bad('environ-value', 'SCRIPT_NAME must be empty or start with /');
  const path = environ.PATH_INFO;
  if (
    typeof path === 'string' &&
    path !== '' &&
    !path.startsWith('/') &&
    !(path === '*' && environ.REQUEST_METHOD === 'OPTIONS')
  ) {
    bad('environ-value', 'PATH_INFO must be empty or start with /');
  }
  if (script === '' && path === '')
    bad('environ-value', 'SCRIPT_NAME and PATH_INFO are both empty; PATH_INFO should be /');
  return found;
}

export function validator(app: WsgiApp, options: ValidatorOptions = {}): WsgiApp {
  const report = (violation: WsgiViolation) => {
    if (options.onViolation === undefined) throw violation;
    options.onViolation(violation);
  };

  return (environ, startResponse) => {
    for (const violation of environViolations(environ)) report(violation);
    let started = false;

    const checkedStart: StartResponse = (status, headers, excInfo?) => {
      const hasExcInfo = excInfo !== undefined && excInfo !== null;
      if (started && !hasExcInfo)
        report(new WsgiViolation('start-response-twice', 'start_response() called twice without exc_info'));
      const code = checkStatus(status);
      if (typeof code === 'string') report(new WsgiViolation('status-invalid', code));
      checkHeaders(headers, report);
      started = true;
      const write = startResponse(status, headers, excInfo);
      const checkedWrite: WriteCallable = (data) => {
        if (!(data instanceof Uint8Array))
          report(new WsgiViolation('write-not-bytes', `write() got ${typeName(data)}`));
        write(data);
      };
      return checkedWrite;
    };

    const wrap = (body: ResponseBody): ResponseBody => {
      if (
        body === null ||
        typeof body !== 'object' ||
        !(Symbol.iterator in body || Symbol.asyncIterator in body)
      ) {
        report(
          new WsgiViolation('body-invalid', `the app returned ${typeName(body)}, not an iterable of bytes`),
        );
        return body;
      }
      if (typeof body === 'string')
        report(new WsgiViolation('body-invalid', 'the app returned a string; return [bytes]'));
      const state = { closed: false };
      const checkChunk = (chunk: unknown) => {
        if (!started)
          report(
            new WsgiViolation(
              'start-response-missing',
              'a body chunk came before start_response() was called',
            ),
          );
        if (!(chunk instanceof Uint8Array))
          report(new WsgiViolation('chunk-not-bytes', `body chunk is ${typeName(chunk)}`));
      };
      const close = () => {
        if (state.closed) report(new WsgiViolation('close-twice', 'close() called twice'));
        state.closed = true;
        return body.close?.();
      };
      const wrapped: ResponseBody =
        Symbol.asyncIterator in body
          ? {
              async *[Symbol.asyncIterator]() {
                for await (const chunk of body as AsyncIterable<Bytes>) {
                  checkChunk(chunk);
                  yield chunk;
                }
              },
              close,
            }
          : Array.isArray(body)
            ? Object.assign(
                body.map((chunk: unknown) => {
                  checkChunk(chunk);
                  return chunk as Bytes;
                }),
                { close },
              )
            : {
                *[Symbol.iterator]() {
                  for (const chunk of body as Iterable<Bytes>) {
                    checkChunk(chunk);
                    yield chunk;
                  }
                },
                close,
              };
      closedBodies.set(wrapped, state);
      return wrapped;
    };

    const result = app(environ, checkedStart);
    if (result instanceof Promise) return result.then(wrap);
    return wrap(result);
  };
}

function checkHeaders(headers: HeaderList, report: (v: WsgiViolation) => void): void {
  if (!Array.isArray(headers)) {
    report(
      new WsgiViolation(
        'headers-invalid',
        `headers must be a list of [name, value] pairs, got ${typeName(headers)}`,
      ),
    );
    return;
  }
  for (const header of headers) {
    if (!Array.isArray(header) || header.length !== 2) {
      report(
        new WsgiViolation('headers-invalid', `header ${JSON.stringify(header)} is not a [name, value] pair`),
      );
      continue;
    }
    const problem = checkHeader(header[0], header[1]);
    if (problem !== null) report(new WsgiViolation('header-invalid', problem));
    else if (HOP_BY_HOP.has(header[0].toLowerCase())) {
      report(
        new WsgiViolation('header-hop-by-hop', `hop-by-hop header ${JSON.stringify(header[0])} (PEP 3333)`),
      );
    }
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
