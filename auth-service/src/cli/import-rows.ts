import { lintAclJson } from '../acl/compile-acl.js';
import { parseCsv } from './csv.js';

/**
 * The devices of a `shardmq user import` file, checked before anything is written: every
 * problem is reported with its line (CSV) or index (JSON), so a file is imported whole or not
 * at all. Column limits are those of VerneMQ's vmq_auth_acl table. Pure.
 */

export interface ImportRow {
  mountpoint: string;
  clientId: string;
  username: string;
  password: string;
  /** JSON text (linted), or null: no ACL. */
  publishAcl: string | null;
  subscribeAcl: string | null;
}

/** vmq_auth_acl column sizes (character varying). */
const MAX = { mountpoint: 10, clientId: 128, username: 128 } as const;

/** Stop listing problems after this many (the file needs fixing anyway). */
const MAX_PROBLEMS = 20;

export class ImportFileError extends Error {
  constructor(readonly problems: string[]) {
    super(`${problems.length}${problems.length >= MAX_PROBLEMS ? '+' : ''} problem(s) in the import file:\n  ${problems.join('\n  ')}`);
  }
}

type Raw = Record<string, unknown>;

/** CSV columns and JSON keys accepted for each field (VerneMQ's column names and camelCase). */
const NAMES: Record<keyof ImportRow, string[]> = {
  mountpoint: ['mountpoint'],
  clientId: ['client_id', 'clientId'],
  username: ['username'],
  password: ['password'],
  publishAcl: ['publish_acl', 'publishAcl'],
  subscribeAcl: ['subscribe_acl', 'subscribeAcl'],
};

export function parseImportFile(text: string, format: 'csv' | 'json'): ImportRow[] {
  const raws: Array<{ where: string; raw: Raw; aclAsText: boolean }> = [];
  if (format === 'json') {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      throw new ImportFileError([`not JSON: ${(e as Error).message}`]);
    }
    if (!Array.isArray(v)) throw new ImportFileError(['a JSON import file is an array of objects']);
    v.forEach((r, i) => {
      if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new ImportFileError([`[${i}]: not an object`]);
      raws.push({ where: `[${i}]`, raw: r as Raw, aclAsText: false });
    });
  } else {
    let records;
    try {
      records = parseCsv(text);
    } catch (e) {
      throw new ImportFileError([(e as Error).message]);
    }
    const header = records.shift();
    if (!header) throw new ImportFileError(['empty file: a CSV import file starts with a header line (username,password,client_id,mountpoint,publish_acl,subscribe_acl)']);
    const cols = header.fields.map((f) => f.trim());
    const known = new Set(Object.values(NAMES).flat());
    const unknown = cols.filter((c) => !known.has(c));
    if (unknown.length > 0) throw new ImportFileError([`line ${header.line}: unknown column(s) ${unknown.join(', ')}`]);
    for (const r of records) {
      if (r.fields.length !== cols.length) throw new ImportFileError([`line ${r.line}: ${r.fields.length} fields, the header has ${cols.length}`]);
      const raw: Raw = {};
      cols.forEach((c, k) => (raw[c] = r.fields[k]));
      raws.push({ where: `line ${r.line}`, raw, aclAsText: true });
    }
  }
  const problems: string[] = [];
  const rows: ImportRow[] = [];
  const seen = new Set<string>();
  for (const { where, raw, aclAsText } of raws) {
    if (problems.length >= MAX_PROBLEMS) break;
    const get = (k: keyof ImportRow): unknown => {
      for (const n of NAMES[k]) if (raw[n] !== undefined) return raw[n];
      return undefined;
    };
    const str = (k: keyof ImportRow, dflt?: string): string | undefined => {
      const v = get(k);
      if (v === undefined || (aclAsText && v === '' && dflt !== undefined)) return dflt;
      if (typeof v !== 'string') {
        problems.push(`${where}: ${k} must be a string`);
        return undefined;
      }
      return v;
    };
    const username = str('username');
    const password = str('password');
    const clientId = str('clientId', '*');
    const mountpoint = str('mountpoint', '');
    if (!username) problems.push(`${where}: username is required`);
    if (password === undefined || password === '') problems.push(`${where}: password is required`);
    for (const [k, v] of [
      ['username', username],
      ['clientId', clientId],
      ['mountpoint', mountpoint],
    ] as const) {
      if (v !== undefined && v.length > MAX[k]) problems.push(`${where}: ${k} longer than ${MAX[k]} characters`);
    }
    const acl = (k: 'publishAcl' | 'subscribeAcl'): string | null => {
      let v = get(k);
      if (v === undefined || v === null || (aclAsText && v === '')) return null;
      if (aclAsText) {
        try {
          v = JSON.parse(v as string);
        } catch (e) {
          problems.push(`${where}: ${k} is not JSON: ${(e as Error).message}`);
          return null;
        }
      }
      if (v === null) return null;
      const p = lintAclJson(v, k === 'publishAcl' ? 'publish' : 'subscribe');
      if (p.length > 0) problems.push(`${where}: ${k}: ${p.join('; ')}`);
      return JSON.stringify(v);
    };
    const publishAcl = acl('publishAcl');
    const subscribeAcl = acl('subscribeAcl');
    if (!username || !password || clientId === undefined || mountpoint === undefined) continue;
    const id = `${mountpoint}\u0000${clientId}\u0000${username}`;
    if (seen.has(id)) problems.push(`${where}: user "${username}" (client id ${clientId}, mountpoint "${mountpoint}") appears twice`);
    seen.add(id);
    rows.push({ mountpoint, clientId, username, password, publishAcl, subscribeAcl });
  }
  if (problems.length > 0) throw new ImportFileError(problems.slice(0, MAX_PROBLEMS));
  return rows;
}
