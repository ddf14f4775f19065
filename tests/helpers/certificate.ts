/** A throw-away self-signed certificate, made with openssl, for tests that speak real TLS. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface Certificate {
  readonly cert: string;
  readonly key: string;
}

/** Writes `cert.pem` and `key.pem` (unencrypted, valid one day) for `commonName` into `dir`. */
export function makeCertificate(dir: string, commonName: string): Certificate {
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
  return { cert, key };
}
