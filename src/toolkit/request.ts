/**
 * A read-only view of one request over its environ (Werkzeug's Request): method, path, query, headers
 * (case-insensitive), cookies, and the body as bytes, text, JSON or a form, read from `wsgi.input` once
 * and within size limits. Reading past a limit fails with 413 before more is read.
 */
import { parseCookie } from 'cookie';
import type { Bytes, Environ } from '../contract/types.js';
import { headerKey } from '../http/environ.js';
import type { Form, RequestLimits, UploadedFile } from './form.js';
import { BadRequest, ContentTooLarge, UnsupportedMediaType } from './http-errors.js';
import { readMultipart } from './multipart.js';
import { requestUrl } from './url.js';
import { fromWsgi } from './wsgi-string.js';

export const DEFAULT_LIMITS: Required<RequestLimits> = {
  maxBodySize: 1024 * 1024,
  // Werkzeug's max_form_parts and max_form_memory_size defaults.
  maxFormParts: 1000,
  maxFieldSize: 500_000,
};

export type { Form, RequestLimits, UploadedFile };

/** The environ key under which the router leaves the route's parameters (wsgiorg.routing_args' role). */
export const ROUTE_PARAMS = 'nodicorn.route_params';

/** Request headers by name, case-insensitively, as the environ holds them (latin-1 WSGI strings). */
export class RequestHeaders implements Iterable<readonly [string, string]> {
  readonly #environ: Environ;
  constructor(environ: Environ) {
    this.#environ = environ;
  }

  get(name: string): string | null {
    const key = headerKey(name);
    const value = key === null ? undefined : this.#environ[key];
    return typeof value === 'string' ? value : null;
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /** Every header as [lower-case name, value]. */
  *[Symbol.iterator](): Iterator<readonly [string, string]> {
    for (const [key, value] of Object.entries(this.#environ)) {
      if (typeof value !== 'string') continue;
      if (key.startsWith('HTTP_')) yield [key.slice(5).toLowerCase().replace(/_/g, '-'), value];
      else if (key === 'CONTENT_TYPE' || key === 'CONTENT_LENGTH')
        yield [key.toLowerCase().replace('_', '-'), value];
    }
  }
}

export class Request {
  readonly environ: Environ;
  readonly limits: Required<RequestLimits>;
  readonly headers: RequestHeaders;
  #query: URLSearchParams | undefined;
  #cookies: Readonly<Record<string, string>> | undefined;
  #body: Promise<Bytes> | undefined;
  #form: Promise<Form> | undefined;

  constructor(environ: Environ, limits: RequestLimits = {}) {
    this.environ = environ;
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.headers = new RequestHeaders(environ);
  }

  get method(): string {
    return this.environ.REQUEST_METHOD;
  }

  /** The mount point (SCRIPT_NAME) as text. */
  get scriptName(): string {
    return fromWsgi(this.environ.SCRIPT_NAME);
  }

  /** The path below the mount point (PATH_INFO) as text; "/" when empty. */
  get path(): string {
    return fromWsgi(this.environ.PATH_INFO) || '/';
  }

  /** The URL the client asked for (PEP 3333 URL reconstruction). */
  get url(): string {
    return requestUrl(this.environ);
  }

  get queryString(): string {
    return this.environ.QUERY_STRING;
  }

  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(fromWsgi(this.environ.QUERY_STRING));
    return this.#query;
  }

  /** The route's parameters, when a router matched this request. */
  get params(): Readonly<Record<string, string>> {
    return (this.environ[ROUTE_PARAMS] as Record<string, string> | undefined) ?? {};
  }

  /** The Cookie header's pairs (RFC 6265 §5.4), values percent-decoded where they were encoded. */
  get cookies(): Readonly<Record<string, string>> {
    if (this.#cookies === undefined) {
      const header = this.headers.get('Cookie');
      const parsed = header === null ? {} : parseCookie(fromWsgi(header));
      const cookies: Record<string, string> = {};
      for (const [name, value] of Object.entries(parsed)) if (value !== undefined) cookies[name] = value;
      this.#cookies = cookies;
    }
    return this.#cookies;
  }

  /** The media type without parameters, lower-cased; '' when none was sent. */
  get mimeType(): string {
    return (this.environ.CONTENT_TYPE ?? '').split(';')[0]!.trim().toLowerCase();
  }

  /** A parameter of Content-Type (`charset`, `boundary`), or null. */
  contentTypeParam(name: string): string | null {
    for (const part of (this.environ.CONTENT_TYPE ?? '').split(';').slice(1)) {
      const eq = part.indexOf('=');
      if (eq !== -1 && part.slice(0, eq).trim().toLowerCase() === name.toLowerCase())
        return part
          .slice(eq + 1)
          .trim()
          .replace(/^"(.*)"$/, '$1');
    }
    return null;
  }

  /** The declared body length, or null when none was declared (no body, or chunked). */
  get contentLength(): number | null {
    const length = this.environ.CONTENT_LENGTH;
    return length === undefined || length === '' ? null : Number(length);
  }

  /** The whole body, read once (later calls give the same bytes). */
  body(): Promise<Bytes> {
    this.#body ??= this.#read();
    return this.#body;
  }

  /** The body as text, in the Content-Type's charset (UTF-8 when none is given). */
  async text(): Promise<string> {
    const bytes = await this.body();
    const charset = this.contentTypeParam('charset') ?? 'utf-8';
    try {
      return new TextDecoder(charset).decode(bytes);
    } catch {
      throw new UnsupportedMediaType(`unknown charset ${JSON.stringify(charset)}`);
    }
  }

  /** The body as JSON. 415 unless it is declared JSON (application/json or +json), 400 if it does not parse. */
  async json<T = unknown>(): Promise<T> {
    const type = this.mimeType;
    if (type !== 'application/json' && !type.endsWith('+json'))
      throw new UnsupportedMediaType(`expected application/json, got ${JSON.stringify(type || 'nothing')}`);
    const text = await this.text();
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new BadRequest(`the body is not valid JSON: ${(error as Error).message}`);
    }
  }

  /** The body as a form: application/x-www-form-urlencoded or multipart/form-data; 415 otherwise. */
  form(): Promise<Form> {
    this.#form ??= this.#readForm();
    return this.#form;
  }

  async #readForm(): Promise<Form> {
    const type = this.mimeType;
    if (type === 'application/x-www-form-urlencoded') {
      // WHATWG URL-encoded parsing: the bytes are UTF-8, escapes included.
      const text = new TextDecoder().decode(await this.body());
      return { fields: new URLSearchParams(text), files: new Map() };
    }
    if (type === 'multipart/form-data') {
      if (this.#body !== undefined)
        throw new Error('the body was already read as bytes; read it as a form first');
      this.#checkDeclaredLength();
      return readMultipart(this.environ['wsgi.input'], this.environ.CONTENT_TYPE!, this.limits);
    }
    throw new UnsupportedMediaType(`expected a form, got ${JSON.stringify(type || 'nothing')}`);
  }

  #checkDeclaredLength(): void {
    const declared = this.contentLength;
    if (declared !== null && declared > this.limits.maxBodySize)
      throw new ContentTooLarge(`the body is ${declared} bytes; the limit is ${this.limits.maxBodySize}`);
  }

  async #read(): Promise<Bytes> {
    this.#checkDeclaredLength();
    const limit = this.limits.maxBodySize;
    const input = this.environ['wsgi.input'];
    const chunks: Bytes[] = [];
    let total = 0;
    for (;;) {
      const chunk = await input.read(64 * 1024);
      if (chunk.byteLength === 0) break;
      total += chunk.byteLength;
      if (total > limit) throw new ContentTooLarge(`the body is larger than ${limit} bytes`);
      chunks.push(chunk);
    }
    if (chunks.length === 1) return chunks[0]!;
    const body = new Uint8Array(total);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    return body;
  }
}
