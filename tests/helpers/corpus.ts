/**
 * Replaying Gunicorn's request corpus (tests/fixtures/gunicorn-requests) against a running nodicorn that
 * serves an echo app (examples/echo.ts or examples/echo.py: both answer {environ, body} as JSON).
 */
import { readFileSync } from 'node:fs';
import { percentDecode } from '../../src/http/request-target.js';
import { fixtures } from './paths.js';
import { rawRequest, statuses } from './raw-http.js';

export interface CorpusRequest {
  method: string;
  uri: string;
  version: [number, number];
  headers: Array<[string, string]>;
  body: string;
}

export interface CorpusEntry {
  name: string;
  kind: 'valid' | 'invalid';
  raw: string;
  cfg: Record<string, unknown>;
  expected: CorpusRequest[] | string;
}

export function loadCorpus(): CorpusEntry[] {
  return JSON.parse(readFileSync(`${fixtures}gunicorn-requests/corpus.json`, 'utf8')) as CorpusEntry[];
}

/** The latin-1 bytes of an entry, with `Host: corpus.test` added to HTTP/1.1 requests that have none. */
export function wireBytes(entry: CorpusEntry): string {
  let text = Buffer.from(entry.raw, 'base64').toString('latin1');
  if (entry.kind !== 'valid') return text;
  let from = 0;
  for (const req of entry.expected as CorpusRequest[]) {
    const line = `${req.method} ${req.uri} HTTP/${req.version.join('.')}\r\n`;
    const at = text.indexOf(line, from);
    if (at === -1) return text;
    from = at + line.length;
    if (req.version[1] === 1 && !req.headers.some(([n]) => n === 'HOST')) {
      text = `${text.slice(0, from)}Host: corpus.test\r\n${text.slice(from)}`;
      from += 'Host: corpus.test\r\n'.length;
    }
  }
  return text;
}

/** What the echo app must have seen for one expected request (keys it must have, and keys it must not). */
export function expectedEnviron(req: CorpusRequest): {
  has: Record<string, string>;
  lacks: string[];
  body: string;
} {
  const has: Record<string, string> = {
    REQUEST_METHOD: req.method,
    SERVER_PROTOCOL: `HTTP/${req.version.join('.')}`,
  };
  const lacks: string[] = [];
  let target = req.uri;
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(target);
  if (absolute !== null) target = target.slice(absolute[0].length) || '/';
  const noFragment = target.split('#')[0]!;
  const q = noFragment.indexOf('?');
  has.PATH_INFO = percentDecode(q === -1 ? noFragment : noFragment.slice(0, q));
  has.QUERY_STRING = q === -1 ? '' : noFragment.slice(q + 1);
  const headers = [...req.headers];
  if (req.version[1] === 1 && !headers.some(([n]) => n === 'HOST')) headers.push(['HOST', 'corpus.test']);
  for (const [name, value] of headers) {
    if (name.includes('_')) {
      lacks.push(`HTTP_${name.replace(/-/g, '_')}`);
      continue;
    }
    const key =
      name === 'CONTENT-TYPE' || name === 'CONTENT-LENGTH'
        ? name.replace('-', '_')
        : `HTTP_${name.replace(/-/g, '_')}`;
    if (key === 'HTTP_HOST' && absolute !== null) continue; // the absolute target's authority wins
    has[key] = has[key] === undefined ? value : `${has[key]},${value}`;
  }
  // RFC 9110 §4.2.4: an absolute target's userinfo never names the host.
  if (absolute !== null) has.HTTP_HOST = absolute[1]!.slice(absolute[1]!.lastIndexOf('@') + 1);
  return { has, lacks, body: Buffer.from(req.body, 'base64').toString('latin1') };
}

/** Splits a stream of HTTP/1.1 responses (each with Content-Length) into status + body pairs. */
export function splitResponses(text: string): Array<{ status: number; body: string; complete: boolean }> {
  const out: Array<{ status: number; body: string; complete: boolean }> = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const head = text.slice(at, end);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
    out.push({
      status,
      body: text.slice(end + 4, end + 4 + length),
      complete: text.length >= end + 4 + length,
    });
    at = end + 4 + length;
  }
  return out;
}

export interface Outcome {
  readonly name: string;
  readonly statuses: number[];
  readonly closed: boolean;
  /** For valid entries: the problems found, one line each (empty when the environ matched exactly). */
  readonly problems: string[];
}

/** Sends one entry on one connection and compares what the app saw with the corpus expectation. */
export async function replay(port: number, entry: CorpusEntry): Promise<Outcome> {
  // An invalid entry's client half-closes after it: an incomplete request meets end-of-stream, as in
  // Gunicorn's parser tests. (node:http drops a request whose client half-closes before the answer, so
  // valid entries keep the connection open.)
  const halfClose = entry.kind === 'invalid';
  const wanted =
    entry.kind === 'valid' ? (entry.expected as CorpusRequest[]).length : Number.POSITIVE_INFINITY;
  const complete = (text: string) => splitResponses(text).filter((r) => r.complete).length >= wanted;
  const { text, closedByServer } = await rawRequest(
    port,
    wireBytes(entry),
    600,
    '127.0.0.1',
    halfClose,
    complete,
  );
  const problems: string[] = [];
  if (entry.kind === 'valid') {
    const expected = entry.expected as CorpusRequest[];
    const responses = splitResponses(text);
    if (responses.length !== expected.length)
      problems.push(`${responses.length} responses for ${expected.length} requests`);
    expected.forEach((req, i) => {
      const response = responses[i];
      if (response === undefined) return;
      if (response.status !== 200) {
        problems.push(`request ${i + 1}: status ${response.status}`);
        return;
      }
      const seen = JSON.parse(response.body) as { environ: Record<string, unknown>; body: string };
      const want = expectedEnviron(req);
      for (const [key, value] of Object.entries(want.has)) {
        if (seen.environ[key] !== value)
          problems.push(
            `request ${i + 1}: ${key} = ${JSON.stringify(seen.environ[key])}, expected ${JSON.stringify(value)}`,
          );
      }
      for (const key of want.lacks)
        if (key in seen.environ) problems.push(`request ${i + 1}: ${key} should be dropped`);
      if (seen.body !== want.body)
        problems.push(
          `request ${i + 1}: body ${JSON.stringify(seen.body.slice(0, 80))}, expected ${JSON.stringify(want.body.slice(0, 80))}`,
        );
    });
  }
  return { name: entry.name, statuses: statuses(text), closed: closedByServer, problems };
}
