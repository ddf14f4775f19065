/**
 * The validator: the TypeScript counterpart of Python's `wsgiref.validate.validator`. Wrapped around an
 * app, it checks both sides of the contract on every call:
 *   - the server's side: the environ's keys, value types and forms (PEP 3333 "environ Variables"),
 *     `wsgi.input` reads giving bytes, start_response re-raising exc_info once the headers went out, and
 *     the body's close() called exactly once and never followed by more iteration;
 *   - the app's side: status and headers (contract/rules.ts, the same rules the server enforces),
 *     start_response called again only with exc_info, write() and body chunks being bytes, a body
 *     returned only once start_response was called (or called by the body's first step), integer sizes
 *     given to `wsgi.input`, strings given to `wsgi.errors`.
 *
 * The API is two functions:
 *   - `validator(app, { onViolation })` returns a checked app. A violation throws a WsgiViolation (so
 *     the server answers 500, and a status or header refused never reaches the server); with
 *     `onViolation` it is reported there and the call goes on as if unchecked.
 *   - `assertClosed(body)`, called by whoever served the body once it is done: whether close() was
 *     called can only be known after the fact, and wsgiref's answer (a check in the iterator's
 *     finalizer) fires at garbage collection, late or never. The violation goes where the validator
 *     that made the body sends its violations.
 *
 * Like wsgiref, it replaces `wsgi.input` and `wsgi.errors` in the environ it is given rather than copy
 * the environ: keys an app adds stay visible to the server (PEP 3333 lets apps modify the environ).
 *
 * Not checked: wsgiref's demand for a Content-Type (PEP 3333 has no such rule), and iteration after
 * close() of a list body (a list runs no app code, so nothing sees the server's next step).
 */
import { checkHeader, checkStatus, HOP_BY_HOP, isContentLength } from './rules.js';
import type {
  Bytes,
  Environ,
  HeaderList,
  ResponseBody,
  StartResponse,
  WriteCallable,
  WsgiApp,
  WsgiErrors,
  WsgiInput,
} from './types.js';

/** Every violation code, declared once with the side of the contract that breaks it. */
const SIDES = {
  'environ-missing-key': 'server',
  'environ-type': 'server',
  'environ-value': 'server',
  'input-not-bytes': 'server',
  'exc-info-not-raised': 'server',
  'iterate-after-close': 'server',
  'close-twice': 'server',
  'close-not-called': 'server',
  'status-invalid': 'app',
  'headers-invalid': 'app',
  'header-invalid': 'app',
  'header-hop-by-hop': 'app',
  'start-response-twice': 'app',
  'start-response-missing': 'app',
  'write-not-bytes': 'app',
  'body-invalid': 'app',
  'chunk-not-bytes': 'app',
  'input-arg-invalid': 'app',
  'errors-not-string': 'app',
} as const;

export type ViolationCode = keyof typeof SIDES;

/** A broken rule of the contract, with a stable code and the side (server or app) that broke it. */
export class WsgiViolation extends Error {
  override readonly name = 'WsgiViolation';
  readonly side: 'server' | 'app';
  constructor(
    readonly code: ViolationCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.side = SIDES[code];
  }
}

export interface ValidatorOptions {
  /** Receives each violation; without it, a violation is thrown. */
  readonly onViolation?: (violation: WsgiViolation) => void;
}

type Report = (code: ViolationCode, message: string) => void;

/** What one call of a checked app knows about its own progress. */
interface CallState {
  readonly report: Report;
  started: boolean;
  /** A non-empty chunk reached the server and it moved on (PEP 3333: so the headers went out). */
  headersSent: boolean;
}

interface BodyState {
  readonly report: Report;
  closed: boolean;
  /** Iteration after close() is reported once per body, not once per step. */
  lateStep: boolean;
}

/** The environ keys PEP 3333 requires. */
const REQUIRED = [
  'REQUEST_METHOD',
  'SCRIPT_NAME',
  'PATH_INFO',
  'QUERY_STRING',
  'SERVER_NAME',
  'SERVER_PORT',
  'SERVER_PROTOCOL',
  'wsgi.version',
  'wsgi.url_scheme',
  'wsgi.input',
  'wsgi.errors',
  'wsgi.multithread',
  'wsgi.multiprocess',
  'wsgi.run_once',
] as const;
const BOOLEANS = ['wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once'] as const;

const bodies = new WeakMap<object, BodyState>();

/**
 * Reports close-not-called when `body` came from a validated app and close() was not called on it.
 * Bodies the validator did not wrap (an invalid one, already reported) are not tracked.
 */
export function assertClosed(body: ResponseBody): void {
  const state = bodies.get(body);
  if (state !== undefined && !state.closed)
    state.report('close-not-called', 'the server did not call close() on the response body');
}

/** The problems PEP 3333 sees in an environ (an empty list when there are none). */
export function environViolations(environ: Environ): WsgiViolation[] {
  const found: WsgiViolation[] = [];
  const bad = (code: ViolationCode, message: string) => found.push(new WsgiViolation(code, message));
  if (typeof environ !== 'object' || environ === null)
    return [new WsgiViolation('environ-type', `environ is ${typeName(environ)}, not an object`)];
  const env = environ as Record<string, unknown>;
  for (const key of REQUIRED) if (env[key] === undefined) bad('environ-missing-key', `${key} is missing`);
  // wsgiref: every key without a dot is a CGI variable, and CGI values are native strings.
  for (const [key, value] of Object.entries(env)) {
    if (!key.includes('.') && value !== undefined && typeof value !== 'string')
      bad('environ-type', `${key} must be a string, got ${typeName(value)}`);
  }
  for (const key of BOOLEANS) {
    if (env[key] !== undefined && typeof env[key] !== 'boolean')
      bad('environ-type', `${key} must be a boolean, got ${typeName(env[key])}`);
  }
  const version = env['wsgi.version'];
  if (
    version !== undefined &&
    !(Array.isArray(version) && version.length === 2 && version[0] === 1 && version[1] === 0)
  )
    bad('environ-value', 'wsgi.version must be [1, 0]');
  const scheme = env['wsgi.url_scheme'];
  if (scheme !== undefined && scheme !== 'http' && scheme !== 'https')
    bad('environ-value', `wsgi.url_scheme must be "http" or "https", got ${JSON.stringify(scheme)}`);
  if (env['wsgi.input'] !== undefined && !isInput(env['wsgi.input']))
    bad('environ-type', 'wsgi.input needs read, readline, readlines and async iteration');
  if (env['wsgi.errors'] !== undefined && !isErrors(env['wsgi.errors']))
    bad('environ-type', 'wsgi.errors needs write, writelines and flush');
  // wsgiref: the request's own Content-Type and Content-Length have CGI names, never HTTP_* ones.
  for (const key of ['HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH']) {
    if (key in env) bad('environ-value', `${key} must not be set; it is ${key.slice(5)}`);
  }
  // PEP 3333: CONTENT_LENGTH "may be empty or absent"; otherwise it is a number.
  const length = env.CONTENT_LENGTH;
  if (typeof length === 'string' && length !== '' && !isContentLength(length))
    bad('environ-value', `CONTENT_LENGTH ${JSON.stringify(length)} is not a number of bytes`);
  const script = env.SCRIPT_NAME;
  if (typeof script === 'string' && script !== '' && !script.startsWith('/'))
    bad('environ-value', `SCRIPT_NAME ${JSON.stringify(script)} must be empty or start with /`);
  // wsgiref: a root mount is SCRIPT_NAME '' with PATH_INFO '/', never SCRIPT_NAME '/'.
  if (script === '/') bad('environ-value', 'SCRIPT_NAME must not be "/"; use "" and PATH_INFO "/"');
  const path = env.PATH_INFO;
  // RFC 9112 §3.2.4: the asterisk form "*" is a request target only for OPTIONS.
  if (
    typeof path === 'string' &&
    path !== '' &&
    !path.startsWith('/') &&
    !(path === '*' && env.REQUEST_METHOD === 'OPTIONS')
  ) {
    bad('environ-value', `PATH_INFO ${JSON.stringify(path)} must be empty or start with /`);
  }
  if (script === '' && path === '')
    bad('environ-value', 'SCRIPT_NAME and PATH_INFO are both empty; PATH_INFO should be "/"');
  return found;
}

/** Wraps `app` so that every call checks both sides of the contract (see the top of this file). */
export function validator(app: WsgiApp, options: ValidatorOptions = {}): WsgiApp {
  const { onViolation } = options;
  const raise = (violation: WsgiViolation) => {
    if (onViolation === undefined) throw violation;
    onViolation(violation);
  };
  const report: Report = (code, message) => raise(new WsgiViolation(code, message));

  return (environ, startResponse) => {
    for (const violation of environViolations(environ)) raise(violation);
    const input = environ['wsgi.input'] as unknown;
    if (isInput(input)) environ['wsgi.input'] = checkedInput(input, report);
    const errors = environ['wsgi.errors'] as unknown;
    if (isErrors(errors)) environ['wsgi.errors'] = checkedErrors(errors, report);
    const call: CallState = { report, started: false, headersSent: false };

    const checkedStart: StartResponse = (status, headers, excInfo?) => {
      const hasExcInfo = excInfo !== undefined && excInfo !== null;
      // PEP 3333: a second call is allowed only with exc_info, from an error handler.
      if (call.started && !hasExcInfo)
        report('start-response-twice', 'start_response() called a second time without exc_info');
      const code = checkStatus(status);
      if (typeof code === 'string') report('status-invalid', code);
      checkHeaders(headers, report);
      call.started = true;
      const write = startResponse(status, headers, excInfo);
      // PEP 3333: with exc_info after the headers were sent, start_response must raise.
      if (hasExcInfo && call.headersSent)
        report('exc-info-not-raised', 'start_response() returned with exc_info after the headers were sent');
      const checkedWrite: WriteCallable = (data) => {
        if (!(data instanceof Uint8Array)) report('write-not-bytes', `write() got ${typeName(data)}`);
        write(data);
        // PEP 3333: write() returns once the data is sent or buffered for sending, headers first.
        if (data instanceof Uint8Array && data.byteLength > 0) call.headersSent = true;
      };
      return checkedWrite;
    };

    const result = app(environ, checkedStart);
    return isThenable(result)
      ? Promise.resolve(result).then((body) => checkedBody(body, call))
      : checkedBody(result, call);
  };
}

function checkHeaders(headers: HeaderList, report: Report): void {
  if (!Array.isArray(headers)) {
    report('headers-invalid', `headers must be a list of [name, value] pairs, got ${typeName(headers)}`);
    return;
  }
  for (const header of headers as unknown[]) {
    if (!Array.isArray(header) || header.length !== 2) {
      report('headers-invalid', `header ${describe(header)} is not a [name, value] pair`);
      continue;
    }
    const [name, value] = header as [unknown, unknown];
    const problem = checkHeader(name, value);
    if (problem !== null) report('header-invalid', problem);
    else if (HOP_BY_HOP.has((name as string).toLowerCase()))
      report('header-hop-by-hop', `${JSON.stringify(name)} is hop-by-hop; PEP 3333 leaves it to the server`);
  }
}

/** Checks the body's form, and returns it wrapped so that its chunks and close() are checked. */
function checkedBody(body: ResponseBody, call: CallState): ResponseBody {
  const { report } = call;
  // wsgiref: a string (or bytes) body would be sent one character (or one number) at a time.
  if (typeof body === 'string' || body instanceof Uint8Array) {
    report('body-invalid', `the app returned ${typeName(body)}; return a list holding one bytes chunk`);
    return body;
  }
  if (!isIterable(body)) {
    report('body-invalid', `the app returned ${typeName(body)}, not an iterable of bytes`);
    return body;
  }
  const state: BodyState = { report, closed: false, lateStep: false };
  const close = () => {
    if (state.closed) report('close-twice', 'close() was called more than once');
    state.closed = true;
    return body.close?.();
  };
  let wrapped: ResponseBody;
  if (Array.isArray(body)) {
    // A list runs no app code when iterated, so start_response must have been called already. It stays
    // a list: the server may send a list with a Content-Length.
    checkStarted(call);
    for (const chunk of body as unknown[]) checkChunk(chunk, report);
    wrapped = Object.assign([...(body as Bytes[])], { close });
  } else if (Symbol.asyncIterator in body) {
    wrapped = { [Symbol.asyncIterator]: () => asyncChunks(body, call, state), close };
  } else {
    wrapped = { [Symbol.iterator]: () => syncChunks(body as Iterable<Bytes>, call, state), close };
  }
  bodies.set(wrapped, state);
  return wrapped;
}

function* syncChunks(body: Iterable<Bytes>, call: CallState, state: BodyState): Generator<Bytes> {
  checkOpen(state);
  let first = true;
  for (const chunk of body) {
    if (first) checkStarted(call);
    first = false;
    checkChunk(chunk, call.report);
    yield chunk;
    chunkDone(chunk, call, state);
  }
  if (first) checkStarted(call);
}

async function* asyncChunks(body: AsyncIterable<Bytes>, call: CallState, state: BodyState) {
  checkOpen(state);
  let first = true;
  for await (const chunk of body) {
    if (first) checkStarted(call);
    first = false;
    checkChunk(chunk, call.report);
    yield chunk;
    chunkDone(chunk, call, state);
  }
  if (first) checkStarted(call);
}

/** PEP 3333: start_response is called before the body's first step ends (that step may call it). */
function checkStarted(call: CallState): void {
  if (!call.started)
    call.report('start-response-missing', 'the body was started before start_response() was called');
}

function checkChunk(chunk: unknown, report: Report): void {
  if (!(chunk instanceof Uint8Array)) report('chunk-not-bytes', `a body chunk is ${typeName(chunk)}`);
}

/** Called when the server asks for the step after `chunk`. */
function chunkDone(chunk: Bytes, call: CallState, state: BodyState): void {
  // PEP 3333: each chunk is transmitted before the next is requested, so a non-empty one sent the headers.
  if (chunk instanceof Uint8Array && chunk.byteLength > 0) call.headersSent = true;
  checkOpen(state);
}

function checkOpen(state: BodyState): void {
  if (!state.closed || state.lateStep) return;
  state.lateStep = true;
  state.report('iterate-after-close', 'the body was iterated after close()');
}

function checkedInput(input: WsgiInput, report: Report): WsgiInput {
  const args = (method: string, given: unknown[]) => {
    // PEP 3333 file semantics: one optional integer size (or hint).
    if (given.length > 1 || (given[0] !== undefined && !Number.isInteger(given[0])))
      report(
        'input-arg-invalid',
        `wsgi.input.${method}() takes one optional integer, got ${describe(given)}`,
      );
  };
  const bytes = (method: string, value: unknown) => {
    if (!(value instanceof Uint8Array))
      report('input-not-bytes', `wsgi.input.${method}() gave ${typeName(value)}, not bytes`);
    return value as Bytes;
  };
  return {
    async read(...given: unknown[]) {
      args('read', given);
      return bytes('read', await input.read(...(given as [number?])));
    },
    async readline(...given: unknown[]) {
      args('readline', given);
      return bytes('readline', await input.readline(...(given as [number?])));
    },
    async readlines(...given: unknown[]) {
      args('readlines', given);
      const lines: unknown = await input.readlines(...(given as [number?]));
      if (!Array.isArray(lines)) {
        report('input-not-bytes', `wsgi.input.readlines() gave ${typeName(lines)}, not a list`);
        return lines as Bytes[];
      }
      for (const line of lines) bytes('readlines', line);
      return lines as Bytes[];
    },
    async *[Symbol.asyncIterator]() {
      for await (const line of input) yield bytes('iteration', line);
    },
  };
}

function checkedErrors(errors: WsgiErrors, report: Report): WsgiErrors {
  // PEP 3333: wsgi.errors is a text stream; it takes native strings.
  const text = (method: string, value: unknown) => {
    if (typeof value !== 'string')
      report('errors-not-string', `wsgi.errors.${method}() got ${typeName(value)}, not a string`);
  };
  return {
    write(value) {
      text('write', value);
      errors.write(value);
    },
    writelines(lines) {
      const all = [...lines];
      for (const line of all) text('writelines', line);
      errors.writelines(all);
    },
    flush() {
      errors.flush();
    },
  };
}

function isInput(value: unknown): value is WsgiInput {
  if (typeof value !== 'object' || value === null) return false;
  const input = value as Record<string | symbol, unknown>;
  return (
    ['read', 'readline', 'readlines'].every((m) => typeof input[m] === 'function') &&
    typeof input[Symbol.asyncIterator] === 'function'
  );
}

function isErrors(value: unknown): value is WsgiErrors {
  if (typeof value !== 'object' || value === null) return false;
  const errors = value as Record<string, unknown>;
  return ['write', 'writelines', 'flush'].every((m) => typeof errors[m] === 'function');
}

function isIterable(value: unknown): value is ResponseBody {
  if (typeof value !== 'object' || value === null) return false;
  const body = value as Record<symbol, unknown>;
  return typeof body[Symbol.iterator] === 'function' || typeof body[Symbol.asyncIterator] === 'function';
}

function isThenable(value: unknown): value is PromiseLike<ResponseBody> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}

/** A short rendering of an unexpected value for a message; JSON.stringify fails on some values. */
function describe(value: unknown): string {
  try {
    return JSON.stringify(value) ?? typeName(value);
  } catch {
    return typeName(value);
  }
}
