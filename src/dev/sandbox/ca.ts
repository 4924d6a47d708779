import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The sandbox's private CA and the one server certificate every local HTTPS service presents. */
export interface LocalCa {
  readonly caPem: string;
  readonly caFile: string;
  readonly serverKeyPem: string;
  readonly serverCertPem: string;
  /** The same server key and certificate as files (azurite reads them from disk). */
  readonly serverKeyFile: string;
  readonly serverCertFile: string;
}

// Short validity on purpose: the material lives only as long as one sandbox and is never committed.
const VALIDITY_DAYS = '2';
const EC_P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

const SERVER_EXTENSIONS = [
  // *.vault.localhost: a vault host whose name matches its challenge resource (vault.localhost), so
  // Key Vault challenge verification can stay on against the sandbox. *.table.localhost: azurite
  // reached by a production-style host (devstoreaccount1.table.localhost), as AUDIT_TABLE_ENDPOINT requires.
  'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:*.vault.localhost,DNS:*.table.localhost',
  'basicConstraints=critical,CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=serverAuth',
  'subjectKeyIdentifier=hash',
  'authorityKeyIdentifier=keyid,issuer',
].join('\n');

async function openssl(dir: string, args: string[]): Promise<void> {
  // execFile, never a shell: no argument is ever interpreted.
  await run('openssl', args, { cwd: dir, timeout: 20_000 });
}

/**
 * Creates a fresh CA and a server certificate for 127.0.0.1/localhost in `dir` with the openssl CLI.
 * The CA key stays in `dir` (removed with the sandbox); only the CA certificate is meant to be trusted.
 */
export async function createLocalCa(dir: string): Promise<LocalCa> {
  const caFile = join(dir, 'ca.pem');
  await openssl(dir, [
    'req', '-x509', ...EC_P256, '-keyout', 'ca.key', '-out', caFile, '-days', VALIDITY_DAYS,
    '-subj', '/CN=dbx-token-vending sandbox CA',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(dir, [
    'req', '-new', ...EC_P256, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1',
  ]);
  await writeFile(join(dir, 'server.ext'), SERVER_EXTENSIONS);
  await openssl(dir, [
    'x509', '-req', '-in', 'server.csr', '-CA', caFile, '-CAkey', 'ca.key',
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', VALIDITY_DAYS,
    '-extfile', 'server.ext', '-out', 'server.pem',
  ]);
  const [caPem, serverKeyPem, serverCertPem] = await Promise.all(
    [caFile, join(dir, 'server.key'), join(dir, 'server.pem')].map((file) => readFile(file, 'utf8')),
  );
  return { caPem, caFile, serverKeyPem, serverCertPem, serverKeyFile: join(dir, 'server.key'), serverCertFile: join(dir, 'server.pem') };
}
