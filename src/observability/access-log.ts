/**
 * The access log, in Gunicorn's format language (`--access-logformat`): `%(h)s %(l)s %(u)s %(t)s "%(r)s"
 * %(s)s %(b)s "%(f)s" "%(a)s"` by default, with Gunicorn's atoms. Unlike Gunicorn, every value is escaped
 * (control characters, quotes and backslashes as \xHH), so a request cannot forge a log line.
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
  readonly pid: number;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

let clfSecond = Number.NaN;
let clfText = '';

/** `[24/Nov/2026:03:35:21 +0000]`, the Common Log Format time Gunicorn writes (made once a second). */
export function clfTime(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== clfSecond) {
    clfSecond = second;
    clfText = formatClfTime(date);
  }
  return clfText;
}

function formatClfTime(date: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `[${p(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(date.getUTCMinutes())}:${p(date.getUTCSeconds())} +0000]`;
}

/** Escapes what could break a log line or a quoted field: controls, DEL, `"` and `\`, non-ASCII. */
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\uffff"\\]/;

export function escapeLogValue(value: string): string {
  // Most values need nothing: one test, no replace.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\x00-\x1f\x7f-\uffff"\\]/g, (c) => {
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

/** The value of one atom (`h`, `{user-agent}i`, …), unescaped; '-' where there is none. */
function atom(name: string, r: AccessRecord): string {
  const e = r.environ;
  switch (name) {
    case 'h':
      return e.REMOTE_ADDR || '-';
    case 'l':
      return '-';
    case 'u':
      return basicAuthUser(e.HTTP_AUTHORIZATION) ?? '-';
    case 't':
      return clfTime(r.received);
    case 'r': {
      const query = e.QUERY_STRING ?? '';
      const path =
        e.RAW_URI ?? `${e.SCRIPT_NAME ?? ''}${e.PATH_INFO ?? ''}${query === '' ? '' : `?${query}`}`;
      return `${e.REQUEST_METHOD} ${path} ${e.SERVER_PROTOCOL}`;
    }
    case 'm':
      return e.REQUEST_METHOD ?? '-';
    case 'U':
      return `${e.SCRIPT_NAME ?? ''}${e.PATH_INFO ?? ''}`;
    case 'q':
      return e.QUERY_STRING ?? '';
    case 'H':
      return e.SERVER_PROTOCOL ?? '-';
    case 's':
      return String(r.status);
    case 'B':
      return String(r.bytes);
    case 'b':
      return r.bytes === 0 ? '-' : String(r.bytes);
    case 'f':
      return e.HTTP_REFERER ?? '-';
    case 'a':
      return e.HTTP_USER_AGENT ?? '-';
    case 'T':
      return String(Math.floor(r.micros / 1_000_000));
    case 'D':
      return String(Math.round(r.micros));
    case 'M':
      return String(Math.round(r.micros / 1000));
    case 'L':
      return (r.micros / 1_000_000).toFixed(6);
    case 'p':
      return `<${r.pid}>`;
  }
  const header = /^\{(.+)\}([ioe])$/.exec(name);
  if (header !== null) {
    const key = header[1]!;
    if (header[2] === 'i')
      return (
        e[`HTTP_${key.toUpperCase().replace(/-/g, '_')}`] ??
        (key.toLowerCase() === 'content-type'
          ? e.CONTENT_TYPE
          : key.toLowerCase() === 'content-length'
            ? e.CONTENT_LENGTH
            : undefined) ??
        '-'
      );
    if (header[2] === 'o') {
      const value = r.responseHeaders[key.toLowerCase()];
      return value === undefined ? '-' : Array.isArray(value) ? value.join(', ') : String(value);
    }
    return e[key] ?? '-';
  }
  return '-';
}

/** Formats one access-log line (without the newline). Unknown atoms give '-', as in Gunicorn. */
export function formatAccessLine(format: string, record: AccessRecord): string {
  return compileAccessFormat(format)(record);
}

const compiled = new Map<string, (record: AccessRecord) => string>();

/**
 * A format, parsed once: its literal text and its atoms in order. Formatting a line is then one pass
 * over them, with no regular expression but the escape test.
 */
export function compileAccessFormat(format: string): (record: AccessRecord) => string {
  let line = compiled.get(format);
  if (line !== undefined) return line;
  const literals: string[] = [];
  const atoms: string[] = [];
  let last = 0;
  for (const m of format.matchAll(/%\(([^)]+)\)s/g)) {
    literals.push(format.slice(last, m.index));
    atoms.push(m[1]!);
    last = m.index + m[0].length;
  }
  const tail = format.slice(last);
  line = (record) => {
    let text = '';
    for (let i = 0; i < atoms.length; i++) text += literals[i]! + escapeLogValue(atom(atoms[i]!, record));
    return text + tail;
  };
  if (compiled.size < 64) compiled.set(format, line);
  return line;
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
    });
    sink.write(`${text}\n`);
  });
}
