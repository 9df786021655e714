import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * What the admin commands of the CLI (clients, cluster, publish) share: the options naming the
 * broker (--url, --token), the HTTP call to its admin API, and exit codes (0 done, 1 the broker
 * said no or could not be reached, 2 usage). The token comes from --token, else SHARDMQ_ADMIN_TOKEN
 * or SHARDMQ_ADMIN_TOKEN_FILE (the admin.token setting's own env var, so one env serves both the
 * broker and the CLI); it is never printed.
 */

export const ADMIN_OPTIONS_USAGE = `  --url <url>      the admin API of any broker process (default http://127.0.0.1:<SHARDMQ_HTTP_PORT or 9464>)
  --token <token>  bearer token (default: SHARDMQ_ADMIN_TOKEN, or the file named by SHARDMQ_ADMIN_TOKEN_FILE)`;

export const ADMIN_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export class UsageError extends Error {}

export interface CliIo {
  env: Record<string, string | undefined>;
  out: (s: string) => void;
  err: (s: string) => void;
}

/** util.parseArgs with usage errors as UsageError (unknown option, missing value). */
export function parseCommand<O extends NonNullable<ParseArgsConfig['options']>>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export interface AdminTarget {
  url: string;
  token: string | undefined;
}

export function adminTarget(values: { url?: string; token?: string }, env: CliIo['env']): AdminTarget {
  const url = (values.url ?? `http://127.0.0.1:${env.SHARDMQ_HTTP_PORT ?? '9464'}`).replace(/\/+$/, '');
  let token = values.token ?? env.SHARDMQ_ADMIN_TOKEN;
  const file = env.SHARDMQ_ADMIN_TOKEN_FILE;
  if (token === undefined && file) {
    try {
      token = readFileSync(file, 'utf8').trim();
    } catch (e) {
      throw new UsageError(`cannot read SHARDMQ_ADMIN_TOKEN_FILE ${file}: ${(e as Error).message}`);
    }
  }
  return { url, token };
}

export interface AdminAnswer {
  status: number;
  json: unknown;
}

/** One admin API call; a broker that cannot be reached is an Error with the URL in it. */
export async function callAdmin(t: AdminTarget, method: string, path: string, body?: unknown): Promise<AdminAnswer> {
  let res: Response;
  try {
    res = await fetch(t.url + path, {
      method,
      headers: {
        ...(t.token !== undefined ? { authorization: `Bearer ${t.token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (e) {
    throw new Error(`cannot reach the admin API at ${t.url}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = { error: text.trim() || res.statusText };
  }
  return { status: res.status, json };
}

/** Prints an error answer and gives the exit code: 401 and 404-when-off say what to do. */
export function failed(a: AdminAnswer, io: CliIo, t: AdminTarget): number {
  const msg = (a.json as { error?: string } | undefined)?.error ?? `HTTP ${a.status}`;
  if (a.status === 401) io.err(`shardmq: ${msg} (${t.token === undefined ? 'set SHARDMQ_ADMIN_TOKEN or --token' : "the token does not match the broker's admin.token"})`);
  else io.err(`shardmq: ${msg} (HTTP ${a.status})`);
  return 1;
}

/** Runs a command body with the usual exit codes: usage errors print `usage` and give 2. */
export async function runAdminCommand(usage: string, io: CliIo, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`shardmq: ${e.message}`);
      io.err(usage);
      return 2;
    }
    io.err(`shardmq: ${(e as Error).message}`);
    return 1;
  }
}
