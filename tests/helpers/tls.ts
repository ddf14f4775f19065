/** A throw-away self-signed certificate, made with openssl, for tests that speak real TLS. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
}

/**
 * Writes `cert.pem` and `key.pem` (unencrypted, valid one day) for `commonName` into `dir` (default: a
 * new temporary directory named from `prefix`).
 */
export function makeCertificate(
  prefix = 'nodicorn-tls-',
  commonName = 'localhost',
  dir = mkdtempSync(join(tmpdir(), prefix)),
): TestCertificate {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${commonName}`, '-days', '1'].concat([
      '-keyout',
      key,
      '-out',
      cert,
    ]),
    { stdio: 'ignore', timeout: 30_000 },
  );
  return { dir, cert, key };
}
