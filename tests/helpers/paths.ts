/** Paths into the repository from compiled tests (dist/tests/helpers/*.js). */
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const fixtures = `${repoRoot}tests/fixtures/`;
export const examples = `${repoRoot}examples/`;
export const cliPath = `${repoRoot}bin/nodicorn.js`;
