/**
 * `npm run bench`: nodicorn against Gunicorn (sync, gthread), uWSGI, Waitress and the ceiling (bare
 * node:http), same app file, same worker and thread counts, same wrk load, for every scenario. Each run
 * gets a fresh server on a free 127.0.0.1 port, its answer is checked, a warm-up is discarded, then wrk
 * measures while /proc gives the server's CPU time and peak memory. Servers alternate within a scenario
 * (A B C | C B A | …) so drift hits all alike; figures are medians over rounds with min–max. Installs
 * nothing: it says what is missing and how to install it.
 */

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { constants, cpus, loadavg, release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { prepareBaseline } from './baseline.js';
import { ratioChart } from './chart.js';
import {
  type BenchRequest,
  formatCommand,
  groupCpuTime,
  killAllServers,
  type Started,
  send,
  startProcess,
  watchPeakRss,
} from './processes.js';
import {
  cpuPerRequest,
  fmt,
  type Measurement,
  markdown,
  type ScenarioSummary,
  summarizeScenario,
} from './report.js';
import { type Scenario, scenarios } from './scenarios.js';
import { type Requirement, repo, type ServerSpec } from './servers.js';
import { type SlowClients, startSlowClients, startSlowReaders } from './slow-clients.js';
import { killWrk, luaScript, requireWrk, runWrk, type WrkOptions, type WrkRun, wrkArgs } from './wrk.js';

const USAGE = `usage: npm run bench -- [options]      (or node dist/bench/run.js [options])

  --quick              1 round of 1 s, no warm-up (instead of 3 rounds of 3 s after a 1 s warm-up)
  --rounds N           rounds per scenario
  --duration S         whole seconds of each measured wrk run
  --warmup S           whole seconds of the discarded warm-up run before each (0: none)
  --connections N      wrk connections (default 64)
  --wrk-threads N      wrk threads (default 1; the servers share the machine with it)
  --workers N          worker processes of the Python servers (default 2)
  --threads N          threads per worker (default 1; Waitress gets workers × threads)
  --only TEXT[,TEXT]   only the scenarios whose name contains one TEXT (repeatable)
  --server TEXT[,TEXT] only the servers whose name contains one TEXT (repeatable, or --servers; nodicorn
                       and nodicorn@REF always run; "gunicorn-sync" matches "gunicorn sync -w 2")
  --baseline REF       also run nodicorn built from git REF ("nodicorn@REF", built once into
                       node_modules/.cache/nodicorn-baseline/SHA), next to nodicorn in every round
  --cpu-prof DIR       run nodicorn under node --cpu-prof, profiles into DIR (for flame graphs)
  --out DIR            where results.md, results.json and ratios.svg go (default bench/results)
  -h, --help           this text`;

interface Options {
  rounds: number;
  seconds: number;
  warmup: number;
  connections: number;
  wrkThreads: number;
  workers: number;
  threads: number;
  only: string[];
  server: string[];
  /** A git ref to build nodicorn from and run beside this tree's ('' for none). */
  baseline: string;
  cpuProf: string;
  out: string;
  quick: boolean;
}

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): Options {
  const explicit: Partial<Options> = {};
  const only: string[] = [];
  const server: string[] = [];
  let quick = false;
  // wrk takes whole seconds only
  const count = (flag: string, text: string, min: number): number => {
    const n = Number(text.replace(/s$/, ''));
    if (!Number.isInteger(n) || n < min)
      throw new UsageError(`${flag}: expected a whole number ≥ ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  // `--only hello,stream`: comma-separated, lower-cased, "gunicorn-sync" as "gunicorn sync"
  const list = (flag: string, text: string): string[] => {
    const items = text
      .split(',')
      .map((t) => matchable(t))
      .filter((t) => t !== '');
    if (items.length === 0) throw new UsageError(`${flag}: expected a name, got ${JSON.stringify(text)}`);
    return items;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') quick = true;
    else if (flag === '-h' || flag === '--help') throw new UsageError('');
    else if (flag === '--rounds') explicit.rounds = count(flag, value(), 1);
    else if (flag === '--duration') explicit.seconds = count(flag, value(), 1);
    else if (flag === '--warmup') explicit.warmup = count(flag, value(), 0);
    else if (flag === '--connections') explicit.connections = count(flag, value(), 1);
    else if (flag === '--wrk-threads') explicit.wrkThreads = count(flag, value(), 1);
    else if (flag === '--workers') explicit.workers = count(flag, value(), 1);
    else if (flag === '--threads') explicit.threads = count(flag, value(), 1);
    else if (flag === '--only') only.push(...list(flag, value()));
    else if (flag === '--server' || flag === '--servers') server.push(...list(flag, value()));
    else if (flag === '--baseline') {
      explicit.baseline = value();
      if (explicit.baseline.trim() === '' || explicit.baseline.startsWith('-'))
        throw new UsageError(`--baseline: expected a git ref, got ${JSON.stringify(explicit.baseline)}`);
    } else if (flag === '--cpu-prof') explicit.cpuProf = resolve(value());
    else if (flag === '--out') explicit.out = resolve(value());
    else throw new UsageError(`unknown option ${JSON.stringify(flag)}`);
  }
  const options: Options = {
    rounds: quick ? 1 : 3,
    seconds: quick ? 1 : 3,
    warmup: quick ? 0 : 1,
    connections: 64,
    wrkThreads: 1,
    workers: 2,
    threads: 1,
    baseline: '',
    cpuProf: '',
    out: join(repo, 'bench', 'results'),
    ...explicit,
    only,
    server,
    quick,
  };
  if (options.connections < options.wrkThreads)
    throw new UsageError(
      '--connections must be at least --wrk-threads (wrk needs one connection per thread)',
    );
  return options;
}

const log = (line: string) => console.error(line);

/** A name as --only and --server match it: lower case, runs of spaces, '-' and '_' as one space. */
export const matchable = (name: string): string =>
  name
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ')
    .trim();

/**
 * Every scenario --only selects, with the servers --server selects (nodicorn and nodicorn@REF always
 * stay).
 */
export function select(all: readonly Scenario[], options: Pick<Options, 'only' | 'server'>): Scenario[] {
  const picked = all.filter(
    (s) => options.only.length === 0 || options.only.some((o) => matchable(s.name).includes(o)),
  );
  return picked.map((s) => {
    const [first, ...rest] = s.servers;
    const kept = rest.filter(
      (spec) =>
        spec.role === 'reference' ||
        options.server.length === 0 ||
        options.server.some((o) => matchable(spec.name).includes(o)),
    );
    return { ...s, servers: [first, ...kept] };
  });
}

/** What is missing to run `scenario`, once per requirement. */
function missing(scenario: Scenario): Requirement[] {
  const unique = new Map(scenario.servers.flatMap((s) => s.needs).map((r) => [r.what, r]));
  return [...unique.values()].filter((r) => !r.present());
}

/** Starts `spec` and proves it answers the scenario's request correctly before anything is measured. */
export function startChecked(spec: ServerSpec, scenario: Scenario, cpuProf = ''): Promise<Started> {
  const command = (port: number) => {
    const c = spec.command(port);
    return cpuProf !== '' && spec.role === 'nodicorn'
      ? { ...c, args: ['--cpu-prof', '--cpu-prof-dir', cpuProf, ...c.args] }
      : c;
  };
  return startProcess(spec.name, command, async (port) => {
    const answer = await send(port, scenario.request);
    const wrong = scenario.check(answer);
    if (wrong !== null)
      throw new Error(`wrong answer to ${scenario.request.method} ${scenario.request.path}: ${wrong}`);
    const readers = scenario.slowReaders;
    if (readers !== undefined) {
      const wrongToReaders = readers.check(await send(port, readers.request));
      if (wrongToReaders !== null)
        throw new Error(
          `wrong answer to the slow readers' ${readers.request.method} ${readers.request.path}: ${wrongToReaders}`,
        );
    }
  });
}

function wrkFor(request: BenchRequest, base: WrkOptions, scripts: string): WrkOptions {
  const script = luaScript(request.method, request.body);
  const headers = Object.entries(request.headers ?? {}).map(([k, v]) => `${k}: ${v}`);
  if (script === null) return { ...base, headers };
  const file = join(scripts, `${request.method}-${request.path.replace(/\W/g, '_')}.lua`);
  writeFileSync(file, script);
  return { ...base, headers, script: file };
}

/** How long slow clients or readers press on a server before wrk measures it. */
const SETTLE_MS = 1000;

/**
 * Runs one scenario: `rounds` rounds, the server order reversed every other round. Under slow clients or
 * readers, each server is measured without them and then with them, back to back on the same server.
 */
async function runScenario(
  scenario: Scenario,
  options: Options,
  wrk: WrkOptions,
  measurements: Measurement[],
): Promise<void> {
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? scenario.servers : [...scenario.servers].reverse();
    for (const spec of order) {
      const server = await startChecked(spec, scenario, options.cpuProf);
      const url = `http://127.0.0.1:${server.port}${scenario.request.path}`;
      let slow: SlowClients | undefined;
      try {
        const warmup =
          options.warmup > 0 ? await runWrk(url, { ...wrk, seconds: options.warmup }) : undefined;
        // Under slow clients or readers: the same server without them first, so each round has a pair.
        let plain: WrkRun | undefined;
        if (scenario.slowClients !== undefined || scenario.slowReaders !== undefined) {
          plain = await runWrk(url, wrk);
          log(
            `  round ${round}/${options.rounds} ${spec.name} without them: ${fmt(plain.result.requestsPerSec)} req/s`,
          );
          if (scenario.slowClients !== undefined) slow = startSlowClients(server.port, scenario.slowClients);
          else {
            const readers = startSlowReaders(server.port, scenario.slowReaders!.count, {
              path: scenario.slowReaders!.request.path,
            });
            slow = readers;
            await readers.ready;
          }
          await new Promise((r) => setTimeout(r, SETTLE_MS)); // heads half sent, answers half written
        }
        const rss = watchPeakRss(server.pid);
        const before = groupCpuTime(server.pid);
        const run = await runWrk(url, wrk);
        const after = groupCpuTime(server.pid);
        const peakRss = rss.stop();
        const closed = slow?.stop().closedByServer;
        slow = undefined;
        const measurement: Measurement = {
          scenario: scenario.name,
          server: spec.name,
          round,
          sequence: measurements.length + 1,
          serverCommand: formatCommand(server.command),
          cwd: server.command.cwd,
          ...(warmup === undefined ? {} : { warmup }),
          run,
          serverCpu: { user: after.user - before.user, system: after.system - before.system },
          peakRss,
          ...(closed === undefined ? {} : { slowClientsClosed: closed }),
          ...(plain === undefined ? {} : { plain }),
        };
        measurements.push(measurement);
        const r = run.result;
        log(
          `  round ${round}/${options.rounds} ${spec.name}: ${fmt(r.requestsPerSec)} req/s, ` +
            `p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, errors ${r.errors}, ` +
            `CPU ${fmt(cpuPerRequest(measurement), 1)} µs/req, RSS ${fmt(peakRss / 2 ** 20)} MiB`,
        );
      } finally {
        slow?.stop();
        await server.stop();
      }
    }
  }
}

function installCleanup(scripts: string): void {
  const cleanup = () => {
    killWrk();
    killAllServers();
    rmSync(scripts, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      console.error(`\n${signal}: stopping every server and wrk`);
      cleanup();
      process.exit(128 + constants.signals[signal]);
    });
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const scripts = mkdtempSync(join(tmpdir(), 'nodicorn-bench-'));
  installCleanup(scripts);
  const startLoad = loadavg()[0]!;
  const wrkVersion = await requireWrk();
  const wrk: WrkOptions = {
    threads: options.wrkThreads,
    connections: options.connections,
    seconds: options.seconds,
  };
  if (options.cpuProf !== '') mkdirSync(options.cpuProf, { recursive: true });

  const at = options.baseline === '' ? undefined : prepareBaseline(options.baseline, log);
  const all = scenarios({ workers: options.workers, threads: options.threads }, at);
  const selected = select(all, options);
  if (selected.length === 0)
    throw new UsageError(
      `--only ${options.only.join(', ')}: no scenario matches (${all.map((s) => s.name).join(', ')})`,
    );

  const started = Date.now();
  const measurements: Measurement[] = [];
  const summaries: ScenarioSummary[] = [];
  const skipped: Array<{ scenario: string; missing: string[] }> = [];
  const failed: Array<{ scenario: string; error: string }> = [];
  for (const scenario of selected) {
    const lacking = missing(scenario);
    if (lacking.length > 0) {
      const needs = lacking.map((r) => `${r.what} (${r.install})`);
      skipped.push({ scenario: scenario.name, missing: needs });
      log(
        `skipping "${scenario.name}": needs ${needs.join(', ')}; scripts/install-system-deps.sh bench installs them all`,
      );
      continue;
    }
    log(`${scenario.name}: ${scenario.servers.map((s) => s.name).join(' | ')}`);
    try {
      await runScenario(scenario, options, wrkFor(scenario.request, wrk, scripts), measurements);
      summaries.push(
        summarizeScenario(
          {
            name: scenario.name,
            servers: scenario.servers,
            ...(scenario.comparedWith === undefined ? {} : { comparedWith: scenario.comparedWith }),
          },
          measurements,
          summaries,
        ),
      );
    } catch (error) {
      failed.push({ scenario: scenario.name, error: (error as Error).message });
      log(`"${scenario.name}" failed: ${(error as Error).message}`);
    }
  }

  const cpu = cpus();
  const elapsed = (Date.now() - started) / 1000;
  const preamble = [
    `${options.rounds} round(s) per scenario, servers alternated (A B C | C B A | …), a fresh server per run, ` +
      `${options.workers} worker(s) × ${options.threads} thread(s) for every Python server; ` +
      `each run: ${options.warmup > 0 ? `a ${options.warmup} s warm-up (discarded), then ` : ''}` +
      `\`wrk ${wrkArgs('URL', wrk).join(' ')}\` on 127.0.0.1.`,
    `node ${process.version}, ${wrkVersion}, ${cpu.length} CPU(s) (${cpu[0]?.model ?? 'unknown'}), ` +
      `load average at start ${startLoad.toFixed(2)}; the whole run took ${fmt(elapsed / 60, 1)} min.`,
  ];
  if (startLoad > cpu.length / 2)
    preamble.push(
      `Note: the machine was busy when the bench started (load ${startLoad.toFixed(2)} on ${cpu.length} CPUs): ` +
        'req/s is noisy; server CPU per request is the steadier figure.',
    );
  const report = markdown(preamble, summaries);
  if (summaries.length > 0) console.log(report);

  const ran = new Set(summaries.map((s) => s.scenario));
  const versions: Record<string, string> = { node: process.version, wrk: wrkVersion };
  for (const scenario of selected.filter((s) => ran.has(s.name)))
    for (const spec of scenario.servers) versions[spec.name] ??= spec.version();
  const document = {
    date: new Date().toISOString(),
    host: {
      platform: process.platform,
      release: release(),
      arch: process.arch,
      cpus: cpu.length,
      cpuModel: cpu[0]?.model,
      loadavgAtStart: startLoad,
    },
    versions,
    options,
    wrkArgs: wrkArgs('URL', wrk),
    command: [process.execPath, ...process.argv.slice(1)].join(' '),
    elapsedSeconds: elapsed,
    summaries,
    skipped,
    failed,
    measurements,
  };
  mkdirSync(options.out, { recursive: true });
  writeFileSync(join(options.out, 'results.json'), `${JSON.stringify(document, null, 2)}\n`);
  writeFileSync(join(options.out, 'results.md'), `${report}\n`);
  writeFileSync(
    join(options.out, 'ratios.svg'),
    ratioChart(
      summaries,
      `nodicorn's req/s ÷ each server's (${options.workers} workers, ${options.connections} connections)`,
    ),
  );
  log(`wrote results.md, results.json and ratios.svg to ${options.out}`);
  if (failed.length > 0) return 1;
  if (summaries.length === 0) {
    log('no scenario ran');
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(repo, 'dist/bench/run.js'))
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        if (error.message !== '') console.error(error.message);
        console.error(error.message === '' ? USAGE : `\n${USAGE}`);
        process.exit(error.message === '' ? 0 : 2);
      }
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    },
  );
