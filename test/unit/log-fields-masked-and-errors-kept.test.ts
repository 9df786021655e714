import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, type LogFormat } from '../../common/src/log.js';
import { ClientEventLog } from '../../gateway/src/client-event-log.js';
import type { Connection } from '../../gateway/src/connection.js';
import { createConnState } from '../../gateway/src/protocol/conn-state.js';
import { traceFields } from '../../gateway/src/protocol/trace-fields.js';

/**
 * The logger's rules on every line, in both formats: secret fields and URL passwords masked at
 * any depth (error messages and stacks included), settings that only look like secrets kept,
 * Errors written with their cause chain, the message before the fields; and the client trace's
 * packet description never holding a payload or a password.
 */

function logged(format: LogFormat, write: (log: ReturnType<typeof createLogger>) => void): string {
  const out: string[] = [];
  write(createLogger('debug', { node: 'n1' }, (l) => out.push(l), format));
  return out.join('');
}

test('secret fields and URL passwords are masked at any depth; look-alike settings are kept', () => {
  for (const format of ['json', 'pretty'] as const) {
    const out = logged(format, (log) =>
      log.info('config', {
        config: { 'admin.token': 'tok-1', 'nats.password': 'pw-2', 'auth.databaseUrl': 'postgres://u:pw-3@h/db', 'auth.passwordMethod': 'bcrypt' },
        headers: { authorization: 'Bearer tok-4' },
        url: 'nats://a:pw-5@n:4222',
        dsn: 'host=h password=pw-6 user=u',
        list: [{ password: 'pw-7' }],
      }),
    );
    for (const s of ['tok-1', 'pw-2', 'pw-3', 'tok-4', 'pw-5', 'pw-6', 'pw-7']) assert.ok(!out.includes(s), `${format}: ${s} shown in ${out}`);
    assert.match(out, /bcrypt/, `${format}: auth.passwordMethod is no secret`);
    assert.match(out, /nats:\/\/a:\*\*\*@n:4222/);
  }
});

test('an Error is written with its stack and cause chain, URL passwords masked inside', () => {
  const inner = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
  const err = new Error('database postgres://u:pw-8@h/db unreachable', { cause: inner });
  const json = logged('json', (log) => log.warn('db down', { err }));
  const rec = JSON.parse(json) as Record<string, any>;
  assert.deepEqual(Object.keys(rec).slice(0, 4), ['level', 't', 'msg', 'node']);
  assert.equal(rec.level, 'warn');
  assert.equal(rec.err.message, 'database postgres://u:***@h/db unreachable');
  assert.match(rec.err.stack, /^Error: database postgres:\/\/u:\*\*\*@h\/db unreachable\n\s+at /);
  assert.equal(rec.err.cause.code, 'ECONNREFUSED');
  assert.match(rec.err.cause.stack, /^Error: connect ECONNREFUSED\n\s+at /);
  assert.ok(!json.includes('pw-8'));
  const pretty = logged('pretty', (log) => log.error('db down', { err }));
  assert.match(pretty, /^\d\d:\d\d:\d\d\.\d{3} ERROR db down node=n1 err="Error: database postgres:\/\/u:\*\*\*@h\/db unreachable"\n {4}Error: database/);
  assert.match(pretty, /\n {4}caused by: Error: connect ECONNREFUSED\n {8}at /);
  assert.ok(!pretty.includes('pw-8'));
});

test('below the level nothing is written; child fields come after the message', () => {
  const out: string[] = [];
  const log = createLogger('warn', {}, (l) => out.push(l)).child({ role: 'gateway' });
  log.info('not shown');
  log.warn('shown', { a: 1 });
  assert.equal(out.length, 1);
  assert.match(out[0]!, /^\{"level":"warn","t":"[^"]+","msg":"shown","role":"gateway","a":1\}\n$/);
  assert.equal(log.enabled('info'), false);
});

test('a traced packet is described without its payload, password or property values', () => {
  const connect = traceFields({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'd1',
    clean: true,
    keepalive: 30,
    username: 'u',
    password: Buffer.from('pw-9'),
    will: { topic: 'w', payload: Buffer.from('will-body'), qos: 1, retain: false },
    properties: { userProperties: { k: 'v-10' } },
  });
  assert.deepEqual(connect, {
    type: 'connect',
    protocolLevel: 5,
    clientId: 'd1',
    cleanStart: true,
    keepaliveS: 30,
    username: 'u',
    withPw: true,
    will: { topic: 'w', qos: 1, retain: false, payloadBytes: 9 },
    properties: ['userProperties'],
  });
  const pub = traceFields({ cmd: 'publish', topic: 't/1', payload: Buffer.from('secret body'), qos: 2, dup: false, retain: true, messageId: 7 });
  assert.deepEqual(pub, { type: 'publish', packetId: 7, topic: 't/1', qos: 2, dup: false, retain: true, payloadBytes: 11 });
  assert.ok(!JSON.stringify([connect, pub]).match(/pw-9|will-body|secret body|v-10/));
});

test('log.clientEvents=false writes no connect or disconnect line; true writes one each way', () => {
  for (const enabled of [false, true]) {
    const out: string[] = [];
    const conn = { state: createConnState(1, '192.0.2.1:5000', '', 0), listener: 'tcp', connectedAt: 0 } as unknown as Connection;
    const events = new ClientEventLog(
      createLogger('info', {}, (l) => out.push(l)),
      'gw-1',
      enabled,
    );
    events.connected(conn);
    events.disconnected(conn, 1500);
    assert.equal(out.length, enabled ? 2 : 0);
    if (enabled) assert.match(out[1]!, /"msg":"client disconnected".*"peer":"192\.0\.2\.1:5000","reason":"connection_lost","durationMs":1500/);
  }
});
