import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorsMarkdown } from '../../../src/cli/errors-doc.js';
import { loadTypeScriptApp } from '../../../src/cli/load-ts-app.js';
import {
  BindError,
  ERRORS,
  IdentityError,
  NodicornError,
  RequestBodyError,
  SettingError,
  StatsdAddressError,
} from '../../../src/errors/registry.js';
import { parseStatsdAddress } from '../../../src/observability/statsd.js';
import { parseBind } from '../../../src/server/binds.js';
import { checkIdentity, resolveIdentity } from '../../../src/server/privileges.js';
import { resolveSettings } from '../../../src/settings/resolve.js';
import { repoRoot } from '../../helpers/paths.js';

test('docs/errors.md is what the registry generates (run `npm run docs` after changing an error)', () => {
  assert.equal(readFileSync(`${repoRoot}docs/errors.md`, 'utf8'), errorsMarkdown());
});

test('every code is NODICORN_ERR_*, used once, and on both the class and its instances', () => {
  const codes = ERRORS.map((e) => e.code);
  assert.equal(new Set(codes).size, codes.length, codes.join(' '));
  for (const type of ERRORS) {
    assert.match(type.code, /^NODICORN_ERR_[A-Z_]+$/);
    const error =
      type === RequestBodyError
        ? new RequestBodyError(413, 'too big')
        : new (type as unknown as new (m: string) => NodicornError)('m');
    assert.ok(error instanceof NodicornError && error instanceof Error);
    assert.equal(error.code, type.code);
    assert.equal(error.name, type.name);
    assert.ok(type.summary.length > 0 && type.outcome.length > 0, type.name);
  }
});

/** GitHub's anchor for a Markdown heading. */
const slug = (heading: string) =>
  heading
    .toLowerCase()
    .replace(/[^\w\- ]/g, '')
    .replace(/ /g, '-');

test('every error is documented on a page and section that exist', () => {
  for (const type of ERRORS) {
    assert.ok(type.docs.length > 0, type.name);
    for (const link of type.docs) {
      const [page, anchor] = link.split('#') as [string, string | undefined];
      const path = `${repoRoot}docs/${page}`;
      assert.ok(existsSync(path), `${type.name}: ${link}`);
      if (anchor === undefined) continue;
      const headings = readFileSync(path, 'utf8')
        .split('\n')
        .filter((line) => /^#{1,4} /.test(line))
        .map((line) => slug(line.replace(/^#+ /, '')));
      assert.ok(headings.includes(anchor), `${type.name}: no section #${anchor} in docs/${page}`);
    }
  }
});

test('configuration errors below the settings layer are registered, not SettingError', () => {
  assert.throws(() => parseBind('h:99999'), {
    code: 'NODICORN_ERR_INVALID_BIND',
    message: 'bind "h:99999": bad port',
  });
  assert.throws(() => parseBind('h:99999'), BindError);
  assert.throws(() => parseStatsdAddress('unix:/x'), StatsdAddressError);
  assert.throws(() => resolveIdentity('no-such-user-nodicorn', ''), {
    code: 'NODICORN_ERR_IDENTITY',
    message: '--user: no such user "no-such-user-nodicorn"',
  });
  assert.throws(() => resolveIdentity('', 'no-such-group-nodicorn'), IdentityError);
  if (process.getuid!() !== 0) assert.throws(() => checkIdentity({ uid: 0 }), IdentityError);
});

test('a value refused by a lower layer reaches the user as a setting error with it as the cause', () => {
  assert.throws(
    () => resolveSettings(['--statsd-host', 'unix:/run/statsd'], {}),
    (error: unknown) => {
      assert.ok(error instanceof SettingError);
      assert.equal(error.code, 'NODICORN_ERR_INVALID_SETTING');
      assert.match(error.message, /^--statsd-host: StatsD over a Unix socket is not supported/);
      assert.ok(error.cause instanceof StatsdAddressError);
      return true;
    },
  );
});

test('a TypeScript app that exports no application fails with NODICORN_ERR_APP_LOAD', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nodicorn-errors-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'none.mjs'), 'export const x = 1;\n');
  await assert.rejects(loadTypeScriptApp('none.mjs', null, dir), {
    name: 'AppLoadError',
    code: 'NODICORN_ERR_APP_LOAD',
    message: 'none.mjs exports no "default" or "app" or "application" application',
  });
});
