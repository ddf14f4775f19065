/** Spool files for request bodies: the nameless kind, the named fallback, and what a dead process left. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { openSpool, removeStaleSpools } from '../../../src/server/request-body.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('openSpool', () => {
  test('the nameless file leaves no name in the directory and is readable through its /proc path', async () => {
    const spool = await openSpool(true, dir);
    await spool.append(Buffer.from('hello '));
    await spool.append(Buffer.from('world'));
    assert.match(spool.path, new RegExp(`^/proc/${process.pid}/fd/\\d+$`));
    assert.equal(readFileSync(spool.path, 'utf8'), 'hello world');
    assert.deepEqual(readdirSync(dir), []);
    await spool.dispose();
  });

  test('the named fallback: 0600 in a private 0700 nodicorn-<pid>-… directory, removed by dispose', async () => {
    const spool = await openSpool(false, dir);
    await spool.append(Buffer.from('abc'));
    await spool.append(Buffer.alloc(70_000, 0x64));
    const home = dirname(spool.path);
    assert.equal(dirname(home), dir);
    assert.match(basename(home), new RegExp(`^nodicorn-${process.pid}-`));
    assert.equal(statSync(home).mode & 0o777, 0o700);
    assert.equal(statSync(spool.path).mode & 0o777, 0o600);
    const data = readFileSync(spool.path);
    assert.equal(data.length, 70_003);
    assert.equal(data.subarray(0, 4).toString(), 'abcd');
    await spool.dispose();
    await spool.dispose();
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('removeStaleSpools', () => {
  test('removes what processes that no longer exist left, keeps the rest', async () => {
    const dead = spawnSync('true').pid;
    mkdirSync(join(dir, `nodicorn-${dead}-a`));
    mkdirSync(join(dir, `nodicorn-${process.pid}-b`));
    mkdirSync(join(dir, 'nodicorn-body-c'));
    assert.deepEqual(await removeStaleSpools(dir), [`nodicorn-${dead}-a`]);
    assert.deepEqual(readdirSync(dir).sort(), [`nodicorn-${process.pid}-b`, 'nodicorn-body-c']);
    rmSync(join(dir, `nodicorn-${process.pid}-b`), { recursive: true });
    rmSync(join(dir, 'nodicorn-body-c'), { recursive: true });
  });
});
