/**
 * Every Gunicorn setting, and what nodicorn does with it: the one table behind reading gunicorn.conf.py
 * (gunicorn-conf.ts) and docs/migrating-from-gunicorn.md. A test fails when the installed Gunicorn has a
 * setting this table lacks, and when a mapped key is not in the registry.
 *
 * Statuses:
 *   mapped          the nodicorn setting `key` takes the same flag, config key and value as in Gunicorn, and
 *                   does the same unless `note` says what differs (README.md calls only those without a
 *                   note plainly "same": a test holds it to that)
 *   worker hook     a Python hook that only gunicorn.conf.py can give; it runs in each Python worker
 *   unsupported     not (yet) available; `reason` says what to do instead
 *   not applicable  nodicorn's architecture makes it meaningless; `reason` says why
 *
 * `workerHook` marks mapped hooks that gunicorn.conf.py may also give as Python functions, which then run
 * in each Python worker. `harmless` lists the values of an unsupported or not-applicable setting that ask
 * for what nodicorn does anyway: a gunicorn.conf.py may keep them (any other value is refused); 'any'
 * means every value is harmless.
 */

export type GunicornStatus = 'mapped' | 'worker hook' | 'unsupported' | 'not applicable';

export interface GunicornSetting {
  /** Gunicorn's command-line flags, as in its --help ('' when it has none). */
  readonly flags: string;
  readonly status: GunicornStatus;
  /** The nodicorn setting (mapped). */
  readonly key?: string;
  /** What differs, or why it is not there: one line. */
  readonly note?: string;
  readonly workerHook?: true;
  readonly harmless?: readonly unknown[] | 'any';
}

const mapped = (flags: string, key: string, note?: string): GunicornSetting => ({
  flags,
  status: 'mapped',
  key,
  ...(note === undefined ? {} : { note }),
});
const unsupported = (
  flags: string,
  note: string,
  harmless: GunicornSetting['harmless'],
): GunicornSetting => ({
  flags,
  status: 'unsupported',
  note,
  ...(harmless === undefined ? {} : { harmless }),
});
const notApplicable = (
  flags: string,
  note: string,
  harmless: GunicornSetting['harmless'],
): GunicornSetting => ({
  flags,
  status: 'not applicable',
  note,
  ...(harmless === undefined ? {} : { harmless }),
});
const hook = (key: string, note: string): GunicornSetting => ({
  flags: '',
  status: 'mapped',
  key,
  note,
  workerHook: true,
});
const masterHook = (key: string, note: string): GunicornSetting => ({
  flags: '',
  status: 'mapped',
  key,
  note,
});

/** Gunicorn's settings in its own order (gunicorn/config.py), including those of releases after 20.1. */
export const GUNICORN_SETTINGS: Readonly<Record<string, GunicornSetting>> = {
  // Config File
  config: mapped(
    '-c, --config',
    'config',
    'Also reads nodicorn.config.{json,mjs,js,ts}; a .py file (or python:MODULE) is read as a Gunicorn config.',
  ),
  wsgi_app: mapped('', 'wsgi_app', 'Used when no APP argument is given.'),
  // Server Socket
  bind: mapped('-b, --bind', 'bind', "Gunicorn's PORT variable is not read: give --bind."),
  backlog: mapped('--backlog', 'backlog'),
  // Worker Processes
  workers: mapped('-w, --workers', 'workers', 'WEB_CONCURRENCY is not read: give -w or NODICORN_WORKERS.'),
  worker_class: notApplicable(
    '-k, --worker-class',
    "nodicorn's worker model is fixed: Node does all network I/O and each Python worker runs --threads requests at a time (sync/gthread); gevent, eventlet and tornado workers have no equivalent.",
    ['sync', 'gthread'],
  ),
  threads: mapped('--threads', 'threads'),
  worker_connections: notApplicable(
    '--worker-connections',
    'Node holds every connection; only async workers use this in Gunicorn.',
    'any',
  ),
  max_requests: mapped('--max-requests', 'max_requests'),
  max_requests_jitter: mapped('--max-requests-jitter', 'max_requests_jitter'),
  timeout: mapped(
    '-t, --timeout',
    'timeout',
    'Per request, not per silent worker: the worker is killed and the client gets 504.',
  ),
  graceful_timeout: mapped('--graceful-timeout', 'graceful_timeout'),
  keepalive: mapped('--keep-alive', 'keepalive', 'Applies to every app: Node keeps the connections.'),
  // Security
  limit_request_line: mapped('--limit-request-line', 'limit_request_line'),
  limit_request_fields: mapped('--limit-request-fields', 'limit_request_fields'),
  limit_request_field_size: mapped('--limit-request-field_size', 'limit_request_field_size'),
  // Debugging
  reload: mapped(
    '--reload',
    'reload',
    "Node watches the files of the modules the workers imported, outside the stdlib and site-packages (Gunicorn's reloader: all of sys.modules), and replaces the workers as HUP does, new ones first, so code that cannot be imported leaves the old workers serving; also with --preload.",
  ),
  reload_engine: notApplicable(
    '--reload-engine',
    'nodicorn watches with fs.watch (inotify on Linux), one watch per directory of the app code.',
    'any',
  ),
  reload_extra_files: mapped('--reload-extra-file', 'reload_extra_files'),
  spew: unsupported('--spew', 'Trace with python -X importtime, a debugger or a profiler instead.', [false]),
  check_config: mapped(
    '--check-config',
    'check_config',
    'Checks the settings and the application reference without importing the app (Gunicorn imports it, and exits 1 when that fails).',
  ),
  print_config: mapped(
    '--print-config',
    'print_config',
    'Also shows where each value came from; the app is not imported (Gunicorn imports it).',
  ),
  // Server Mechanics
  preload_app: mapped(
    '--preload',
    'preload_app',
    'A fork server imports the app once and forks the workers; unlike Gunicorn, HUP reloads the code (a new fork server per generation; docs/python-apps.md).',
  ),
  sendfile: notApplicable(
    '--no-sendfile',
    'wsgi.file_wrapper files always go from the worker to Node with os.sendfile.',
    'any',
  ),
  reuse_port: unsupported(
    '--reuse-port',
    'Node 20 cannot set SO_REUSEPORT on a listening socket; --fronts N has N front processes accept on one shared socket instead.',
    [false],
  ),
  chdir: mapped('--chdir', 'chdir'),
  daemon: notApplicable(
    '-D, --daemon',
    'Run nodicorn under systemd, a container runtime or another supervisor.',
    [false],
  ),
  raw_env: unsupported(
    '-e, --env',
    "Set the variables in the service's environment (systemd Environment=, docker -e).",
    [[]],
  ),
  pidfile: mapped('-p, --pid', 'pidfile'),
  worker_tmp_dir: notApplicable(
    '--worker-tmp-dir',
    'No heartbeat file: Node watches each worker through its socket.',
    'any',
  ),
  user: mapped('-u, --user', 'user', 'The whole server drops root after binding, before any app code runs.'),
  group: mapped('-g, --group', 'group'),
  umask: mapped(
    '-m, --umask',
    'umask',
    "unix: sockets get --socket-mode (0660) less the mask, not 0777 less it; --socket-mode 0777 for Gunicorn's.",
  ),
  initgroups: unsupported('--initgroups', 'Not yet; would come with --user and --group.', [false]),
  tmp_upload_dir: notApplicable(
    '',
    'Large request bodies are spooled to the system temporary directory (TMPDIR).',
    'any',
  ),
  secure_scheme_headers: unsupported(
    '',
    'The scheme comes from X-Forwarded-Proto or Forwarded sent by --forwarded-allow-ips peers.',
    [{ 'X-FORWARDED-PROTOCOL': 'ssl', 'X-FORWARDED-PROTO': 'https', 'X-FORWARDED-SSL': 'on' }],
  ),
  forwarded_allow_ips: mapped(
    '--forwarded-allow-ips',
    'forwarded_allow_ips',
    "Also CIDRs; FORWARDED_ALLOW_IPS is not read. The default includes ::1, as newer Gunicorns' does. Believed from them: X-Forwarded-For and -Proto; -Host, -Port, -Prefix only with --forwarded-trust.",
  ),
  // Logging
  accesslog: mapped('--access-logfile', 'accesslog'),
  disable_redirect_access_to_syslog: notApplicable(
    '--disable-redirect-access-to-syslog',
    'No syslog output (see syslog).',
    [false],
  ),
  access_log_format: mapped(
    '--access-logformat',
    'access_log_format',
    "Same atoms; values are escaped; 'json' for JSON lines.",
  ),
  errorlog: mapped('--error-logfile, --log-file', 'errorlog'),
  loglevel: mapped('--log-level', 'loglevel'),
  capture_output: notApplicable(
    '--capture-output',
    "Always on for Python workers: their stdout and stderr go to the error log. A TypeScript app's console output stays on the server's own stdout/stderr.",
    'any',
  ),
  logger_class: unsupported(
    '--logger-class',
    'The error and access logs are fixed; use the JSON access log for pipelines.',
    ['gunicorn.glogging.Logger', 'simple'],
  ),
  logconfig: unsupported(
    '--log-config',
    "Python logging configuration applies to Gunicorn's own logger; configure your app's logging in the app.",
    [null],
  ),
  logconfig_dict: unsupported(
    '',
    "Python logging configuration applies to Gunicorn's own logger; configure your app's logging in the app.",
    [{}],
  ),
  logconfig_json: unsupported(
    '--log-config-json',
    "Python logging configuration applies to Gunicorn's own logger; configure your app's logging in the app.",
    [null],
  ),
  syslog_addr: unsupported(
    '--log-syslog-to',
    'No syslog: log to stderr and let journald or the container runtime collect it.',
    'any',
  ),
  syslog: unsupported(
    '--log-syslog',
    'No syslog: log to stderr and let journald or the container runtime collect it.',
    [false],
  ),
  syslog_prefix: unsupported(
    '--log-syslog-prefix',
    'No syslog: log to stderr and let journald or the container runtime collect it.',
    [null],
  ),
  syslog_facility: unsupported(
    '--log-syslog-facility',
    'No syslog: log to stderr and let journald or the container runtime collect it.',
    ['user'],
  ),
  enable_stdio_inheritance: notApplicable('-R, --enable-stdio-inheritance', 'No daemon mode.', 'any'),
  statsd_host: mapped('--statsd-host', 'statsd_host', 'UDP only (no unix:); same metric names.'),
  dogstatsd_tags: mapped('--dogstatsd-tags', 'dogstatsd_tags'),
  statsd_prefix: mapped('--statsd-prefix', 'statsd_prefix'),
  // Process Naming
  proc_name: mapped('-n, --name', 'proc_name', 'Needs no setproctitle: Node sets its own title.'),
  default_proc_name: notApplicable('', "Internal to Gunicorn's application classes.", 'any'),
  // Server Mechanics
  pythonpath: mapped('--pythonpath', 'pythonpath'),
  paste: unsupported(
    '--paste, --paster',
    'Load a PasteDeploy app from a small module: application = paste.deploy.loadapp("config:/path/app.ini").',
    [null],
  ),
  // Server Hooks
  on_starting: masterHook('on_starting', 'In nodicorn.config.mjs, as on_starting(settings).'),
  on_reload: masterHook('on_reload', 'In nodicorn.config.mjs, as on_reload(server).'),
  when_ready: masterHook('when_ready', 'In nodicorn.config.mjs, as when_ready(server).'),
  pre_fork: notApplicable('', 'Workers are started by Node, not forked from a Python master.', undefined),
  post_fork: {
    flags: '',
    status: 'worker hook',
    note: 'From gunicorn.conf.py: runs in each worker before it imports the app.',
  },
  post_worker_init: hook(
    'post_worker_init',
    'From gunicorn.conf.py: runs in each worker once the app is imported. In nodicorn.config.mjs: called in Node with { pid, age }.',
  ),
  worker_int: unsupported(
    '',
    'Workers ignore SIGINT; the server drains and stops them (see worker_exit).',
    undefined,
  ),
  worker_abort: {
    flags: '',
    status: 'worker hook',
    note: 'From gunicorn.conf.py: runs in the worker killed for --timeout, after its stacks are logged.',
  },
  pre_exec: notApplicable(
    '',
    'No re-exec of the master on USR2: use SIGHUP or a rolling restart.',
    undefined,
  ),
  pre_request: hook(
    'pre_request',
    'From gunicorn.conf.py: pre_request(worker, req) in the worker; changes to req.headers reach the environ. In nodicorn.config.mjs: pre_request(environ) in Node.',
  ),
  post_request: hook(
    'post_request',
    'From gunicorn.conf.py: post_request(worker, req, environ, resp) in the worker. In nodicorn.config.mjs: post_request(environ, status) in Node.',
  ),
  child_exit: masterHook(
    'worker_exit',
    'In nodicorn.config.mjs, as worker_exit(worker): called in Node when a worker has exited.',
  ),
  worker_exit: hook(
    'worker_exit',
    'From gunicorn.conf.py: worker_exit(server, worker) in the worker as it stops. In nodicorn.config.mjs: called in Node after a worker exited.',
  ),
  nworkers_changed: unsupported(
    '',
    'Not yet; the StatsD gauge gunicorn.workers follows the count.',
    undefined,
  ),
  on_exit: masterHook('on_exit', 'In nodicorn.config.mjs, as on_exit(server).'),
  ssl_context: unsupported(
    '',
    'TLS is node:https: use --certfile, --keyfile, --ca-certs and --cert-reqs.',
    undefined,
  ),
  // Server Mechanics
  proxy_protocol: mapped(
    '--proxy-protocol',
    'proxy_protocol',
    'v1 and v2; the header is then required on every connection.',
  ),
  proxy_allow_ips: mapped('--proxy-allow-from', 'proxy_allow_ips'),
  // SSL
  keyfile: mapped('--keyfile', 'keyfile'),
  certfile: mapped('--certfile', 'certfile'),
  ssl_version: notApplicable(
    '--ssl-version',
    'Deprecated in Gunicorn 21; Node negotiates TLS 1.2 or 1.3.',
    'any',
  ),
  cert_reqs: mapped('--cert-reqs', 'cert_reqs'),
  ca_certs: mapped('--ca-certs', 'ca_certs'),
  suppress_ragged_eofs: notApplicable(
    '--suppress-ragged-eofs',
    'node:tls handles a TLS connection closed without close_notify itself.',
    'any',
  ),
  do_handshake_on_connect: notApplicable(
    '--do-handshake-on-connect',
    'node:tls always handshakes as the connection opens.',
    'any',
  ),
  ciphers: unsupported('--ciphers', "Not yet: Node's default cipher list (OpenSSL's) applies.", [null]),
  raw_paste_global_conf: unsupported('--paste-global', 'No PasteDeploy loading (see paste).', [[]]),
  strip_header_spaces: notApplicable(
    '--strip-header-spaces',
    'Never: a space before the colon is refused with 400 (RFC 9112 §5.1; a request-smuggling vector).',
    [false],
  ),
  permit_unconventional_http_method: notApplicable(
    '--permit-unconventional-http-method',
    'llhttp accepts only the methods it knows (the registered ones); others get 400.',
    [false],
  ),
  permit_unconventional_http_version: notApplicable(
    '--permit-unconventional-http-version',
    'HTTP/1.0 and HTTP/1.1 only; other versions are refused (400 or 505).',
    [false],
  ),
  casefold_http_method: notApplicable(
    '--casefold-http-method',
    'Methods are case-sensitive (RFC 9110 §9.1): a lower-case method is not one llhttp knows, and gets 400.',
    [false],
  ),
  header_map: notApplicable(
    '--header-map',
    "Headers whose names hold '_' are dropped, as Gunicorn's default 'drop' does.",
    ['drop'],
  ),
  tolerate_dangerous_framing: notApplicable(
    '--tolerate-dangerous-framing',
    'Never: ambiguous framing (Content-Length with Transfer-Encoding) is refused with 400 (RFC 9112 §6.3).',
    [false],
  ),
};
