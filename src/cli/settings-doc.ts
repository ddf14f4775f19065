/** docs/settings.md, generated from the settings registry (a test fails when the committed file is stale). */
import { settingsBySection } from '../settings/definitions.js';
import { isConfigOnly } from '../settings/registry.js';

export function settingsMarkdown(): string {
  const lines = [
    '# Settings',
    '',
    'Generated from `src/settings/definitions.ts` by `npm run docs`; do not edit by hand.',
    '',
    'Each setting can be given on the command line, or as an environment variable; the command line wins.',
    'A config file (`-c FILE`, or `nodicorn.config.{json,mjs,js,ts}` in the current directory) gives them by',
    "key (Gunicorn's name where Gunicorn has the setting). Server hooks are functions, so only a config",
    'module (`.mjs`, `.js`, `.ts`) can give them. A `gunicorn.conf.py` is read too: see',
    '[migrating-from-gunicorn.md](migrating-from-gunicorn.md).',
    '',
  ];
  for (const [section, settings] of settingsBySection()) {
    lines.push(
      `## ${section}`,
      '',
      '| Flag | Key | Environment | Default | What it does |',
      '|---|---|---|---|---|',
    );
    for (const s of settings) {
      const doc = s.doc.replace(/\|/g, '\\|');
      if (isConfigOnly(s)) {
        lines.push(`| (config file only) | \`${s.key}\` | — | none | ${doc} |`);
        continue;
      }
      const aliases = (s.aliases ?? []).map((a) => `, \`${a}\``).join('');
      const flag = `${s.short === undefined ? '' : `\`${s.short}\`, `}\`${s.flag}${s.meta === undefined ? '' : ` ${s.meta}`}\`${aliases}`;
      const value = Array.isArray(s.default) ? s.default.join(',') : String(s.default);
      lines.push(`| ${flag} | \`${s.key}\` | \`${s.env}\` | \`${value === '' ? "''" : value}\` | ${doc} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
