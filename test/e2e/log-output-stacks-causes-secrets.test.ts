import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import mqtt from 'mqtt';
import { spawnProcess, type ManagedProcess } from '../support/processes.js';
import { CLI, shardmqCli } from '../support/shardmq-cli.js';

/**
 * The log of a real broker process, in both formats: a start-up failure is logged with its stack
 * and its cause (the system error under it), secrets given to the process (a database URL with a
 * password, the admin token, the NATS password) never appear, and the pretty format prints
 * readable lines, connect and disconnect lines included. The broker mode does not apply to a
 * start-up failure; the cluster's lines are checked in client-lines-and-trace.test.ts.
 */

const DB_PASSWORD = 'Db-Pa55-in-url';
const ADMIN_TOKEN = 'admin-token-never-logged';
const NATS_PASSWORD = 'nats-pw-never-logged';

/** Holds a TCP port, so the broker's HTTP listener cannot have it. */
async function takenPort(): Promise<{ port: number; close: () => void }> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

const secretEnv = (httpPort: number) => ({
  SHARDMQ_HTTP_PORT: String(httpPort),
  SHARDMQ_MQTT_HOST: '127.0.0.1',
  SHARDMQ_MQTT_PORT: '0',
  SHARDMQ_AUTH_DATABASE_URL: `postgres://shardmq:${DB_PASSWORD}@127.0.0.1:1/mqtt`,
  SHARDMQ_ADMIN_TOKEN: ADMIN_TOKEN,
  SHARDMQ_NATS_PASSWORD: NATS_PASSWORD,
});

function assertNoSecrets(out: string): void {
  for (const s of [DB_PASSWORD, ADMIN_TOKEN, NATS_PASSWORD]) assert.ok(!out.includes(s), `the log shows the secret ${s}:\n${out}`);
}

describe('log of a start-up failure (json)', () => {
  test('the error has its stack and its cause chain; no secret is printed', async () => {
    const taken = await takenPort();
    try {
      const r = await shardmqCli(['start'], secretEnv(taken.port));
      assert.equal(r.code, 1, r.out);
      assertNoSecrets(r.out);
      const lines = r.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, any>);
      const starting = lines.find((l) => l.msg === 'starting');
      assert.ok(starting, r.stderr);
      assert.equal(starting.config['admin.token'], '***');
      assert.equal(starting.config['nats.password'], '***');
      assert.equal(starting.config['auth.databaseUrl'], '***');
      const failed = lines.find((l) => l.msg === 'start-up failed');
      assert.ok(failed, r.stderr);
      assert.equal(failed.level, 'error');
      assert.match(failed.err.message, /setting http\.port .* already in use/);
      assert.match(failed.err.stack, /already in use[^\n]*\n\s+at /);
      assert.equal(failed.err.cause.code, 'EADDRINUSE');
      assert.match(failed.err.cause.stack, /EADDRINUSE[^\n]*\n\s+at /);
    } finally {
      taken.close();
    }
  });
});

describe('log of a start-up failure (pretty)', () => {
  test('a readable line, the stack and the cause indented below it; no secret is printed', async () => {
    const taken = await takenPort();
    try {
      const r = await shardmqCli(['start'], { ...secretEnv(taken.port), SHARDMQ_LOG_FORMAT: 'pretty' });
      assert.equal(r.code, 1, r.out);
      assertNoSecrets(r.out);
      assert.ok(!r.stderr.includes('{"level"'), `no JSON lines in pretty mode:\n${r.stderr}`);
      assert.match(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}starting /m);
      assert.match(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} ERROR start-up failed err="Error: setting http\.port/m);
      assert.match(r.stderr, /^ {4}Error: setting http\.port[^\n]*\n {8}at /m);
      assert.match(r.stderr, /^ {4}caused by: Error: listen EADDRINUSE[^\n]*\n {8}at /m);
    } finally {
      taken.close();
    }
  });
});

describe('pretty log of a running broker', () => {
  let proc: ManagedProcess;
  let mqttPort: number;
  before(async () => {
    proc = await spawnProcess(process.execPath, [CLI, 'start'], {
      name: 'shardmq-pretty',
      env: { ...secretEnv(0), SHARDMQ_AUTH_DATABASE_URL: undefined, SHARDMQ_LOG_FORMAT: 'pretty', SHARDMQ_LOG_LEVEL: 'info' },
      readyLine: /^\S+ INFO {2}ready /,
      readyTimeoutMs: 20_000,
    });
    const ready = /INFO {2}ready .*\bmqttPort=(\d+)/.exec(proc.output());
    assert.ok(ready, proc.output());
    mqttPort = Number(ready[1]);
  });
  after(async () => {
    await proc?.stop();
  });

  test('connect and disconnect lines read as text with their fields', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      clientId: 'pretty-1',
      protocolVersion: 5,
      keepalive: 42,
      username: 'dev-user',
      password: 'client-pw-never-logged',
      reconnectPeriod: 0,
    });
    await proc.waitForLine(/INFO {2}client connected .*clientId=pretty-1 username=dev-user peer=127\.0\.0\.1:\d+ listener=tcp protocolLevel=5 keepaliveS=42 cleanStart=true gateway=\S+/, 15_000);
    await c.endAsync();
    await proc.waitForLine(/INFO {2}client disconnected .*clientId=pretty-1 peer=127\.0\.0\.1:\d+ reason=client_disconnect durationMs=\d+/, 15_000);
    assertNoSecrets(proc.output());
    assert.ok(!proc.output().includes('client-pw-never-logged'));
  });
});
