import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeOutage, judgeWills, type Outage, type WillTiming } from '../../loadtest/src/fleet/will-expectation.js';

const t: WillTiming = { earlyNoticeMs: 1000, lateNoticeMs: 5000, watchedUntilMs: 100_000 };
const out = (lostAtMs: number, backAtMs: number | undefined, abandonedConnects = 0): Outage => ({ lostAtMs, backAtMs, abandonedConnects });
const device = (protocolVersion: number, willDelayS: number, outages: Outage[], willsReceived: number, abandonedFirstConnects = 0) => ({
  protocolVersion,
  willDelayS,
  outages,
  willsReceived,
  abandonedFirstConnects,
});

test('a 3.1.1 device whose connection died must publish its Will, once per lost connection [MQTT-3.1.2-8]', () => {
  assert.equal(judgeOutage({ protocolVersion: 4, willDelayS: 30 }, out(1000, 1500), t), 'must-fire');
  const r = judgeWills([device(4, 30, [out(1000, 1500), out(9000, 9100)], 1)], t);
  assert.deepEqual({ mustFire: r.mustFire, missing: r.missing, unexpected: r.unexpected }, { mustFire: 2, missing: 1, unexpected: 0 });
});

test('a 3.1.1 device still away shortly before the end is undecided: the broker may not have noticed yet', () => {
  assert.equal(judgeOutage({ protocolVersion: 4, willDelayS: 0 }, out(98_000, undefined), t), 'undecided');
  assert.equal(judgeOutage({ protocolVersion: 4, willDelayS: 0 }, out(50_000, undefined), t), 'must-fire');
});

test('an MQTT 5 device back within its Will Delay must not publish its Will [MQTT-3.1.3-9]; away past it plus the notice time, it must', () => {
  const d = { protocolVersion: 5, willDelayS: 10 };
  assert.equal(judgeOutage(d, out(0, 2000), t), 'must-not-fire');
  assert.equal(judgeOutage(d, out(0, 9500), t), 'undecided'); // within the early-notice margin
  assert.equal(judgeOutage(d, out(0, 12_000), t), 'undecided'); // the broker may have noticed late
  assert.equal(judgeOutage(d, out(0, 16_000), t), 'must-fire');
  assert.equal(judgeOutage(d, out(0, undefined), t), 'must-fire');
});

test('Wills of devices that never lost a connection, or came back in time, are unexpected; undecided ones may fire or not', () => {
  const r = judgeWills([device(4, 0, [], 1), device(5, 10, [out(0, 1000)], 1), device(5, 10, [out(0, 12_000)], 1), device(5, 10, [out(0, 12_000)], 0)], t);
  assert.deepEqual(
    { ...r, unexpectedExamples: r.unexpectedExamples.map((e) => e.device) },
    { fired: 3, mustFire: 0, missing: 0, mustNotFire: 1, unexpected: 2, undecided: 2, unexpectedExamples: [0, 1] },
  );
});

test('a 3.1.1 connect the device gave up on may have been accepted: one more Will is allowed per such attempt, none for MQTT 5', () => {
  const r = judgeWills([device(4, 0, [out(0, 20_000, 2)], 3), device(4, 0, [], 1, 1), device(5, 10, [out(0, 2000, 1)], 1)], t);
  assert.deepEqual({ mustFire: r.mustFire, undecided: r.undecided, unexpected: r.unexpected }, { mustFire: 1, undecided: 3, unexpected: 1 });
  assert.deepEqual(
    r.unexpectedExamples.map((e) => e.device),
    [2],
  );
});
