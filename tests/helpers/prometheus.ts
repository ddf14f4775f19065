/**
 * A strict reader of Prometheus text format 0.0.4 for tests: every line a comment, a blank line or a
 * sample; every sample of a family declared by `# TYPE` before it (a histogram's as `_bucket`, `_sum`,
 * `_count`), no family declared twice, no sample twice, and each histogram's buckets cumulative up to
 * `le="+Inf"`, which equals its `_count`.
 */
import assert from 'node:assert/strict';
import type { RunningNodicorn } from './server.js';

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"`;
/** A float as Go's strconv.ParseFloat reads it, which the format defers to (so `Nan`, `+inf` too). */
const VALUE =
  '[+-]?(?:[0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN]';
const SAMPLE = new RegExp(`^(${NAME})(\\{(?:${LABEL}(?:,${LABEL})*)?\\})? (${VALUE})$`);
const TYPE = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`);
const SUFFIXES: Record<string, readonly string[]> = {
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  /** Each histogram's buckets in order, by family and labels other than `le`. */
  const buckets = new Map<string, Array<{ le: number; n: number }>>();
  for (const line of text.trimEnd().split('\n')) {
    if (line === '' || line.startsWith('# HELP ')) continue;
    const type = TYPE.exec(line);
    if (type !== null) {
      assert.ok(!types.has(type[1]!), `${type[1]} declared twice`);
      types.set(type[1]!, type[2]!);
      continue;
    }
    assert.ok(!line.startsWith('#'), `not Prometheus text format: ${JSON.stringify(line)}`);
    const m = SAMPLE.exec(line);
    assert.ok(m !== null, `not Prometheus text format: ${JSON.stringify(line)}`);
    const [, name, labels = '', value] = m;
    const family = familyOf(name!, types);
    assert.ok(family !== undefined, `${name} has no # TYPE before it`);
    const key = `${name}${labels}`;
    assert.ok(!samples.has(key), `${key} appears twice`);
    samples.set(key, float(value!));
    if (types.get(family) === 'histogram' && name === `${family}_bucket`) {
      const pairs = labels.match(new RegExp(LABEL, 'g')) ?? [];
      const le = pairs.find((pair) => pair.startsWith('le='));
      assert.ok(le !== undefined, `${key} has no le label`);
      const others = pairs.filter((pair) => pair !== le);
      const series = `${family}${others.length === 0 ? '' : `{${others.join(',')}}`}`;
      const list = buckets.get(series) ?? [];
      list.push({ le: float(le.slice(4, -1)), n: float(value!) });
      buckets.set(series, list);
    }
  }
  for (const [series, list] of buckets) {
    for (let i = 1; i < list.length; i++) {
      assert.ok(list[i]!.le > list[i - 1]!.le, `${series}: buckets out of order`);
      assert.ok(list[i]!.n >= list[i - 1]!.n, `${series}: buckets not cumulative`);
    }
    assert.equal(list.at(-1)!.le, Number.POSITIVE_INFINITY, `${series}: no le="+Inf" bucket`);
    const count = series.replace(/^([^{]+)/, '$1_count');
    assert.equal(samples.get(count), list.at(-1)!.n, `${series}: the +Inf bucket is not ${count}`);
  }
  return samples;
}

/** A sample value or an `le` bound: a float, `+Inf`, `-Inf` or `NaN` (in any case). */
function float(text: string): number {
  if (/^nan$/i.test(text)) return Number.NaN;
  const inf = /^([+-]?)inf(?:inity)?$/i.exec(text);
  if (inf === null) return Number(text);
  return inf[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
}

/** The family a sample name belongs to: itself, or a histogram or summary it is a part of. */
function familyOf(name: string, types: ReadonlyMap<string, string>): string | undefined {
  for (const [family, type] of types)
    for (const suffix of SUFFIXES[type] ?? ['']) if (name === family + suffix) return family;
  return undefined;
}

/** The samples of the metric `name`: their label sets (`{pid="12"}`, or '' for none) and values. */
export function seriesOf(samples: ReadonlyMap<string, number>, name: string): Map<string, number> {
  const series = new Map<string, number>();
  for (const [key, value] of samples)
    if (key === name || key.startsWith(`${name}{`)) series.set(key.slice(name.length), value);
  return series;
}

/** The port of the --metrics-bind server, from its ready line. */
export async function metricsPort(server: RunningNodicorn): Promise<number> {
  const line = /Listening at: http:\/\/127\.0\.0\.1:(\d+)\/metrics/;
  await server.waitForLog(line);
  return Number(line.exec(server.log())![1]);
}
