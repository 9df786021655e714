import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Throw-away PKI for TLS tests, made with the `openssl` CLI (Debian package openssl) in a temp
 * dir: a self-signed CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a
 * second, unrelated CA (the "wrong CA" that must be refused). EC P-256 keys: fast to make.
 * Who may call: tests only.
 */

export interface TestCerts {
  readonly dir: string;
  readonly caFile: string;
  readonly caKeyFile: string;
  /** SAN IP:127.0.0.1, DNS:localhost. */
  readonly serverCertFile: string;
  readonly serverKeyFile: string;
  /** CN = clientCn (default "shardmq"), extendedKeyUsage clientAuth. */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** A different self-signed CA that signed nothing we use. */
  readonly otherCaFile: string;
  /** Removes the dir. Idempotent. */
  cleanup(): Promise<void>;
}

export interface IssuedCert {
  readonly certFile: string;
  readonly keyFile: string;
}

const run = promisify(execFile);
const liveDirs = new Set<string>();
let hooked = false;

async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (e) {
    const err = e as { code?: string; stderr?: string; message: string };
    if (err.code === 'ENOENT') throw new Error('openssl not found: install the Debian package "openssl"');
    throw new Error(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`);
  }
}

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-days',
      '3',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    dir,
  );
}

/**
 * Issues a certificate signed by the test CA. `san` like ['IP:127.0.0.1', 'DNS:localhost'];
 * `client` makes a clientAuth certificate instead of a serverAuth one.
 */
export async function issueCert(certs: Pick<TestCerts, 'dir' | 'caFile' | 'caKeyFile'>, name: string, opts: { cn: string; san?: string[]; client?: boolean }): Promise<IssuedCert> {
  const dir = certs.dir;
  const ext = [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    `extendedKeyUsage=${opts.client ? 'clientAuth' : 'serverAuth'}`,
    ...(opts.san && opts.san.length > 0 ? [`subjectAltName=${opts.san.join(',')}`] : []),
  ].join('\n');
  await writeFile(join(dir, `${name}.ext`), ext + '\n');
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${opts.cn}`], dir);
  await openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', certs.caFile, '-CAkey', certs.caKeyFile, '-CAcreateserial', '-out', `${name}.crt`, '-days', '3', '-extfile', `${name}.ext`], dir);
  return { certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
}

export async function makeTestCerts(opts: { clientCn?: string } = {}): Promise<TestCerts> {
  const dir = await mkdtemp(join(tmpdir(), 'shardmq-certs-'));
  liveDirs.add(dir);
  if (!hooked) {
    hooked = true;
    process.on('exit', () => {
      for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
    });
  }
  await makeCa(dir, 'ca', 'shardmq test CA');
  await makeCa(dir, 'other-ca', 'unrelated test CA');
  const base = { dir, caFile: join(dir, 'ca.crt'), caKeyFile: join(dir, 'ca.key') };
  const server = await issueCert(base, 'server', { cn: 'localhost', san: ['IP:127.0.0.1', 'DNS:localhost'] });
  const client = await issueCert(base, 'client', { cn: opts.clientCn ?? 'shardmq', client: true });
  return {
    ...base,
    serverCertFile: server.certFile,
    serverKeyFile: server.keyFile,
    clientCertFile: client.certFile,
    clientKeyFile: client.keyFile,
    otherCaFile: join(dir, 'other-ca.crt'),
    async cleanup() {
      liveDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
