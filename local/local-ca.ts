/**
 * A certificate authority made for one harness run, so that webhooks are real `https://` locally:
 * moto_server (which POSTs SNS messages with Python `requests`) trusts only this CA
 * (`REQUESTS_CA_BUNDLE`, set by local/moto.ts), and local/https-endpoint.ts serves a certificate it
 * issued for 127.0.0.1. Nothing outside the run trusts it, and its key never leaves `.cache/`.
 *
 * Made with the `openssl` command (3.x: `req -x509 -CA`), which the developer machine and CI have.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Where a run's CA lives (its directory), passed from the jest parent to the workers. */
export const LOCAL_CA_ENV = 'KEYROLL_LOCAL_CA';

/** A CA of this run: its certificate (the trust anchor) and key, as files. */
export interface LocalCa {
  readonly dir: string;
  /** PEM certificate: what `REQUESTS_CA_BUNDLE` and a Node client's `ca` point at. */
  readonly certFile: string;
  readonly keyFile: string;
}

/** A server certificate the CA issued. */
export interface IssuedCertificate {
  readonly cert: string;
  readonly key: string;
  /** The CA certificate, for clients that verify this one. */
  readonly ca: string;
}

/** `openssl` failed or is missing: webhooks cannot be https locally. */
export class LocalCaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LocalCaError';
  }
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const err = error as Error & { stderr?: Buffer };
    throw new LocalCaError(`openssl ${args[0]} failed: ${err.stderr?.toString().trim() || err.message}`);
  }
}

/** Makes a fresh CA (EC P-256, valid 2 days) in a new directory under `parent`. */
export function createLocalCa(parent: string): LocalCa {
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(path.join(parent, 'local-ca-'));
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=KeyRoll local test CA',
      '-keyout',
      'ca.key',
      '-out',
      'ca.pem',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
  return { dir, certFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'ca.key') };
}

/** The CA in `dir` (made by createLocalCa). */
export function localCaAt(dir: string): LocalCa {
  return { dir, certFile: path.join(dir, 'ca.pem'), keyFile: path.join(dir, 'ca.key') };
}

/** The run's CA, from KEYROLL_LOCAL_CA (set by test/support/global-setup.ts and the rehearsal). */
export function currentLocalCa(env: NodeJS.ProcessEnv = process.env): LocalCa {
  const dir = env[LOCAL_CA_ENV];
  if (!dir) throw new LocalCaError(`${LOCAL_CA_ENV} is not set: start moto with local/moto.ts (startMoto makes the run's CA)`);
  return localCaAt(dir);
}

/** Issues a server certificate (EC P-256, 1 day) for `hosts` (IP addresses or DNS names). */
export function issueServerCertificate(ca: LocalCa, hosts: readonly string[] = ['127.0.0.1', 'localhost']): IssuedCertificate {
  const work = mkdtempSync(path.join(ca.dir, 'leaf-'));
  try {
    const san = hosts.map((h) => (/^[\d.]+$|:/.test(h) ? `IP:${h}` : `DNS:${h}`)).join(',');
    writeFileSync(path.join(work, 'ext.cnf'), `subjectAltName=${san}\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`);
    openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${hosts[0]}`, '-keyout', 'leaf.key', '-out', 'leaf.csr'], work);
    openssl(['x509', '-req', '-in', 'leaf.csr', '-CA', ca.certFile, '-CAkey', ca.keyFile, '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '1', '-extfile', 'ext.cnf', '-out', 'leaf.pem'], work);
    return { cert: readFileSync(path.join(work, 'leaf.pem'), 'utf8'), key: readFileSync(path.join(work, 'leaf.key'), 'utf8'), ca: readFileSync(ca.certFile, 'utf8') };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
