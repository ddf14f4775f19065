/** Every setting nodicorn has, declared once. `docs/settings.md` and `--help` are generated from this. */

import {
  DEFAULT_FORWARDED_TRUST,
  FORWARDED_FAMILIES,
  type ForwardedFamily,
  parseFieldTrust,
  parseProxyTrust,
} from '../http/forwarded.js';
import { GUNICORN_FORMAT } from '../observability/access-log.js';
import { LOG_LEVELS } from '../observability/logger.js';
import { parseStatsdAddress } from '../observability/statsd.js';
import type { OnStarting, PostRequest, PreRequest, ServerHook, WorkerHook } from '../server/hooks.js';
import { FRONTS_DOC, type FrontCount, frontCount } from './front-count.js';
import {
  boolean,
  defineSetting,
  hook,
  integer,
  list,
  oneOf,
  type Setting,
  SettingError,
  seconds,
  text,
} from './registry.js';

/** A list of peers (IPs, CIDRs, '*'), checked the way src/http/forwarded.ts will use it. */
function peerList(value: string): string[] {
  const ips = list(value);
  try {
    parseProxyTrust(ips);
  } catch (error) {
    throw new SettingError(error instanceof Error ? error.message : String(error));
  }
  return ips;
}

/** `--forwarded-trust`: proxy header fields, each optionally `=N` proxies; checked as forwarded.ts reads it. */
function fieldList(value: string): string[] {
  const fields = list(value).map((entry) => entry.toLowerCase());
  try {
    parseFieldTrust(fields);
  } catch (error) {
    throw new SettingError(error instanceof Error ? error.message : String(error));
  }
  return fields;
}

/**
 * A file mode, octal as chmod reads it (`660`, `0660`, `0o660`), kept as text (`0660`) so that --help and
 * the settings doc show it as people write it; `Number.parseInt(mode, 8)` is the number.
 */
function fileMode(value: string): string {
  const t = value.trim().toLowerCase().replace(/^0o/, '');
  if (!/^[0-7]{1,4}$/.test(t) || Number.parseInt(t, 8) > 0o777)
    throw new SettingError(`expected an octal mode from 0 to 0777 (e.g. 0660), got ${JSON.stringify(value)}`);
  return `0${Number.parseInt(t, 8).toString(8).padStart(3, '0')}`;
}

/** A user or group: a name (as in /etc/passwd, /etc/group) or a numeric id; resolved at startup. */
function account(value: string): string {
  const t = value.trim();
  if (t !== '' && !/^(\d+|[A-Za-z_][A-Za-z0-9_.-]*\$?)$/.test(t))
    throw new SettingError(`expected a name or a numeric id, got ${JSON.stringify(value)}`);
  return t;
}

/** Gunicorn's umask reading: 0o22, 0x12, a leading 0 for octal (022); other digits are decimal. */
function umask(value: string): number {
  const t = value.trim().toLowerCase();
  const n = /^0o[0-7]+$/.test(t)
    ? Number.parseInt(t.slice(2), 8)
    : /^0x[0-9a-f]+$/.test(t)
      ? Number.parseInt(t.slice(2), 16)
      : /^0[0-7]+$/.test(t)
        ? Number.parseInt(t, 8)
        : /^(0|[1-9]\d*)$/.test(t)
          ? Number(t)
          : Number.NaN;
  if (!(n >= 0 && n <= 0o777))
    throw new SettingError(`expected a mask from 0 to 0o777 (e.g. 0o22), got ${JSON.stringify(value)}`);
  return n;
}

/** A size in bytes: a whole number, or one with a K, M or G suffix (KiB, MiB, GiB). */
function byteSize(value: string): number {
  const m = /^(\d+)\s*([kmg])?i?b?$/i.exec(value.trim());
  if (m === null)
    throw new SettingError(`expected bytes (e.g. 536870912 or 512M), got ${JSON.stringify(value)}`);
  const unit = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Number(m[1]) * unit;
}

export const SETTINGS = {
  config: defineSetting({
    key: 'config',
    flag: '--config',
    short: '-c',
    meta: 'FILE',
    section: 'Config file',
    doc: 'A nodicorn.config.{json,mjs,js,ts} file of settings (keys as in this list), or a Gunicorn config file (a .py file, read with Python; see docs/migrating-from-gunicorn.md). Default: the first of those in the current directory, else ./gunicorn.conf.py.',
    default: '',
    parse: text,
  }),
  print_config: defineSetting({
    key: 'print_config',
    flag: '--print-config',
    section: 'Config file',
    doc: 'Print every resolved setting and where its value came from, then exit; the application is not imported.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  check_config: defineSetting({
    key: 'check_config',
    flag: '--check-config',
    section: 'Config file',
    doc: 'Check the settings and the application reference, then exit (0 when valid); the application is not imported.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  wsgi_app: defineSetting({
    key: 'wsgi_app',
    flag: '--wsgi-app',
    meta: 'APP',
    section: 'Config file',
    doc: 'The application (MODULE:ATTR or FILE:EXPORT) when none is given as an argument, so a config file can name it (Gunicorn’s wsgi_app).',
    default: '',
    parse: text,
  }),
  bind: defineSetting({
    key: 'bind',
    flag: '--bind',
    short: '-b',
    meta: 'ADDRESS',
    section: 'Server socket',
    doc: 'Where to listen: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N. Repeat for several. Sockets passed by systemd (LISTEN_FDS) replace these.',
    default: ['127.0.0.1:8000'] as string[],
    parse: list,
    repeatable: true,
  }),
  keepalive: defineSetting({
    key: 'keepalive',
    flag: '--keep-alive',
    meta: 'SECONDS',
    section: 'Server socket',
    doc: 'How long an idle keep-alive connection is kept open.',
    default: 2,
    parse: seconds,
  }),
  backlog: defineSetting({
    key: 'backlog',
    flag: '--backlog',
    meta: 'INT',
    section: 'Server socket',
    doc: 'How many connections may wait to be accepted (the listen backlog; the kernel caps it at net.core.somaxconn).',
    default: 2048,
    parse: integer(1, 65535),
  }),
  header_timeout: defineSetting({
    key: 'header_timeout',
    flag: '--header-timeout',
    meta: 'SECONDS',
    section: 'Security',
    doc: 'How long a client may take to send a request head; slower ones get 408 (slow-loris guard).',
    default: 30,
    parse: seconds,
  }),
  limit_request_line: defineSetting({
    key: 'limit_request_line',
    flag: '--limit-request-line',
    meta: 'BYTES',
    section: 'Security',
    doc: 'Largest request line accepted; longer ones get 414. 0 means no limit.',
    default: 4094,
    parse: integer(0, 1 << 20),
  }),
  limit_request_fields: defineSetting({
    key: 'limit_request_fields',
    flag: '--limit-request-fields',
    meta: 'INT',
    section: 'Security',
    doc: 'Most header fields in one request; more get 431.',
    default: 100,
    parse: integer(1, 32768),
  }),
  limit_request_field_size: defineSetting({
    key: 'limit_request_field_size',
    flag: '--limit-request-field_size',
    meta: 'BYTES',
    section: 'Security',
    doc: 'Largest header field line accepted, counted as Gunicorn counts it (`name: value` and its CRLF); larger ones get 431.',
    default: 8190,
    parse: integer(1, 1 << 20),
  }),
  limit_request_body: defineSetting({
    key: 'limit_request_body',
    flag: '--limit-request-body',
    meta: 'BYTES',
    section: 'Security',
    doc: 'Largest request body accepted; larger ones get 413. 0 means no limit.',
    default: 1024 * 1024 * 1024,
    parse: integer(0),
  }),
  response_memory_limit: defineSetting({
    key: 'response_memory_limit',
    flag: '--response-memory-limit',
    meta: 'BYTES',
    section: 'Flow control',
    doc: "Bytes of one Python response held in memory while its client is slower than the app; past it they go to an anonymous temporary file (nginx's proxy buffers).",
    default: 1024 * 1024,
    parse: integer(0),
  }),
  response_disk_limit: defineSetting({
    key: 'response_disk_limit',
    flag: '--response-disk-limit',
    meta: 'BYTES',
    section: 'Flow control',
    doc: "Bytes of one Python response held on disk for a slow client (nginx's proxy_max_temp_file_size); past it that one request waits for its client, the worker's other requests do not.",
    default: 1024 * 1024 * 1024,
    parse: integer(0),
  }),
  response_memory_total: defineSetting({
    key: 'response_memory_total',
    flag: '--response-memory-total',
    meta: 'BYTES',
    section: 'Flow control',
    doc: 'Bytes all responses together may hold in memory for slow clients; past it, held bytes go to disk.',
    default: 256 * 1024 * 1024,
    parse: integer(0),
  }),
  send_timeout: defineSetting({
    key: 'send_timeout',
    flag: '--send-timeout',
    meta: 'SECONDS',
    section: 'Flow control',
    doc: "A client that takes no byte of its response for this long is disconnected and its request cancelled (nginx's send_timeout). 0 means never.",
    default: 60,
    parse: seconds,
  }),
  body_memory_limit: defineSetting({
    key: 'body_memory_limit',
    flag: '--body-memory-limit',
    meta: 'BYTES',
    section: 'Security',
    doc: 'Request bodies up to this size are held in memory for a Python worker; larger ones are spooled to a temporary file.',
    default: 1024 * 1024,
    parse: integer(0),
  }),
  body_timeout: defineSetting({
    key: 'body_timeout',
    flag: '--body-timeout',
    meta: 'SECONDS',
    section: 'Security',
    doc: "Longest a client may take to send each 64 KiB of a request body for a Python app (all of it, when shorter); slower ones get 408 and the connection closes. Like nginx's client_body_timeout, but a byte now and then does not restart it. 0 means no limit.",
    default: 60,
    parse: seconds,
  }),
  certfile: defineSetting({
    key: 'certfile',
    flag: '--certfile',
    meta: 'FILE',
    section: 'TLS',
    doc: 'PEM certificate (chain): serve HTTPS instead of HTTP.',
    default: '',
    parse: text,
  }),
  keyfile: defineSetting({
    key: 'keyfile',
    flag: '--keyfile',
    meta: 'FILE',
    section: 'TLS',
    doc: 'PEM private key for --certfile (default: the certfile itself).',
    default: '',
    parse: text,
  }),
  ca_certs: defineSetting({
    key: 'ca_certs',
    flag: '--ca-certs',
    meta: 'FILE',
    section: 'TLS',
    doc: 'PEM certificates of the authorities client certificates are checked against.',
    default: '',
    parse: text,
  }),
  cert_reqs: defineSetting({
    key: 'cert_reqs',
    flag: '--cert-reqs',
    meta: 'INT',
    section: 'TLS',
    doc: 'Client certificates: 0 not asked for, 1 asked for but optional, 2 required and verified against --ca-certs.',
    default: 0,
    parse: integer(0, 2),
  }),
  http2: defineSetting({
    key: 'http2',
    flag: '--http2',
    section: 'TLS',
    doc: 'HTTP/2 via ALPN on TLS binds; HTTP/1.1 clients are still served on the same port.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  forwarded_allow_ips: defineSetting({
    key: 'forwarded_allow_ips',
    flag: '--forwarded-allow-ips',
    meta: 'IPS',
    section: 'Proxies',
    doc: "Peers (IPs, CIDRs, or '*') whose proxy headers are applied (the fields in --forwarded-trust); other peers' are removed. Unix-socket peers are trusted: the socket is made --socket-mode (0660), so only the proxy's user or group can connect.",
    default: ['127.0.0.1', '::1'] as string[],
    parse: peerList,
  }),
  proxy_protocol: defineSetting({
    key: 'proxy_protocol',
    flag: '--proxy-protocol',
    section: 'Proxies',
    doc: 'Every connection must start with a PROXY protocol header (v1 or v2, as HAProxy sends it) from a --proxy-allow-from peer; its client address becomes REMOTE_ADDR and REMOTE_PORT. Other connections are closed.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  proxy_allow_ips: defineSetting({
    key: 'proxy_allow_ips',
    flag: '--proxy-allow-from',
    meta: 'IPS',
    section: 'Proxies',
    doc: "Peers (IPs, CIDRs, or '*') that may connect when --proxy-protocol is on. Unix-socket peers are allowed.",
    default: ['127.0.0.1', '::1'] as string[],
    parse: peerList,
  }),
  forwarded_headers: defineSetting({
    key: 'forwarded_headers',
    flag: '--forwarded-headers',
    meta: 'FAMILY',
    section: 'Proxies',
    doc: "Which proxy headers --forwarded-allow-ips peers are read from: 'x-forwarded' (X-Forwarded-For, -Proto, -Host; what Nginx, Apache and HAProxy set) or 'forwarded' (RFC 7239: for=, proto=, host=). The other family is removed. The port and the prefix come from X-Forwarded-Port and -Prefix in both.",
    default: 'x-forwarded' as ForwardedFamily,
    parse: oneOf(FORWARDED_FAMILIES),
  }),
  forwarded_trust: defineSetting({
    key: 'forwarded_trust',
    flag: '--forwarded-trust',
    meta: 'FIELDS',
    section: 'Proxies',
    doc: "Which proxy header fields are believed: for (REMOTE_ADDR), proto (wsgi.url_scheme), host (HTTP_HOST, SERVER_NAME), port (SERVER_PORT), prefix (SCRIPT_NAME), each optionally =N for N proxies in front that each add an entry (Werkzeug ProxyFix's counts; the N-th entry from the end is used), or 'none'. host, port and prefix only when your proxy sets or removes those headers: otherwise a client's own would be believed. Headers of other fields are removed.",
    default: [...DEFAULT_FORWARDED_TRUST],
    parse: fieldList,
  }),
  root_path: defineSetting({
    key: 'root_path',
    flag: '--root-path',
    meta: 'PATH',
    section: 'Application',
    doc: "The application's mount point: requests under it get it as SCRIPT_NAME and the rest as PATH_INFO.",
    default: '',
    parse: (value: string) => value.replace(/\/+$/, ''),
  }),
  workers: defineSetting({
    key: 'workers',
    flag: '--workers',
    short: '-w',
    meta: 'INT',
    section: 'Worker processes',
    doc: 'Number of Python worker processes.',
    default: 1,
    parse: integer(1, 1024),
  }),
  threads: defineSetting({
    key: 'threads',
    flag: '--threads',
    meta: 'INT',
    section: 'Worker processes',
    doc: 'Threads per Python worker; each runs one request at a time.',
    default: 1,
    parse: integer(1, 1024),
  }),
  fronts: defineSetting({
    key: 'fronts',
    flag: '--fronts',
    meta: 'N',
    section: 'Worker processes',
    doc: FRONTS_DOC,
    default: 'auto' as FrontCount,
    parse: frontCount,
  }),
  timeout: defineSetting({
    key: 'timeout',
    flag: '--timeout',
    short: '-t',
    meta: 'SECONDS',
    section: 'Worker processes',
    doc: 'A request running longer gets its worker killed and replaced, and the client a 504. 0 disables.',
    default: 30,
    parse: seconds,
  }),
  graceful_timeout: defineSetting({
    key: 'graceful_timeout',
    flag: '--graceful-timeout',
    meta: 'SECONDS',
    section: 'Worker processes',
    doc: 'On SIGTERM or SIGHUP, how long requests in flight may take to finish before they are cut.',
    default: 30,
    parse: seconds,
  }),
  max_requests: defineSetting({
    key: 'max_requests',
    flag: '--max-requests',
    meta: 'INT',
    section: 'Worker processes',
    doc: 'Replace a worker after it has served this many requests. 0 disables.',
    default: 0,
    parse: integer(0),
  }),
  max_requests_jitter: defineSetting({
    key: 'max_requests_jitter',
    flag: '--max-requests-jitter',
    meta: 'INT',
    section: 'Worker processes',
    doc: 'Add a random 0..N to each worker\u2019s --max-requests, so workers do not restart together.',
    default: 0,
    parse: integer(0),
  }),
  max_worker_memory: defineSetting({
    key: 'max_worker_memory',
    flag: '--max-worker-memory',
    meta: 'BYTES',
    section: 'Worker processes',
    doc: "A worker whose resident memory (RSS, read every second) passes this many bytes (suffixes K, M, G: KiB, MiB, GiB) is replaced after its current request (uWSGI's reload-on-rss). 0 disables.",
    default: 0,
    parse: byteSize,
  }),
  max_queue: defineSetting({
    key: 'max_queue',
    flag: '--max-queue',
    meta: 'INT',
    section: 'Queue',
    doc: 'Requests that may wait for a Python worker; past them a request is answered 503 with Retry-After at once. 0 means no limit.',
    default: 0,
    parse: integer(0),
  }),
  queue_timeout: defineSetting({
    key: 'queue_timeout',
    flag: '--queue-timeout',
    meta: 'SECONDS',
    section: 'Queue',
    doc: 'A request that has waited this long for a Python worker is answered 503 with Retry-After and never reaches the app (its client has likely given up). 0 means no limit.',
    default: 0,
    parse: seconds,
  }),
  max_workers: defineSetting({
    key: 'max_workers',
    flag: '--max-workers',
    meta: 'INT',
    section: 'Queue',
    doc: "Autoscaling: while requests wait 0.1 s or more and no worker is idle, start workers (one at a time) up to this many; retire them down to -w once a worker has stayed idle for --scale-down-delay (uWSGI's cheaper mode). 0, or not above -w, disables.",
    default: 0,
    parse: integer(0, 1024),
  }),
  scale_down_delay: defineSetting({
    key: 'scale_down_delay',
    flag: '--scale-down-delay',
    meta: 'SECONDS',
    section: 'Queue',
    doc: 'With --max-workers: how long some worker must have been idle (and nothing queued) before one worker above -w is retired; one per delay.',
    default: 30,
    parse: seconds,
  }),
  python: defineSetting({
    key: 'python',
    flag: '--python',
    meta: 'PATH',
    section: 'Python',
    doc: 'The Python interpreter for workers. Default: $VIRTUAL_ENV/bin/python, then python3 on PATH.',
    default: '',
    parse: text,
  }),
  chdir: defineSetting({
    key: 'chdir',
    flag: '--chdir',
    meta: 'DIR',
    section: 'Python',
    doc: 'Change to this directory before loading the application.',
    default: '',
    parse: text,
  }),
  pythonpath: defineSetting({
    key: 'pythonpath',
    flag: '--pythonpath',
    meta: 'DIRS',
    section: 'Python',
    doc: 'Comma-separated directories to add to the Python path.',
    default: [] as string[],
    parse: list,
  }),
  preload_app: defineSetting({
    key: 'preload_app',
    flag: '--preload',
    section: 'Python',
    doc: 'Import the application once, in a fork server, and fork the workers from it (shared memory, fast replacement); HUP starts a fork server with the new code.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  reload: defineSetting({
    key: 'reload',
    flag: '--reload',
    section: 'Python',
    doc: 'Restart workers when a source file of the application changes (development): the files of the modules the workers imported, outside the stdlib and site-packages, each directory watched without walking the tree.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  reload_extra_files: defineSetting({
    key: 'reload_extra_files',
    flag: '--reload-extra-file',
    meta: 'FILES',
    section: 'Python',
    doc: 'With --reload, also restart workers when one of these files changes (templates, configuration); relative paths are from --chdir, where the workers run. Repeat or separate with commas.',
    default: [] as string[],
    parse: list,
    repeatable: true,
  }),
  loglevel: defineSetting({
    key: 'loglevel',
    flag: '--log-level',
    meta: 'LEVEL',
    section: 'Logging',
    doc: `Error log level: ${LOG_LEVELS.join(', ')}.`,
    default: 'info' as (typeof LOG_LEVELS)[number],
    parse: oneOf(LOG_LEVELS),
  }),
  pidfile: defineSetting({
    key: 'pidfile',
    flag: '--pid',
    short: '-p',
    meta: 'FILE',
    section: 'Server mechanics',
    doc: "A file to write the server's process id to while it runs (removed on exit).",
    default: '',
    parse: text,
  }),
  user: defineSetting({
    key: 'user',
    flag: '--user',
    short: '-u',
    meta: 'USER',
    section: 'Server mechanics',
    doc: 'Started as root: once every socket is bound and the pid file written, run as this user (name or id), workers included. Default: unchanged.',
    default: '',
    parse: account,
  }),
  group: defineSetting({
    key: 'group',
    flag: '--group',
    short: '-g',
    meta: 'GROUP',
    section: 'Server mechanics',
    doc: "With --user (or alone, as root): run as this group (name or id). Default: the user's primary group, else unchanged.",
    default: '',
    parse: account,
  }),
  umask: defineSetting({
    key: 'umask',
    flag: '--umask',
    short: '-m',
    meta: 'INT',
    section: 'Server mechanics',
    doc: 'unix: bind sockets get --socket-mode less this mask; files the server and its workers create get it on top of the inherited umask. Octal as 0o22 or 022.',
    default: 0,
    parse: umask,
  }),
  socket_mode: defineSetting({
    key: 'socket_mode',
    flag: '--socket-mode',
    meta: 'MODE',
    section: 'Server mechanics',
    doc: "The mode unix: bind sockets are created with (less --umask): 0660 lets the server's user and group connect (make the proxy's user a member of that group, or run nodicorn with the proxy's group: systemd's Group=, --group). Unix-socket peers are trusted for proxy headers, so 0777, Gunicorn's, would let any local user set them. Octal, as chmod reads it.",
    default: '0660',
    parse: fileMode,
  }),
  metrics_bind: defineSetting({
    key: 'metrics_bind',
    flag: '--metrics-bind',
    meta: 'ADDRESS',
    section: 'Logging',
    doc: 'Serve Prometheus metrics at /metrics on this separate address (HOST:PORT or unix:PATH). Off when empty.',
    default: '',
    parse: text,
  }),
  accesslog: defineSetting({
    key: 'accesslog',
    flag: '--access-logfile',
    meta: 'FILE',
    section: 'Logging',
    doc: "Where the access log goes; '-' is stdout. Off when empty.",
    default: '',
    parse: text,
  }),
  access_log_format: defineSetting({
    key: 'access_log_format',
    flag: '--access-logformat',
    meta: 'FORMAT',
    section: 'Logging',
    doc: "The access log line, in Gunicorn's atoms (h l u t r s b f a, m U q H B T D M L p, {header}i, {header}o, {key}e); values are escaped. 'json' writes one JSON object per line instead (fields in docs/logging.md).",
    default: GUNICORN_FORMAT,
    parse: text,
  }),
  errorlog: defineSetting({
    key: 'errorlog',
    flag: '--error-logfile',
    meta: 'FILE',
    section: 'Logging',
    doc: "Where the error log goes, Python workers' stdout and stderr included; '-' is stderr. SIGUSR1 reopens it (and the access log file), for logrotate.",
    default: '-',
    parse: text,
    aliases: ['--log-file'],
  }),
  statsd_host: defineSetting({
    key: 'statsd_host',
    flag: '--statsd-host',
    meta: 'HOST:PORT',
    section: 'Logging',
    doc: "Send Gunicorn's StatsD metrics (gunicorn.requests, gunicorn.request.duration, …) over UDP to this address (port 8125 when omitted). Off when empty.",
    default: '',
    parse: (value: string) => {
      if (value.trim() !== '') parseStatsdAddress(value);
      return value.trim();
    },
  }),
  statsd_prefix: defineSetting({
    key: 'statsd_prefix',
    flag: '--statsd-prefix',
    meta: 'PREFIX',
    section: 'Logging',
    doc: "Put before every StatsD metric name (a '.' is added when missing), as Gunicorn does.",
    default: '',
    parse: text,
  }),
  dogstatsd_tags: defineSetting({
    key: 'dogstatsd_tags',
    flag: '--dogstatsd-tags',
    meta: 'TAGS',
    section: 'Logging',
    doc: 'Comma-separated DogStatsD tags (env:prod,service:web) added to every StatsD metric.',
    default: '',
    parse: (value: string) => {
      if (/[|\n\r]/.test(value)) throw new SettingError('tags cannot contain |, CR or LF');
      return value.trim();
    },
  }),
  health_path: defineSetting({
    key: 'health_path',
    flag: '--health-path',
    meta: 'PATH',
    section: 'Logging',
    doc: "A path (e.g. /healthz) answered by the server itself, before the app: 200 'ok' while it takes requests and a Python worker is alive, 503 while it drains or has no worker. Not in the access log. Also served on --metrics-bind. Off when empty.",
    default: '',
    parse: (value: string) => {
      const path = value.trim();
      if (path !== '' && (!path.startsWith('/') || /[?#\s]/.test(path)))
        throw new SettingError(`expected a path such as /healthz, got ${JSON.stringify(value)}`);
      return path;
    },
  }),
  proc_name: defineSetting({
    key: 'proc_name',
    flag: '--name',
    short: '-n',
    meta: 'NAME',
    section: 'Process naming',
    doc: "A name shown by ps and top: the server's title becomes 'nodicorn: master [NAME]', and the workers' command lines carry it.",
    default: '',
    parse: text,
  }),
  on_starting: defineSetting({
    key: 'on_starting',
    flag: '--on-starting',
    section: 'Server hooks',
    doc: 'on_starting(settings): called before the application is loaded. If it throws (or its promise rejects) the server does not start.',
    default: null as OnStarting | null,
    ...hook<OnStarting>(),
  }),
  when_ready: defineSetting({
    key: 'when_ready',
    flag: '--when-ready',
    section: 'Server hooks',
    doc: 'when_ready(server): called once the server listens and its workers are ready; server is { pid, addresses, settings, workers }.',
    default: null as ServerHook | null,
    ...hook<ServerHook>(),
  }),
  on_reload: defineSetting({
    key: 'on_reload',
    flag: '--on-reload',
    section: 'Server hooks',
    doc: 'on_reload(server): called on SIGHUP, as the workers are being replaced.',
    default: null as ServerHook | null,
    ...hook<ServerHook>(),
  }),
  on_exit: defineSetting({
    key: 'on_exit',
    flag: '--on-exit',
    section: 'Server hooks',
    doc: 'on_exit(server): called after the shutdown, just before the process exits (awaited for up to --graceful-timeout).',
    default: null as ServerHook | null,
    ...hook<ServerHook>(),
  }),
  pre_request: defineSetting({
    key: 'pre_request',
    flag: '--pre-request',
    section: 'Server hooks',
    doc: 'pre_request(environ): called in Node for each request, before the app (either kind) gets it; it may change the environ’s CGI keys. Synchronous.',
    default: null as PreRequest | null,
    ...hook<PreRequest>(),
  }),
  post_request: defineSetting({
    key: 'post_request',
    flag: '--post-request',
    section: 'Server hooks',
    doc: 'post_request(environ, status): called in Node once each response is over (status 0 when none was sent).',
    default: null as PostRequest | null,
    ...hook<PostRequest>(),
  }),
  post_worker_init: defineSetting({
    key: 'post_worker_init',
    flag: '--post-worker-init',
    section: 'Server hooks',
    doc: 'post_worker_init(worker): called in Node when a Python worker has loaded the app and is ready; worker is { pid, age }.',
    default: null as WorkerHook | null,
    ...hook<WorkerHook>(),
  }),
  worker_exit: defineSetting({
    key: 'worker_exit',
    flag: '--worker-exit',
    section: 'Server hooks',
    doc: 'worker_exit(worker): called in Node when a Python worker has exited; worker is { pid, age, exitCode, signal } (Gunicorn’s child_exit).',
    default: null as WorkerHook | null,
    ...hook<WorkerHook>(),
  }),
};

export type SettingName = keyof typeof SETTINGS;
export type Settings = { readonly [K in SettingName]: (typeof SETTINGS)[K]['default'] };

/** The settings grouped by section, in declaration order (for --help and docs/settings.md). */
export function settingsBySection(): Map<string, Setting<unknown>[]> {
  const sections = new Map<string, Setting<unknown>[]>();
  for (const setting of Object.values(SETTINGS) as Setting<unknown>[]) {
    const list = sections.get(setting.section) ?? [];
    list.push(setting);
    sections.set(setting.section, list);
  }
  return sections;
}
