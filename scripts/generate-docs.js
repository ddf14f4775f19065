#!/usr/bin/env node
// Regenerates docs/settings.md, docs/migrating-from-gunicorn.md and docs/errors.md from the settings
// registry, the Gunicorn table and the error registry (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { errorsMarkdown } from '../dist/src/cli/errors-doc.js';
import { gunicornMarkdown } from '../dist/src/cli/gunicorn-doc.js';
import { settingsMarkdown } from '../dist/src/cli/settings-doc.js';

writeFileSync(new URL('../docs/settings.md', import.meta.url), settingsMarkdown());
writeFileSync(new URL('../docs/migrating-from-gunicorn.md', import.meta.url), gunicornMarkdown());
writeFileSync(new URL('../docs/errors.md', import.meta.url), errorsMarkdown());
