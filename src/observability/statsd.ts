/**
 * StatsD, as Gunicorn sends it (`--statsd-host`, `--statsd-prefix`, `--dogstatsd-tags`), with Gunicorn's
 * metric names so dashboards built for Gunicorn keep working:
 *
 *   gunicorn.requests              counter  one per response
 *   gunicorn.request.status.NNN    counter  one per response, by status code
 *   gunicorn.request.duration      timer    ms from the request head to the end of the response
 *   gunicorn.workers               gauge    live Python workers, when the number changes
 *   nodicorn.queue.wait            timer    ms a request waited for a Python worker (Gunicorn has no queue)
 *   gunicorn.log.{critical,error,warning,exception}  counter  lines logged at that level
 *
 * Lines are the ones Gunicorn writes (`name:1|c|@1.0`, `name:12.5|ms`, `name:4|g`, then `|#tags`), but
 * instead of one UDP packet per line they are collected for up to FLUSH_MS and sent as packets of up
 * to MAX_PACKET bytes, lines separated by newlines (StatsD's multi-metric packets); counters are summed
 * over that window. The host name is resolved once, at start: nothing on the request path waits.
 */

import dgram from 'node:dgram';
import diagnosticsChannel from 'node:diagnostics_channel';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { StatsdAddressError } from '../errors/registry.js';
import {
  LOG,
  type LogRecord,
  REQUEST_FINISH,
  type RequestRecord,
  subscribeFor,
  WORKERS,
  type WorkersRecord,
} from './channels.js';
import type { Logger } from './logger.js';

/** Fits one Ethernet frame with room for IP/UDP headers and tunnels (the usual StatsD client limit). */
export const MAX_PACKET = 1432;
export const FLUSH_MS = 100;

export interface StatsdAddress {
  readonly host: string;
  readonly port: number;
}

/** `HOST:PORT`, `HOST` (port 8125, as in Gunicorn) or `[IPv6]:PORT`. */
export function parseStatsdAddress(text: string): StatsdAddress {
  const t = text.trim();
  if (t.startsWith('unix:'))
    throw new StatsdAddressError(
      'StatsD over a Unix socket is not supported (Node has no Unix datagram sockets); give HOST:PORT',
    );
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(t);
  const colon = t.lastIndexOf(':');
  const [host, port] =
    v6 !== null
      ? [v6[1]!, v6[2] ?? '8125']
      : colon === -1
        ? [t, '8125']
        : [t.slice(0, colon), t.slice(colon + 1)];
  if (host === '' || host.includes(':') !== (v6 !== null) || !/^\d+$/.test(port) || Number(port) > 65535)
    throw new StatsdAddressError(`expected HOST:PORT for StatsD, got ${JSON.stringify(text)}`);
  return { host, port: Number(port) };
}

/** Gunicorn's rule: a non-empty prefix ends with exactly one '.'. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.trim().replace(/\.+$/, '');
  return trimmed === '' ? '' : `${trimmed}.`;
}

export class StatsdClient {
  readonly #socket: dgram.Socket;
  readonly #prefix: string;
  readonly #suffix: string;
  readonly #log: Logger;
  readonly #counters = new Map<string, number>();
  readonly #statuses = new Map<number, number>();
  readonly #gauges = new Map<string, number>();
  #durations: number[] = [];
  #waits: number[] = [];
  #requests = 0;
  #timer: NodeJS.Timeout | undefined;
  #warned = false;
  #closed = false;

  private constructor(socket: dgram.Socket, prefix: string, tags: string, log: Logger) {
    this.#socket = socket;
    this.#prefix = normalizePrefix(prefix);
    this.#suffix = tags === '' ? '' : `|#${tags}`;
    this.#log = log;
  }

  /** Resolves the host once and connects a UDP socket to it. */
  static async open(
    address: StatsdAddress,
    prefix: string,
    tags: string,
    log: Logger,
  ): Promise<StatsdClient> {
    const ip = isIP(address.host) !== 0 ? address.host : (await lookup(address.host)).address;
    const socket = dgram.createSocket(isIP(ip) === 6 ? 'udp6' : 'udp4');
    socket.unref();
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(address.port, ip, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // A connected UDP socket reports ICMP "port unreachable" as an error on a later send: not fatal.
    socket.on('error', (error) => log.debug(`statsd: ${error.message}`));
    return new StatsdClient(socket, prefix, tags, log);
  }

  increment(name: string, value = 1): void {
    this.#counters.set(name, (this.#counters.get(name) ?? 0) + value);
    this.#schedule();
  }

  gauge(name: string, value: number): void {
    this.#gauges.set(name, value);
    this.#schedule();
  }

  /** One finished request (what Gunicorn's Statsd.access records). */
  request(status: number, durationMs: number, queueMs = -1): void {
    this.#requests++;
    if (queueMs >= 0) this.#waits.push(queueMs);
    // 0: the client left before any status was sent; there is no status to count.
    if (status !== 0) this.#statuses.set(status, (this.#statuses.get(status) ?? 0) + 1);
    this.#durations.push(durationMs);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer === undefined && !this.#closed) this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** The lines collected since the last flush, in Gunicorn's format. */
  lines(): string[] {
    const p = this.#prefix;
    const s = this.#suffix;
    const out: string[] = [];
    if (this.#requests > 0) out.push(`${p}gunicorn.requests:${this.#requests}|c|@1.0${s}`);
    for (const [status, n] of this.#statuses)
      out.push(`${p}gunicorn.request.status.${status}:${n}|c|@1.0${s}`);
    for (const [name, n] of this.#counters) out.push(`${p}${name}:${n}|c|@1.0${s}`);
    for (const [name, v] of this.#gauges) out.push(`${p}${name}:${v}|g${s}`);
    for (const ms of this.#durations) out.push(`${p}gunicorn.request.duration:${round(ms)}|ms${s}`);
    for (const ms of this.#waits) out.push(`${p}nodicorn.queue.wait:${round(ms)}|ms${s}`);
    this.#statuses.clear();
    this.#counters.clear();
    this.#gauges.clear();
    this.#durations = [];
    this.#waits = [];
    this.#requests = 0;
    return out;
  }

  /** Sends what was collected, as few packets as fit MAX_PACKET; resolves once they are sent. */
  flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const sent: Promise<void>[] = [];
    let packet = '';
    for (const line of this.lines()) {
      if (packet !== '' && packet.length + 1 + line.length > MAX_PACKET) {
        sent.push(this.#send(packet));
        packet = '';
      }
      packet = packet === '' ? line : `${packet}\n${line}`;
    }
    if (packet !== '') sent.push(this.#send(packet));
    return Promise.all(sent).then(() => {});
  }

  #send(packet: string): Promise<void> {
    return new Promise((resolve) => {
      this.#socket.send(packet, (error) => {
        resolve();
        if (error === null || this.#warned) return;
        // Once, at debug level: a StatsD server that is down must not flood the error log.
        this.#warned = true;
        this.#log.debug(`statsd: sending failed (${error.message}); further failures are not logged`);
      });
    });
  }

  /** Sends what is left and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.flush();
    this.#socket.close();
  }
}

/** Milliseconds with at most three decimals (Gunicorn writes a float). */
function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Feeds `client` the requests of `server` (a RunningServer's source); returns the unsubscribe function. */
export function subscribeStatsdRequests(client: StatsdClient, server: object): () => void {
  return subscribeFor<RequestRecord>(REQUEST_FINISH, server, (r) =>
    client.request(r.status, r.durationMs, r.queueMs),
  );
}

/**
 * Feeds `client` the worker count of `pool` (a backend; subscribe before it starts, so its first workers
 * count) and every warning or worse logged in the process. Returns the unsubscribe function.
 */
export function subscribeStatsdProcess(client: StatsdClient, pool: object): () => void {
  const workers = subscribeFor<WorkersRecord>(WORKERS, pool, (w) =>
    client.gauge('gunicorn.workers', w.count),
  );
  const onLog = (message: unknown) => client.increment(`gunicorn.log.${(message as LogRecord).level}`);
  diagnosticsChannel.subscribe(LOG, onLog);
  return () => {
    workers();
    diagnosticsChannel.unsubscribe(LOG, onLog);
  };
}
