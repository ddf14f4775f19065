/** docs/errors.md, generated from the error registry (a test fails when the committed file is stale). */
import { ERRORS } from '../errors/registry.js';

export function errorsMarkdown(): string {
  const lines = [
    '# Errors',
    '',
    'Generated from `src/errors/registry.ts` by `npm run docs`; do not edit by hand.',
    '',
    'The errors nodicorn raises about its own work (settings, start-up, requests it refuses, responses it',
    "cannot send) have a stable `code` (`error.code`), in the style of undici's `UND_ERR_*` codes: a code is",
    'never renamed or reused, while a message may be reworded, so match on the code. Every class extends',
    '`NodicornError`, and `error.name` is the class name. Contract violations found by the validator',
    '(`WsgiViolation`) carry their own codes (see',
    '[typescript-apps.md](typescript-apps.md#checking-an-app-the-validator)); PEP 3333 calling mistakes',
    'raised into a TypeScript app (`start_response()` called twice without `exc_info`, a body chunk that is',
    'not bytes) are a plain `Error` or `TypeError`, as wsgiref raises them, and the validator names them with',
    "its codes; the toolkit's HTTP errors (`NotFound`, …) are answers an application raises, not failures.",
    'None of those is listed here.',
    '',
    '| Code | Class | When | What follows | Documented in |',
    '|---|---|---|---|---|',
  ];
  for (const error of ERRORS) {
    const cell = (text: string) => text.replace(/\|/g, '\\|');
    const docs = error.docs.map((page) => `[${page}](${page})`).join(', ');
    lines.push(
      `| \`${error.code}\` | \`${error.name}\` | ${cell(error.summary)} | ${cell(error.outcome)} | ${docs} |`,
    );
  }
  lines.push('');
  return lines.join('\n');
}
