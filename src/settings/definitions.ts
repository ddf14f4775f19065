/** Every setting nodicorn has, declared once. `docs/settings.md` and `--help` are generated from this. */

import { parseProxyTrust } from '../http/forwarded.js';
import { GUNICORN_FORMAT } from '../observability/access-log.js';
import { LOG_LEVELS } from '../observability/logger.js';
import {
  boolean,
  defineSetting,
  integer,
  list,
  oneOf,
  type Setting,
  SettingError,
  seconds,
  text,
} from './registry.js';

export const SETTINGS = {
  config: defineSetting({
    key: 'config',
    flag: '--config',
    short: '-c',
    meta: 'FILE',
    section: 'Config file',
    doc: 'A nodicorn.config.{json,mjs,js,ts} file of settings (keys as in this list). Default: the first of those in the current directory.',
    default: '',
    parse: text,
  }),
  print_config: defineSetting({
    key: 'print_config',
    flag: '--print-config',
    section: 'Config file',
    doc: 'Print every resolved setting and where its value came from, then exit.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  check_config: defineSetting({
    key: 'check_config',
    flag: '--check-config',
    section: 'Config file',
    doc: 'Check the settings and the application reference, then exit (0 when valid).',
    default: false,
    parse: boolean,
    boolean: true,
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
    doc: 'Largest header field (name and value) accepted; larger ones get 431.',
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
  body_memory_limit: defineSetting({
    key: 'body_memory_limit',
    flag: '--body-memory-limit',
    meta: 'BYTES',
    section: 'Security',
    doc: 'Request bodies up to this size are held in memory for a Python worker; larger ones are spooled to a temporary file.',
    default: 1024 * 1024,
    parse: integer(0),
  }),
  forwarded_allow_ips: defineSetting({
    key: 'forwarded_allow_ips',
    flag: '--forwarded-allow-ips',
    meta: 'IPS',
    section: 'Proxies',
    doc: "Peers (IPs, CIDRs, or '*') whose Forwarded / X-Forwarded-For, -Proto, -Host, -Prefix headers are applied; other peers' are removed. Unix-socket peers are trusted.",
    default: ['127.0.0.1', '::1'] as string[],
    parse: (value: string) => {
      const ips = list(value);
      try {
        parseProxyTrust(ips);
      } catch (error) {
        throw new SettingError(error instanceof Error ? error.message : String(error));
      }
      return ips;
    },
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
    doc: 'Import the application once, in a template process, and fork workers from it.',
    default: false,
    parse: boolean,
    boolean: true,
  }),
  reload: defineSetting({
    key: 'reload',
    flag: '--reload',
    section: 'Python',
    doc: 'Restart workers when a Python source file of the application changes (development).',
    default: false,
    parse: boolean,
    boolean: true,
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
    doc: "The access log line, in Gunicorn's atoms (h l u t r s b f a, m U q H B T D M L p, {header}i, {header}o, {key}e); values are escaped.",
    default: GUNICORN_FORMAT,
    parse: text,
  }),
  errorlog: defineSetting({
    key: 'errorlog',
    flag: '--error-logfile',
    meta: 'FILE',
    section: 'Logging',
    doc: "Where the error log goes; '-' is stderr.",
    default: '-',
    parse: text,
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
