/**
 * Reads a V8 `.cpuprofile` (from `npm run bench -- --cpu-prof DIR`) and prints where the time went: the
 * functions with the most self time, and nodicorn's own functions by inclusive time. For the flame graph
 * itself, open the file in Chrome DevTools (Performance → Load profile) or https://www.speedscope.app.
 *   node dist/bench/profile-summary.js FILE.cpuprofile [ROWS]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const label = (n: ProfileNode) =>
  `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${n.callFrame.lineNumber + 1}`;

export function summarizeProfile(profile: CpuProfile, rows = 25): string {
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfByLabel = new Map<string, number>();
  for (const n of profile.nodes)
    selfByLabel.set(label(n), (selfByLabel.get(label(n)) ?? 0) + (self.get(n.id) ?? 0));
  const inclusive = new Map<string, number>();
  const walk = (id: number, onStack: ReadonlySet<string>): number => {
    const n = byId.get(id)!;
    const key = label(n);
    const below = new Set(onStack).add(key);
    let t = self.get(id) ?? 0;
    for (const child of n.children ?? []) t += walk(child, below);
    if (!onStack.has(key)) inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    return t;
  };
  walk(profile.nodes[0]!.id, new Set());
  const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)} %`;
  const top = (m: Map<string, number>, keep: (k: string) => boolean) =>
    [...m]
      .filter(([k]) => keep(k))
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .map(([k, t]) => `${pct(t)}  ${k}`);
  return [
    `self time (${(total / 1e6).toFixed(2)} s sampled)`,
    ...top(selfByLabel, () => true),
    '',
    "nodicorn's functions, inclusive time",
    ...top(inclusive, (k) => / src\//.test(k)),
  ].join('\n');
}

if (process.argv[1]?.endsWith('profile-summary.js')) {
  const file = process.argv[2];
  if (file === undefined) {
    console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile [ROWS]');
    process.exit(2);
  }
  console.log(
    summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, Number(process.argv[3] ?? 25)),
  );
}
