import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parseArgs } from 'node:util';
import { type Config, silentLogger } from '../../../common/src/index.js';
import { BcryptHashPool } from '../bcrypt/bcrypt-hash-pool.js';
import { databaseConfigured, resolveDbOptions } from '../db/connection-options.js';
import { PgCluster } from '../db/pg-cluster.js';
import { ImportFileError, parseImportFile, type ImportRow } from './import-rows.js';

export const USER_IMPORT_USAGE = [
  'usage: shardmq user import <file.csv|file.json> [--format csv|json] [--update] [--cost <4-31>] [--batch-size <n>]',
  '  CSV: a header line naming the columns username,password[,client_id][,mountpoint][,publish_acl][,subscribe_acl]',
  '       (ACLs as JSON text, quoted); JSON: an array of {username, password, clientId, mountpoint, publishAcl, subscribeAcl}.',
  '  Defaults: client id * (any), mountpoint "", no ACL, --cost 8, --batch-size 1000.',
  '  The whole file is checked first (nothing is written when a row is wrong); passwords are hashed on every',
  '  core, each batch is one INSERT; existing users are skipped (--update: their password and ACLs replaced).',
];

const OPTIONS = {
  format: { type: 'string' },
  update: { type: 'boolean' },
  cost: { type: 'string' },
  'batch-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Progress lines at most this often (and once at the end). */
const PROGRESS_EVERY_MS = 1000;

class UsageError extends Error {}

/**
 * `shardmq user import`: bulk insert of devices (tens of thousands) into the credentials table
 * (auth.table) from CSV or JSON, with progress output. Run by the CLI process only.
 * Exit codes: 0 imported, 1 a bad file or a database error (batches already written stay), 2 usage.
 */
export async function runUserImport(args: readonly string[], config: Config, out: (line: string) => void, now: () => number = Date.now): Promise<number> {
  let file: string;
  let format: 'csv' | 'json';
  let cost: number;
  let batchSize: number;
  let update: boolean;
  try {
    const { values, positionals } = (() => {
      try {
        return parseArgs({ args: [...args], options: OPTIONS, allowPositionals: true, strict: true });
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    })();
    if (values.help) {
      USER_IMPORT_USAGE.forEach((l) => out(l));
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError('"user import" takes one file');
    file = positionals[0]!;
    const f = values.format ?? extname(file).slice(1).toLowerCase();
    if (f !== 'csv' && f !== 'json') throw new UsageError(`cannot tell the format of ${file}: name it .csv or .json, or give --format`);
    format = f;
    cost = intOption(values.cost, 8, 4, 31, '--cost');
    batchSize = intOption(values['batch-size'], 1000, 1, 10000, '--batch-size');
    update = values.update === true;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    out(`error: ${e.message}`);
    USER_IMPORT_USAGE.forEach((l) => out(l));
    return 2;
  }
  if (!databaseConfigured(config)) {
    out('error: no auth database configured (set SHARDMQ_AUTH_DATABASE_URL or auth.hosts)');
    return 2;
  }
  let rows: ImportRow[];
  try {
    rows = parseImportFile(readFileSync(file, 'utf8'), format);
  } catch (e) {
    out(`error: ${e instanceof ImportFileError ? e.message : `cannot read ${file}: ${(e as Error).message}`}`);
    return 1;
  }
  if (rows.length === 0) {
    out(`nothing to import: ${file} has no rows`);
    return 0;
  }
  const cluster = new PgCluster(resolveDbOptions(config), { log: silentLogger });
  const pool = new BcryptHashPool();
  const table = config['auth.table'];
  const conflict = update
    ? 'ON CONFLICT (mountpoint, client_id, username) DO UPDATE SET password = EXCLUDED.password, publish_acl = EXCLUDED.publish_acl, subscribe_acl = EXCLUDED.subscribe_acl'
    : 'ON CONFLICT DO NOTHING';
  // One statement per batch: the rows travel as six arrays (one round trip, no per-row SQL).
  const sql =
    `INSERT INTO ${table} (mountpoint, client_id, username, password, publish_acl, subscribe_acl) ` +
    `SELECT m, c, u, p, pa::json, sa::json FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(m, c, u, p, pa, sa) ${conflict}`;
  const t0 = now();
  let lastProgress = t0;
  let done = 0;
  let written = 0;
  out(`importing ${rows.length} users from ${file}: bcrypt cost ${cost} on ${pool.size} worker thread(s), batches of ${batchSize}`);
  const progress = (final: boolean) => {
    const t = now();
    if (!final && t - lastProgress < PROGRESS_EVERY_MS) return;
    lastProgress = t;
    const rate = Math.round((done * 1000) / Math.max(1, t - t0));
    out(
      `${final ? 'done' : 'progress'}: ${done}/${rows.length} (${Math.floor((done * 100) / rows.length)}%), ${written} ${update ? 'written' : 'added'}, ${done - written} skipped as existing, ${rate} users/s`,
    );
  };
  try {
    const batches: ImportRow[][] = [];
    for (let i = 0; i < rows.length; i += batchSize) batches.push(rows.slice(i, i + batchSize));
    // Hash the next batch while the current one is written.
    let next = pool.hashAll(
      batches[0]!.map((r) => r.password),
      cost,
    );
    for (let b = 0; b < batches.length; b++) {
      const batch = batches[b]!;
      const hashes = await next;
      if (b + 1 < batches.length)
        next = pool.hashAll(
          batches[b + 1]!.map((r) => r.password),
          cost,
        );
      const r = await cluster.query(
        sql,
        [batch.map((x) => x.mountpoint), batch.map((x) => x.clientId), batch.map((x) => x.username), hashes, batch.map((x) => x.publishAcl), batch.map((x) => x.subscribeAcl)],
        'read-write',
      );
      done += batch.length;
      written += r.rowCount ?? 0;
      progress(b + 1 === batches.length);
    }
    // Planner statistics now, not when autovacuum gets to the table: without them, right after a
    // bulk insert PostgreSQL plans the auth query's `(client_id=$2 OR client_id='*')` as a scan of
    // every index entry of the mountpoint, a cost per CONNECT that grows with the table (228 index
    // pages read per CONNECT at 20,000 rows instead of 5). A role that does not own the table gets a
    // warning from PostgreSQL, not an error; autovacuum then does it later.
    if (written > 0) await cluster.query(`ANALYZE ${table}`, [], 'read-write');
    return 0;
  } catch (e) {
    out(`error: ${(e as Error).message} (after ${done} of ${rows.length} users; the batches before were written, a rerun skips them)`);
    return 1;
  } finally {
    await pool.close();
    await cluster.end();
  }
}

function intOption(raw: string | undefined, dflt: number, min: number, max: number, name: string): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new UsageError(`${name} must be an integer between ${min} and ${max}`);
  return Number(raw);
}
