import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { envName } from '../../common/src/config/setting.js';
import { settings } from '../../common/src/config/settings.js';
import { CLI, shardmqCli as shardmq } from '../support/shardmq-cli.js';

/** `shardmq --version`, `--help` for every command, `config print` and `config check`, run as real processes. */

const ROOT = join(CLI, '..', '..', '..');
const COMMANDS = ['start', 'config', 'user', 'clients', 'cluster', 'publish', 'help'];

describe('shardmq --version and --help', () => {
  test('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await shardmq(['--version']);
    assert.equal(r.code, 0, r.out);
    assert.equal(r.stdout, `${pkg.version}\n`);
  });

  test('--help and help list every command; no command at all prints the same on stderr with exit 2', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await shardmq(args);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, /^usage: shardmq <command>/);
      for (const c of [...COMMANDS, 'config print', 'config check', '--version']) assert.ok(r.stdout.includes(`  ${c}`), `${args.join(' ')} lists ${c}`);
    }
    const bare = await shardmq([]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /^usage: shardmq <command>/);
  });

  test('every command has its own --help (and help <command>), exit 0, without reading the configuration', async () => {
    // An invalid setting in the environment must not stop help from printing.
    const env = { SHARDMQ_MQTT_PROT: '1883' };
    for (const c of COMMANDS) {
      for (const args of [
        [c, '--help'],
        ['help', c],
      ]) {
        const r = await shardmq(args, env);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.out}`);
        const head = c === 'help' ? 'usage: shardmq <command>' : `usage: shardmq ${c}`;
        assert.ok(r.stdout.startsWith(head), `${args.join(' ')} starts with "${head}": ${r.stdout}`);
      }
    }
    for (const sub of ['print', 'check']) {
      const r = await shardmq(['config', sub, '--help'], env);
      assert.equal(r.code, 0, r.out);
      assert.match(r.stdout, /usage: shardmq config <print\|check>/);
    }
    const userHelp = await shardmq(['user', '--help']);
    assert.match(userHelp.stdout, /\n {2}add <username>/, 'the user usage prints one line per subcommand');
  });

  test('an unknown command, or help for one, exits 2 naming it', async () => {
    for (const args of [['frobnicate'], ['help', 'frobnicate']]) {
      const r = await shardmq(args);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command "frobnicate"/);
    }
  });
});

describe('shardmq config print', () => {
  test('prints every setting with the effective value (defaults < env < flags); secrets and URL passwords are masked', async () => {
    const env: Record<string, string> = {
      SHARDMQ_AUTH_DATABASE_URL: 'postgres://shardmq:Db-Secret-1@db.example:5432/mqtt?sslmode=require',
      SHARDMQ_NATS_URL: 'nats://natsuser:Nats-Url-Secret@127.0.0.1:4222',
      SHARDMQ_MQTT_PORT: '1884',
    };
    // Every setting marked secret gets a value that must not appear.
    const secrets: string[] = ['Db-Secret-1', 'Nats-Url-Secret'];
    for (const [key, s] of Object.entries(settings)) {
      if (!s.secret) continue;
      const value = `Secret-of-${key.replace(/\W/g, '-')}`;
      env[envName(key)] = s.type === 'url' ? `postgres://u:${value}@h/db` : value;
      secrets.push(value);
    }
    assert.ok(secrets.length >= 5, 'the registry has secret settings to check');
    const r = await shardmq(['config', 'print', '--mqtt-port', '1885', '--log-level=debug'], env);
    assert.equal(r.code, 0, r.out);
    for (const s of secrets) assert.ok(!r.out.includes(s), `output holds ${s}`);
    const shown = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.deepEqual(Object.keys(shown).sort(), Object.keys(settings).sort());
    assert.equal(shown['mqtt.port'], 1885, 'the flag wins over the env var');
    assert.equal(shown['log.level'], 'debug');
    assert.equal(shown['mqtt.maxPacketBytes'], settings['mqtt.maxPacketBytes'].default);
    assert.equal(shown['nats.url'], 'nats://natsuser:***@127.0.0.1:4222');
    for (const [key, s] of Object.entries(settings)) if (s.secret && s.type !== 'url') assert.equal(shown[key], '***', key);
  });

  test('an invalid configuration is not printed: exit 1 naming the setting', async () => {
    const r = await shardmq(['config', 'print'], { SHARDMQ_MQTT_PORT: 'high' });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /mqtt\.port \(SHARDMQ_MQTT_PORT \/ --mqtt-port\)/);
  });
});

describe('shardmq config check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shardmq-cli-check-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a valid configuration: exit 0 and "ok" with the roles', async () => {
    const r = await shardmq(['config', 'check'], { SHARDMQ_ROLES: 'gateway', SHARDMQ_NATS_URL: 'nats://127.0.0.1:4222' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.stdout, /^ok: configuration is valid \(roles: gateway\)/);
  });

  test('each kind of mistake: exit 1 with the error naming the setting', async () => {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ mqtt: { maxPacketBytes: 'big' } }));
    const cases: [string[], Record<string, string>, RegExp][] = [
      [['--mqtt-port', 'abc'], {}, /mqtt\.port \(SHARDMQ_MQTT_PORT \/ --mqtt-port\)/],
      [[], { SHARDMQ_MQTT_MAX_PACKET_BYTE: '1024' }, /unknown setting SHARDMQ_MQTT_MAX_PACKET_BYTE/],
      [['--mqtt-prot', '1'], {}, /unknown flag --mqtt-prot/],
      [['--config', file], {}, /mqtt\.maxPacketBytes .*bad\.json/],
      [[], { SHARDMQ_ROLES: 'router' }, /SHARDMQ_NATS_URL/],
    ];
    for (const [args, env, re] of cases) {
      const r = await shardmq(['config', 'check', ...args], env);
      assert.equal(r.code, 1, `${args.join(' ')} ${JSON.stringify(env)}: ${r.out}`);
      assert.match(r.stderr, re);
    }
  });

  test('Kubernetes service links are accepted and listed on stderr', async () => {
    const r = await shardmq(['config', 'check'], { SHARDMQ_MQTT_SERVICE_HOST: '10.96.0.11', SHARDMQ_MQTT_PORT: 'tcp://10.96.0.11:1883' });
    assert.equal(r.code, 0, r.out);
    assert.match(r.stderr, /service-link variables: .*SHARDMQ_MQTT_PORT/);
  });
});
