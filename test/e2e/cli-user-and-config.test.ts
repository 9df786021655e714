import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBroker, type Broker } from '../support/broker.js';
import { ClientPool } from '../support/mqtt-clients.js';
import { shardmqCli as shardmq } from '../support/shardmq-cli.js';
import { startPostgres, type PostgresHandle } from '../support/postgres.js';
import { applyVmqMigration } from '../support/vmq-db.js';

describe('the shardmq CLI', () => {
  test('an unknown setting stops start-up with exit 2, naming it', async () => {
    const r = await shardmq(['start'], { SHARDMQ_MQTT_PROT: '1883' });
    assert.equal(r.code, 2);
    assert.match(r.out, /SHARDMQ_MQTT_PROT/);
  });

  test('an invalid value stops start-up naming the setting, env var and flag', async () => {
    const r = await shardmq(['start', '--mqtt-port', 'abc']);
    assert.equal(r.code, 2);
    assert.match(r.out, /mqtt\.port \(SHARDMQ_MQTT_PORT \/ --mqtt-port\)/);
  });

  test('partial roles without a NATS URL are refused', async () => {
    const r = await shardmq(['start'], { SHARDMQ_ROLES: 'gateway' });
    assert.equal(r.code, 2);
    assert.match(r.out, /SHARDMQ_NATS_URL/);
  });
});

describe('shardmq user against PostgreSQL, then a device connects with it', () => {
  let db: PostgresHandle;
  let broker: Broker;
  const pool = new ClientPool();
  before(async () => {
    db = await startPostgres();
    await applyVmqMigration(db);
    broker = await startBroker('single', { env: { SHARDMQ_AUTH_DATABASE_URL: db.url } });
  });
  after(async () => {
    await pool.closeAll();
    await broker?.stop();
    await db?.destroy();
  });

  test('user add writes a $2a$ hash that PostgreSQL crypt() verifies; the device connects; a wrong password is refused', async () => {
    const env = { SHARDMQ_AUTH_DATABASE_URL: db.url };
    const add = await shardmq(['user', 'add', 'dev-cli', '--password', 's3cret', '--publish-acl', '[{"pattern":"t/%u/#"}]', '--subscribe-acl', '[{"pattern":"t/%u/#"}]'], env);
    assert.equal(add.code, 0, add.out);
    assert.doesNotMatch(add.out, /s3cret/, 'the password is never printed');
    const { rows } = await db.query<{ password: string; ok: boolean }>(`SELECT password, password = crypt('s3cret', password) AS ok FROM vmq_auth_acl WHERE username = 'dev-cli'`);
    const row = rows[0]!;
    assert.match(row.password, /^\$2a\$/);
    assert.equal(row.ok, true);
    const list = await shardmq(['user', 'list'], env);
    assert.match(list.out, /dev-cli/);
    assert.equal(list.out.includes(row.password), false, 'list never shows the hash itself');
    const c = await pool.connect(broker.url(), { clientId: 'cli-device', username: 'dev-cli', password: 's3cret', protocolVersion: 4 });
    assert.equal(c.connected, true);
    const code = await pool.refused(broker.url(), { clientId: 'cli-device-2', username: 'dev-cli', password: 'wrong', protocolVersion: 4 });
    assert.equal(code, 4, '3.1.1 CONNACK 0x04 bad user name or password');
  });
});
