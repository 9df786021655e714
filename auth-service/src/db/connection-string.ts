/**
 * Parses PostgreSQL connection strings that may name several hosts, the libpq way
 * (`postgres://user:pass@h1:5432,h2:5433/db?sslmode=verify-full`). node-postgres rejects
 * multi-host URLs and lets ssl parameters in a connection string silently override the ssl object
 * (a CA passed in code is dropped), so shardmq never hands a connection string to pg: it parses it
 * here and passes discrete settings (db/connection-options.ts).
 * Pure; run once at start-up.
 */

export interface PgHost {
  readonly host: string;
  readonly port: number;
}

export interface ParsedPgUrl {
  readonly hosts: readonly PgHost[];
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** Known query parameters, by libpq name. */
  readonly params: Readonly<Record<string, string>>;
}

/** libpq parameters we understand; anything else is refused so nothing is silently ignored. */
export const KNOWN_URL_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'target_session_attrs', 'connect_timeout', 'application_name'] as const;

export const DEFAULT_PG_PORT = 5432;

export class ConnectionStringError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionStringError';
  }
}

export function parsePgUrl(url: string): ParsedPgUrl {
  const m = /^(postgres|postgresql):\/\/(?:([^@/?#]*)@)?([^/?#]*)(?:\/([^?#]*))?(?:\?([^#]*))?$/i.exec(url.trim());
  if (!m) throw new ConnectionStringError('not a postgres:// URL');
  const [, , userinfo, hostlist, db, query] = m;
  let user: string | undefined;
  let password: string | undefined;
  if (userinfo !== undefined && userinfo !== '') {
    const colon = userinfo.indexOf(':');
    user = decode(colon < 0 ? userinfo : userinfo.slice(0, colon), 'user');
    if (colon >= 0) password = decode(userinfo.slice(colon + 1), 'password');
  }
  const hosts = parseHostList(hostlist ?? '');
  const params: Record<string, string> = {};
  if (query) {
    for (const [k, v] of new URLSearchParams(query)) {
      if (!(KNOWN_URL_PARAMS as readonly string[]).includes(k)) {
        throw new ConnectionStringError(`unsupported parameter "${k}" (supported: ${KNOWN_URL_PARAMS.join(', ')}; other options have auth.* settings)`);
      }
      params[k] = v;
    }
  }
  const database = db ? decode(db, 'database') : undefined;
  return { hosts, user: user || undefined, password, database: database || undefined, params };
}

/** `h1:5432,h2,[::1]:5433` -> hosts; an empty list is allowed (hosts may come from auth.hosts). */
export function parseHostList(list: string): PgHost[] {
  const out: PgHost[] = [];
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    let host: string;
    let portText: string | undefined;
    if (item.startsWith('[')) {
      const close = item.indexOf(']');
      if (close < 0) throw new ConnectionStringError(`bad host "${item}"`);
      host = item.slice(1, close);
      const rest = item.slice(close + 1);
      if (rest !== '' && !rest.startsWith(':')) throw new ConnectionStringError(`bad host "${item}"`);
      portText = rest === '' ? undefined : rest.slice(1);
    } else {
      const colon = item.lastIndexOf(':');
      host = colon < 0 ? item : item.slice(0, colon);
      portText = colon < 0 ? undefined : item.slice(colon + 1);
    }
    host = decode(host, 'host');
    if (host === '') throw new ConnectionStringError(`empty host in "${list}"`);
    let port = DEFAULT_PG_PORT;
    if (portText !== undefined) {
      if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
        throw new ConnectionStringError(`bad port in "${item}"`);
      }
      port = Number(portText);
    }
    out.push({ host, port });
  }
  return out;
}

function decode(s: string, what: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ConnectionStringError(`bad percent-encoding in the ${what}`);
  }
}
