/**
 * nodicorn as an npm user gets it: `npm pack` of this checkout, installed into fresh CommonJS and ES-module
 * projects (`npm init -y`), serving a Python app, a .ts app and a .mjs app through `npx nodicorn`. And
 * `npm ci` of this repository on this Node without an engine warning.
 *
 * npm takes packages from its cache when they are there (--prefer-offline): the `npm ci` of this checkout
 * put them there, tsx included (the same version is installed).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { get } from '../helpers/load.js';
import { tempDir } from '../helpers/packages.js';
import { repoRoot } from '../helpers/paths.js';
import { startNodicorn } from '../helpers/server.js';

// `npm test` hands its configuration down as npm_* variables (npm_config_local_prefix is this checkout):
// the npm run here must see the user's configuration only, as in a shell.
const NPM_RUN_VARIABLES = Object.keys(process.env).filter(
  (name) =>
    /^npm_/i.test(name) && !/^npm_config_(cache|userconfig|globalconfig|cafile|registry)$/i.test(name),
);
const userEnv: Record<string, string | undefined> = {
  ...Object.fromEntries(NPM_RUN_VARIABLES.map((name) => [name, undefined])),
  // npx runs the project's nodicorn, and never fetches one.
  npm_config_yes: 'false',
};
const env = { ...process.env, ...userEnv };

function npm(cwd: string, ...args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed:\n${r.stdout}${r.stderr}${r.error ?? ''}`);
  return r;
}

const install = (cwd: string, ...packages: string[]) =>
  npm(cwd, 'install', '--prefer-offline', '--no-audit', '--no-fund', ...packages);

const TSX = `tsx@${(JSON.parse(readFileSync(join(repoRoot, 'node_modules/tsx/package.json'), 'utf8')) as { version: string }).version}`;

const APPS = {
  'app.ts': `import type { WsgiApp } from 'nodicorn/contract';
import { validator } from 'nodicorn/contract';

export const app: WsgiApp = validator((environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from(\`ts \${environ.PATH_INFO}\`)];
});
`,
  'app.mjs': `import { validator } from 'nodicorn/contract';

export const app = validator((environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [Buffer.from(\`mjs \${environ.PATH_INFO}\`)];
});
`,
};

/** A fresh project as `npm init -y` makes it (then `npm pkg set type=module`), holding the apps. */
function newProject(type: 'commonjs' | 'module'): string {
  const dir = tempDir(`install-${type}`);
  npm(dir, 'init', '-y');
  if (type === 'module') npm(dir, 'pkg', 'set', 'type=module');
  assert.equal((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { type?: string }).type, type);
  for (const [name, text] of Object.entries(APPS)) writeFileSync(join(dir, name), text);
  return dir;
}

/** `npx nodicorn ARGS` in `dir` answers GET /hi with `body`. */
async function serves(dir: string, args: string[], body: string): Promise<void> {
  const server = await startNodicorn(args, {
    cwd: dir,
    command: ['npx', 'nodicorn'],
    env: userEnv,
    // npx runs nodicorn as its child: stopping the group stops both.
    signalGroup: true,
    timeoutMs: 60_000,
  });
  try {
    const response = await get(server.port, '/hi');
    assert.equal(response.status, 200, server.log());
    assert.equal(response.body, body);
  } finally {
    await server.stop();
  }
}

const PYTHON_APP = ['--chdir', 'node_modules/nodicorn/examples', 'hello:my_wsgi_app'];

let tarball: string;
before(
  () => {
    // The build is done (npm test builds first): the prepare script would only build it again.
    const destination = tempDir('pack');
    const packed = npm(repoRoot, 'pack', '--ignore-scripts', '--json', '--pack-destination', destination);
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    tarball = join(destination, filename);
  },
  { timeout: 240_000 },
);

describe('installed into a CommonJS project', { timeout: 600_000 }, () => {
  let dir: string;
  before(
    () => {
      dir = newProject('commonjs');
      install(dir, tarball);
    },
    { timeout: 300_000 },
  );

  test('alone, it brings no TypeScript loader (no tsx, no esbuild)', () => {
    assert.equal(existsSync(join(dir, 'node_modules/nodicorn/bin/nodicorn.js')), true);
    assert.equal(existsSync(join(dir, 'node_modules/tsx')), false);
    assert.equal(existsSync(join(dir, 'node_modules/esbuild')), false);
  });

  test('a .ts app without tsx: one line says what to install', () => {
    const r = spawnSync('npx', ['nodicorn', '-b', '127.0.0.1:0', 'app.ts:app'], {
      cwd: dir,
      env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /\[CRITICAL\] app\.ts is TypeScript: install tsx \(npm install --save-dev tsx\) or compile it to JavaScript\n/,
    );
  });

  test('serves the Python example', () => serves(dir, PYTHON_APP, 'Hello, WSGI World!'));

  test('serves a .mjs app', () => serves(dir, ['app.mjs:app'], 'mjs /hi'));

  test('serves a .ts app written with import/export once tsx is installed', async () => {
    install(dir, '--save-dev', TSX);
    await serves(dir, ['app.ts:app'], 'ts /hi');
  });
});

describe('installed into an ES-module project', { timeout: 600_000 }, () => {
  let dir: string;
  before(
    () => {
      dir = newProject('module');
      install(dir, tarball, TSX);
    },
    { timeout: 300_000 },
  );

  test('serves the Python example', () => serves(dir, PYTHON_APP, 'Hello, WSGI World!'));

  test('serves a .mjs app', () => serves(dir, ['app.mjs:app'], 'mjs /hi'));

  test('serves a .ts app', () => serves(dir, ['app.ts:app'], 'ts /hi'));
});

test('npm ci of this repository prints no engine warning on this Node', () => {
  const dir = tempDir('ci');
  for (const file of ['package.json', 'package-lock.json'])
    copyFileSync(join(repoRoot, file), join(dir, file));
  const r = npm(dir, 'ci', '--dry-run', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund');
  assert.match(r.stdout, /\badd tsx /); // the dry run went through the whole lock file
  assert.doesNotMatch(r.stderr, /EBADENGINE/);
});
