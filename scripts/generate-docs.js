#!/usr/bin/env node
// Regenerates docs/settings.md and docs/migrating-from-gunicorn.md from the settings registry and the
// Gunicorn table (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { gunicornMarkdown } from '../dist/src/cli/gunicorn-doc.js';
import { settingsMarkdown } from '../dist/src/cli/settings-doc.js';

writeFileSync(new URL('../docs/settings.md', import.meta.url), settingsMarkdown());
writeFileSync(new URL('../docs/migrating-from-gunicorn.md', import.meta.url), gunicornMarkdown());
