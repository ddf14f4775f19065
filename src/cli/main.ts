/**
 * `nodicorn APP [OPTIONS]`: main(argv, env, io) → exit code. The bin/ shim only wires `process` to it.
 * It resolves settings, loads the app through the right backend, listens, and turns signals into
 * lifecycle actions (signal handlers only enqueue; the work happens here).
 */
import { chownSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { readGunicornConfNames } from '../bridge/read-gunicorn-conf.js';
import { IdentityError, SettingError } from '../errors/registry.js';
import { chooseFronts } from '../fronts/count.js';
import { FrontLink } from '../fronts/front.js';
import { runPrimary } from '../fronts/primary.js';
import { LogFile } from '../observability/log-file.js';
import { createLogger, type Logger, type LogSink } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { ProcessIo } from '../observability/process-io.js';
import { parseStatsdAddress, StatsdClient, subscribeStatsdProcess } from '../observability/statsd.js';
import type { Backend } from '../server/backend.js';
import { DeferredBackend } from '../server/deferred-backend.js';
import { awaitHook, callHook, type ServerInfo } from '../server/hooks.js';
import { InProcessBackend } from '../server/inprocess-backend.js';
import { checkIdentity, dropPrivileges, type Identity, resolveIdentity } from '../server/privileges.js';
import { startServer } from '../server/server.js';
import { type AppRef, parseAppRef } from '../settings/app-ref.js';
import { findConfigFile, loadConfigFile } from '../settings/config-file.js';
import type { WorkerHooks } from '../settings/config-types.js';
import type { Settings } from '../settings/definitions.js';
import { type Resolved, resolveSettings } from '../settings/resolve.js';
import { helpText } from './help.js';
import { loadTypeScriptApp } from './load-ts-app.js';

export type CliIo = ProcessIo;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** Errors in what the user asked for, reported as `nodicorn: error: …` with exit status 2 (docs/errors.md). */
function isUsageError(error: unknown): error is SettingError | IdentityError {
  return error instanceof SettingError || error instanceof IdentityError;
}

async function createBackend(
  ref: AppRef,
  settings: Settings,
  log: Logger,
  io: CliIo,
  workerHooks: WorkerHooks | undefined,
): Promise<Backend> {
  if (ref.kind === 'typescript') {
    if (workerHooks !== undefined)
      throw new SettingError(
        `${workerHooks.location}: ${workerHooks.names.join(', ')} run in Python workers, and ${ref.file} is a TypeScript app`,
      );
    return new InProcessBackend(await loadTypeScriptApp(ref.file, ref.attr, settings.chdir || io.cwd), log);
  }
  const { PythonBackend } = await import('../supervisor/python-backend.js');
  return new PythonBackend({
    app: ref,
    settings,
    log,
    cwd: io.cwd,
    ...(workerHooks === undefined ? {} : { workerHooks }),
  });
}

/** How --print-config shows a value: lists joined, hooks by name. */
function shown(value: unknown): string {
  if (typeof value === 'function') return `<function ${value.name || 'anonymous'}>`;
  return Array.isArray(value) ? value.join(',') : String(value);
}

/** Gunicorn's USR1: reopen the log files (logrotate renames them, then signals); also while draining. */
function reopenLogFiles(files: readonly LogFile[], log: Logger): void {
  for (const file of files) {
    try {
      file.reopen();
    } catch (error) {
      log.error(`cannot reopen ${file.path}: ${(error as Error).message}; still writing to the old file`);
    }
  }
  log.info('Handling signal: usr1; log files reopened');
}

/** A log destination: the given stream for '-', else a file SIGUSR1 can reopen. */
function logSink(path: string, dash: LogSink, files: LogFile[]): LogSink {
  if (path === '-') return dash;
  const file = new LogFile(path);
  files.push(file);
  return file;
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  let resolved: Resolved;
  let ref: AppRef;
  let workerHooks: WorkerHooks | undefined;
  try {
    resolved = resolveSettings(argv, env);
    if (resolved.help) {
      io.stdout.write(helpText(version()));
      return 0;
    }
    if (resolved.version) {
      io.stdout.write(`nodicorn ${version()}\n`);
      return 0;
    }
    const configPath = findConfigFile(resolved.settings.config, io.cwd);
    if (configPath !== null) {
      const file = await loadConfigFile(configPath, {
        python: resolved.settings.python,
        env,
        cwd: io.cwd,
        readGunicornConf: readGunicornConfNames,
      });
      if (file.output !== undefined) io.stderr.write(file.output);
      resolved = resolveSettings(argv, env, file);
      workerHooks = file.workerHooks;
    }
    const app = resolved.positionals.length === 0 ? resolved.settings.wsgi_app : resolved.positionals[0]!;
    if (resolved.positionals.length > 1 || app === '') {
      throw new SettingError(
        app === ''
          ? 'no application given (for example: nodicorn --chdir examples hello:application; see --help)'
          : `one application expected, got ${resolved.positionals.join(' ')}`,
      );
    }
    ref = parseAppRef(app);
    // Ignored environment variables are told once: here when nothing will be served, else in the error log.
    if (resolved.settings.print_config || resolved.settings.check_config)
      for (const warning of resolved.warnings) io.stderr.write(`nodicorn: warning: ${warning}\n`);
    if (resolved.settings.print_config) {
      for (const [name, value] of Object.entries(resolved.settings)) {
        io.stdout.write(
          `${name.padEnd(26)} = ${JSON.stringify(shown(value))}  (${resolved.sources[name as keyof typeof resolved.sources]})\n`,
        );
      }
      return 0;
    }
    if (resolved.settings.check_config) {
      checkIdentity(resolveIdentity(resolved.settings.user, resolved.settings.group));
      io.stdout.write(
        `configuration OK${configPath === null ? '' : ` (${configPath})`}; application ${app}\n`,
      );
      return 0;
    }
  } catch (error) {
    if (!isUsageError(error)) throw error;
    io.stderr.write(`nodicorn: error: ${error.message}\n`);
    return 2;
  }
  // One front of several (src/fronts/): the primary hands over its sockets and this front's share.
  const link = FrontLink.of(env, io);
  const settings = link === null ? resolved.settings : await link.handoff(resolved.settings);
  let identity: Identity;
  try {
    identity = resolveIdentity(settings.user, settings.group);
    checkIdentity(identity);
  } catch (error) {
    if (!isUsageError(error)) throw error;
    io.stderr.write(`nodicorn: error: ${error.message}\n`);
    return 2;
  }
  // --umask narrows the mode of every file created from here on (logs, pid file, workers' files); unix:
  // sockets get it exactly (binds.ts).
  if (settings.umask !== 0) process.umask(process.umask(0o077) | settings.umask);
  const files: LogFile[] = [];
  let log: Logger;
  let accessLogSink: LogSink | undefined;
  try {
    log = createLogger(logSink(settings.errorlog, io.stderr, files), settings.loglevel);
    accessLogSink = settings.accesslog === '' ? undefined : logSink(settings.accesslog, io.stdout, files);
  } catch (error) {
    io.stderr.write(`nodicorn: error: cannot open a log file: ${(error as Error).message}\n`);
    return 1;
  }
  for (const warning of resolved.warnings) log.warning(warning);
  try {
    const fronts =
      link === null
        ? chooseFronts(settings.fronts, availableParallelism(), {
            python: ref.kind === 'python',
            workers: settings.workers,
          })
        : 1;
    if (fronts > 1)
      return await runPrimary({
        fronts,
        argv,
        env,
        cwd: io.cwd,
        settings,
        log,
        version: version(),
        stdout: io.stdout,
        accessLogSink,
        reopen: () => reopenLogFiles(files, log),
        onSignal: io.onSignal,
        socketOwner: identity,
        python: ref.kind === 'python',
      });
    const extras = { files, accessLogSink, workerHooks, identity, ...(link === null ? {} : { link }) };
    return await serve(ref, settings, log, link?.io ?? io, extras);
  } finally {
    await Promise.all(files.map((file) => file.close()));
  }
}

/**
 * Runs the server until a signal stops it. Sockets first (ports below 1024 need root), then the pid file,
 * then the identity of --user/--group, and only then the application: no application code runs as root.
 */
async function serve(
  ref: AppRef,
  settings: Settings,
  log: Logger,
  io: CliIo,
  extras: {
    files: LogFile[];
    accessLogSink: LogSink | undefined;
    workerHooks: WorkerHooks | undefined;
    identity: Identity;
    /** Set when this process is one front of several (src/fronts/front.ts). */
    link?: FrontLink;
  },
): Promise<number> {
  const { identity, link } = extras;
  if (settings.proc_name !== '') process.title = `nodicorn: master [${settings.proc_name}]`;
  if (link === undefined) log.info(`Starting nodicorn ${version()}`);
  // Gunicorn's on_starting: a failure stops the start, before anything was loaded.
  try {
    if (settings.on_starting !== null) await settings.on_starting(settings);
  } catch (error) {
    log.critical(`on_starting hook failed; not starting\n${(error as Error)?.stack ?? String(error)}`);
    return 1;
  }
  // StatsD first, so that the workers booting and what is logged meanwhile are counted.
  const statsd =
    settings.statsd_host === ''
      ? undefined
      : await StatsdClient.open(
          parseStatsdAddress(settings.statsd_host),
          settings.statsd_prefix,
          settings.dogstatsd_tags,
          log,
        ).catch((error: unknown) => {
          log.error(`StatsD is off: cannot reach ${settings.statsd_host}: ${(error as Error).message}`);
          return undefined;
        });
  const gate = new DeferredBackend();
  const metrics = settings.metrics_bind === '' ? undefined : new Metrics();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer(settings, gate, log, {
      ...(metrics === undefined ? {} : { metrics }),
      // A front's metrics go to the primary, which serves /metrics for all of them.
      ...(metrics === undefined || link !== undefined ? {} : { metricsBind: settings.metrics_bind }),
      ...(link === undefined ? {} : { sockets: link.sockets }),
      ...(extras.accessLogSink === undefined ? {} : { accessLogSink: extras.accessLogSink }),
      ...(statsd === undefined ? {} : { statsd }),
      accessLogFormat: settings.access_log_format,
      socketOwner: identity,
    });
  } catch (error) {
    log.critical(`cannot listen: ${error instanceof Error ? error.message : String(error)}`);
    await statsd?.close();
    return 1;
  }
  if (settings.pidfile !== '') writeFileSync(settings.pidfile, `${process.pid}\n`);
  const cleanUp = () => {
    if (settings.pidfile === '') return;
    try {
      rmSync(settings.pidfile, { force: true });
    } catch (error) {
      // After --user the pid file's directory may be root's alone.
      log.warning(`cannot remove the pid file: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  let backend: Backend;
  let offStatsd = () => {};
  try {
    // As Gunicorn does: the log files become the --user's, so SIGUSR1 can reopen them after the drop.
    if (identity.uid !== undefined || identity.gid !== undefined)
      for (const file of extras.files) {
        try {
          chownSync(file.path, identity.uid ?? -1, identity.gid ?? -1);
        } catch (error) {
          log.warning(`cannot hand ${file.path} to --user: ${(error as Error).message}`);
        }
      }
    dropPrivileges(identity);
    if (identity.uid !== undefined || identity.gid !== undefined)
      log.info(`Running as uid ${process.getuid!()}, gid ${process.getgid!()}`);
    backend = await createBackend(ref, settings, log, io, extras.workerHooks);
    if (statsd !== undefined) offStatsd = subscribeStatsdProcess(statsd, backend);
    if (metrics !== undefined) backend.attachMetrics?.(metrics);
    await backend.start();
  } catch (error) {
    log.critical(error instanceof Error ? error.message : String(error));
    await server.shutdown(0);
    offStatsd();
    await statsd?.close();
    cleanUp();
    return 3;
  }
  gate.ready(backend);
  const info: ServerInfo = {
    pid: process.pid,
    addresses: server.addresses,
    settings,
    get workers() {
      return backend.supervision?.workerPids ?? [];
    },
  };
  // Handlers go in before the ready line: a supervisor may signal as soon as it reads it, and SIGTTIN's
  // default action would stop the process.
  const offUsr1 = io.onSignal('SIGUSR1', () => reopenLogFiles(extras.files, log));
  const exited = new Promise<number>((resolve) => {
    const unsubscribe: Array<() => void> = [];
    const stop = (graceMs: number, why: string) => {
      log.info(`${why}: shutting down`);
      for (const off of unsubscribe) off();
      void server.shutdown(graceMs).then(() => {
        log.info('Shutdown complete');
        resolve(0);
      });
    };
    const grace = settings.graceful_timeout * 1000;
    unsubscribe.push(io.onSignal('SIGTERM', () => stop(grace, 'Handling signal: term')));
    unsubscribe.push(io.onSignal('SIGINT', () => stop(grace, 'Handling signal: int')));
    unsubscribe.push(io.onSignal('SIGQUIT', () => stop(0, 'Handling signal: quit')));
    const pool = backend.supervision;
    if (pool !== undefined) {
      unsubscribe.push(
        io.onSignal('SIGHUP', () => {
          callHook(log, 'on_reload', settings.on_reload, info);
          pool.reload();
        }),
      );
      unsubscribe.push(io.onSignal('SIGTTIN', () => pool.addWorker()));
      unsubscribe.push(io.onSignal('SIGTTOU', () => pool.removeWorker()));
    } else {
      // Handled all the same: by default SIGHUP ends the process and SIGTTIN/SIGTTOU stop it, so a
      // `systemctl reload` (ExecReload=kill -HUP) would take an in-process app down.
      for (const signal of ['SIGHUP', 'SIGTTIN', 'SIGTTOU'] as const)
        unsubscribe.push(
          io.onSignal(signal, () =>
            log.info(
              `Handling signal: ${signal.slice(3).toLowerCase()}; an in-process application has no workers (restart to load new code)`,
            ),
          ),
        );
    }
  });
  if (link !== undefined) link.ready(backend, metrics, () => info.workers);
  else for (const address of server.addresses) log.info(`Listening at: ${address} (${process.pid})`);
  callHook(log, 'when_ready', settings.when_ready, info);
  const code = await exited;
  offUsr1();
  offStatsd();
  await statsd?.close();
  await awaitHook(log, 'on_exit', settings.on_exit, settings.graceful_timeout * 1000, info);
  cleanUp();
  return code;
}
