/**
 * PEP 3333 and RFC 9110 rules for what an application may send. Pure functions shared by the response
 * writer (both backends) and the validator, so there is exactly one definition of "valid".
 */

/** RFC 9110 §5.6.2 token characters, for header names. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/**
 * RFC 9110 §5.5: field values may not contain CTLs other than HTAB (CVE-2018-1000164: no CR/LF ever);
 * and they travel as latin-1 bytes (PEP 3333 "native strings"), so nothing above 0xFF either.
 */
const BAD_VALUE_CHAR = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;
const NOT_LATIN1 = /[^\x00-\xff]/;
/** PEP 3333: "200 OK" — three digits, one space, a reason phrase without control characters. */
const STATUS = /^([1-9]\d\d) ([^\x00-\x08\x0a-\x1f\x7f]*)$/;

/** RFC 9110 §7.6.1 hop-by-hop headers; PEP 3333 forbids applications from sending them. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'trailers',
  'transfer-encoding',
  'upgrade',
]);

/** Returns the numeric status code, or a message saying what is wrong with the status line. */
export function checkStatus(status: unknown): number | string {
  if (typeof status !== 'string') return `status must be a string, got ${typeof status}`;
  const m = STATUS.exec(status);
  if (m === null || NOT_LATIN1.test(status)) return `invalid status ${JSON.stringify(status)}`;
  const code = Number(m[1]);
  if (code < 200) return `status ${code} is not a final status`;
  return code;
}

/** Returns null when the header may be sent, or a message saying why not. */
export function checkHeader(name: unknown, value: unknown): string | null {
  return checkHeaderName(name) ?? checkHeaderValue(name as string, value);
}

/** Returns null for a valid header name (an RFC 9110 token), or a message saying what is wrong. */
export function checkHeaderName(name: unknown): string | null {
  if (typeof name !== 'string') return `header name must be a string, got ${typeof name}`;
  if (!TOKEN.test(name)) return `invalid header name ${JSON.stringify(name)}`;
  return null;
}

/** Returns null for a value that may be sent under `name`, or a message saying what is wrong. */
export function checkHeaderValue(name: string, value: unknown): string | null {
  if (typeof value !== 'string') return `value of header ${JSON.stringify(name)} must be a string`;
  if (BAD_VALUE_CHAR.test(value)) return `invalid characters in the value of header ${JSON.stringify(name)}`;
  return null;
}

/** True for a valid Content-Length value: digits only (no sign, no list, no spaces). */
export function isContentLength(value: string): boolean {
  return /^\d{1,15}$/.test(value);
}
