import { configuredBackends, ConfigError, type Config, SSL_MODES, TARGET_SESSION_ATTRS, authSettings, type SslMode, type TargetSessionAttrs } from '../../../common/src/index.js';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ConnectionOptions as TlsOptions } from 'node:tls';
import { checkServerIdentity } from 'node:tls';
import { type ConnectionStringError, parseHostList, parsePgUrl, type PgHost } from './connection-string.js';

/**
 * Everything needed to reach the auth database, resolved once at start-up from the auth.*
 * settings and the connection string. Precedence: explicit auth.* setting > URL > default.
 */
export interface DbOptions {
  readonly hosts: readonly PgHost[];
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  readonly sslMode: SslMode;
  /** The TLS options handed to pg (undefined when sslMode is disable). */
  readonly tls?: TlsOptions;
  readonly targetSessionAttrs: TargetSessionAttrs;
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
  readonly hostRetryMs: number;
  readonly applicationName: string;
}

/** A ConfigError, so the CLI reports it like any other invalid setting (exit 2). */
export class DbConfigError extends ConfigError {}

/** True when the config turns database auth on (auth.databaseUrl or auth.hosts set). */
export function databaseConfigured(config: Config): boolean {
  return configuredBackends(config).postgres;
}

/**
 * Builds DbOptions; throws DbConfigError naming the setting at fault (missing host, unreadable CA
 * file, sslmode pg cannot do). Reads the certificate files once, here.
 */
export function resolveDbOptions(config: Config): DbOptions {
  let fromUrl: ReturnType<typeof parsePgUrl> = { hosts: [], params: {} };
  const url = config['auth.databaseUrl'];
  if (url !== undefined) {
    try {
      fromUrl = parsePgUrl(url);
    } catch (e) {
      throw new DbConfigError(`auth.databaseUrl (SHARDMQ_AUTH_DATABASE_URL): ${(e as ConnectionStringError).message}`);
    }
  }
  const p = fromUrl.params;
  let hosts = fromUrl.hosts;
  if (config['auth.hosts'].length > 0) {
    try {
      hosts = parseHostList(config['auth.hosts'].join(','));
    } catch (e) {
      throw new DbConfigError(`auth.hosts (SHARDMQ_AUTH_HOSTS): ${(e as Error).message}`);
    }
  }
  if (hosts.length === 0) throw new DbConfigError('auth.databaseUrl / auth.hosts: no database host given');

  const urlSslMode = p.sslmode;
  if (urlSslMode !== undefined && !(SSL_MODES as readonly string[]).includes(urlSslMode)) {
    throw new DbConfigError(
      `auth.databaseUrl: sslmode=${urlSslMode} is not supported (use ${SSL_MODES.join(', ')}; ` + 'node-postgres cannot fall back between TLS and plain text like libpq "prefer"/"allow")',
    );
  }
  const sslMode: SslMode = config['auth.sslMode'] ?? (urlSslMode as SslMode | undefined) ?? 'disable';
  const urlTsa = p.target_session_attrs;
  if (urlTsa !== undefined && !(TARGET_SESSION_ATTRS as readonly string[]).includes(urlTsa)) {
    throw new DbConfigError(`auth.databaseUrl: target_session_attrs=${urlTsa} is not one of ${TARGET_SESSION_ATTRS.join(', ')}`);
  }
  const targetSessionAttrs: TargetSessionAttrs = config['auth.targetSessionAttrs'] ?? (urlTsa as TargetSessionAttrs | undefined) ?? 'any';

  let connectTimeoutMs = config['auth.connectTimeoutMs'];
  // The URL's connect_timeout (seconds) applies while auth.connectTimeoutMs is left at its default.
  if (p.connect_timeout !== undefined && connectTimeoutMs === authSettings['auth.connectTimeoutMs'].default) {
    const s = Number(p.connect_timeout);
    if (Number.isInteger(s) && s > 0) connectTimeoutMs = s * 1000;
  }

  const caFile = config['auth.sslCaFile'] ?? p.sslrootcert;
  const certFile = config['auth.sslCertFile'] ?? p.sslcert;
  const keyFile = config['auth.sslKeyFile'] ?? p.sslkey;
  const tls = sslMode === 'disable' ? undefined : buildTls(sslMode, caFile, certFile, keyFile);

  return {
    hosts,
    user: config['auth.user'] ?? fromUrl.user,
    password: config['auth.password'] ?? fromUrl.password,
    database: config['auth.database'] ?? fromUrl.database,
    sslMode,
    tls,
    targetSessionAttrs,
    poolSize: config['auth.poolSize'],
    connectTimeoutMs,
    queryTimeoutMs: config['auth.queryTimeoutMs'],
    hostRetryMs: config['auth.hostRetryMs'],
    applicationName: p.application_name ?? 'shardmq-auth',
  };
}

function readPem(file: string, setting: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new DbConfigError(`${setting}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * TLS options per sslmode (libpq meanings):
 * - require: encrypted, certificate not checked;
 * - verify-ca: chain checked against the CA, host name not checked;
 * - verify-full: chain and host name (DNS or IP SAN) checked. pg sets SNI only for DNS names and
 *   passes `host`, so Node's default identity check covers both names and IP addresses.
 */
function buildTls(mode: SslMode, caFile?: string, certFile?: string, keyFile?: string): TlsOptions {
  const tls: TlsOptions = {};
  if (caFile) tls.ca = readPem(caFile, 'auth.sslCaFile (or sslrootcert)');
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new DbConfigError('auth.sslCertFile and auth.sslKeyFile must be given together');
    tls.cert = readPem(certFile, 'auth.sslCertFile (or sslcert)');
    tls.key = readPem(keyFile, 'auth.sslKeyFile (or sslkey)');
  }
  if (mode === 'require') {
    tls.rejectUnauthorized = false;
  } else {
    if (!caFile) throw new DbConfigError(`auth.sslMode=${mode} needs auth.sslCaFile (the CA that signed the database certificate)`);
    tls.rejectUnauthorized = true;
    if (mode === 'verify-ca') tls.checkServerIdentity = () => undefined;
    else tls.checkServerIdentity = (host, cert) => checkServerIdentity(host, cert);
  }
  return tls;
}

/** The TLS options for one host (a copy, so per-host fields never leak between pools). */
export function tlsForHost(opts: DbOptions, host: string): TlsOptions | undefined {
  if (!opts.tls) return undefined;
  const t: TlsOptions = { ...opts.tls };
  // Node checks the identity against servername || host; pg leaves servername unset for IPs.
  if (isIP(host) === 0) t.servername = host;
  return t;
}
