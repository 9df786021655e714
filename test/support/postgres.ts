import { execFile } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.js';
import { spawnProcess, type ManagedProcess } from './processes.js';

/**
 * A private PostgreSQL server per test: initdb into a temp dir, a free port on 127.0.0.1,
 * password (SCRAM) auth for the bootstrap user, optional TLS; pgcrypto is installed by the
 * Debian package `postgresql` (the VerneMQ migration creates the extension).
 *
 * PostgreSQL refuses to run as root, so as root the binaries run as the `postgres` system user
 * (created if missing) through `setpriv`, with the temp dir owned by that user.
 * Who may call: tests only. Everything is killed and removed when the test process exits.
 */

export interface PostgresTlsOptions {
  certFile: string;
  keyFile: string;
  /** CA for client certificates (ssl_ca_file). */
  caFile?: string;
  /** Accept only TLS connections that present a client certificate signed by caFile. */
  requireClientCert?: boolean;
  /** Client certificate handle.query() presents (needed with requireClientCert). */
  clientCertFile?: string;
  clientKeyFile?: string;
}

export interface PostgresHandle {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Bootstrap superuser (password auth over TCP). */
  readonly user: string;
  readonly password: string;
  readonly database: string;
  /** postgres://user:password@127.0.0.1:port/database (no sslmode: add it as needed). */
  readonly url: string;
  readonly dataDir: string;
  /** Fast shutdown (SIGINT: open connections are terminated); keeps the data for start(). Idempotent. */
  stop(): Promise<void>;
  /** Starts the stopped server again on the same port and data. */
  start(): Promise<void>;
  /** Stops the server and removes its directory. Idempotent. */
  destroy(): Promise<void>;
  /** One statement on a fresh connection (TLS options of the server are honoured: no verification). */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

const run = promisify(execFile);
const USER = 'shardmq';
const DATABASE = 'postgres';
const READY = /database system is ready to accept connections/;
const liveDirs = new Set<string>();
let hooked = false;

/** Newest /usr/lib/postgresql/<version>/bin holding initdb and postgres. */
export function findPostgresBinDir(): string {
  const root = '/usr/lib/postgresql';
  let versions: string[] = [];
  try {
    versions = readdirSync(root)
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
  } catch {
    // no postgresql at all
  }
  for (const v of versions) {
    const bin = join(root, v, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'postgres'))) return bin;
  }
  throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql: install the Debian package "postgresql"');
}

interface RunAs {
  uid: number;
  gid: number;
  /** argv prefix running a command as the postgres user (empty when we are not root). */
  prefix: string[];
}

async function runAs(): Promise<RunAs> {
  const uid = process.getuid?.() ?? -1;
  if (uid !== 0) return { uid, gid: process.getgid?.() ?? -1, prefix: [] };
  const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout.trim());
  try {
    await run('id', ['-u', 'postgres']);
  } catch {
    await run('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']).catch(() => undefined);
  }
  return { uid: await id('-u'), gid: await id('-g'), prefix: ['setpriv', '--reuid=postgres', '--regid=postgres', '--init-groups', '--'] };
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // processes.ts SIGKILLs the server at exit; then the dirs go.
  process.on('exit', () => {
    for (const d of liveDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // a dying backend may still hold files; the test runner removes its TMPDIR anyway
      }
    }
  });
}

/**
 * `password`: the bootstrap user's password (default random); give two servers the same one to
 * stand in for replicas.
 */
export async function startPostgres(opts: { tls?: PostgresTlsOptions; password?: string } = {}): Promise<PostgresHandle> {
  const bin = findPostgresBinDir();
  const who = await runAs();
  hookExit();
  const dir = await mkdtemp(join(tmpdir(), 'shardmq-pg-'));
  liveDirs.add(dir);
  const own = (p: string, mode?: number) => {
    if (who.prefix.length > 0) chownSync(p, who.uid, who.gid);
    if (mode !== undefined) chmodSync(p, mode);
  };
  own(dir, 0o700);
  const dataDir = join(dir, 'data');
  const password = opts.password ?? `pw-${Math.random().toString(36).slice(2)}`;
  const pwFile = join(dir, 'pwfile');
  await writeFile(pwFile, password + '\n');
  own(pwFile, 0o600);

  const initdb = [...who.prefix, join(bin, 'initdb'), ...initdbArgs(dataDir, pwFile)];
  try {
    await run(initdb[0]!, initdb.slice(1), { cwd: dir });
  } catch (e) {
    throw new Error(`initdb failed: ${(e as { stderr?: string }).stderr ?? (e as Error).message}`);
  }

  const settings: string[] = [
    'listen_addresses=127.0.0.1',
    'unix_socket_directories=',
    'fsync=off',
    'synchronous_commit=off',
    'full_page_writes=off',
    'shared_buffers=16MB',
    'max_connections=60',
    'log_min_messages=warning',
    'log_min_error_statement=panic',
  ];
  if (opts.tls) {
    // The server refuses a key readable by others or not owned by its user: copy both in.
    const cert = join(dir, 'server.crt');
    const key = join(dir, 'server.key');
    copyFileSync(opts.tls.certFile, cert);
    copyFileSync(opts.tls.keyFile, key);
    own(cert, 0o644);
    own(key, 0o600);
    settings.push('ssl=on', `ssl_cert_file=${cert}`, `ssl_key_file=${key}`);
    if (opts.tls.caFile) {
      const ca = join(dir, 'client-ca.crt');
      copyFileSync(opts.tls.caFile, ca);
      own(ca, 0o644);
      settings.push(`ssl_ca_file=${ca}`);
    }
    // TLS only: plain connections are rejected, so a test cannot pass without TLS by accident.
    const hba = ['local all all trust', `hostssl all all 127.0.0.1/32 scram-sha-256${opts.tls.requireClientCert ? ' clientcert=verify-ca' : ''}`, 'hostnossl all all 0.0.0.0/0 reject'].join('\n');
    const hbaFile = join(dataDir, 'pg_hba.conf');
    await writeFile(hbaFile, hba + '\n');
    own(hbaFile, 0o600);
  }

  let port = 0;
  let proc: ManagedProcess | undefined;
  const launch = async () => {
    const args = [join(bin, 'postgres'), '-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])];
    const [c, ...rest] = [...who.prefix, ...args];
    proc = await spawnProcess(c!, rest, { name: `postgres:${port}`, readyLine: READY, readyTimeoutMs: 30_000, cwd: dir });
  };
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (e) {
      // Another process may take the free port before postgres binds it: try another.
      if (attempt >= 3 || !/could not bind|Address already in use|could not create any TCP/i.test((e as Error).message)) throw e;
    }
  }

  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${DATABASE}`;
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    p.kill('SIGINT'); // fast shutdown: does not wait for clients (pools) to disconnect
    const timer = setTimeout(() => p.kill('SIGKILL'), 10_000);
    await p.exited;
    clearTimeout(timer);
  };
  const handle: PostgresHandle = {
    host: '127.0.0.1',
    port,
    user: USER,
    password,
    database: DATABASE,
    url,
    dataDir,
    stop,
    async start() {
      if (proc) return;
      await launch();
    },
    async destroy() {
      await stop();
      liveDirs.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
    async query(sql, params = []) {
      const client = new pg.Client({
        host: '127.0.0.1',
        port,
        user: USER,
        password,
        database: DATABASE,
        ssl: opts.tls
          ? {
              rejectUnauthorized: false,
              ...(opts.tls.clientCertFile && opts.tls.clientKeyFile ? { cert: readFileSync(opts.tls.clientCertFile, 'utf8'), key: readFileSync(opts.tls.clientKeyFile, 'utf8') } : {}),
            }
          : false,
        connectionTimeoutMillis: 10_000,
      });
      await client.connect();
      try {
        return await client.query(sql, params);
      } finally {
        await client.end();
      }
    },
  };
  return handle;
}

function initdbArgs(dataDir: string, pwFile: string): string[] {
  return ['-D', dataDir, '-U', USER, `--pwfile=${pwFile}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--no-locale', '--no-sync'];
}
