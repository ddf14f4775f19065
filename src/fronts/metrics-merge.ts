/**
 * /metrics for a server of several fronts: each front's exposition text (Prometheus format 0.0.4) merged
 * into one, so that a scrape sees one server (prom-client's AggregatorRegistry does the same from JSON;
 * reading the text keeps this apart from how a front makes its metrics). Series are matched by name and
 * labels, exactly as written. Counters, histograms and summary counts add up; so do gauges, which here
 * count things the fronts have each of (requests in flight, workers, memory), except the few for which a
 * sum means nothing: a start time is the earliest, an `_info` series or a limit the largest, an event-loop
 * lag the mean.
 */

type Combine = 'sum' | 'min' | 'max' | 'mean';

/** Gauges that do not add up across processes, by name. */
const GAUGE_RULES: ReadonlyArray<readonly [RegExp, Combine]> = [
  [/_start_time_seconds$/, 'min'],
  [/_info$|_max_fds$|_heap_size_limit_bytes$/, 'max'],
  [/^nodejs_eventloop_lag/, 'mean'],
];

interface Family {
  help: string | null;
  type: string | null;
  /** Sample key (name and labels as written) → the values, one per front that has it. */
  readonly samples: Map<string, number[]>;
}

/** The samples a histogram or summary family writes under other names. */
const PARTS: ReadonlyArray<readonly [string, readonly string[]]> = [
  ['_bucket', ['histogram']],
  ['_sum', ['histogram', 'summary']],
  ['_count', ['histogram', 'summary']],
];

/** `name{labels} value`: the key (name and labels) and the value; null for what is not a sample. */
function parseSample(line: string): { name: string; key: string; value: number } | null {
  const brace = line.indexOf('{');
  const space = line.indexOf(' ');
  if (space === -1) return null;
  let end = space;
  if (brace !== -1 && brace < space) {
    // A label value may hold spaces and braces; only \\, \" and \n are escaped in it.
    let quoted = false;
    end = -1;
    for (let i = brace + 1; i < line.length; i++) {
      const c = line[i];
      if (quoted && c === '\\') i++;
      else if (c === '"') quoted = !quoted;
      else if (!quoted && c === '}') {
        end = i + 1;
        break;
      }
    }
    if (end === -1) return null;
  }
  const fields = line.slice(end).trim().split(/\s+/);
  const text = fields[0] ?? '';
  const value = text === '+Inf' ? Infinity : text === '-Inf' ? -Infinity : Number(text);
  if (text === '' || (Number.isNaN(value) && text !== 'NaN')) return null;
  return { name: line.slice(0, brace !== -1 && brace < space ? brace : end), key: line.slice(0, end), value };
}

function formatValue(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

function combine(how: Combine, values: readonly number[]): number {
  if (how === 'min') return Math.min(...values);
  if (how === 'max') return Math.max(...values);
  const sum = values.reduce((a, b) => a + b, 0);
  return how === 'mean' ? sum / values.length : sum;
}

function ruleFor(family: string, type: string | null, key: string): Combine {
  if (type === 'summary' && key.includes('quantile="')) return 'max';
  if (type !== 'gauge') return 'sum';
  return GAUGE_RULES.find(([pattern]) => pattern.test(family))?.[1] ?? 'sum';
}

/** The family a sample belongs to: the declared one it is a part of (`x_bucket` of histogram `x`), or itself. */
function familyOf(name: string, families: ReadonlyMap<string, Family>): string {
  for (const [suffix, types] of PARTS) {
    if (!name.endsWith(suffix)) continue;
    const type = families.get(name.slice(0, -suffix.length))?.type;
    if (type != null && types.includes(type)) return name.slice(0, -suffix.length);
  }
  return name;
}

/** Several fronts' /metrics texts as one. */
export function mergeExpositions(texts: readonly string[]): string {
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { help: null, type: null, samples: new Map() };
      families.set(name, f);
    }
    return f;
  };
  for (const text of texts) {
    for (const line of text.split('\n')) {
      const meta = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (meta !== null) {
        const f = family(meta[2]!);
        if (meta[1] === 'HELP') f.help ??= meta[3] ?? '';
        else f.type ??= meta[3] ?? 'untyped';
        continue;
      }
      if (line === '' || line.startsWith('#')) continue;
      const sample = parseSample(line);
      if (sample === null) continue;
      const samples = family(familyOf(sample.name, families)).samples;
      const values = samples.get(sample.key);
      if (values === undefined) samples.set(sample.key, [sample.value]);
      else values.push(sample.value);
    }
  }
  const out: string[] = [];
  for (const [name, f] of families) {
    if (f.help !== null) out.push(`# HELP ${name} ${f.help}`);
    if (f.type !== null) out.push(`# TYPE ${name} ${f.type}`);
    for (const [key, values] of f.samples)
      out.push(`${key} ${formatValue(combine(ruleFor(name, f.type, key), values))}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
