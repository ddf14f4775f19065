/**
 * Resolution: defaults < config file < environment (NODICORN_*) < command line. Unknown flags and config keys
 * are errors that name the closest known setting; an unknown NODICORN_* variable is only a warning naming it
 * (the environment is shared with other tools and scripts, which may use the prefix). The result is frozen.
 */
import type { ConfigFile } from './config-types.js';
import { SETTINGS, type SettingName, type Settings } from './definitions.js';
import { CONFIG_ONLY, closest, isConfigOnly, type Setting, SettingError } from './registry.js';

export type Source = 'default' | 'config file' | 'environment' | 'command line';

/** A config file value as the text a flag would carry: lists joined with commas. */
function asText(value: unknown): string {
  if (Array.isArray(value)) return value.map(String).join(',');
  return String(value);
}

export interface Resolved {
  readonly settings: Settings;
  readonly sources: Readonly<Record<SettingName, Source>>;
  /** Positional arguments (the application reference). */
  readonly positionals: readonly string[];
  /** `--help` / `--version` asked for. */
  readonly help: boolean;
  readonly version: boolean;
  /** What was ignored (unknown NODICORN_* variables), for the caller to show once at startup. */
  readonly warnings: readonly string[];
}

const NAMES = Object.keys(SETTINGS) as SettingName[];
const byFlag = new Map<string, SettingName>();
for (const name of NAMES) {
  const s: Setting<unknown> = SETTINGS[name];
  byFlag.set(s.flag, name);
  if (s.short !== undefined) byFlag.set(s.short, name);
  for (const alias of s.aliases ?? []) byFlag.set(alias, name);
}

function apply(values: Record<string, unknown>, name: SettingName, raw: string, where: string): void {
  const setting = SETTINGS[name] as Setting<unknown>;
  let value: unknown;
  try {
    value = setting.parse(raw);
  } catch (error) {
    throw new SettingError(`${where}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  }
  if (setting.repeatable === true && Array.isArray(values[name]) && where.startsWith('--')) {
    values[name] = [...(values[name] as unknown[]), ...(value as unknown[])];
  } else values[name] = value;
}

export function resolveSettings(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  file?: ConfigFile,
): Resolved {
  const values: Record<string, unknown> = {};
  const sources = {} as Record<SettingName, Source>;
  for (const name of NAMES) {
    values[name] = SETTINGS[name].default;
    sources[name] = 'default';
  }

  if (file !== undefined) {
    for (const [key, raw] of Object.entries(file.values)) {
      if (!(key in SETTINGS) || key === 'config') {
        const hint = closest(key, NAMES);
        throw new SettingError(
          `${file.path}: unknown setting ${JSON.stringify(key)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ''}`,
        );
      }
      const setting = SETTINGS[key as SettingName] as Setting<unknown>;
      if (setting.fromConfig !== undefined) {
        try {
          values[key] = setting.fromConfig(raw);
        } catch (error) {
          throw new SettingError(
            `${file.path}: ${key}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      } else apply(values, key as SettingName, asText(raw), `${file.path}: ${key}`);
      sources[key as SettingName] = 'config file';
    }
  }

  const envNames = new Map(NAMES.map((n) => [SETTINGS[n].env, n] as const));
  const warnings: string[] = [];
  for (const [variable, raw] of Object.entries(env)) {
    if (!variable.startsWith('NODICORN_') || raw === undefined) continue;
    const name = envNames.get(variable);
    if (name !== undefined && isConfigOnly(SETTINGS[name] as Setting<unknown>))
      throw new SettingError(`${variable}: ${name} ${CONFIG_ONLY}`);
    if (name === undefined) {
      const hint = closest(variable, envNames.keys());
      warnings.push(
        `ignoring unknown environment variable ${variable}${hint ? `; did you mean ${hint}?` : ''}`,
      );
      continue;
    }
    apply(values, name, raw, variable);
    sources[name] = 'environment';
  }

  const positionals: string[] = [];
  const fromCli = new Set<SettingName>();
  let help = false;
  let version = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (arg === '-v' || arg === '--version') {
      version = true;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    let flag = eq === -1 ? arg : arg.slice(0, eq);
    let inline: string | undefined = eq === -1 ? undefined : arg.slice(eq + 1);
    // -w4 style: short flag with its value attached
    if (!arg.startsWith('--') && arg.length > 2) {
      inline = arg.slice(2);
      flag = arg.slice(0, 2);
    }
    const name = byFlag.get(flag);
    if (name === undefined) {
      const hint = closest(flag, byFlag.keys());
      throw new SettingError(`unknown option ${flag}${hint ? `; did you mean ${hint}?` : ''}`);
    }
    const setting = SETTINGS[name] as Setting<unknown>;
    if (isConfigOnly(setting)) throw new SettingError(`${flag}: ${name} ${CONFIG_ONLY}`);
    // A repeatable setting's first command-line value replaces the default/env list rather than adding to it.
    if (setting.repeatable === true && !fromCli.has(name)) values[name] = [];
    fromCli.add(name);
    sources[name] = 'command line';
    if (setting.boolean === true) {
      apply(values, name, inline ?? 'true', setting.flag);
      continue;
    }
    const raw = inline ?? argv[++i];
    if (raw === undefined) throw new SettingError(`${flag} needs a value (${setting.meta ?? 'VALUE'})`);
    apply(values, name, raw, setting.flag);
  }
  return {
    settings: Object.freeze(values) as unknown as Settings,
    sources: Object.freeze(sources),
    positionals,
    help,
    version,
    warnings,
  };
}
