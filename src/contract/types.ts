/**
 * PEP 3333 on the TypeScript side.
 *
 * The contract is PEP 3333's, typed. Three extensions exist because JavaScript I/O is asynchronous, and
 * they are the only differences:
 *   1. an application may return a Promise of its body;
 *   2. a body may be an AsyncIterable of byte chunks;
 *   3. `wsgi.input` reads return Promises.
 * Everything else (environ keys, string values, status and header rules, exc_info, write(), close()) is
 * PEP 3333 as written.
 */

/** A byte string. PEP 3333's `bytes`; Node's Buffer is one. */
export type Bytes = Uint8Array;

type Digit = '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9';

/** PEP 3333: "a status code and a reason phrase, separated by a single space", e.g. `'200 OK'`. */
export type Status = `${Digit}${Digit}${Digit} ${string}`;

/** One response header as PEP 3333 has it: a `(name, value)` pair of strings. */
export type Header = readonly [name: string, value: string];

/** The response headers: a list of pairs, in order, repeats allowed (Set-Cookie). */
export type HeaderList = readonly Header[];

/**
 * `exc_info` as passed to start_response. In Python it is a `(type, value, traceback)` triple; in
 * TypeScript the thrown value carries all three, so it is that value.
 */
export type ExcInfo = unknown;

/** PEP 3333's `write()` callable, returned by start_response (for legacy, imperative apps). */
export type WriteCallable = (data: Bytes) => void;

/** PEP 3333's start_response. A third argument, when given and not null/undefined, is exc_info. */
export type StartResponse = (status: Status, headers: HeaderList, excInfo?: ExcInfo) => WriteCallable;

/** What an application returns: an iterable of byte strings, optionally with `close()`. */
export type ResponseBody = (Iterable<Bytes> | AsyncIterable<Bytes>) & { close?(): void | Promise<void> };

/** A WSGI application. (Extension 1: it may return a Promise of its body.) */
export type WsgiApp = (
  environ: Environ,
  startResponse: StartResponse,
) => ResponseBody | Promise<ResponseBody>;

/** `wsgi.input`: the request body. (Extension 3: reads return Promises.) */
export interface WsgiInput extends AsyncIterable<Bytes> {
  /** Up to `size` bytes; all that is left when `size` is omitted or negative; empty at the end. */
  read(size?: number): Promise<Bytes>;
  /** One line including its `\n`, or at most `size` bytes of it; empty at the end. */
  readline(size?: number): Promise<Bytes>;
  /** The remaining lines; stops once `hint` bytes have been read, when a positive hint is given. */
  readlines(hint?: number): Promise<Bytes[]>;
}

/** `wsgi.errors`: a text stream into the server's error log. */
export interface WsgiErrors {
  write(text: string): void;
  writelines(lines: Iterable<string>): void;
  flush(): void;
}

/** A readable file-like object for `wsgi.file_wrapper`: a path, or an open file descriptor. */
export type FileLike = { readonly path: string } | { readonly fd: number };

/** `wsgi.file_wrapper`: turns a file into a body the server may send with sendfile. */
export type FileWrapper = (file: FileLike, blockSize?: number) => ResponseBody;

/** The CGI part of the environ: every key whose value is a string (what the Python worker also receives). */
export type CgiEnviron = Record<string, string>;

/** The environ dictionary (PEP 3333 "environ Variables"). Values of CGI keys are always strings. */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  REMOTE_ADDR?: string;
  REMOTE_PORT?: string;
  RAW_URI?: string;
  'wsgi.version': readonly [1, 0];
  'wsgi.url_scheme': string;
  'wsgi.input': WsgiInput;
  'wsgi.errors': WsgiErrors;
  'wsgi.multithread': boolean;
  'wsgi.multiprocess': boolean;
  'wsgi.run_once': boolean;
  'wsgi.input_terminated'?: boolean;
  'wsgi.file_wrapper'?: FileWrapper;
  /** Request headers (`HTTP_ACCEPT`, …), server extensions (`nodicorn.*`) and middleware additions. */
  [key: string]: unknown;
}
