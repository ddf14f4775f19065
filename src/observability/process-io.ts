/** Where a nodicorn process writes and how it hears signals: the CLI's, or a front's from its primary. */
import type { LogSink } from './logger.js';

export interface ProcessIo {
  readonly stdout: LogSink;
  readonly stderr: LogSink;
  readonly cwd: string;
  /** Subscribes to process signals; returns an unsubscribe function. */
  readonly onSignal: (signal: NodeJS.Signals, handler: () => void) => () => void;
}
