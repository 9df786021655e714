/**
 * One setting, one name. The published naming rule (docs/configuration.md):
 *   key  `mqtt.maxPacketBytes`           (config file: {"mqtt": {"maxPacketBytes": ...}})
 *   env  `SHARDMQ_MQTT_MAX_PACKET_BYTES`  (segments in UPPER_SNAKE, joined by "_")
 *   flag `--mqtt-max-packet-bytes`        (segments in kebab-case, joined by "-")
 *   helm `config.mqtt.maxPacketBytes`     (values.yaml, rendered to the env var)
 * Secrets may also be given as `<ENV>_FILE` (path to a file holding the value) and are never logged.
 */

export type SettingType = 'string' | 'int' | 'bool' | 'enum' | 'list' | 'url';

export interface Setting<T> {
  readonly type: SettingType;
  readonly default: T;
  readonly doc: string;
  readonly secret?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly values?: readonly string[];
  /** Parses the raw text; throws Error with a human message (the caller adds the setting's name). */
  parse(raw: string): T;
  /** Validates a value from a config file (already typed by JSON). */
  fromJson(v: unknown): T;
}

const camelToSnake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const camelToKebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

export function envName(key: string): string {
  return 'SHARDMQ_' + key.split('.').map(camelToSnake).join('_');
}
export function flagName(key: string): string {
  return '--' + key.split('.').map(camelToKebab).join('-');
}
export function helmName(key: string): string {
  return 'config.' + key;
}

interface Base<T> {
  default: T;
  doc: string;
  secret?: boolean;
}

export function str(o: Base<string> & { pattern?: RegExp }): Setting<string> {
  const check = (s: string) => {
    if (o.pattern && !o.pattern.test(s)) throw new Error(`must match ${o.pattern}`);
    return s;
  };
  return {
    type: 'string',
    default: o.default,
    doc: o.doc,
    secret: o.secret,
    parse: check,
    fromJson(v) {
      if (typeof v !== 'string') throw new Error('must be a string');
      return check(v);
    },
  };
}

/** Optional string: empty means unset. */
export function optStr(o: Base<string | undefined>): Setting<string | undefined> {
  return {
    type: 'string',
    default: o.default,
    doc: o.doc,
    secret: o.secret,
    parse: (s) => (s === '' ? undefined : s),
    fromJson(v) {
      if (v === null || v === undefined || v === '') return undefined;
      if (typeof v !== 'string') throw new Error('must be a string');
      return v;
    },
  };
}

export function url(o: Base<string | undefined> & { protocols: readonly string[] }): Setting<string | undefined> {
  const check = (s: string) => {
    if (s === '') return undefined;
    for (const part of s.split(',')) {
      let u: URL;
      try {
        u = new URL(part.trim());
      } catch {
        throw new Error(`is not a valid URL`);
      }
      if (!o.protocols.includes(u.protocol.replace(/:$/, ''))) {
        throw new Error(`must use one of ${o.protocols.map((p) => p + '://').join(', ')}`);
      }
    }
    return s;
  };
  return {
    type: 'url',
    default: o.default,
    doc: o.doc,
    secret: o.secret,
    parse: check,
    fromJson(v) {
      if (v === null || v === undefined) return undefined;
      if (typeof v !== 'string') throw new Error('must be a string');
      return check(v);
    },
  };
}

export function int(o: Base<number> & { min: number; max: number }): Setting<number> {
  const check = (n: number) => {
    if (!Number.isSafeInteger(n)) throw new Error('must be an integer');
    if (n < o.min || n > o.max) throw new Error(`must be between ${o.min} and ${o.max}`);
    return n;
  };
  return {
    type: 'int',
    default: o.default,
    doc: o.doc,
    min: o.min,
    max: o.max,
    parse(raw) {
      const t = raw.trim();
      if (!/^-?\d+$/.test(t)) throw new Error(`must be an integer, got "${raw}"`);
      return check(Number(t));
    },
    fromJson(v) {
      if (typeof v !== 'number') throw new Error('must be a number');
      return check(v);
    },
  };
}

export function bool(o: Base<boolean>): Setting<boolean> {
  return {
    type: 'bool',
    default: o.default,
    doc: o.doc,
    parse(raw) {
      const t = raw.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no') return false;
      throw new Error(`must be true or false, got "${raw}"`);
    },
    fromJson(v) {
      if (typeof v !== 'boolean') throw new Error('must be true or false');
      return v;
    },
  };
}

export function oneOf<V extends string>(o: Base<V> & { values: readonly V[] }): Setting<V> {
  const check = (s: string): V => {
    if (!(o.values as readonly string[]).includes(s)) throw new Error(`must be one of ${o.values.join(', ')}, got "${s}"`);
    return s as V;
  };
  return {
    type: 'enum',
    default: o.default,
    doc: o.doc,
    values: o.values,
    parse: (raw) => check(raw.trim()),
    fromJson(v) {
      if (typeof v !== 'string') throw new Error('must be a string');
      return check(v);
    },
  };
}

export function list(o: Base<readonly string[]> & { values?: readonly string[] }): Setting<readonly string[]> {
  const check = (items: string[]) => {
    if (o.values) {
      for (const i of items) {
        if (!o.values.includes(i)) throw new Error(`entries must be among ${o.values.join(', ')}, got "${i}"`);
      }
    }
    return items;
  };
  return {
    type: 'list',
    default: o.default,
    doc: o.doc,
    values: o.values,
    parse: (raw) =>
      check(
        raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      ),
    fromJson(v) {
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error('must be a list of strings');
      return check(v as string[]);
    },
  };
}

export type SettingsTable = Record<string, Setting<unknown>>;
export type ValuesOf<S extends SettingsTable> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };
