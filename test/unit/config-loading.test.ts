import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, loadConfig, redactedConfig } from '../../common/src/config/load-config.js';
import { envName, type Setting } from '../../common/src/config/setting.js';
import { settings } from '../../common/src/config/settings.js';

/**
 * The start-up contract of docs/configuration.md: defaults < config file < env < flags, unknown and
 * invalid settings stop with a message naming them, `<ENV>_FILE` for secrets, NATS required for
 * partial roles, and no secret value in the logged config.
 */

const dir = mkdtempSync(join(tmpdir(), 'shardmq-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
function file(content: string): string {
  const p = join(dir, `f${fileNo++}`);
  writeFileSync(p, content);
  return p;
}

/** Runs fn, which must throw ConfigError, and returns the message. */
function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    return e.message;
  }
  assert.fail('expected a ConfigError');
}

describe('precedence: defaults < config file < env < flags', () => {
  const cfgFile = file(JSON.stringify({ mqtt: { port: 1001, maxPacketBytes: 1000 }, log: { level: 'warn' } }));

  it('uses the registry defaults with no sources', () => {
    const cfg = loadConfig({ env: {}, argv: [] });
    for (const [key, s] of Object.entries(settings) as [keyof typeof settings, Setting<unknown>][]) {
      assert.deepEqual(cfg[key], s.default, key);
    }
  });

  it('a config file (SHARDMQ_CONFIG or --config) overrides the defaults', () => {
    for (const src of [{ env: { SHARDMQ_CONFIG: cfgFile } }, { env: {}, argv: ['--config', cfgFile] }]) {
      const cfg = loadConfig(src);
      assert.equal(cfg['mqtt.port'], 1001);
      assert.equal(cfg['log.level'], 'warn');
      assert.equal(cfg['mqtt.host'], settings['mqtt.host'].default);
    }
  });

  it('env overrides the config file, setting by setting', () => {
    const cfg = loadConfig({ env: { SHARDMQ_CONFIG: cfgFile, SHARDMQ_MQTT_PORT: '1002' } });
    assert.equal(cfg['mqtt.port'], 1002);
    assert.equal(cfg['mqtt.maxPacketBytes'], 1000, 'the file still sets what env does not');
  });

  it('flags override env and file, in both --flag value and --flag=value forms', () => {
    const env = { SHARDMQ_CONFIG: cfgFile, SHARDMQ_MQTT_PORT: '1002', SHARDMQ_LOG_LEVEL: 'error' };
    const cfg = loadConfig({ env, argv: ['--mqtt-port', '1003', '--log-level=debug'] });
    assert.equal(cfg['mqtt.port'], 1003);
    assert.equal(cfg['log.level'], 'debug');
    assert.equal(cfg['mqtt.maxPacketBytes'], 1000);
  });

  it('parses lists and booleans from text', () => {
    const cfg = loadConfig({ env: { SHARDMQ_ROLES: 'gateway, router', SHARDMQ_NATS_URL: 'nats://127.0.0.1:4222' }, argv: ['--allow-anonymous'] });
    assert.deepEqual(cfg.roles, ['gateway', 'router']);
    assert.equal(cfg.allowAnonymous, true);
  });
});

describe('unknown and invalid settings stop with a message naming them', () => {
  it('an unknown SHARDMQ_ env var', () => {
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_FOO: '1' } })),
      /SHARDMQ_FOO/,
    );
  });

  it('a typo of a real setting', () => {
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_MQTT_PROT: '1883' } })),
      /SHARDMQ_MQTT_PROT/,
    );
  });

  it('ignores env vars outside the SHARDMQ_ prefix', () => {
    assert.equal(loadConfig({ env: { PATH: '/bin', MQTT_PORT: 'x' } })['mqtt.port'], settings['mqtt.port'].default);
  });

  it('an unknown flag and an unknown config file key', () => {
    assert.match(
      configError(() => loadConfig({ env: {}, argv: ['--mqtt-prot', '1'] })),
      /--mqtt-prot/,
    );
    const p = file(JSON.stringify({ mqtt: { prot: 1 } }));
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_CONFIG: p } })),
      /mqtt\.prot/,
    );
  });

  it('an invalid env value names the setting, its env var and the problem', () => {
    const msg = configError(() => loadConfig({ env: { SHARDMQ_MQTT_PORT: 'abc' } }));
    assert.match(msg, /mqtt\.port/);
    assert.match(msg, /SHARDMQ_MQTT_PORT/);
    assert.match(msg, /integer/);
  });

  it('an out-of-range flag value', () => {
    const msg = configError(() => loadConfig({ env: {}, argv: ['--mqtt-max-packet-bytes', '10'] }));
    assert.match(msg, /mqtt\.maxPacketBytes/);
    assert.match(msg, /between/);
  });

  it('an invalid enum value', () => {
    const msg = configError(() => loadConfig({ env: { SHARDMQ_LOG_LEVEL: 'loud' } }));
    assert.match(msg, /log\.level/);
    assert.match(msg, /debug, info, warn, error/);
  });

  it('a mistyped config file value names the setting and the file', () => {
    const p = file(JSON.stringify({ mqtt: { port: '1883' } }));
    const msg = configError(() => loadConfig({ env: { SHARDMQ_CONFIG: p } }));
    assert.match(msg, /mqtt\.port/);
    assert.ok(msg.includes(p), msg);
  });

  it('an unreadable or non-JSON config file', () => {
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_CONFIG: join(dir, 'missing.json') } })),
      /missing\.json/,
    );
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_CONFIG: file('{not json') } })),
      /config file/,
    );
  });
});

describe('secrets from <ENV>_FILE', () => {
  it('reads the value from the file, dropping one trailing newline', () => {
    const p = file('s3cret-from-file\n');
    const cfg = loadConfig({ env: { SHARDMQ_NATS_PASSWORD_FILE: p } });
    assert.equal(cfg['nats.password'], 's3cret-from-file');
  });

  it('works for every secret setting (the name is derived, not listed)', () => {
    const secrets = Object.entries(settings).filter(([, s]) => (s as Setting<unknown>).secret);
    assert.ok(secrets.length >= 2, 'the registry has secret settings');
    for (const [key] of secrets) {
      const p = file('postgres://user:pw@db.example:5432/mqtt\n');
      // A value valid for strings and for PostgreSQL URLs alike.
      const cfg = loadConfig({ env: { [`${envName(key)}_FILE`]: p } });
      assert.equal(cfg[key as keyof typeof cfg], 'postgres://user:pw@db.example:5432/mqtt', key);
    }
  });

  it('names the setting when the file cannot be read', () => {
    const msg = configError(() => loadConfig({ env: { SHARDMQ_NATS_PASSWORD_FILE: join(dir, 'nope') } }));
    assert.match(msg, /nats\.password/);
    assert.match(msg, /SHARDMQ_NATS_PASSWORD_FILE/);
  });

  it('is refused for settings that are not secret', () => {
    const p = file('1884');
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_MQTT_PORT_FILE: p } })),
      /SHARDMQ_MQTT_PORT_FILE/,
    );
  });
});

describe('NATS is required when a process runs only some roles', () => {
  it('stops without SHARDMQ_NATS_URL, naming it', () => {
    const msg = configError(() => loadConfig({ env: { SHARDMQ_ROLES: 'gateway' } }));
    assert.match(msg, /SHARDMQ_NATS_URL/);
    assert.match(msg, /gateway/);
  });

  it('starts with it', () => {
    const cfg = loadConfig({ env: { SHARDMQ_ROLES: 'session', SHARDMQ_NATS_URL: 'nats://127.0.0.1:4222' } });
    assert.deepEqual(cfg.roles, ['session']);
    assert.equal(cfg['nats.url'], 'nats://127.0.0.1:4222');
  });

  it('all roles in one process need no NATS', () => {
    assert.equal(loadConfig({ env: { SHARDMQ_ROLES: 'auth,router,session,gateway' } })['nats.url'], undefined);
  });

  it('refuses unknown roles and an empty role list', () => {
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_ROLES: 'gateway,broker', SHARDMQ_NATS_URL: 'nats://h:4222' } })),
      /broker/,
    );
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_ROLES: ' ' } })),
      /roles/,
    );
  });
});

describe('redactedConfig', () => {
  const SECRET = 'Xq7-secret-value-9Zk';

  it('shows no secret value, for every secret setting and for passwords inside URLs', () => {
    const env: Record<string, string> = {
      SHARDMQ_NATS_URL: `nats://broker:${SECRET}@127.0.0.1:4222`,
      SHARDMQ_ROLES: 'gateway',
    };
    for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
      if (!s.secret) continue;
      // The first candidate the setting accepts: plain text, or a URL for URL-typed secrets.
      const value = [SECRET, `postgres://user:${SECRET}@db.example:5432/mqtt`].find((v) => {
        try {
          s.parse(v);
          return true;
        } catch {
          return false;
        }
      });
      assert.ok(value, `no test value fits secret setting ${key}`);
      env[envName(key)] = value;
    }
    const cfg = loadConfig({ env });
    const shown = redactedConfig(cfg);
    assert.ok(!JSON.stringify(shown).includes(SECRET), JSON.stringify(shown));
    for (const [key, s] of Object.entries(settings) as [string, Setting<unknown>][]) {
      if (s.secret) assert.equal(shown[key], '***', key);
    }
    assert.equal(shown['nats.url'], 'nats://broker:***@127.0.0.1:4222');
    assert.equal(shown['mqtt.port'], cfg['mqtt.port'], 'non-secret values are shown as they are');
  });

  it('leaves unset secrets unset', () => {
    const shown = redactedConfig(loadConfig({ env: {} }));
    assert.equal(shown['nats.password'], undefined);
  });
});

describe('Kubernetes service-link variables', () => {
  // What a pod gets for a Service "shardmq-mqtt" (port mqtt 1883/TCP) when service links are on.
  const links = {
    SHARDMQ_MQTT_SERVICE_HOST: '10.96.0.11',
    SHARDMQ_MQTT_SERVICE_PORT: '1883',
    SHARDMQ_MQTT_SERVICE_PORT_MQTT: '1883',
    SHARDMQ_MQTT_PORT: 'tcp://10.96.0.11:1883',
    SHARDMQ_MQTT_PORT_1883_TCP: 'tcp://10.96.0.11:1883',
    SHARDMQ_MQTT_PORT_1883_TCP_PROTO: 'tcp',
    SHARDMQ_MQTT_PORT_1883_TCP_PORT: '1883',
    SHARDMQ_MQTT_PORT_1883_TCP_ADDR: '10.96.0.11',
    SHARDMQ_NATS_SERVICE_HOST: 'fd00::11',
    SHARDMQ_NATS_PORT_4222_UDP: 'udp://[fd00::11]:4222',
  };

  it("are ignored and reported, even the one under a setting's name (mqtt.port keeps its other sources)", () => {
    const ignored: string[] = [];
    const cfg = loadConfig({ env: { ...links, SHARDMQ_CONFIG: file('{"mqtt":{"port":1999}}') }, onIgnoredEnv: (i) => ignored.push(`${i.name}${i.shadowsSetting ? '!' : ''}`) });
    assert.equal(cfg['mqtt.port'], 1999);
    assert.deepEqual(
      ignored.sort(),
      Object.keys(links)
        .map((k) => (k === 'SHARDMQ_MQTT_PORT' ? `${k}!` : k))
        .sort(),
    );
  });

  it('a real typo next to them is still refused, and so is a link-shaped name with a value of another shape', () => {
    assert.match(
      configError(() => loadConfig({ env: { ...links, SHARDMQ_MQTT_MAX_PACKET_BYTE: '1024' } })),
      /SHARDMQ_MQTT_MAX_PACKET_BYTE/,
    );
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_MQTT_SERVICE_PORT: 'high' } })),
      /SHARDMQ_MQTT_SERVICE_PORT/,
    );
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_MQTT_PORT_1883_TCP: 'tcp://10.96.0.11:1884' } })),
      /SHARDMQ_MQTT_PORT_1883_TCP/,
    );
    assert.match(
      configError(() => loadConfig({ env: { SHARDMQ_MQTT_PORT: '18a3' } })),
      /mqtt\.port/,
    );
  });
});
