/**
 * The access log, in Gunicorn's format language (`--access-logformat`): `%(h)s %(l)s %(u)s %(t)s "%(r)s"
 * %(s)s %(b)s "%(f)s" "%(a)s"` by default, with Gunicorn's atoms. Unlike Gunicorn, every value is escaped
 * (control characters, quotes and backslashes as \xHH), so a request cannot forge a log line. A format is
 * compiled once into its text and a reader per atom, and a value is escaped only when one regex test says
 * it holds something to escape: a line costs about a microsecond, not the several of a regex replace.
 * `--access-logformat json` writes JSON lines instead. Lines are written as responses finish, from the
 * request channel (channels.ts).
 */
import { REQUEST_FINISH, type RequestRecord, subscribeFor } from './channels.js';

/** Gunicorn's default --access-logformat. */
export const GUNICORN_FORMAT = '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"';

/** What one finished request contributes to its log line. */
export interface AccessRecord {
  readonly environ: Readonly<Record<string, string>>;
  readonly status: number;
  /** Body bytes sent. */
  readonly bytes: number;
  /** Response headers as sent, lower-cased names. */
  readonly responseHeaders: Readonly<Record<string, string | string[] | number | undefined>>;
  /** Request time in microseconds. */
  readonly micros: number;
  /** When the request was received. */
  readonly received: Date;
  /** Time it waited for a Python worker (ms); -1 when it never queued. Absent: not known. */
  readonly queueMs?: number;
  readonly pid: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** The last second formatted: requests logged within one second share it. */
let clfSecond = Number.NaN;
let clfText = '';

/** `[24/Nov/2026:03:35:21 +0000]`, the Common Log Format time Gunicorn writes. */
export function clfTime(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== clfSecond) {
    clfText = `[${pad2(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${pad2(date.getUTCHours())}:${pad2(date.getUTCMinutes())}:${pad2(date.getUTCSeconds())} +0000]`;
    clfSecond = second;
  }
  return clfText;
}

/** What escapeLogValue changes: anything but printable ASCII less `"` and `\` (controls, DEL, non-ASCII). */
const NEEDS_ESCAPE = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;
const ESCAPES = /[^\x20\x21\x23-\x5b\x5d-\x7e]/g;

/** Escapes what could break a log line or a quoted field: controls, DEL, `"` and `\`, non-ASCII. */
export function escapeLogValue(value: string): string {
  // One test first: almost every value (an address, a path, a user agent) has nothing to escape.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(ESCAPES, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff
      ? `\\u${code.toString(16).padStart(4, '0')}`
      : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

function basicAuthUser(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !/^basic /i.test(authorization)) return undefined;
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(0, colon);
}

/** The request target as received (RAW_URI), or rebuilt from the environ when there is none. */
function target(e: AccessRecord['environ']): string {
  if (e.RAW_URI !== undefined) return e.RAW_URI;
  const query = e.QUERY_STRING ?? '';
  return `${e.SCRIPT_NAME ?? ''}${e.PATH_INFO ?? ''}${query === '' ? '' : `?${query}`}`;
}

/** Reads one atom's value from a record. */
type Reader = (r: AccessRecord) => string;

/** An atom whose value comes from the request: escaped (when it needs it) as it is read. */
const fromRequest =
  (read: Reader): Reader =>
  (r) =>
    escapeLogValue(read(r));

/**
 * The reader of one atom (`h`, `{user-agent}i`, …), or its text when it is the same on every line ('-'
 * for unknown atoms, as in Gunicorn). Atoms the server makes up (times, numbers) are never escaped.
 */
function atomReader(name: string): Reader | string {
  switch (name) {
    case 'h':
      return fromRequest((r) => r.environ.REMOTE_ADDR || '-');
    case 'l':
      return '-';
    case 'u':
      return fromRequest((r) => basicAuthUser(r.environ.HTTP_AUTHORIZATION) ?? '-');
    case 't':
      return (r) => clfTime(r.received);
    case 'r':
      return fromRequest(
        (r) => `${r.environ.REQUEST_METHOD} ${target(r.environ)} ${r.environ.SERVER_PROTOCOL}`,
      );
    case 'm':
      return fromRequest((r) => r.environ.REQUEST_METHOD ?? '-');
    case 'U':
      return fromRequest((r) => `${r.environ.SCRIPT_NAME ?? ''}${r.environ.PATH_INFO ?? ''}`);
    case 'q':
      return fromRequest((r) => r.environ.QUERY_STRING ?? '');
    case 'H':
      return fromRequest((r) => r.environ.SERVER_PROTOCOL ?? '-');
    case 's':
      return (r) => String(r.status);
    case 'B':
      return (r) => String(r.bytes);
    case 'b':
      return (r) => (r.bytes === 0 ? '-' : String(r.bytes));
    case 'f':
      return fromRequest((r) => r.environ.HTTP_REFERER ?? '-');
    case 'a':
      return fromRequest((r) => r.environ.HTTP_USER_AGENT ?? '-');
    case 'T':
      return (r) => String(Math.floor(r.micros / 1_000_000));
    case 'D':
      return (r) => String(Math.round(r.micros));
    case 'M':
      return (r) => String(Math.round(r.micros / 1000));
    case 'L':
      return (r) => (r.micros / 1_000_000).toFixed(6);
    case 'p':
      return (r) => `<${r.pid}>`;
    case 'W':
      // nodicorn's own atom: ms waited for a Python worker, '-' when the request never queued.
      return (r) =>
        r.queueMs === undefined || r.queueMs < 0 ? '-' : (Math.round(r.queueMs * 1000) / 1000).toFixed(3);
  }
  const header = /^\{(.+)\}([ioe])$/.exec(name);
  if (header === null) return '-';
  const key = header[1]!;
  if (header[2] === 'i') {
    // Content-Type and Content-Length have no HTTP_ key in the environ (PEP 3333).
    const lower = key.toLowerCase();
    const cgi =
      lower === 'content-type'
        ? 'CONTENT_TYPE'
        : lower === 'content-length'
          ? 'CONTENT_LENGTH'
          : `HTTP_${key.toUpperCase().replace(/-/g, '_')}`;
    return fromRequest((r) => r.environ[cgi] ?? '-');
  }
  if (header[2] === 'o') {
    const lower = key.toLowerCase();
    return fromRequest((r) => {
      const value = r.responseHeaders[lower];
      return value === undefined ? '-' : Array.isArray(value) ? value.join(', ') : String(value);
    });
  }
  return fromRequest((r) => r.environ[key] ?? '-');
}

const ATOM = /%\(([^)]+)\)s/g;

/**
 * Compiles a --access-logformat once into the text between atoms and a reader per atom, so that a line
 * is a few property reads and concatenations (no regex replace over the format for each request).
 */
export function compileAccessFormat(format: string): (record: AccessRecord) => string {
  const texts: string[] = [];
  const readers: Reader[] = [];
  let text = '';
  let last = 0;
  for (const match of format.matchAll(ATOM)) {
    text += format.slice(last, match.index);
    last = match.index + match[0].length;
    const reader = atomReader(match[1]!);
    if (typeof reader === 'string') text += reader;
    else {
      texts.push(text);
      readers.push(reader);
      text = '';
    }
  }
  const tail = text + format.slice(last);
  const n = readers.length;
  return (record) => {
    let line = '';
    for (let i = 0; i < n; i++) line += texts[i]! + readers[i]!(record);
    return line + tail;
  };
}

/** Formats compiled so far, by format (a server has one; the cap bounds callers that make up formats). */
const compiled = new Map<string, (record: AccessRecord) => string>();

/** Formats one access-log line (without the newline). Unknown atoms give '-', as in Gunicorn. */
export function formatAccessLine(format: string, record: AccessRecord): string {
  let line = compiled.get(format);
  if (line === undefined) {
    if (compiled.size >= 64) compiled.clear();
    line = compileAccessFormat(format);
    compiled.set(format, line);
  }
  return line(record);
}

/** `--access-logformat json`: one JSON object per line, with these fields (docs/logging.md). */
export const JSON_FORMAT = 'json';

/** A WSGI string (latin-1 code units standing for bytes) as text: its bytes read as UTF-8. */
function asText(value: string): string {
  return /[\x80-\xff]/.test(value) ? Buffer.from(value, 'latin1').toString('utf8') : value;
}

function header(record: AccessRecord, name: string): string | null {
  const value = record.responseHeaders[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : String(value);
}

/**
 * One JSON access-log line (without the newline). JSON.stringify escapes quotes, backslashes and every
 * control character, so no request can end the line or forge a field.
 */
export function formatJsonLine(record: AccessRecord): string {
  const e = record.environ;
  const raw = e.RAW_URI ?? `${e.SCRIPT_NAME ?? ''}${e.PATH_INFO ?? ''}`;
  const q = raw.indexOf('?');
  const optional = (value: string | undefined) => (value === undefined ? null : asText(value));
  return JSON.stringify({
    time: record.received.toISOString(),
    remote_addr: e.REMOTE_ADDR || null,
    method: optional(e.REQUEST_METHOD),
    path: asText(q === -1 ? raw : raw.slice(0, q)),
    query: asText(e.QUERY_STRING ?? ''),
    protocol: optional(e.SERVER_PROTOCOL),
    status: record.status,
    bytes: record.bytes,
    duration_ms: Math.round(record.micros) / 1000,
    referer: optional(e.HTTP_REFERER),
    user_agent: optional(e.HTTP_USER_AGENT),
    request_id: optional(e.HTTP_X_REQUEST_ID) ?? header(record, 'x-request-id'),
    pid: record.pid,
  });
}

/** The line formatter for a --access-logformat value: the JSON preset, or Gunicorn's atoms. */
export function accessLineFormatter(format: string): (record: AccessRecord) => string {
  if (format.trim().toLowerCase() === JSON_FORMAT) return formatJsonLine;
  return compileAccessFormat(format);
}

/** Whether lines in this format show response headers (only then are they collected for each line). */
export function usesResponseHeaders(format: string): boolean {
  return format.trim().toLowerCase() === JSON_FORMAT || /%\(\{[^}]*\}o\)s/.test(format);
}

const NO_HEADERS: AccessRecord['responseHeaders'] = {};

/** Writes a line to `sink` for each request of `source` that finishes; returns the unsubscribe function. */
export function subscribeAccessLog(
  source: object,
  sink: { write(text: string): unknown },
  format: string,
): () => void {
  const line = accessLineFormatter(format);
  const withHeaders = usesResponseHeaders(format);
  return subscribeFor<RequestRecord>(REQUEST_FINISH, source, (r) => {
    let responseHeaders = NO_HEADERS;
    if (withHeaders) {
      const lower: Record<string, string> = {};
      const sent = r.responseHeaders;
      for (let i = 0; i < sent.length; i += 2) lower[sent[i]!.toLowerCase()] = sent[i + 1]!;
      responseHeaders = lower;
    }
    const text = line({
      environ: r.environ,
      status: r.status,
      bytes: r.bytes,
      responseHeaders,
      micros: r.durationMs * 1000,
      received: new Date(r.receivedMs),
      pid: process.pid,
      queueMs: r.queueMs,
    });
    sink.write(`${text}\n`);
  });
}
