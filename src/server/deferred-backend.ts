/**
 * Holds requests until the real backend is ready. The server binds its sockets, writes its pid file and
 * drops privileges (`--user`) before any application code is loaded, as Gunicorn binds before it boots
 * workers; a connection accepted meanwhile waits here instead of in the kernel's backlog.
 */
import type { Backend, Exchange } from './backend.js';

export class DeferredBackend implements Backend {
  #target: Backend | null = null;
  #held: Exchange[] = [];

  async start(): Promise<void> {}

  handle(exchange: Exchange): void {
    if (this.#target !== null) this.#target.handle(exchange);
    else this.#held.push(exchange);
  }

  /** The application is loaded: what was held goes to it, in arrival order. */
  ready(backend: Backend): void {
    this.#target = backend;
    for (const exchange of this.#held.splice(0)) if (!exchange.writer.clientGone) backend.handle(exchange);
  }

  /** Not healthy until the application is loaded; then as healthy as the backend that serves it. */
  healthy(): boolean {
    return this.#target?.healthy() ?? false;
  }

  async close(graceMs: number): Promise<void> {
    // Never loaded: what waits gets 503, as from a server that is going away.
    for (const exchange of this.#held.splice(0)) exchange.writer.fail(503);
    await this.#target?.close(graceMs);
  }
}
