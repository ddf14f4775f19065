/**
 * `--baseline REF`: nodicorn built from another git ref, to measure beside the working tree's nodicorn in
 * the same run. The ref's tree is exported (`git archive`, so the repository's worktrees and branches are
 * left alone) into node_modules/.cache/nodicorn-baseline/SHA, then `npm ci` and `npm run build` run there
 * once; later runs reuse the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type NodicornBuild, repo } from './servers.js';

/** Where builds of other refs are kept (one directory per commit). */
export const baselineCache = join(repo, 'node_modules', '.cache', 'nodicorn-baseline');

/** Written last: a directory without it is an interrupted build and is built again. */
const MARKER = '.nodicorn-baseline-built';

/** The commit `ref` names in this repository, or an error saying it names none. */
export function resolveRef(ref: string, cwd = repo): string {
  const run = spawnSync('git', ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], {
    cwd,
    encoding: 'utf8',
  });
  const sha = run.stdout?.trim() ?? '';
  if (run.status !== 0 || !/^[0-9a-f]{40,64}$/.test(sha))
    throw new Error(`--baseline ${ref}: not a commit in ${cwd}${run.error ? ` (${run.error.message})` : ''}`);
  return sha;
}

function step(what: string, cmd: string, args: string[], cwd: string, log: (line: string) => void): void {
  log(`  ${what}: ${cmd} ${args.join(' ')}`);
  // npm's and git's output goes to stderr, like the bench's progress lines; stdout is the report's
  const run = spawnSync(cmd, args, { cwd, stdio: ['ignore', 2, 2] });
  if (run.status !== 0)
    throw new Error(`${what} failed (${run.error?.message ?? `exit ${run.status ?? run.signal}`}) in ${cwd}`);
}

/** nodicorn built from `ref`: exported and built on first use, reused afterwards. */
export function prepareBaseline(
  ref: string,
  log: (line: string) => void = (line) => console.error(line),
  cache = baselineCache,
): NodicornBuild {
  const sha = resolveRef(ref);
  const dir = `${join(cache, sha)}/`;
  const build: NodicornBuild = { ref, sha, dir };
  if (existsSync(join(dir, MARKER))) {
    log(`nodicorn@${ref}: using the build of ${sha} in ${dir}`);
    return build;
  }
  log(`nodicorn@${ref}: building ${sha} in ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const tar = join(cache, `${sha}.tar`);
  try {
    step('export', 'git', ['archive', '--format=tar', `--output=${tar}`, sha], repo, log);
    step('unpack', 'tar', ['-xf', tar, '-C', dir], repo, log);
  } finally {
    rmSync(tar, { force: true });
  }
  step('install', 'npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], dir, log);
  step('build', 'npm', ['run', 'build'], dir, log);
  if (!existsSync(join(dir, 'bin', 'nodicorn.js')))
    throw new Error(`nodicorn@${ref}: ${dir}bin/nodicorn.js is missing after the build`);
  writeFileSync(join(dir, MARKER), `${sha}\n`);
  return build;
}
