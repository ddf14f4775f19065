/**
 * `--user` / `--group`: the identity the server takes once its sockets are bound (so ports below 1024 and
 * root-owned socket directories work), as Gunicorn runs its workers. Here the Node process itself handles
 * every connection, so it is the Node process that gives up root, before any application code runs;
 * Python workers are started after that and inherit the identity.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { IdentityError } from '../errors/registry.js';

export interface Identity {
  /** The user to become; undefined keeps the current one. */
  readonly uid?: number;
  /** The group to become (the user's primary group when only --user is given). */
  readonly gid?: number;
  /** The user's name, when known: its supplementary groups come from the group database (initgroups). */
  readonly name?: string;
}

/** One entry of the passwd or group database, by name or id: getent (NSS), else the plain file. */
function lookup(database: 'passwd' | 'group', key: string): string[] | null {
  try {
    const line = execFileSync('getent', [database, key], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return line.trim().split(':');
  } catch (error) {
    // getent answers 2 for "not found"; anything else (no getent at all) falls back to /etc.
    if ((error as { status?: number }).status === 2) return null;
  }
  for (const line of readFileSync(`/etc/${database}`, 'utf8').split('\n')) {
    const fields = line.split(':');
    if (fields[0] === key || (/^\d+$/.test(key) && fields[2] === key)) return fields;
  }
  return null;
}

/** Resolves --user and --group (names or ids). Throws IdentityError for a name that does not exist. */
export function resolveIdentity(user: string, group: string): Identity {
  let uid: number | undefined;
  let gid: number | undefined;
  let name: string | undefined;
  if (user !== '') {
    const entry = lookup('passwd', user);
    if (entry === null && !/^\d+$/.test(user))
      throw new IdentityError(`--user: no such user ${JSON.stringify(user)}`);
    // A numeric id needs no entry (containers often run ids that have none), but then it names no group,
    // and keeping root's group would be no drop at all.
    if (entry === null && group === '')
      throw new IdentityError(`--user ${user} has no passwd entry, so no group: give --group as well`);
    uid = entry === null ? Number(user) : Number(entry[2]);
    if (entry !== null) {
      name = entry[0];
      gid = Number(entry[3]);
    }
  }
  if (group !== '') {
    const entry = lookup('group', group);
    if (entry === null && !/^\d+$/.test(group))
      throw new IdentityError(`--group: no such group ${JSON.stringify(group)}`);
    gid = entry === null ? Number(group) : Number(entry[2]);
  }
  return {
    ...(uid === undefined ? {} : { uid }),
    ...(gid === undefined ? {} : { gid }),
    ...(name === undefined ? {} : { name }),
  };
}

/** Whether this process can become `identity`: as root, any; otherwise only who it already is. */
function alreadyIs(identity: Identity): boolean {
  const { uid, gid } = identity;
  return (uid === undefined || uid === process.getuid!()) && (gid === undefined || gid === process.getgid!());
}

/** Throws IdentityError when `identity` needs root and the server was not started as root. */
export function checkIdentity(identity: Identity): void {
  if (alreadyIs(identity) || process.getuid!() === 0) return;
  throw new IdentityError(
    `--user/--group need the server to start as root (it runs as uid ${process.getuid!()}, gid ${process.getgid!()})`,
  );
}

/**
 * Becomes `identity`: supplementary groups first, then the group, then the user (after setuid the other
 * two are no longer allowed).
 */
export function dropPrivileges(identity: Identity): void {
  const { uid, gid, name } = identity;
  if (uid === undefined && gid === undefined) return;
  if (alreadyIs(identity) && process.getuid!() !== 0) return;
  if (gid !== undefined) {
    // Without this the process would keep root's supplementary groups (group 0 among them).
    if (name !== undefined && uid !== undefined)
      (process as unknown as { initgroups(user: string, group: number): void }).initgroups(name, gid);
    else process.setgroups!([gid]);
    process.setgid!(gid);
  } else if (uid !== undefined) process.setgroups!([process.getgid!()]);
  if (uid !== undefined) process.setuid!(uid);
}
