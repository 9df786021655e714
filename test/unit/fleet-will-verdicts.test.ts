import assert from 'node:assert/strict';
import { test } from 'node:test';
import { judgeOutage, judgeWills, type WillTiming } from '../../loadtest/src/fleet/will-expectation.js';

const t: WillTiming = { earlyNoticeMs: 1000, lateNoticeMs: 5000, watchedUntilMs: 100_000 };

test('a 3.1.1 device whose connection died must publish its Will, once per lost connection [MQTT-3.1.2-8]', () => {
  const d = { protocolVersion: 4, willDelayS: 30 };
  assert.equal(judgeOutage(d, { lostAtMs: 1000, backAtMs: 1500 }, t), 'must-fire');
  const r = judgeWills([{ ...d, outages: [{ lostAtMs: 1000, backAtMs: 1500 }, { lostAtMs: 9000, backAtMs: 9100 }], willsReceived: 1 }], t);
  assert.deepEqual({ mustFire: r.mustFire, missing: r.missing, unexpected: r.unexpected }, { mustFire: 2, missing: 1, unexpected: 0 });
});

test('a 3.1.1 device still away shortly before the end is undecided: the broker may not have noticed yet', () => {
  assert.equal(judgeOutage({ protocolVersion: 4, willDelayS: 0 }, { lostAtMs: 98_000, backAtMs: undefined }, t), 'undecided');
  assert.equal(judgeOutage({ protocolVersion: 4, willDelayS: 0 }, { lostAtMs: 50_000, backAtMs: undefined }, t), 'must-fire');
});

test('an MQTT 5 device back within its Will Delay must not publish its Will [MQTT-3.1.3-9]; away past it plus the notice time, it must', () => {
  const d = { protocolVersion: 5, willDelayS: 10 };
  assert.equal(judgeOutage(d, { lostAtMs: 0, backAtMs: 2000 }, t), 'must-not-fire');
  assert.equal(judgeOutage(d, { lostAtMs: 0, backAtMs: 9500 }, t), 'undecided'); // within the early-notice margin
  assert.equal(judgeOutage(d, { lostAtMs: 0, backAtMs: 12_000 }, t), 'undecided'); // the broker may have noticed late
  assert.equal(judgeOutage(d, { lostAtMs: 0, backAtMs: 16_000 }, t), 'must-fire');
  assert.equal(judgeOutage(d, { lostAtMs: 0, backAtMs: undefined }, t), 'must-fire');
});

test('Wills of devices that never lost a connection, or came back in time, are unexpected; undecided ones may fire or not', () => {
  const r = judgeWills(
    [
      { protocolVersion: 4, willDelayS: 0, outages: [], willsReceived: 1 },
      { protocolVersion: 5, willDelayS: 10, outages: [{ lostAtMs: 0, backAtMs: 1000 }], willsReceived: 1 },
      { protocolVersion: 5, willDelayS: 10, outages: [{ lostAtMs: 0, backAtMs: 12_000 }], willsReceived: 1 },
      { protocolVersion: 5, willDelayS: 10, outages: [{ lostAtMs: 0, backAtMs: 12_000 }], willsReceived: 0 },
    ],
    t,
  );
  assert.deepEqual(r, { fired: 3, mustFire: 0, missing: 0, mustNotFire: 1, unexpected: 2, undecided: 2 });
});
