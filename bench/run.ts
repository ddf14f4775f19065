/**
 * `npm run bench`: nodicorn against the ceiling (bare node:http) and, where installed, its peers, with the
 * same wrk settings for every server. Each run gets a fresh server on a free 127.0.0.1 port, a discarded
 * warm-up, then the measured wrk run; servers alternate within a scenario (A B | B A | A B …, so drift over
 * time hits all alike) and each figure is the median over rounds, with min–max. Installs nothing.
 */

import { writeFileSync } from 'node:fs';
import { constants, cpus, loadavg, release } from 'node:os';
import {
  cpuPerRequest,
  fmt,
  type Measurement,
  markdown,
  type ScenarioSummary,
  summarizeScenario,
} from './report.js';
import {
  formatCommand,
  groupCpuTime,
  killAllServers,
  missing,
  type Scenario,
  type ServerSpec,
  scenarios,
  startServer,
} from './servers.js';
import { killWrk, requireWrk, runWrk, type WrkOptions, wrkArgs } from './wrk.js';

const USAGE = `usage: node dist/bench/run.js [options]      (npm run bench -- [options])

  --quick              2 rounds of 2 s (instead of 3 of 5 s); other options still apply
  --rounds N           rounds per scenario (default 3)
  --duration S         seconds of each measured wrk run (default 5)
  --warmup S           seconds of the discarded warm-up run before each (default 1; 0: none)
  --connections N      wrk connections (default 64)
  --threads N          wrk threads (default 1; the server shares the machine with them)
  --workers N          worker processes of the Python servers (default 2)
  --only TEXT          only the scenarios whose name contains TEXT (e.g. --only typescript)
  --json FILE          write every raw figure, the exact commands and the versions to FILE
  -h, --help           this text`;

interface Options {
  rounds: number;
  seconds: number;
  warmup: number;
  connections: number;
  threads: number;
  workers: number;
  only: string;
  json: string;
  quick: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: readonly string[]): Options {
  const explicit: Partial<Options> = {};
  let quick = false;
  const count = (flag: string, text: string, min: number): number => {
    const n = Number(text.replace(/s$/, ''));
    if (
      !Number.isFinite(n) ||
      n < min ||
      (flag !== '--duration' && flag !== '--warmup' && !Number.isInteger(n))
    )
      throw new UsageError(`${flag}: expected a number ≥ ${min}, got ${JSON.stringify(text)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--quick') quick = true;
    else if (flag === '-h' || flag === '--help') {
      console.log(USAGE);
      process.exit(0);
    } else if (flag === '--rounds') explicit.rounds = count(flag, value(), 1);
    else if (flag === '--duration') explicit.seconds = count(flag, value(), 1);
    else if (flag === '--warmup') explicit.warmup = count(flag, value(), 0);
    else if (flag === '--connections') explicit.connections = count(flag, value(), 1);
    else if (flag === '--threads') explicit.threads = count(flag, value(), 1);
    else if (flag === '--workers') explicit.workers = count(flag, value(), 1);
    else if (flag === '--only') explicit.only = value();
    else if (flag === '--json') explicit.json = value();
    else throw new UsageError(`unknown option ${JSON.stringify(flag)}`);
  }
  const defaults = { rounds: quick ? 2 : 3, seconds: quick ? 2 : 5, warmup: 1 };
  const options: Options = {
    ...defaults,
    connections: 64,
    threads: 1,
    workers: 2,
    only: '',
    json: '',
    ...explicit,
    quick,
  };
  if (options.connections < options.threads)
    throw new UsageError('--connections must be at least --threads (wrk needs one connection per thread)');
  return options;
}

function installCleanup(): void {
  const cleanup = () => {
    killWrk();
    killAllServers();
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

const log = (line: string) => console.error(line);

/** Runs one scenario: `rounds` rounds, the server order reversed every other round. */
async function runScenario(
  scenario: Scenario,
  options: Options,
  wrk: WrkOptions,
  measurements: Measurement[],
): Promise<void> {
  const servers: readonly ServerSpec[] = scenario.servers;
  for (let round = 1; round <= options.rounds; round++) {
    const order = round % 2 === 1 ? servers : [...servers].reverse();
    for (const spec of order) {
      const server = await startServer(spec, scenario);
      try {
        const warmup =
          options.warmup > 0 ? await runWrk(server.url, { ...wrk, seconds: options.warmup }) : undefined;
        const before = groupCpuTime(server.pid);
        const run = await runWrk(server.url, wrk);
        const after = groupCpuTime(server.pid);
        measurements.push({
          scenario: scenario.name,
          server: spec.name,
          round,
          sequence: measurements.length + 1,
          serverCommand: formatCommand(server.command),
          cwd: server.command.cwd,
          ...(warmup === undefined ? {} : { warmup }),
          run,
          serverCpu: { user: after.user - before.user, system: after.system - before.system },
        });
        const r = run.result;
        log(
          `  round ${round}/${options.rounds} ${spec.name}: ${fmt(r.requestsPerSec)} req/s, ` +
            `p50 ${fmt(r.p50, 2)} ms, p99 ${fmt(r.p99, 2)} ms, errors ${r.errors}, ` +
            `server CPU ${fmt(cpuPerRequest(measurements.at(-1)!), 1)} µs/req`,
        );
      } finally {
        await server.stop();
      }
    }
  }
}

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  installCleanup();
  const startLoad = loadavg()[0]!;
  const wrkVersion = await requireWrk();
  const wrk: WrkOptions = {
    threads: options.threads,
    connections: options.connections,
    seconds: options.seconds,
  };

  const all = scenarios({ workers: options.workers });
  const selected = all.filter((s) => s.name.toLowerCase().includes(options.only.toLowerCase()));
  if (selected.length === 0)
    throw new UsageError(
      `--only ${options.only}: no scenario matches (${all.map((s) => s.name).join(', ')})`,
    );

  const measurements: Measurement[] = [];
  const summaries: ScenarioSummary[] = [];
  const skipped: Array<{ scenario: string; missing: string[] }> = [];
  const failed: Array<{ scenario: string; error: string }> = [];
  for (const scenario of selected) {
    const lacking = missing(scenario);
    if (lacking.length > 0) {
      const needs = lacking.map((r) => `${r.what} (${r.install})`);
      skipped.push({ scenario: scenario.name, missing: needs });
      log(`skipping "${scenario.name}": needs ${needs.join(', ')}`);
      continue;
    }
    log(`${scenario.name}: ${scenario.servers.map((s) => s.name).join(' vs ')}`);
    try {
      await runScenario(scenario, options, wrk, measurements);
      summaries.push(
        summarizeScenario(
          scenario.name,
          scenario.servers.map((s) => s.name),
          measurements,
        ),
      );
    } catch (error) {
      failed.push({ scenario: scenario.name, error: (error as Error).message });
      log(`"${scenario.name}" failed: ${(error as Error).message}`);
    }
  }

  const cpu = cpus();
  const preamble = [
    `${options.rounds} round(s) per scenario, servers alternated (A B | B A | …), a fresh server per run;`,
    `each run: ${options.warmup > 0 ? `a ${options.warmup} s warm-up (discarded), then ` : ''}` +
      `\`wrk ${wrkArgs('URL', wrk).join(' ')}\`; 127.0.0.1 only.`,
    `node ${process.version}, ${wrkVersion}, ${cpu.length} CPU(s) (${cpu[0]?.model ?? 'unknown'}), ` +
      `load average at start ${startLoad.toFixed(2)}`,
  ];
  if (startLoad > cpu.length / 2)
    preamble.push(
      `Note: the machine was busy when the bench started (load ${startLoad.toFixed(2)} on ${cpu.length} CPUs): ` +
        'req/s is noisy; server CPU per request is the steadier figure.',
    );
  if (summaries.length > 0) console.log(markdown(preamble, summaries));

  if (options.json !== '') {
    const ran = new Set(summaries.map((s) => s.scenario));
    const versions: Record<string, string> = { node: process.version, wrk: wrkVersion };
    for (const scenario of selected.filter((s) => ran.has(s.name)))
      for (const spec of scenario.servers) versions[spec.name] = spec.version();
    const document = {
      date: new Date().toISOString(),
      host: {
        platform: process.platform,
        release: release(),
        arch: process.arch,
        cpus: cpu.length,
        cpuModel: cpu[0]?.model,
        loadavg: loadavg(),
      },
      versions,
      options,
      wrkArgs: wrkArgs('URL', wrk),
      command: [process.execPath, ...process.argv.slice(1)].join(' '),
      summaries,
      skipped,
      failed,
      measurements,
    };
    writeFileSync(options.json, `${JSON.stringify(document, null, 2)}\n`);
    log(`wrote ${options.json}`);
  }
  if (failed.length > 0) return 1;
  if (summaries.length === 0) {
    log('no scenario ran');
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    if (error instanceof UsageError) console.error(`\n${USAGE}`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
