/** Turning measured rounds into the Markdown table, the ratio lines and the --json document. */

import type { CpuTime } from './servers.js';
import { type Summary, summarize } from './stats.js';
import type { WrkRun, WrkSocketErrors } from './wrk.js';

/** One measured run of one server in one round. */
export interface Measurement {
  readonly scenario: string;
  readonly server: string;
  readonly round: number;
  /** Position in the whole sequence of runs (1, 2, 3…), to see the alternation. */
  readonly sequence: number;
  /** The exact server command line and its working directory. */
  readonly serverCommand: string;
  readonly cwd: string;
  /** The discarded warm-up run (none with --warmup 0). */
  readonly warmup?: WrkRun;
  readonly run: WrkRun;
  /** CPU seconds the server's processes used during `run` (NaN where /proc is missing). */
  readonly serverCpu: CpuTime;
}

/** Server CPU microseconds (user + system) per completed request of a measurement. */
export const cpuPerRequest = (m: Measurement): number =>
  m.run.result.requests > 0
    ? ((m.serverCpu.user + m.serverCpu.system) * 1e6) / m.run.result.requests
    : Number.NaN;

export interface ServerSummary {
  readonly server: string;
  readonly rounds: number;
  readonly requestsPerSec: Summary;
  readonly p50: Summary;
  readonly p99: Summary;
  /** Server CPU µs per request (user + system). */
  readonly cpuPerRequest: Summary;
  readonly non2xx: number;
  readonly socketErrors: WrkSocketErrors;
}

export interface RatioSummary {
  readonly scenario: string;
  readonly numerator: string;
  readonly denominator: string;
  /** Median req/s of the numerator over median req/s of the denominator. */
  readonly ratio: number;
  /** The ratio within each round (the two ran back to back), summarized. */
  readonly perRound: Summary;
  /** Median server CPU per request of the numerator over the denominator's (above 1: it costs more). */
  readonly cpuRatio: number;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly servers: readonly ServerSummary[];
  readonly ratios: readonly RatioSummary[];
}

export function summarizeScenario(
  scenario: string,
  servers: readonly string[],
  measurements: readonly Measurement[],
): ScenarioSummary {
  const of = (server: string) => measurements.filter((m) => m.scenario === scenario && m.server === server);
  const summaries = servers.map((server): ServerSummary => {
    const measured = of(server);
    const runs = measured.map((m) => m.run.result);
    const socket = (k: keyof WrkSocketErrors) => runs.reduce((sum, r) => sum + r.socketErrors[k], 0);
    return {
      server,
      rounds: runs.length,
      requestsPerSec: summarize(runs.map((r) => r.requestsPerSec)),
      p50: summarize(runs.map((r) => r.p50)),
      p99: summarize(runs.map((r) => r.p99)),
      cpuPerRequest: summarize(measured.map(cpuPerRequest)),
      non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
      socketErrors: {
        connect: socket('connect'),
        read: socket('read'),
        write: socket('write'),
        timeout: socket('timeout'),
      },
    };
  });
  const [first, ...others] = summaries;
  const ratios =
    first === undefined ? [] : others.map((other) => ratioOf(scenario, first, other, measurements));
  return { scenario, servers: summaries, ratios };
}

function ratioOf(
  scenario: string,
  numerator: ServerSummary,
  denominator: ServerSummary,
  measurements: readonly Measurement[],
): RatioSummary {
  const rps = (server: string, round: number) =>
    measurements.find((m) => m.scenario === scenario && m.server === server && m.round === round)?.run.result
      .requestsPerSec;
  const rounds = [...new Set(measurements.filter((m) => m.scenario === scenario).map((m) => m.round))];
  const perRound = rounds.flatMap((round) => {
    const a = rps(numerator.server, round);
    const b = rps(denominator.server, round);
    return a !== undefined && b !== undefined && b > 0 ? [a / b] : [];
  });
  return {
    scenario,
    numerator: numerator.server,
    denominator: denominator.server,
    ratio: numerator.requestsPerSec.median / denominator.requestsPerSec.median,
    perRound: summarize(perRound),
    cpuRatio: numerator.cpuPerRequest.median / denominator.cpuPerRequest.median,
  };
}

export const fmt = (n: number, digits = 0): string =>
  Number.isNaN(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const range = (s: Summary, digits = 0) =>
  s.n <= 1 ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

function socketCell(e: WrkSocketErrors): string {
  const parts = (Object.keys(e) as Array<keyof WrkSocketErrors>).filter((k) => e[k] > 0);
  const total = parts.reduce((sum, k) => sum + e[k], 0);
  return total === 0 ? '0' : `${total} (${parts.map((k) => `${k} ${e[k]}`).join(', ')})`;
}

/**
 * `nodicorn (TS hello) / bare node:http: 0.93 (per round 0.91–0.95); server CPU per request ×1.06`: the
 * req/s ratio of the medians, its spread over rounds, and how much more CPU each request cost.
 */
export function ratioLine(r: RatioSummary): string {
  const spread = r.perRound.n > 1 ? ` (per round ${fmt(r.perRound.min, 2)}–${fmt(r.perRound.max, 2)})` : '';
  const cpu = Number.isNaN(r.cpuRatio) ? '' : `; server CPU per request ×${fmt(r.cpuRatio, 2)}`;
  return `${r.numerator} / ${r.denominator}: ${fmt(r.ratio, 2)}${spread}${cpu}`;
}

/** The Markdown table (one row per server, medians over rounds with min–max) and the ratio lines. */
export function markdown(preamble: readonly string[], scenarios: readonly ScenarioSummary[]): string {
  const lines = [
    ...preamble,
    '',
    '| scenario | server | req/s median (min–max) | p50 ms | p99 ms | server CPU µs/req | non-2xx | socket errors | nodicorn ÷ this |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const s of scenarios) {
    for (const [i, server] of s.servers.entries()) {
      const ratio = i === 0 ? '1.00' : fmt(s.ratios[i - 1]?.ratio ?? Number.NaN, 2);
      lines.push(
        `| ${s.scenario} | ${server.server} | ${range(server.requestsPerSec)} | ${fmt(server.p50.median, 2)} | ` +
          `${fmt(server.p99.median, 2)} | ${fmt(server.cpuPerRequest.median, 1)} | ${server.non2xx} | ${socketCell(server.socketErrors)} | ${ratio} |`,
      );
    }
  }
  const ratios = scenarios.flatMap((s) => s.ratios.map(ratioLine));
  return `${lines.join('\n')}\n\n${ratios.join('\n')}`;
}
