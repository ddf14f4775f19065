import type { AppRef } from '../cli/app-ref.js';
import type { Logger } from '../observability/logger.js';
import type { Backend, Exchange } from '../server/backend.js';
import type { Settings } from '../settings/definitions.js';

export interface PythonBackendOptions {
  readonly app: AppRef & { kind: 'python' };
  readonly settings: Settings;
  readonly log: Logger;
  readonly cwd: string;
}

export class PythonBackend implements Backend {
  constructor(readonly options: PythonBackendOptions) {}
  async start(): Promise<void> {
    throw new Error('the Python backend is not built yet');
  }
  handle(exchange: Exchange): void {
    exchange.writer.fail(503);
  }
  async close(): Promise<void> {}
}
