/**
 * `npm run bench`: nodicorn against the ceiling (bare node:http) and its peers, side by side in one run.
 * Servers are alternated round by round (the order flips every round) so drift hits all alike; each figure
 * is the median of the rounds with min–max beside it. Installs nothing: it says what is missing.
 *
 *   node dist/bench/run.js [--quick] [--rounds N] [--duration S] [--connections N] [--workers N]
 *                          [--only SUBSTRING] [--json FILE]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { PYTHON, type Scenario, scenarios, startServer } from './servers.js';
import { median, runWrk, type WrkOptions, type WrkResult, wrkArgs } from './wrk.js';

interface Options {
  rounds: number;
  seconds: number;
  connections: number;
  workers: number;
  only: string;
  json: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { rounds: 3, seconds: 5, connections: 64, workers: 2, only: '', json: '' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => argv[++i] ?? '';
    if (arg === '--quick') Object.assign(options, { rounds: 1, seconds: 3 });
    else if (arg === '--rounds') options.rounds = Number(value());
    else if (arg === '--duration') options.seconds = Number(value());
    else if (arg === '--connections') options.connections = Number(value());
    else if (arg === '--workers') options.workers = Number(value());
    else if (arg === '--only') options.only = value();
    else if (arg === '--json') options.json = value();
    else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

/** What is missing to run `scenario`, as install hints. */
function missing(scenario: Scenario): string[] {
  const problems: string[] = [];
  if (spawnSync('wrk', ['--version']).error !== undefined) problems.push('wrk (apt-get install -y wrk)');
  const needs = scenario.servers.some((s) => s.name.startsWith('gunicorn')) ? ['gunicorn'] : [];
  if (scenario.name.startsWith('Flask')) needs.push('flask');
  for (const module of needs) {
    if (spawnSync(PYTHON, ['-c', `import ${module}`]).status !== 0)
      problems.push(
        `${module} for ${PYTHON} (apt-get install -y ${module === 'gunicorn' ? 'gunicorn' : `python3-${module}`})`,
      );
  }
  return problems;
}

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
      .trim()
      .split('\n')[0]!;
  } catch (error) {
    return String((error as { stderr?: string }).stderr ?? error)
      .trim()
      .split('\n')[0]!;
  }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const wrk: WrkOptions = { connections: options.connections, seconds: options.seconds };
  const selected = scenarios(options.workers).filter((s) =>
    s.name.toLowerCase().includes(options.only.toLowerCase()),
  );
  const raw: Array<{ scenario: string; server: string; round: number; command: string; result: WrkResult }> =
    [];
  const lines: string[] = [
    `${options.rounds} round(s) × ${options.seconds} s, wrk ${wrkArgs('URL', wrk).slice(0, 3).join(' ')}, ${options.workers} workers, servers alternated`,
    '',
    '| scenario | server | req/s median (min–max) | p50 ms | p99 ms | errors | nodicorn ÷ this |',
    '|---|---|---|---|---|---|---|',
  ];
  const ratios: string[] = [];
  for (const scenario of selected) {
    const lacking = missing(scenario);
    if (lacking.length > 0) {
      console.error(
        `skipping "${scenario.name}": missing ${lacking.join(', ')} (or run scripts/install-system-deps.sh bench)`,
      );
      continue;
    }
    const results = new Map<string, WrkResult[]>(scenario.servers.map((s) => [s.name, []]));
    for (let round = 1; round <= options.rounds; round++) {
      const order = round % 2 === 1 ? scenario.servers : [...scenario.servers].reverse();
      for (const spec of order) {
        const server = await startServer(spec, scenario.path, scenario.expect);
        try {
          await runWrk(server.url, { ...wrk, seconds: 1 }); // warm-up, discarded
          const result = await runWrk(server.url, wrk);
          results.get(spec.name)!.push(result);
          const { cmd, args } = spec.command(0);
          raw.push({
            scenario: scenario.name,
            server: spec.name,
            round,
            command: [cmd, ...args].join(' '),
            result,
          });
          console.error(
            `${scenario.name} / ${spec.name} round ${round}: ${fmt(result.requestsPerSec)} req/s`,
          );
        } finally {
          await server.stop();
        }
      }
    }
    const base = median(results.get(scenario.servers[0]!.name)!.map((r) => r.requestsPerSec));
    for (const spec of scenario.servers) {
      const rs = results.get(spec.name)!;
      const rps = rs.map((r) => r.requestsPerSec);
      const ratio = base / median(rps);
      lines.push(
        `| ${scenario.name} | ${spec.name} | ${fmt(median(rps))} (${fmt(Math.min(...rps))}–${fmt(Math.max(...rps))}) | ` +
          `${fmt(median(rs.map((r) => r.p50)), 2)} | ${fmt(median(rs.map((r) => r.p99)), 2)} | ${rs.reduce((s, r) => s + r.errors, 0)} | ` +
          `${spec === scenario.servers[0] ? '1.00' : fmt(ratio, 2)} |`,
      );
      if (spec !== scenario.servers[0])
        ratios.push(`${scenario.name}: ${scenario.servers[0]!.name} / ${spec.name} = ${fmt(ratio, 2)}`);
    }
  }
  console.log(`${lines.join('\n')}\n\n${ratios.join('\n')}`);
  if (options.json !== '') {
    const versions = {
      node: process.version,
      wrk: version('wrk', ['--version']),
      python: version(PYTHON, ['--version']),
      gunicorn: version(PYTHON, ['-m', 'gunicorn', '--version']),
    };
    writeFileSync(
      options.json,
      `${JSON.stringify({ date: new Date().toISOString(), options, versions, raw }, null, 2)}\n`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
