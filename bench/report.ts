/** Turning measured rounds into summaries, the Markdown report and the headline ratios. */

import type { CpuTime } from './processes.js';
import type { Role } from './servers.js';
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
  /** The most resident memory the server's processes held together during `run`, in bytes. */
  readonly peakRss?: number;
  /** Slow clients the server closed during the run (slow-client scenarios). */
  readonly slowClientsClosed?: number;
  /**
   * Slow-client scenarios: the same server's run without the slow clients, right before `run` (its
   * req/s is what "kept" divides by, round by round).
   */
  readonly plain?: WrkRun;
}

/** Server CPU microseconds (user + system) per completed request of a measurement. */
export const cpuPerRequest = (m: Measurement): number =>
  m.run.result.requests > 0
    ? ((m.serverCpu.user + m.serverCpu.system) * 1e6) / m.run.result.requests
    : Number.NaN;

export interface ServerSummary {
  readonly server: string;
  readonly role: Role;
  readonly rounds: number;
  readonly requestsPerSec: Summary;
  readonly p50: Summary;
  readonly p99: Summary;
  /** Server CPU µs per request (user + system). */
  readonly cpuPerRequest: Summary;
  /** Peak resident memory in MiB. */
  readonly peakRssMiB: Summary;
  readonly non2xx: number;
  readonly socketErrors: WrkSocketErrors;
  readonly slowClientsClosed: number;
}

export interface RatioSummary {
  readonly scenario: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly denominatorRole: Role;
  /** Median req/s of the numerator over median req/s of the denominator. */
  readonly ratio: number;
  /** The ratio within each round (the two ran back to back), summarized. */
  readonly perRound: Summary;
  /** Median server CPU per request of the numerator over the denominator's (above 1: it costs more). */
  readonly cpuRatio: number;
}

/** Under slow clients: each server's req/s as a share of its own req/s without them, in the same run. */
export interface KeptSummary {
  readonly server: string;
  /** The median of the per-round shares (paired runs), or median ÷ median against `comparedWith`. */
  readonly kept: number;
  /** The share within each round, where each round measured the server with and without them. */
  readonly perRound?: Summary;
}

export interface ScenarioSummary {
  readonly scenario: string;
  readonly servers: readonly ServerSummary[];
  readonly ratios: readonly RatioSummary[];
  readonly comparedWith?: string;
  /** How `kept` was measured: against the same server without the load in each round, or `comparedWith`. */
  readonly keptAgainst?: 'paired' | 'comparedWith';
  readonly kept?: readonly KeptSummary[];
}

export interface ScenarioServers {
  readonly name: string;
  readonly servers: ReadonlyArray<{ readonly name: string; readonly role: Role }>;
  readonly comparedWith?: string;
}

export function summarizeScenario(
  scenario: ScenarioServers,
  measurements: readonly Measurement[],
  earlier: readonly ScenarioSummary[] = [],
): ScenarioSummary {
  const of = (server: string) =>
    measurements.filter((m) => m.scenario === scenario.name && m.server === server);
  const summaries = scenario.servers.map(({ name, role }): ServerSummary => {
    const measured = of(name);
    const runs = measured.map((m) => m.run.result);
    const socket = (k: keyof WrkSocketErrors) => runs.reduce((sum, r) => sum + r.socketErrors[k], 0);
    return {
      server: name,
      role,
      rounds: runs.length,
      requestsPerSec: summarize(runs.map((r) => r.requestsPerSec)),
      p50: summarize(runs.map((r) => r.p50)),
      p99: summarize(runs.map((r) => r.p99)),
      cpuPerRequest: summarize(measured.map(cpuPerRequest)),
      peakRssMiB: summarize(measured.map((m) => (m.peakRss ?? Number.NaN) / 2 ** 20)),
      non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
      socketErrors: {
        connect: socket('connect'),
        read: socket('read'),
        write: socket('write'),
        timeout: socket('timeout'),
      },
      slowClientsClosed: measured.reduce((sum, m) => sum + (m.slowClientsClosed ?? 0), 0),
    };
  });
  const [first, ...others] = summaries;
  const ratios =
    first === undefined ? [] : others.map((other) => ratioOf(scenario.name, first, other, measurements));
  const paired = summaries.flatMap((s): KeptSummary[] => {
    const shares = of(s.server).flatMap((m) =>
      m.plain === undefined || !(m.plain.result.requestsPerSec > 0)
        ? []
        : [m.run.result.requestsPerSec / m.plain.result.requestsPerSec],
    );
    if (shares.length === 0) return [];
    const perRound = summarize(shares);
    return [{ server: s.server, kept: perRound.median, perRound }];
  });
  const base = earlier.find((s) => s.scenario === scenario.comparedWith);
  const fallback =
    base === undefined
      ? undefined
      : summaries.flatMap((s) => {
          const normal = base.servers.find((b) => b.server === s.server);
          return normal === undefined
            ? []
            : [{ server: s.server, kept: s.requestsPerSec.median / normal.requestsPerSec.median }];
        });
  const kept = paired.length > 0 ? paired : fallback;
  return {
    scenario: scenario.name,
    servers: summaries,
    ratios,
    ...(scenario.comparedWith === undefined ? {} : { comparedWith: scenario.comparedWith }),
    ...(kept === undefined ? {} : { keptAgainst: kept === paired ? 'paired' : 'comparedWith', kept }),
  };
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
    denominatorRole: denominator.role,
    ratio: numerator.requestsPerSec.median / denominator.requestsPerSec.median,
    perRound: summarize(perRound),
    cpuRatio: numerator.cpuPerRequest.median / denominator.cpuPerRequest.median,
  };
}

export const fmt = (n: number, digits = 0): string =>
  !Number.isFinite(n)
    ? '–'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

const range = (s: Summary, digits = 0) =>
  s.n <= 1 ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;

function errorsCell(s: ServerSummary): string {
  const e = s.socketErrors;
  const parts = (Object.keys(e) as Array<keyof WrkSocketErrors>).filter((k) => e[k] > 0);
  const all = parts.map((k) => `${k} ${e[k]}`);
  if (s.non2xx > 0) all.unshift(`non-2xx ${s.non2xx}`);
  return all.length === 0 ? '0' : all.join(', ');
}

/**
 * `nodicorn -w 2 / gunicorn sync -w 2: 1.64 (per round 1.60–1.70); server CPU per request ×0.80`: the
 * req/s ratio of the medians, its spread over rounds, and how much CPU each request cost in comparison.
 */
export function ratioLine(r: RatioSummary): string {
  const spread = r.perRound.n > 1 ? ` (per round ${fmt(r.perRound.min, 2)}–${fmt(r.perRound.max, 2)})` : '';
  const cpu = Number.isFinite(r.cpuRatio) ? `; server CPU per request ×${fmt(r.cpuRatio, 2)}` : '';
  return `${r.numerator} / ${r.denominator}: ${fmt(r.ratio, 2)}${spread}${cpu}`;
}

/** One table per scenario: a row per server, medians over rounds with min–max, nodicorn's ratio to it. */
export function scenarioTable(s: ScenarioSummary): string {
  const lines = [
    `### ${s.scenario}`,
    '',
    '| server | req/s (min–max) | p50 ms | p99 ms | errors | server CPU µs/req | peak RSS MiB | nodicorn ÷ this |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const [i, server] of s.servers.entries()) {
    const ratio = i === 0 ? '1.00' : fmt(s.ratios[i - 1]?.ratio ?? Number.NaN, 2);
    lines.push(
      `| ${server.server} | ${range(server.requestsPerSec)} | ${fmt(server.p50.median, 2)} | ` +
        `${fmt(server.p99.median, 2)} | ${errorsCell(server)} | ${fmt(server.cpuPerRequest.median, 1)} | ` +
        `${fmt(server.peakRssMiB.median, 0)} | ${ratio} |`,
    );
  }
  if (s.kept !== undefined) {
    const against =
      s.keptAgainst === 'paired'
        ? 'req/s here ÷ the same server’s req/s without them, measured just before in each round'
        : `req/s here ÷ req/s in "${s.comparedWith}"`;
    const share = (k: KeptSummary) =>
      k.perRound !== undefined && k.perRound.n > 1
        ? `${fmt(k.kept * 100, 0)} % (per round ${fmt(k.perRound.min * 100, 0)}–${fmt(k.perRound.max * 100, 0)} %)`
        : `${fmt(k.kept * 100, 0)} %`;
    lines.push(
      '',
      `Throughput kept under slow clients (${against}): ` +
        s.kept.map((k) => `${k.server} ${share(k)}`).join(', '),
    );
    const closed = s.servers.filter((x) => x.slowClientsClosed > 0);
    if (closed.length > 0)
      lines.push(
        `Slow clients closed by the server (and reopened): ${closed.map((x) => `${x.server} ${x.slowClientsClosed}`).join(', ')}`,
      );
  }
  return lines.join('\n');
}

const byRole = (s: ScenarioSummary, role: Role) => s.ratios.find((r) => r.denominatorRole === role);

/**
 * The headline: per scenario, nodicorn against the better of Gunicorn sync and gthread (the one with more
 * req/s in this run), against uWSGI and against the ceiling, with the server CPU per request of nodicorn,
 * that Gunicorn and uWSGI beside; with `--baseline REF`, first nodicorn against nodicorn@REF (its req/s
 * beside, and the spread over rounds).
 */
export function headlineTable(scenarios: readonly ScenarioSummary[]): string {
  const reference = scenarios.flatMap((s) => s.servers).find((x) => x.role === 'reference')?.server;
  const refName = reference?.split(' ')[0];
  const lines = [
    `| scenario | nodicorn req/s |${refName === undefined ? '' : ` ${refName} req/s | ÷ ${refName} (per round) |`}` +
      ' ÷ better Gunicorn | ÷ uWSGI | ÷ bare node:http (ceiling) | CPU µs/req nodicorn / Gunicorn / uWSGI |' +
      ' kept under slow clients |',
    `|---|--:|${refName === undefined ? '' : '--:|--:|'}--:|--:|--:|--:|--:|`,
  ];
  for (const s of scenarios) {
    const nodicorn = s.servers[0];
    const gunicorn = betterGunicorn(s);
    const uwsgi = s.servers.find((x) => x.server.startsWith('uwsgi'));
    const ratioTo = (server: ServerSummary | undefined) =>
      s.ratios.find((r) => r.denominator === server?.server)?.ratio ?? Number.NaN;
    const kept = s.kept?.find((k) => k.server === nodicorn?.server);
    let ref = '';
    if (refName !== undefined) {
      const r = byRole(s, 'reference');
      const rps = s.servers.find((x) => x.role === 'reference')?.requestsPerSec.median ?? Number.NaN;
      const spread =
        r !== undefined && r.perRound.n > 1 ? ` (${fmt(r.perRound.min, 2)}–${fmt(r.perRound.max, 2)})` : '';
      ref = ` ${fmt(rps)} | ${fmt(r?.ratio ?? Number.NaN, 2)}${spread} |`;
    }
    const which = gunicorn === undefined ? '' : ` (${gunicorn.server.split(' ')[1]})`;
    const cpu = [nodicorn, gunicorn, uwsgi]
      .map((x) => fmt(x?.cpuPerRequest.median ?? Number.NaN))
      .join(' / ');
    lines.push(
      `| ${s.scenario} | ${fmt(nodicorn?.requestsPerSec.median ?? Number.NaN)} |${ref} ` +
        `${fmt(ratioTo(gunicorn), 2)}${which} | ${fmt(ratioTo(uwsgi), 2)} | ` +
        `${fmt(byRole(s, 'ceiling')?.ratio ?? Number.NaN, 2)} | ${cpu} | ` +
        `${kept === undefined ? '' : `${fmt(kept.kept * 100, 0)} %`} |`,
    );
  }
  return lines.join('\n');
}

/** Of Gunicorn sync and gthread, the one with more req/s in this scenario (the target is to beat both). */
export function betterGunicorn(s: ScenarioSummary): ServerSummary | undefined {
  let best: ServerSummary | undefined;
  for (const x of s.servers)
    if (
      x.server.startsWith('gunicorn') &&
      (best === undefined || x.requestsPerSec.median > best.requestsPerSec.median)
    )
      best = x;
  return best;
}

/** The whole report: preamble, headline ratios, a table per scenario, every ratio line. */
export function markdown(preamble: readonly string[], scenarios: readonly ScenarioSummary[]): string {
  return [
    preamble.join('\n'),
    headlineTable(scenarios),
    ...scenarios.map(scenarioTable),
    '### Every ratio, with its spread over rounds',
    scenarios.flatMap((s) => s.ratios.map((r) => `- ${s.scenario}: ${ratioLine(r)}`)).join('\n'),
  ].join('\n\n');
}
