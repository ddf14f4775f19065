/**
 * The error log. Lines look like Gunicorn's (`[2026-11-24 03:35:21 +0000] [123] [ERROR] message`) so log
 * pipelines that parse Gunicorn's error log parse ours.
 */
import { formatWithOptions } from 'node:util';
import { type LogRecord, logged } from './channels.js';

export const LOG_LEVELS = ['debug', 'info', 'warning', 'error', 'critical'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warning(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
  critical(message: string, ...args: unknown[]): void;
  /** An error with a traceback (an application exception, a failing hook): logged at ERROR. */
  exception(message: string, ...args: unknown[]): void;
  /** Raw text from an application (`wsgi.errors`, a worker's stderr): written as it is, never dropped. */
  raw(text: string): void;
  isEnabled(level: LogLevel): boolean;
}

export interface LogSink {
  write(text: string): unknown;
}

function timestamp(now: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return (
    `${now.getUTCFullYear()}-${p(now.getUTCMonth() + 1)}-${p(now.getUTCDate())} ` +
    `${p(now.getUTCHours())}:${p(now.getUTCMinutes())}:${p(now.getUTCSeconds())} +0000`
  );
}

export function createLogger(sink: LogSink, level: LogLevel = 'info'): Logger {
  const threshold = LOG_LEVELS.indexOf(level);
  const at = (lvl: LogLevel, counted?: LogRecord) => {
    const enabled = LOG_LEVELS.indexOf(lvl) >= threshold;
    const tag = lvl.toUpperCase();
    return (message: string, ...args: unknown[]) => {
      // Counted whatever the level shown, as Gunicorn's StatsD logger counts them (gunicorn.log.*).
      if (counted !== undefined && logged.hasSubscribers) logged.publish(counted);
      if (!enabled) return;
      const text = args.length === 0 ? message : formatWithOptions({ colors: false }, message, ...args);
      sink.write(`[${timestamp(new Date())}] [${process.pid}] [${tag}] ${text}\n`);
    };
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warning: at('warning', { level: 'warning' }),
    error: at('error', { level: 'error' }),
    critical: at('critical', { level: 'critical' }),
    exception: at('error', { level: 'exception' }),
    raw: (text) => {
      sink.write(text);
    },
    isEnabled: (lvl) => LOG_LEVELS.indexOf(lvl) >= threshold,
  };
}
