import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runFleetOnOwnCluster } from '../../loadtest/src/fleet/fleet-on-own-cluster.js';

/**
 * The load generator's fleet scenario in kill mode, briefly, against a real cluster it starts
 * itself (nats-server with JetStream on file, 2 session actors, a router, auth, 2 gateways): 50
 * persistent devices (half MQTT 3.1.1, half MQTT 5 with a Will Delay), QoS 1 telemetry to a `$share`
 * backend and QoS 1 commands back, for 15 s; gateway 1 is killed -9 at 5 s and started again 3 s later.
 * Its devices (and backend members, and the Will watcher) come back through gateway 2.
 *
 * Asserted:
 * - no acknowledged telemetry or command is lost, no persistent session is lost;
 * - the Wills follow the spec for what each device saw: a 3.1.1 device whose connection died without
 *   DISCONNECT publishes its Will [MQTT-3.1.2-8]; an MQTT 5 device back before its Will Delay ran out
 *   publishes none [MQTT-3.1.3-9]; a device that never lost its connection publishes none;
 * - and the run really exercised that: the kill happened, devices lost connections, both kinds of Will
 *   verdict occurred.
 * Larger runs by hand: `node dist/loadtest/src/cli.js fleet --cluster ...` (loadtest/README.md).
 */
test('fleet scenario: kill -9 of a gateway mid-run loses no acknowledged message, and Wills fire only as the spec says', { timeout: 240_000 }, async () => {
  const r = await runFleetOnOwnCluster(
    {
      devices: 50,
      v5Percent: 50,
      willDelayS: 10,
      intervalS: 1,
      commandRatePerS: 25,
      consumers: 3,
      durationS: 15,
      drainTimeoutS: 60,
      reconnectPeriodMs: 500,
      // 3 gateway heartbeat periods (1 s each) plus slack for a loaded machine.
      willLateNoticeMs: 8000,
    },
    {
      topology: { gateways: 2, sessions: 2, routers: 1, env: { SHARDMQ_SHARDS: '64' } },
      startTimeoutMs: 60_000,
      kill: { tier: 'gateway', index: 0, atS: 5, restartAfterS: 3 },
    },
  );
  const summary = JSON.stringify({
    telemetry: { ...r.telemetry, latency: undefined, ackLatency: undefined },
    commands: { ...r.commands, latency: undefined, ackLatency: undefined },
    wills: r.wills,
    kill: r.kill,
    failures: r.failures,
  });
  console.log(`# ${summary}`);

  assert.ok(r.kill?.killedAtS !== undefined && r.kill.restartedAtS !== undefined, `gateway 1 was killed and restarted: ${JSON.stringify(r.kill)}`);
  assert.ok(r.devicesDisconnected >= 1, 'devices of the killed gateway lost their connection');
  assert.ok(r.telemetry.acknowledged > 0 && r.commands.acknowledged > 0, 'traffic flowed both ways');

  assert.equal(r.telemetry.lost, 0, `acknowledged telemetry lost, e.g. ${JSON.stringify(r.telemetry.lostExamples)}`);
  assert.equal(r.commands.lost, 0, `acknowledged commands lost, e.g. ${JSON.stringify(r.commands.lostExamples)}`);
  assert.equal(r.sessionsLost, 0, 'every reconnect found its persistent session');

  assert.equal(r.wills.unexpected, 0, 'no Will beyond what the lost connections allow');
  assert.equal(r.wills.missing, 0, 'every Will that had to fire did');
  assert.ok(r.wills.mustFire >= 1, 'some 3.1.1 devices lost their connection (their Wills had to fire)');
  assert.ok(r.wills.mustNotFire >= 1, 'some MQTT 5 devices came back within their Will Delay (their Wills must not fire)');
  assert.deepEqual(r.failures, []);
});
