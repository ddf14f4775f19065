/**
 * `nodicorn APP [OPTIONS]`: main(argv, env, io) → exit code. The bin/ shim only wires `process` to it.
 * It resolves settings, loads the app through the right backend, listens, and turns signals into
 * lifecycle actions (signal handlers only enqueue; the work happens here).
 */
import { createWriteStream, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { PythonBackend } from '../bridge/python-backend.js';
import { createLogger, type Logger, type LogSink } from '../observability/logger.js';
import { Metrics } from '../observability/metrics.js';
import type { Backend } from '../server/backend.js';
import { DeferredBackend } from '../server/deferred-backend.js';
import { InProcessBackend } from '../server/inprocess-backend.js';
import { checkIdentity, dropPrivileges, type Identity, resolveIdentity } from '../server/privileges.js';
import { startServer } from '../server/server.js';
import { findConfigFile, loadConfigFile } from '../settings/config-file.js';
import type { Settings } from '../settings/definitions.js';
import { SettingError } from '../settings/registry.js';
import { resolveSettings } from '../settings/resolve.js';
import { type AppRef, parseAppRef } from './app-ref.js';
import { helpText } from './help.js';
import { loadTypeScriptApp } from './load-ts-app.js';

export interface CliIo {
  readonly stdout: LogSink;
  readonly stderr: LogSink;
  readonly cwd: string;
  /** Subscribes to process signals; returns an unsubscribe function. */
  readonly onSignal: (signal: NodeJS.Signals, handler: () => void) => () => void;
}

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** What a backend may do on SIGHUP/SIGTTIN/SIGTTOU (the Python pool can; in-process apps cannot). */
export interface Supervised {
  reload(): void;
  addWorker(): void;
  removeWorker(): void;
}

function isSupervised(backend: Backend): backend is Backend & Supervised {
  return typeof (backend as Partial<Supervised>).reload === 'function';
}

async function createBackend(ref: AppRef, settings: Settings, log: Logger, io: CliIo): Promise<Backend> {
  if (ref.kind === 'typescript') {
    return new InProcessBackend(await loadTypeScriptApp(ref.file, ref.attr, settings.chdir || io.cwd), log);
  }
  const { PythonBackend } = await import('../bridge/python-backend.js');
  return new PythonBackend({ app: ref, settings, log, cwd: io.cwd });
}

export async function main(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  io: CliIo,
): Promise<number> {
  let resolved: ReturnType<typeof resolveSettings>;
  let ref: AppRef;
  try {
    resolved = resolveSettings(argv, env);
    const configPath = findConfigFile(resolved.settings.config, io.cwd);
    if (configPath !== null) resolved = resolveSettings(argv, env, await loadConfigFile(configPath));
    if (resolved.help) {
      io.stdout.write(helpText(version()));
      return 0;
    }
    if (resolved.version) {
      io.stdout.write(`nodicorn ${version()}\n`);
      return 0;
    }
    if (resolved.positionals.length !== 1) {
      throw new SettingError(
        resolved.positionals.length === 0
          ? 'no application given (for example: nodicorn --chdir examples hello:application; see --help)'
          : `one application expected, got ${resolved.positionals.join(' ')}`,
      );
    }
    ref = parseAppRef(resolved.positionals[0]!);
    if (resolved.settings.print_config) {
      for (const [name, value] of Object.entries(resolved.settings)) {
        const shown = Array.isArray(value) ? value.join(',') : String(value);
        io.stdout.write(
          `${name.padEnd(26)} = ${JSON.stringify(shown)}  (${resolved.sources[name as keyof typeof resolved.sources]})\n`,
        );
      }
      return 0;
    }
    if (resolved.settings.check_config) {
      checkIdentity(resolveIdentity(resolved.settings.user, resolved.settings.group));
      io.stdout.write(
        `configuration OK${configPath === null ? '' : ` (${configPath})`}; application ${resolved.positionals[0]}\n`,
      );
      return 0;
    }
  } catch (error) {
    if (!(error instanceof SettingError)) throw error;
    io.stderr.write(`nodicorn: error: ${error.message}\n`);
    return 2;
  }
  const { settings } = resolved;
  let identity: Identity;
  try {
    identity = resolveIdentity(settings.user, settings.group);
    checkIdentity(identity);
  } catch (error) {
    if (!(error instanceof SettingError)) throw error;
    io.stderr.write(`nodicorn: error: ${error.message}\n`);
    return 2;
  }
  // --umask narrows the mode of every file created from here on (logs, pid file, workers' files); unix:
  // sockets get it exactly (binds.ts).
  if (settings.umask !== 0) process.umask(process.umask(0o077) | settings.umask);
  const sink = settings.errorlog === '-' ? io.stderr : createWriteStream(settings.errorlog, { flags: 'a' });
  const log = createLogger(sink, settings.loglevel);
  log.info(`Starting nodicorn ${version()}`);

  // Sockets first (ports below 1024 need root), then the pid file, then the identity of --user/--group,
  // and only then the application: no application code ever runs as root.
  const gate = new DeferredBackend();
  const metrics = settings.metrics_bind === '' ? undefined : new Metrics();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    const accessLogSink =
      settings.accesslog === ''
        ? undefined
        : settings.accesslog === '-'
          ? io.stdout
          : createWriteStream(settings.accesslog, { flags: 'a' });
    server = await startServer(settings, gate, log, {
      ...(metrics === undefined ? {} : { metrics, metricsBind: settings.metrics_bind }),
      ...(accessLogSink === undefined ? {} : { accessLogSink }),
      accessLogFormat: settings.access_log_format,
      socketOwner: identity,
    });
  } catch (error) {
    log.critical(`cannot listen: ${error instanceof Error ? error.message : String(error)}`);
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
  try {
    dropPrivileges(identity);
    if (identity.uid !== undefined || identity.gid !== undefined)
      log.info(`Running as uid ${process.getuid!()}, gid ${process.getgid!()}`);
    backend = await createBackend(ref, settings, log, io);
    if (metrics !== undefined && 'attachMetrics' in backend)
      (backend as PythonBackend).attachMetrics(metrics);
    await backend.start();
  } catch (error) {
    log.critical(error instanceof Error ? error.message : String(error));
    await server.shutdown(0);
    cleanUp();
    return 3;
  }
  gate.ready(backend);
  // Handlers go in before the ready line: a supervisor may signal as soon as it reads it, and SIGTTIN's
  // default action would stop the process.
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
    if (isSupervised(backend)) {
      const b = backend;
      unsubscribe.push(io.onSignal('SIGHUP', () => b.reload()));
      unsubscribe.push(io.onSignal('SIGTTIN', () => b.addWorker()));
      unsubscribe.push(io.onSignal('SIGTTOU', () => b.removeWorker()));
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
  for (const address of server.addresses) log.info(`Listening at: ${address} (${process.pid})`);
  const code = await exited;
  cleanUp();
  return code;
}
