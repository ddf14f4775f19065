/** docs/settings.md, generated from the settings registry (a test fails when the committed file is stale). */
import { settingsBySection } from '../settings/definitions.js';

export function settingsMarkdown(): string {
  const lines = [
    '# Settings',
    '',
    'Generated from `src/settings/definitions.ts` by `npm run docs`; do not edit by hand.',
    '',
    'Each setting can be given on the command line, or as an environment variable; the command line wins.',
    '',
  ];
  for (const [section, settings] of settingsBySection()) {
    lines.push(`## ${section}`, '', '| Flag | Environment | Default | What it does |', '|---|---|---|---|');
    for (const s of settings) {
      const flag = `${s.short === undefined ? '' : `\`${s.short}\`, `}\`${s.flag}${s.meta === undefined ? '' : ` ${s.meta}`}\``;
      const value = Array.isArray(s.default) ? s.default.join(',') : String(s.default);
      lines.push(
        `| ${flag} | \`${s.env}\` | \`${value === '' ? "''" : value}\` | ${s.doc.replace(/\|/g, '\\|')} |`,
      );
    }
    lines.push('');
  }
  return lines.join('\n');
}
