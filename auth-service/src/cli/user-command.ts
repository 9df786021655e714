import { readFileSync } from 'node:fs';
import bcrypt from 'bcryptjs';
import { type Config, silentLogger } from '../../../common/src/index.js';
import { lintAclJson } from '../acl/compile-acl.js';
import { toPgcryptoCompatible } from '../bcrypt/bcrypt-hash.js';
import { databaseConfigured, resolveDbOptions } from '../db/connection-options.js';
import { PgCluster } from '../db/pg-cluster.js';
import { runUserImport } from './user-import.js';

/**
 * `shardmq user add|passwd|del|list|acl`: manages rows of the VerneMQ credentials table
 * (auth.table, default vmq_auth_acl) through the same connection settings as the auth-service
 * (always on a writable host). Hashes are written as `$2a$` bcrypt, which both pgcrypto's crypt()
 * (method crypt) and the service (method bcrypt) verify. Run by the CLI process only.
 *
 * Exit codes: 0 done, 1 failed (no such user, already exists, database unreachable), 2 usage.
 */

export const USER_USAGE = [
  'usage: shardmq user <command> [options]',
  '  add <username> (--password <pw> | --password-file <file>) [--client-id <id|*>] [--mountpoint <mp>]',
  "      [--publish-acl '<json>'] [--subscribe-acl '<json>'] [--cost <4-31>]",
  '  passwd <username> (--password <pw> | --password-file <file>) [--client-id <id|*>] [--mountpoint <mp>] [--cost <4-31>]',
  '  del <username> [--client-id <id|*>] [--mountpoint <mp>]',
  '  list [--mountpoint <mp>] [--username <name>]        (one JSON object per line; never the hash)',
  "  acl <username> [--client-id <id|*>] [--mountpoint <mp>] [--publish-acl '<json>'] [--subscribe-acl '<json>']",
  '  import <file.csv|file.json> [--format csv|json] [--update] [--cost <4-31>] [--batch-size <n>]',
  '      bulk insert with progress output, hashing on every core (shardmq user import --help)',
  'ACL json: [{"pattern": "devices/%c/#", "max_qos": 1}]; \'null\' clears (allows nothing).',
  'Defaults: --client-id * (any client id), --mountpoint "" , --cost 8.',
];

/** bcrypt cost written by default: 8 is ~18 ms per verification per core (pgcrypto writes 6). */
export const DEFAULT_BCRYPT_COST = 8;

class UsageError extends Error {}

interface Parsed {
  command: string;
  positional: string[];
  flags: Map<string, string>;
}

const VALUE_FLAGS = new Set(['--password', '--password-file', '--client-id', '--mountpoint', '--publish-acl', '--subscribe-acl', '--cost', '--username']);

function parseArgs(args: readonly string[]): Parsed {
  const a = args[0] === 'user' ? args.slice(1) : args.slice();
  const command = a.shift() ?? 'help';
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < a.length; i++) {
    const t = a[i]!;
    if (t.startsWith('--')) {
      const eq = t.indexOf('=');
      const name = eq >= 0 ? t.slice(0, eq) : t;
      if (!VALUE_FLAGS.has(name)) throw new UsageError(`unknown option ${name}`);
      const value: string | undefined = eq >= 0 ? t.slice(eq + 1) : a[++i];
      if (value === undefined) throw new UsageError(`option ${name} needs a value`);
      flags.set(name, value);
    } else positional.push(t);
  }
  return { command, positional, flags };
}

function allowOnly(p: Parsed, allowed: string[], positionals: number): void {
  for (const f of p.flags.keys()) if (!allowed.includes(f)) throw new UsageError(`option ${f} does not apply to "user ${p.command}"`);
  if (p.positional.length !== positionals) throw new UsageError(`"user ${p.command}" takes ${positionals === 1 ? 'a user name' : 'no argument'}`);
}

function passwordOf(p: Parsed): string {
  const direct = p.flags.get('--password');
  const file = p.flags.get('--password-file');
  if (direct !== undefined && file !== undefined) throw new UsageError('give --password or --password-file, not both');
  if (direct !== undefined) return direct;
  if (file !== undefined) {
    try {
      return readFileSync(file, 'utf8').replace(/\r?\n$/, '');
    } catch (e) {
      throw new UsageError(`cannot read --password-file ${file}: ${(e as Error).message}`);
    }
  }
  throw new UsageError('--password or --password-file is required');
}

function costOf(p: Parsed): number {
  const raw = p.flags.get('--cost');
  if (raw === undefined) return DEFAULT_BCRYPT_COST;
  if (!/^\d+$/.test(raw) || Number(raw) < 4 || Number(raw) > 31) throw new UsageError('--cost must be an integer between 4 and 31');
  return Number(raw);
}

/** Parsed, linted ACL JSON text ready for a json parameter; undefined when the flag is absent. */
function aclOf(p: Parsed, flag: '--publish-acl' | '--subscribe-acl'): string | null | undefined {
  const raw = p.flags.get(flag);
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    throw new UsageError(`${flag} is not valid JSON: ${(e as Error).message}`);
  }
  if (v === null) return null;
  const problems = lintAclJson(v, flag === '--publish-acl' ? 'publish' : 'subscribe');
  if (problems.length > 0) throw new UsageError(`${flag}: ${problems.join('; ')}`);
  return JSON.stringify(v);
}

/** `$2a$` hash of password (bcryptjs writes `$2b$`, same algorithm; pgcrypto only verifies `$2a$`). */
export function hashPasswordForVmq(password: string, cost = DEFAULT_BCRYPT_COST): string {
  return toPgcryptoCompatible(bcrypt.hashSync(password, cost));
}

export async function runUserCommand(args: string[], config: Config, out: (line: string) => void): Promise<number> {
  const a = args[0] === 'user' ? args.slice(1) : args;
  if (a[0] === 'import') return runUserImport(a.slice(1), config, out);
  let p: Parsed;
  try {
    p = parseArgs(args);
    if (p.command === 'help' || p.command === '--help' || p.command === '-h') {
      USER_USAGE.forEach((l) => out(l));
      return 0;
    }
    if (!['add', 'passwd', 'del', 'list', 'acl'].includes(p.command)) throw new UsageError(`unknown command "user ${p.command}"`);
  } catch (e) {
    if (e instanceof UsageError) {
      out(`error: ${e.message}`);
      USER_USAGE.forEach((l) => out(l));
      return 2;
    }
    throw e;
  }
  if (!databaseConfigured(config)) {
    out('error: no auth database configured (set SHARDMQ_AUTH_DATABASE_URL or auth.hosts)');
    return 2;
  }
  let cluster: PgCluster;
  try {
    cluster = new PgCluster(resolveDbOptions(config), { log: silentLogger });
  } catch (e) {
    out(`error: ${(e as Error).message}`);
    return 2;
  }
  const table = config['auth.table'];
  const q = (sql: string, values: unknown[]) => cluster.query(sql, values, 'read-write');
  try {
    const mp = p.flags.get('--mountpoint') ?? '';
    const cid = p.flags.get('--client-id') ?? '*';
    const user = p.positional[0] ?? '';
    switch (p.command) {
      case 'add': {
        allowOnly(p, ['--password', '--password-file', '--client-id', '--mountpoint', '--publish-acl', '--subscribe-acl', '--cost'], 1);
        const hash = hashPasswordForVmq(passwordOf(p), costOf(p));
        const pub = aclOf(p, '--publish-acl') ?? null;
        const sub = aclOf(p, '--subscribe-acl') ?? null;
        const r = await q(`INSERT INTO ${table} (mountpoint, client_id, username, password, publish_acl, subscribe_acl) VALUES ($1, $2, $3, $4, $5::json, $6::json) ON CONFLICT DO NOTHING`, [
          mp,
          cid,
          user,
          hash,
          pub,
          sub,
        ]);
        if (r.rowCount === 0) {
          out(`error: user "${user}" (client id ${cid}, mountpoint "${mp}") already exists; use "user passwd" or "user acl"`);
          return 1;
        }
        out(`added user "${user}" (client id ${cid}, mountpoint "${mp}")`);
        if (pub === null && sub === null) out('note: no ACL given: this client may connect but not publish or subscribe (see "user acl")');
        return 0;
      }
      case 'passwd': {
        allowOnly(p, ['--password', '--password-file', '--client-id', '--mountpoint', '--cost'], 1);
        const hash = hashPasswordForVmq(passwordOf(p), costOf(p));
        const r = await q(`UPDATE ${table} SET password=$4 WHERE mountpoint=$1 AND client_id=$2 AND username=$3`, [mp, cid, user, hash]);
        if (r.rowCount === 0) return notFound(out, user, cid, mp);
        out(`password of "${user}" changed (cached sessions may use the old one for up to auth.cacheTtlMs)`);
        return 0;
      }
      case 'del': {
        allowOnly(p, ['--client-id', '--mountpoint'], 1);
        const r = await q(`DELETE FROM ${table} WHERE mountpoint=$1 AND client_id=$2 AND username=$3`, [mp, cid, user]);
        if (r.rowCount === 0) return notFound(out, user, cid, mp);
        out(`deleted user "${user}" (client id ${cid}, mountpoint "${mp}")`);
        return 0;
      }
      case 'acl': {
        allowOnly(p, ['--client-id', '--mountpoint', '--publish-acl', '--subscribe-acl'], 1);
        const pub = aclOf(p, '--publish-acl');
        const sub = aclOf(p, '--subscribe-acl');
        if (pub === undefined && sub === undefined) throw new UsageError('give --publish-acl and/or --subscribe-acl');
        const sets: string[] = [];
        const values: unknown[] = [mp, cid, user];
        if (pub !== undefined) {
          values.push(pub);
          sets.push(`publish_acl=$${values.length}::json`);
        }
        if (sub !== undefined) {
          values.push(sub);
          sets.push(`subscribe_acl=$${values.length}::json`);
        }
        const r = await q(`UPDATE ${table} SET ${sets.join(', ')} WHERE mountpoint=$1 AND client_id=$2 AND username=$3`, values);
        if (r.rowCount === 0) return notFound(out, user, cid, mp);
        out(`ACL of "${user}" updated (connected clients keep their ACL until they reconnect)`);
        return 0;
      }
      case 'list': {
        allowOnly(p, ['--mountpoint', '--username'], 0);
        const where: string[] = [];
        const values: unknown[] = [];
        if (p.flags.has('--mountpoint')) {
          values.push(mp);
          where.push(`mountpoint=$${values.length}`);
        }
        if (p.flags.has('--username')) {
          values.push(p.flags.get('--username'));
          where.push(`username=$${values.length}`);
        }
        const r = await q(
          `SELECT mountpoint, client_id, username, publish_acl::TEXT AS publish_acl, subscribe_acl::TEXT AS subscribe_acl, ` +
            `substr(password, 1, 7) AS hash_prefix FROM ${table}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY mountpoint, username, client_id`,
          values,
        );
        for (const row of r.rows) {
          out(
            JSON.stringify({
              mountpoint: row.mountpoint,
              clientId: row.client_id,
              username: row.username,
              // Only the variant and cost ("$2a$08$"), never the hash itself.
              hash: row.hash_prefix ?? null,
              publishAcl: row.publish_acl === null ? null : JSON.parse(row.publish_acl as string),
              subscribeAcl: row.subscribe_acl === null ? null : JSON.parse(row.subscribe_acl as string),
            }),
          );
        }
        return 0;
      }
    }
    return 2;
  } catch (e) {
    if (e instanceof UsageError) {
      out(`error: ${e.message}`);
      USER_USAGE.forEach((l) => out(l));
      return 2;
    }
    out(`error: ${(e as Error).message}`);
    return 1;
  } finally {
    await cluster.end();
  }
}

function notFound(out: (l: string) => void, user: string, cid: string, mp: string): number {
  out(`error: no user "${user}" with client id ${cid} in mountpoint "${mp}" (see "user list")`);
  return 1;
}
