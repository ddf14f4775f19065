/**
 * The errors nodicorn raises about its own work (settings, start-up, refused requests, unsendable
 * responses), in one place. Each class carries a stable code, in undici's `UND_ERR_*` style:
 * `error.code` is `NODICORN_ERR_*`, never reused or renamed once published, so callers and log searches
 * can rely on it where a message may be reworded. Each class also says when it is thrown, what follows,
 * and which page documents it; docs/errors.md is generated from `ERRORS` (`npm run docs`; a test fails
 * when the committed page is stale).
 *
 * Not here, on purpose: contract violations (`WsgiViolation`, src/contract/validator.ts) carry the
 * validator's own stable codes (`status-not-string`, …); PEP 3333 calling mistakes raised into a
 * TypeScript app (`start_response()` called twice without exc_info, a body chunk that is not bytes) are a
 * plain Error or TypeError, as wsgiref raises them, and the validator names them with those codes; the
 * toolkit's HTTP errors (`NotFound`, …) are answers an application raises, not failures of nodicorn.
 */

export type ErrorCode = `NODICORN_ERR_${string}`;

/** What the registry knows about one error class, read by the docs generator and the tests. */
export interface ErrorClass {
  readonly name: string;
  readonly code: ErrorCode;
  /** When it is thrown, and the shape of its message. */
  readonly summary: string;
  /** What follows: the exit status, the HTTP answer. */
  readonly outcome: string;
  /** Where it is documented: docs pages, with their section (`settings.md#server-socket`). */
  readonly docs: readonly string[];
}

/** The base of every registered error: `code` comes from the class, `name` is the class's name. */
export class NodicornError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    const type = new.target as unknown as ErrorClass;
    this.name = type.name;
    this.code = type.code;
  }
}

export class SettingError extends NodicornError {
  static readonly code = 'NODICORN_ERR_INVALID_SETTING';
  static readonly summary =
    'A flag, a `NODICORN_*` variable, a config file key or a value is unknown or invalid (the message names the closest known setting), the application reference is malformed, or a config file cannot be read. The message starts with where the value came from (`--workers: …`, `NODICORN_TIMEOUT: …`, `gunicorn.conf.py: …`).';
  static readonly outcome = 'The CLI prints `nodicorn: error: MESSAGE` and exits with status 2.';
  static readonly docs = ['settings.md', 'migrating-from-gunicorn.md#gunicornconfpy'];
}

export class IdentityError extends NodicornError {
  static readonly code = 'NODICORN_ERR_IDENTITY';
  static readonly summary =
    '`--user`/`--group` name no user or group (`--user: no such user "x"`), a numeric `--user` has no passwd entry and no `--group` was given, or they need the server to start as root and it did not.';
  static readonly outcome =
    'The CLI prints `nodicorn: error: MESSAGE` and exits with status 2, before binding.';
  static readonly docs = ['settings.md#server-mechanics'];
}

export class BindError extends NodicornError {
  static readonly code = 'NODICORN_ERR_INVALID_BIND';
  static readonly summary =
    'A `--bind` address cannot be read: `bind "ADDR": bad port`, `: empty socket path`, `: not a file descriptor`, `: write IPv6 addresses as [ADDR]:PORT`.';
  static readonly outcome = 'The server logs `cannot listen: MESSAGE` at critical and exits with status 1.';
  static readonly docs = ['settings.md#server-socket'];
}

export class StatsdAddressError extends NodicornError {
  static readonly code = 'NODICORN_ERR_INVALID_STATSD_ADDRESS';
  static readonly summary =
    '`--statsd-host` is not `HOST[:PORT]` or `[IPv6]:PORT`, or names a Unix socket (Node has no Unix datagram sockets).';
  static readonly outcome =
    'Reported as `NODICORN_ERR_INVALID_SETTING` for `--statsd-host` (this error is its `cause`): exit status 2.';
  static readonly docs = ['logging.md#statsd'];
}

export class NoPythonError extends NodicornError {
  static readonly code = 'NODICORN_ERR_NO_PYTHON';
  static readonly summary =
    'No usable Python interpreter (3.8 or newer) for the workers or for reading a `gunicorn.conf.py`; the message lists every candidate tried and why each was rejected.';
  static readonly outcome =
    'A Python app is not started (exit status 3); a `gunicorn.conf.py` is not read (`NODICORN_ERR_INVALID_SETTING`, exit status 2).';
  static readonly docs = ['python-apps.md#which-python'];
}

export class AppLoadError extends NodicornError {
  static readonly code = 'NODICORN_ERR_APP_LOAD';
  static readonly summary =
    'The application could not be loaded: a TypeScript/JavaScript file that does not import or exports no app function, or a Python module whose import raised or that names nothing (`the application could not be loaded: …`, with the traceback when the import raised).';
  static readonly outcome = 'The server logs the message at critical and exits with status 3.';
  static readonly docs = ['python-apps.md#loading-the-app', 'typescript-apps.md'];
}

export class RequestBodyError extends NodicornError {
  static readonly code = 'NODICORN_ERR_REQUEST_BODY';
  static readonly summary =
    'A request body the server refuses while receiving it: larger than `--limit-request-body` (413), slower than 64 KiB per `--body-timeout` (408), a forbidden trailer field or a client gone mid-body (400). It carries the HTTP status in `status`.';
  static readonly outcome =
    "The client gets that status (or nothing, if it has gone). A Python app never sees the request; a TypeScript app's `wsgi.input` read throws it, and the status is answered if the app lets it through.";
  static readonly docs = ['logging.md#refused-requests', 'settings.md#security'];
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ResponseHeadError extends NodicornError {
  static readonly code = 'NODICORN_ERR_RESPONSE_HEAD';
  static readonly summary =
    'An application gave a status or headers that may not be sent: CR, LF, NUL or another control character, a status outside 100–599, a hop-by-hop header, a bad or second Content-Length, a repeated single-value field; or headers after they were sent. The message says which header and why.';
  static readonly outcome =
    '`start_response` raises it into the app (PEP 3333); if the app lets it through, the client gets 500, or a cut connection once headers went out, and the error log gets the traceback.';
  static readonly docs = ['python-apps.md#faults-and-time-limits', 'typescript-apps.md#the-contract'];
}

/** Every registered error class, in the order docs/errors.md lists them. */
export const ERRORS: readonly ErrorClass[] = [
  SettingError,
  IdentityError,
  BindError,
  StatsdAddressError,
  NoPythonError,
  AppLoadError,
  RequestBodyError,
  ResponseHeadError,
];

export function isNodicornError(value: unknown): value is NodicornError {
  return value instanceof NodicornError;
}
