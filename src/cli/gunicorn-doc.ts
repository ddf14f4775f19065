/**
 * docs/migrating-from-gunicorn.md: a hand-written introduction, then every Gunicorn setting from the table
 * in settings/gunicorn.ts with what nodicorn does with it (a test fails when the committed file is stale).
 */
import { SETTINGS, type SettingName } from '../settings/definitions.js';
import { GUNICORN_SETTINGS, type GunicornSetting } from '../settings/gunicorn.js';
import { isConfigOnly, type Setting } from '../settings/registry.js';

const INTRO = `# Migrating from Gunicorn

Generated from \`src/settings/gunicorn.ts\` and \`src/cli/gunicorn-doc.ts\` by \`npm run docs\`; do not edit
by hand.

nodicorn takes Gunicorn's command line: \`gunicorn -w 4 -b 0.0.0.0:8000 myproject.wsgi\` becomes
\`nodicorn -w 4 -b 0.0.0.0:8000 myproject.wsgi\`, with the same flags, the same config keys and the same
application reference (\`MODULE:ATTR\`, \`MODULE:factory()\`). The table at the end lists every Gunicorn
setting and what nodicorn does with it.

## What is different

- **Workers.** Node does all the network I/O: it parses HTTP, holds keep-alive connections and slow
  clients, and hands a Python worker a request only once its body has been received in full. Each worker
  runs \`--threads\` requests at a time (one by default: Gunicorn's \`sync\` worker, or \`gthread\` with
  threads), so \`--worker-class\` has no equivalent, and \`--keep-alive\` applies to every app. A slow
  client never holds a worker.
- **Proxy headers.** From \`--forwarded-allow-ips\` peers nodicorn believes \`X-Forwarded-For\` (the
  client's address) and \`X-Forwarded-Proto\` (the scheme) by default, as Werkzeug's \`ProxyFix\` does
  with its defaults (Gunicorn believes only the scheme, and keeps \`REMOTE_ADDR\` the proxy's).
  \`X-Forwarded-Host\`, \`-Port\` and \`-Prefix\` are believed only when listed in \`--forwarded-trust\`
  (\`--forwarded-trust for,proto,host,prefix\`), and only once your proxy sets or removes them: Nginx
  passes on any header it is not told to set, so a client's own \`X-Forwarded-Host\` would otherwise set
  the host of every absolute URL the app builds. Headers not believed are removed from the environ.
  Earlier nodicorn releases believed all four: **if you relied on \`X-Forwarded-Host\` or
  \`-Prefix\`, add them to \`--forwarded-trust\`.** See [deploy.md](deploy.md).
- **\`unix:\` sockets are created 0660** (\`--socket-mode\`, less \`--umask\`), not Gunicorn's 0777:
  peers on the socket are trusted for proxy headers, so only the server's user and group may connect.
  The proxy's user must be in that group (or nodicorn run with the proxy's group);
  \`--socket-mode 0777\` restores Gunicorn's behaviour.
- **A queue you can see.** Requests that find every worker busy wait in Node, not in the kernel's
  backlog: their wait is measured (\`nodicorn_queue_wait_seconds\`, \`%(W)s\`) and can be bounded
  (\`--max-queue\`, \`--queue-timeout\`: 503 with Retry-After), workers can scale with it
  (\`--max-workers\`) and be replaced when they grow (\`--max-worker-memory\`, uWSGI's reload-on-rss).
  See [python-apps.md](python-apps.md#the-queue-waiting-shedding-autoscaling).
- **\`--timeout\`** limits one request, not a silent worker: a request running longer gets its worker
  killed (its stacks logged first) and the client a 504.
- **Request methods.** Node's HTTP parser (llhttp) accepts only the methods it knows: on Node 20, ACL,
  BIND, CHECKOUT, COPY, DELETE, GET, HEAD, LINK, LOCK, M-SEARCH, MERGE, MKACTIVITY, MKCALENDAR, MKCOL,
  MOVE, NOTIFY, OPTIONS, PATCH, POST, PROPFIND, PROPPATCH, PURGE, PUT, QUERY, REBIND, REPORT, SEARCH,
  SOURCE, SUBSCRIBE, TRACE, UNBIND, UNLINK, UNLOCK and UNSUBSCRIBE (CONNECT gets 405: this is not a
  proxy). Gunicorn passes any token to the app; here any other method (\`FOO\`, \`VERSION-CONTROL\`) gets
  400 before an app sees it, and a raw byte above 0x7F in the request target does too (RFC 3986 wants it
  percent-encoded). Such requests are logged like every other response: a line in the access log, and the
  reason in the error log at \`info\` (see [logging.md](logging.md)).
- **Header limits** are Gunicorn's, counted as Gunicorn counts them: \`--limit-request-field_size\` (8190)
  covers a field line with its CRLF, \`--limit-request-fields\` (100), \`--limit-request-line\` (4094).
- **Unknown or unsupported settings are errors.** Gunicorn ignores names it does not know in
  \`gunicorn.conf.py\`; nodicorn refuses them (naming the closest setting), and refuses settings it cannot
  honour rather than ignoring them. Values that ask for what nodicorn does anyway (\`worker_class =
  "sync"\`, \`daemon = False\`, \`worker_tmp_dir = "/dev/shm"\`) are accepted.
- **Environment:** \`NODICORN_*\` variables (one per setting, see [settings.md](settings.md)) instead of
  \`GUNICORN_CMD_ARGS\`; Gunicorn's \`PORT\`, \`WEB_CONCURRENCY\` and \`FORWARDED_ALLOW_IPS\` are not read. An
  unknown \`NODICORN_*\` variable is not an error, since other tools share the environment: it is ignored
  with a warning at startup naming the closest one.

## Signals

| Signal | Gunicorn | nodicorn |
|---|---|---|
| TERM, INT | graceful stop within \`--graceful-timeout\` | same |
| QUIT | fast stop | same |
| HUP | reload the config, replace the workers | replace the workers (new ones first, no request fails); the config is not reread |
| TTIN / TTOU | one worker more / fewer | same |
| USR1 | reopen the log files | same (error log and access log files) |
| USR2, WINCH | re-exec the master / stop the workers (daemon mode) | not supported: use a rolling restart |

## Logs

The error log has Gunicorn's line format (\`[2026-11-24 03:35:21 +0000] [123] [INFO] ...\`), and Python
workers' stdout and stderr go to it, as with \`--capture-output\`. The access log takes Gunicorn's
\`--access-logformat\` atoms and its default format, byte for byte (a test compares the two servers'
lines), except that nodicorn escapes every value, so a request cannot forge a line; \`--access-logformat
json\` writes JSON lines instead. See [logging.md](logging.md).

## gunicorn.conf.py

\`-c gunicorn.conf.py\` (also \`-c file:PATH\` and \`-c python:MODULE\`) reads a Gunicorn config file, and so
does starting nodicorn in a directory that has a \`gunicorn.conf.py\` and no \`nodicorn.config.*\`. Python
executes it, with the interpreter the workers use (\`--python\`, else the virtualenv's, else \`python3\`),
so expressions such as \`workers = multiprocessing.cpu_count() * 2 + 1\` work. Its public names are its
settings: start a helper variable's name with \`_\`; imported modules and names are left alone. Its values
sit where a config file's do: above the defaults, below \`NODICORN_*\` variables and the command line.

Hooks in \`gunicorn.conf.py\` run where they can run as written: in each Python worker, which loads the file
itself (so the file runs once to read the settings, and once in each worker).

| Hook in gunicorn.conf.py | nodicorn |
|---|---|
| \`post_fork(server, worker)\` | runs in each worker, before it imports the app |
| \`post_worker_init(worker)\` | runs in each worker, after it imported the app, before its first request |
| \`pre_request(worker, req)\` | runs in the worker before each request; changes to \`req.headers\` (not Content-Type/-Length) reach the environ |
| \`post_request(worker, req, environ, resp)\` | runs in the worker after each response was sent |
| \`worker_exit(server, worker)\` | runs in the worker as it stops (not when it is killed) |
| \`worker_abort(worker)\` | runs in a worker killed for \`--timeout\`, after its stacks are logged, if its main thread reaches Python code within 2 s |
| \`on_starting\`, \`when_ready\`, \`on_reload\`, \`on_exit\`, \`child_exit\` | refused: they run in Gunicorn's master, which is Node here; write them in \`nodicorn.config.mjs\` (below) |
| \`pre_fork\`, \`pre_exec\`, \`worker_int\`, \`nworkers_changed\`, \`ssl_context\` | refused (see the table) |

The objects are small stand-ins for Gunicorn's: \`worker\` has \`pid\`, \`ppid\`, \`age\`, \`log\` (\`info\`,
\`warning\`, \`error\`, \`exception\`, … writing to the error log), \`alive\`, \`booted\` and \`wsgi\`; \`server\` has
\`pid\` (the Node process) and \`log\`; \`req\` has \`method\`, \`uri\`, \`path\`, \`query\`, \`version\`, \`scheme\`,
\`remote_addr\` and \`headers\` (\`(NAME, value)\` pairs); \`resp\` has \`status\`, \`status_code\`, \`headers\`
and \`sent\`. A hook that raises is logged with its traceback, and the worker carries on.

## Server hooks in nodicorn.config.mjs

Master-side hooks are JavaScript functions in a config module, called in Node:

\`\`\`js
// nodicorn.config.mjs
export default {
  workers: 4,
  on_starting: async (settings) => { /* throw to stop the start */ },
  when_ready: (server) => console.error('ready', server.addresses, server.workers),
  post_worker_init: (worker) => console.error('worker up', worker.pid, worker.age),
  worker_exit: (worker) => console.error('worker gone', worker.pid, worker.exitCode, worker.signal),
  pre_request: (environ) => { environ.HTTP_X_SEEN_BY = 'node'; },
  post_request: (environ, status) => {},
  on_exit: (server) => {},
};
\`\`\`

\`pre_request\` and \`post_request\` here run in Node for every request, whichever kind of app serves it. A
hook that throws is logged and the server carries on, except \`on_starting\`, which stops the start, as in
Gunicorn. See the Server hooks section of [settings.md](settings.md).

## StatsD

\`--statsd-host HOST:PORT\`, \`--statsd-prefix\` and \`--dogstatsd-tags\` send Gunicorn's metrics under
Gunicorn's names (\`gunicorn.requests\`, \`gunicorn.request.status.NNN\`, \`gunicorn.request.duration\`,
\`gunicorn.workers\`, \`gunicorn.log.*\`), so dashboards keep working; lines are batched into packets. Over
UDP only: Node has no Unix datagram sockets. See [logging.md](logging.md).

## Every Gunicorn setting
`;

function nodicornCell(entry: GunicornSetting): string {
  switch (entry.status) {
    case 'mapped': {
      const setting = SETTINGS[entry.key as SettingName] as Setting<unknown>;
      if (isConfigOnly(setting))
        return `\`${setting.key}\` hook${entry.workerHook ? ' (and worker hook)' : ''}`;
      return `\`${setting.flag}\``;
    }
    case 'worker hook':
      return 'worker hook';
    default:
      return entry.status;
  }
}

export function gunicornMarkdown(): string {
  const lines = [
    INTRO,
    "Gunicorn's settings in its own order, with those of releases after 20.1. *mapped* settings take the",
    'same value under the same config key, and do the same unless the note says what differs; *unsupported*',
    'and *not applicable* ones are refused in a gunicorn.conf.py unless their value asks for nothing',
    'nodicorn does not do anyway.',
    '',
    '| Gunicorn setting | Gunicorn flag | nodicorn | Notes |',
    '|---|---|---|---|',
  ];
  for (const [name, entry] of Object.entries(GUNICORN_SETTINGS)) {
    const flags = entry.flags === '' ? '(config file)' : `\`${entry.flags}\``;
    lines.push(
      `| \`${name}\` | ${flags} | ${nodicornCell(entry)} | ${(entry.note ?? '').replace(/\|/g, '\\|')} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
