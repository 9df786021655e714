import { readFileSync } from 'node:fs';
import { redactUrl } from '../log-redact.js';
import { chainOrder, configuredBackends } from './auth-chain-order.js';
import { ConfigError } from './config-error.js';
import { isServiceLinkVar } from './service-links.js';
import { envName, flagName, type Setting } from './setting.js';
import { settings, type Config, type SettingKey } from './settings.js';
import { ROLES } from './settings-core.js';

export { ConfigError };

export interface ConfigSources {
  env?: Record<string, string | undefined>;
  /** Command-line flags (`--mqtt-port 1884` or `--mqtt-port=1884`); positional words are rejected. */
  argv?: readonly string[];
  /**
   * Told about each env var that was ignored because it is a Kubernetes service link (see
   * service-links.ts); the CLI logs them once its logger exists.
   */
  onIgnoredEnv?: (ignored: IgnoredEnv) => void;
}

export interface IgnoredEnv {
  name: string;
  /** True when the name is also a setting's env var (a Service named like `shardmq-mqtt` shadows SHARDMQ_MQTT_PORT). */
  shadowsSetting: boolean;
}

const keys = Object.keys(settings) as SettingKey[];
const byEnv = new Map(keys.map((k) => [envName(k), k]));
const byFlag = new Map(keys.map((k) => [flagName(k), k]));

/** Env vars that are not settings but are allowed (the config file path). */
const EXTRA_ENV = new Set(['SHARDMQ_CONFIG']);

function describe(key: string): string {
  return `${key} (${envName(key)} / ${flagName(key)})`;
}

function getPath(obj: Record<string, unknown>, key: string): unknown {
  let cur: unknown = obj;
  for (const seg of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur;
}

function leafPaths(obj: unknown, prefix = ''): string[] {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return [prefix];
  const out: string[] = [];
  for (const [k, v] of Object.entries(obj)) {
    const p = prefix ? `${prefix}.${k}` : k;
    if (byEnv.has(envName(p))) out.push(p);
    else out.push(...leafPaths(v, p));
  }
  return out;
}

/**
 * Reads configuration once, at start-up: defaults < config file < env vars < flags.
 * Any unknown or invalid setting throws ConfigError naming it; the CLI prints it and exits 2.
 */
export function loadConfig(src: ConfigSources = {}): Config {
  const env = src.env ?? process.env;
  const out: Record<string, unknown> = {};
  for (const k of keys) out[k] = settings[k].default;

  const flags = new Map<string, string>();
  let configPath = env.SHARDMQ_CONFIG;
  const argv = src.argv ?? [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument "${a}"`);
    const eq = a.indexOf('=');
    const name = eq >= 0 ? a.slice(0, eq) : a;
    let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : undefined;
    if (value === undefined) {
      const next = argv[i + 1];
      const s = name === '--config' ? undefined : byFlag.get(name);
      if (s && settings[s].type === 'bool' && (next === undefined || next.startsWith('--'))) value = 'true';
      else {
        if (next === undefined) throw new ConfigError(`flag ${name} needs a value`);
        value = next;
        i++;
      }
    }
    if (name === '--config') configPath = value;
    else if (byFlag.has(name)) flags.set(name, value);
    else throw new ConfigError(`unknown flag ${name} (see docs/configuration.md)`);
  }

  if (configPath) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(configPath, 'utf8'));
    } catch (e) {
      throw new ConfigError(`config file ${configPath}: ${(e as Error).message}`);
    }
    if (parsed === null || typeof parsed !== 'object') throw new ConfigError(`config file ${configPath}: must hold a JSON object`);
    for (const p of leafPaths(parsed)) {
      if (!byEnv.has(envName(p)) || !keys.includes(p as SettingKey)) throw new ConfigError(`config file ${configPath}: unknown setting "${p}"`);
    }
    for (const k of keys) {
      const v = getPath(parsed as Record<string, unknown>, k);
      if (v === undefined) continue;
      try {
        out[k] = (settings[k] as Setting<unknown>).fromJson(v);
      } catch (e) {
        throw new ConfigError(`setting ${describe(k)} in ${configPath}: ${(e as Error).message}`);
      }
    }
  }

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('SHARDMQ_') || raw === undefined || EXTRA_ENV.has(name)) continue;
    let k = byEnv.get(name);
    let value = raw;
    if (!k && name.endsWith('_FILE')) {
      k = byEnv.get(name.slice(0, -5));
      if (k && settings[k].secret) {
        try {
          value = readFileSync(raw, 'utf8').replace(/\r?\n$/, '');
        } catch (e) {
          throw new ConfigError(`setting ${describe(k)}: cannot read ${name}=${raw}: ${(e as Error).message}`);
        }
      } else k = undefined;
    }
    if (!k) {
      // Injected by Kubernetes for a Service whose name starts with "shardmq-", not set by anyone.
      if (isServiceLinkVar(name, raw)) {
        src.onIgnoredEnv?.({ name, shadowsSetting: false });
        continue;
      }
      throw new ConfigError(`unknown setting ${name} in the environment (see docs/configuration.md)`);
    }
    try {
      out[k] = (settings[k] as Setting<unknown>).parse(value);
    } catch (e) {
      // A Service named `shardmq-mqtt` also yields SHARDMQ_MQTT_PORT=tcp://10.0.0.11:1883 under a
      // setting's name: that value is a link, never a port number, so the setting keeps its other sources.
      if (isServiceLinkVar(name, raw)) {
        src.onIgnoredEnv?.({ name, shadowsSetting: true });
        continue;
      }
      throw new ConfigError(`setting ${describe(k)}: ${(e as Error).message}`);
    }
  }

  for (const [name, raw] of flags) {
    const k = byFlag.get(name)!;
    try {
      out[k] = (settings[k] as Setting<unknown>).parse(raw);
    } catch (e) {
      throw new ConfigError(`setting ${describe(k)}: ${(e as Error).message}`);
    }
  }

  const cfg = out as Config;
  crossCheck(cfg);
  return cfg;
}

function crossCheck(cfg: Config): void {
  if (cfg['mqtt.tlsEnabled'] || cfg['mqtt.wssEnabled']) {
    for (const k of ['mqtt.tlsCertFile', 'mqtt.tlsKeyFile'] as const) {
      if (!cfg[k]) throw new ConfigError(`setting ${describe(k)}: required when mqtt.tlsEnabled or mqtt.wssEnabled is true`);
    }
  }
  if (cfg['mqtt.tlsRequireClientCert'] && !cfg['mqtt.tlsCaFile']) {
    throw new ConfigError(`setting ${describe('mqtt.tlsCaFile')}: required when mqtt.tlsRequireClientCert is true`);
  }
  for (const k of ['mqtt.tlsCertIdentityAsUsername', 'mqtt.wssCertIdentityAsUsername'] as const) {
    // Only a certificate the listener verified may stand for a user name.
    if (cfg[k] !== 'off' && !cfg['mqtt.tlsRequireClientCert']) throw new ConfigError(`setting ${describe(k)}: needs mqtt.tlsRequireClientCert true (a verified client certificate)`);
  }
  chainOrder(cfg['auth.chain'], configuredBackends(cfg));
  if (cfg.roles.length === 0) throw new ConfigError(`setting ${describe('roles')}: names no role`);
  const allHere = ROLES.every((r) => cfg.roles.includes(r));
  if (!cfg['nats.url'] && !allHere) {
    throw new ConfigError(`setting ${describe('nats.url')}: required when this process runs only some roles (${cfg.roles.join(',')}); ` + 'the in-memory bus works only with all roles in one process');
  }
}

/** The config with secrets masked, for the start-up log line. */
export function redactedConfig(cfg: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = cfg[k];
    if (settings[k].secret) out[k] = v === undefined ? undefined : '***';
    else if (settings[k].type === 'url' && typeof v === 'string') out[k] = redactUrl(v);
    else out[k] = v;
  }
  return out;
}

export { redactUrl };
