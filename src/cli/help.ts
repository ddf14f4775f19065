/** `--help`, generated from the settings registry. */
import { settingsBySection } from '../settings/definitions.js';
import { isConfigOnly } from '../settings/registry.js';

export function helpText(version: string): string {
  const lines = [
    `nodicorn ${version}: a WSGI (PEP 3333) server for Python and TypeScript applications`,
    '',
    'Usage: nodicorn [OPTIONS] APP',
    '',
    '  APP is MODULE[:ATTR] for a Python app (myproject.wsgi:application, app:create_app())',
    '  or FILE[:EXPORT] for a TypeScript/JavaScript app (./app.ts:app).',
    '',
  ];
  for (const [section, settings] of settingsBySection()) {
    lines.push(`${section}:`);
    for (const s of settings) {
      if (isConfigOnly(s)) {
        lines.push(`  ${`    ${s.key} (config file only)`.padEnd(36)} ${s.doc}`);
        continue;
      }
      const aliases = (s.aliases ?? []).map((a) => `, ${a}`).join('');
      const flags = `${s.short === undefined ? '    ' : `${s.short}, `}${s.flag}${aliases}${s.meta === undefined ? '' : ` ${s.meta}`}`;
      const def = Array.isArray(s.default) ? s.default.join(',') : String(s.default);
      lines.push(`  ${flags.padEnd(36)} ${s.doc}`);
      lines.push(`  ${''.padEnd(36)} [default: ${def === '' ? "''" : def}; env ${s.env}]`);
    }
    lines.push('');
  }
  lines.push('  -h, --help                           Show this help and exit.');
  lines.push('  -v, --version                        Show the version and exit.');
  return `${lines.join('\n')}\n`;
}
