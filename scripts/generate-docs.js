#!/usr/bin/env node
// Regenerates docs/settings.md from the settings registry (run after `npm run build`).
import { writeFileSync } from 'node:fs';
import { settingsMarkdown } from '../dist/src/cli/settings-doc.js';

writeFileSync(new URL('../docs/settings.md', import.meta.url), settingsMarkdown());
