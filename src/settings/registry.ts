/**
 * The settings registry: each setting is declared once, and its CLI flag, environment variable, config-file
 * key, default, validation and documentation line all come from that declaration.
 */
import { SettingError } from '../errors/registry.js';

export interface SettingSpec<T> {
  /** The config-file key, Gunicorn's name where Gunicorn has the setting (`limit_request_line`). */
  readonly key: string;
  /** The long flag (`--workers`); Gunicorn's spelling where one exists. */
  readonly flag: string;
  /** The short flag (`-w`), Gunicorn's where it has one. */
  readonly short?: string;
  /** What the value looks like in --help (`INT`); absent for on/off flags. */
  readonly meta?: string;
  readonly section: string;
  readonly doc: string;
  readonly default: T;
  /** Parses one textual value (from argv, env or a config file); throws SettingError when invalid. */
  readonly parse: (text: string) => T;
  /** For on/off settings: the flag takes no value. */
  readonly boolean?: boolean;
  /** For list settings: the flag may repeat, each occurrence adds to the list. */
  readonly repeatable?: boolean;
  /** Other spellings of the flag that Gunicorn accepts too (`--log-file` for `--error-logfile`). */
  readonly aliases?: readonly string[];
  /**
   * For settings whose value is not text (server hooks are functions): only a config file module can
   * set them, and this checks the value it gives. The command line and the environment are refused.
   */
  readonly fromConfig?: (value: unknown) => T;
}

export interface Setting<T> extends SettingSpec<T> {
  /** `NODICORN_` + the key in capitals. */
  readonly env: string;
}

// Settings' error lives in the error registry with the others; re-exported here with the parsers that throw it.
export { SettingError };

export function defineSetting<T>(spec: SettingSpec<T>): Setting<T> {
  return Object.freeze({ ...spec, env: `NODICORN_${spec.key.toUpperCase()}` });
}

/** Why a server hook cannot come from the command line, the environment or JSON. */
export const CONFIG_ONLY =
  'is a server hook, a function: it can only be set in a nodicorn.config.mjs, .js or .ts file';

/** Whether only a config file can set this setting (its value is a function, not text). */
export function isConfigOnly(setting: Setting<unknown>): boolean {
  return setting.fromConfig !== undefined;
}

// --- parsers -------------------------------------------------------------------------------------------

export function integer(min: number, max = Number.MAX_SAFE_INTEGER): (text: string) => number {
  return (text) => {
    const t = text.trim();
    if (!/^-?\d+$/.test(t)) throw new SettingError(`expected a whole number, got ${JSON.stringify(text)}`);
    const n = Number(t);
    if (n < min || n > max) throw new SettingError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

export function seconds(text: string): number {
  const t = text.trim();
  if (!/^\d+(\.\d+)?$/.test(t))
    throw new SettingError(`expected seconds (e.g. 30 or 0.5), got ${JSON.stringify(text)}`);
  return Number(t);
}

export function boolean(text: string): boolean {
  const t = text.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(t)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(t)) return false;
  throw new SettingError(`expected true or false, got ${JSON.stringify(text)}`);
}

export function text(value: string): string {
  return value;
}

export function oneOf<const T extends string>(choices: readonly T[]): (text: string) => T {
  return (value) => {
    const t = value.trim().toLowerCase() as T;
    if (!choices.includes(t))
      throw new SettingError(`expected one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
    return t;
  };
}

/**
 * A server hook: a function that only a config file module (`nodicorn.config.mjs`, `.js`, `.ts`) can
 * give; as text (a flag, a variable, JSON) it is refused with a message saying where it goes.
 */
export function hook<F extends (...args: never[]) => unknown>(): {
  parse: (text: string) => F | null;
  fromConfig: (value: unknown) => F | null;
} {
  return {
    parse: () => {
      throw new SettingError(`this setting ${CONFIG_ONLY}`);
    },
    fromConfig: (value) => {
      if (value === null || value === undefined) return null;
      if (typeof value !== 'function')
        throw new SettingError(`expected a function, got ${typeof value}: this setting ${CONFIG_ONLY}`);
      return value as F;
    },
  };
}

/** A comma-separated list (also what each occurrence of a repeatable flag adds). */
export function list(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

// --- suggestions ---------------------------------------------------------------------------------------

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The closest of `known` to `word`, when it is close enough to be a likely typo. */
export function closest(word: string, known: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = distance(word.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : null;
}
