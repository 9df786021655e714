import { validateTopicFilter, VMQ_MAX_PAYLOAD_BYTES, type ClientAcl, type PublishRule, type Qos, type SubscribeRule } from '../../../common/src/index.js';

/**
 * Compiles VerneMQ's `publish_acl` / `subscribe_acl` JSON columns into a ClientAcl.
 * Run by the auth-service once per CONNECT (never on the message path).
 *
 * VerneMQ semantics kept (vmq_diversity): entries are objects with `pattern` and optional
 * `max_qos` (default 2), `max_payload_size` (publish, default 268435456), `allowed_retain`
 * (publish, default true); `%m`, `%u`, `%c` are substituted only where a whole topic level equals
 * the token (`dev-%c` stays literal); a NULL column or empty array allows nothing.
 *
 * Where we fail closed instead of VerneMQ's permissive behaviour (all documented in docs/auth.md):
 * - an entry with an invalid field (max_qos 3, a negative size, a non-boolean allowed_retain) is
 *   dropped, where VerneMQ ignored the field and kept the permissive default;
 * - an entry carrying `modifiers` is dropped: shardmq does not rewrite messages, and allowing the
 *   unmodified message could bypass what the modifier was there to enforce;
 * - a substituted value that is empty (%u, %c) or contains `/`, `+`, `#` or NUL drops the entry:
 *   in VerneMQ a user name `+` turned `devices/%u/#` into a wildcard; here it can match nothing.
 */

export interface AclContext {
  readonly mountpoint: string;
  readonly clientId: string;
  readonly username: string;
}

export interface CompiledAcl {
  readonly acl: ClientAcl;
  /** Human-readable reasons for dropped entries or ignored keys (for a log line). */
  readonly warnings: readonly string[];
}

export class AclFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AclFormatError';
  }
}

/** Longest pattern accepted (levels beyond MQTT's own limits make no sense in an ACL). */
const MAX_PATTERN_LEVELS = 1024;

const PUBLISH_KEYS = new Set(['pattern', 'max_qos', 'max_payload_size', 'allowed_retain', 'modifiers']);
const SUBSCRIBE_KEYS = new Set(['pattern', 'max_qos', 'modifiers']);

/**
 * `publishJson` / `subscribeJson`: the column value as TEXT (VerneMQ casts `::TEXT`), already
 * parsed JSON (a `json` column read without the cast), or null. Throws AclFormatError when a
 * column is not JSON or not an array: the CONNECT is then refused (VerneMQ's Lua failed too).
 */
export function compileAcl(publishJson: unknown, subscribeJson: unknown, ctx: AclContext): CompiledAcl {
  const warnings: string[] = [];
  const publish: PublishRule[] = [];
  const subscribe: SubscribeRule[] = [];
  const pubEntries = entriesOf(publishJson, 'publish_acl');
  const subEntries = entriesOf(subscribeJson, 'subscribe_acl');
  pubEntries.forEach((e, i) => {
    const r = compileEntry(e, 'publish', ctx, (w) => warnings.push(`publish_acl[${i}]: ${w}`));
    if (r) publish.push(r as PublishRule);
  });
  subEntries.forEach((e, i) => {
    const r = compileEntry(e, 'subscribe', ctx, (w) => warnings.push(`subscribe_acl[${i}]: ${w}`));
    if (r) subscribe.push(r as SubscribeRule);
  });
  return { acl: { publish, subscribe }, warnings };
}

/**
 * Checks an ACL document the way compileAcl will read it, without a client (the user CLI calls
 * this before writing). Returns the problems found; an empty list means every entry is usable.
 */
export function lintAclJson(json: unknown, kind: 'publish' | 'subscribe'): string[] {
  const problems: string[] = [];
  let entries: unknown[];
  try {
    entries = entriesOf(json, `${kind}_acl`);
  } catch (e) {
    return [(e as Error).message];
  }
  const ctx: AclContext = { mountpoint: '', clientId: 'client', username: 'user' };
  entries.forEach((e, i) => {
    compileEntry(e, kind, ctx, (w) => problems.push(`${kind}_acl[${i}]: ${w}`));
  });
  return problems;
}

function entriesOf(v: unknown, column: string): unknown[] {
  if (v === null || v === undefined) return [];
  let parsed = v;
  if (typeof v === 'string') {
    try {
      parsed = JSON.parse(v);
    } catch (e) {
      throw new AclFormatError(`${column} is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (parsed === null) return [];
  if (!Array.isArray(parsed)) throw new AclFormatError(`${column} must be a JSON array of objects`);
  return parsed;
}

function compileEntry(e: unknown, kind: 'publish' | 'subscribe', ctx: AclContext, warn: (w: string) => void): PublishRule | SubscribeRule | undefined {
  if (e === null || typeof e !== 'object' || Array.isArray(e)) {
    warn('entry is not an object; dropped');
    return undefined;
  }
  const o = e as Record<string, unknown>;
  const known = kind === 'publish' ? PUBLISH_KEYS : SUBSCRIBE_KEYS;
  for (const k of Object.keys(o)) if (!known.has(k)) warn(`unknown key "${k}" ignored`);
  if (o.modifiers !== undefined) {
    warn('"modifiers" are not supported by shardmq; entry dropped (see docs/auth.md)');
    return undefined;
  }
  if (typeof o.pattern !== 'string') {
    warn('"pattern" missing or not a string; dropped');
    return undefined;
  }
  let maxQos: Qos = 2;
  if (o.max_qos !== undefined) {
    if (o.max_qos !== 0 && o.max_qos !== 1 && o.max_qos !== 2) {
      warn(`"max_qos" must be 0, 1 or 2; entry dropped`);
      return undefined;
    }
    maxQos = o.max_qos;
  }
  const pattern = substitute(o.pattern, ctx, warn);
  if (pattern === undefined) return undefined;
  const wildcard = pattern.includes('+') || pattern.includes('#');
  if (kind === 'subscribe') return { pattern, wildcard, maxQos };

  let maxPayloadBytes = VMQ_MAX_PAYLOAD_BYTES;
  if (o.max_payload_size !== undefined) {
    const n = o.max_payload_size;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > VMQ_MAX_PAYLOAD_BYTES) {
      warn(`"max_payload_size" must be an integer between 0 and ${VMQ_MAX_PAYLOAD_BYTES}; entry dropped`);
      return undefined;
    }
    maxPayloadBytes = n;
  }
  let allowedRetain = true;
  if (o.allowed_retain !== undefined) {
    if (typeof o.allowed_retain !== 'boolean') {
      warn('"allowed_retain" must be true or false; entry dropped');
      return undefined;
    }
    allowedRetain = o.allowed_retain;
  }
  return { pattern, wildcard, maxQos, maxPayloadBytes, allowedRetain };
}

/**
 * Replaces whole levels `%m`, `%u`, `%c`. Returns undefined (entry dropped) when the pattern is not
 * a valid filter, or a substituted value could change the pattern's shape.
 */
function substitute(pattern: string, ctx: AclContext, warn: (w: string) => void): string | undefined {
  const bad = validateTopicFilter(pattern, MAX_PATTERN_LEVELS);
  if (bad !== undefined) {
    warn(`pattern "${pattern}" is not a valid topic filter (${bad}); dropped`);
    return undefined;
  }
  if (!pattern.includes('%')) return pattern;
  const levels = pattern.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    let value: string;
    let name: string;
    if (l === '%m') {
      value = ctx.mountpoint;
      name = 'mountpoint';
    } else if (l === '%u') {
      value = ctx.username;
      name = 'user name';
    } else if (l === '%c') {
      value = ctx.clientId;
      name = 'client id';
    } else continue;
    // An empty mountpoint is the normal default and an empty level is a valid level; an empty
    // user name or client id would make a per-device rule match a level shared by others.
    if ((value === '' && l !== '%m') || /[/+#\u0000]/.test(value)) {
      warn(`${l} would substitute ${value === '' ? 'an empty' : 'an unsafe'} ${name}; entry dropped`);
      return undefined;
    }
    levels[i] = value;
  }
  return levels.join('/');
}
