import { settings } from './config/settings.js';

/**
 * What a log line must never show, by one rule shared with `shardmq config print` and the
 * start-up log (load-config.ts redactedConfig): values of settings marked secret print as `***`,
 * passwords inside URLs as `***`. The logger applies it to every field of every line, so a call
 * site that passes a secret by mistake (a config object, an HTTP header, a database URL inside an
 * error message) still does not leak it.
 */

export const MASK = '***';

/** Removes passwords from URLs (postgres://u:secret@h -> postgres://u:***@h, ?password=x -> ?password=***). */
export function redactUrl(s: string): string {
  return s.replace(/\/\/([^:/@\s]+):[^@/\s]*@/g, `//$1:${MASK}@`).replace(/(password=)[^&\s]*/gi, `$1${MASK}`);
}

/** Field names whose value is a credential wherever they appear (any nesting, any case). */
const SECRET_NAME = /(^|[._-])pass(wd|phrase)?$|password$|secret$|token$|authorization$|cookie$|credentials?$|private.?key$/i;

/** The secret settings by their full name (`admin.token`, `auth.databaseUrl`, ...), as the start-up config is logged. */
const SECRET_SETTINGS = new Set(Object.entries(settings).flatMap(([k, s]) => ((s as { secret?: boolean }).secret ? [k] : [])));

export function isSecretField(name: string): boolean {
  return SECRET_SETTINGS.has(name) || SECRET_NAME.test(name);
}

const MAX_DEPTH = 6;

/**
 * A copy of `v` with secret fields masked and URL passwords removed from every string. Objects
 * other than plain ones and arrays (Buffers, class instances) are left to the serializer; deeper
 * than MAX_DEPTH nothing is copied (a log line is no place for a deep structure).
 */
export function redactValue(v: unknown, depth = 0): unknown {
  if (typeof v === 'string') return v.includes('://') || v.includes('password=') ? redactUrl(v) : v;
  if (typeof v !== 'object' || v === null || depth > MAX_DEPTH) return v;
  if (Array.isArray(v)) return v.map((x) => redactValue(x, depth + 1));
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = x !== undefined && x !== null && isSecretField(k) ? MASK : redactValue(x, depth + 1);
  return out;
}
