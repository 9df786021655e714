import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayLiveness } from '../../session-actor/src/runner/gateway-liveness.js';

test('a gateway silent for three heartbeat periods, or stopping, is declared gone once', () => {
  let now = 0;
  const gone: string[] = [];
  const g = new GatewayLiveness(
    1000,
    () => now,
    (gw, why) => gone.push(`${gw} ${why}`),
  );
  g.heard('gw1', false);
  g.knowOf('gw2');
  now = 2500;
  g.heard('gw1', false);
  g.check();
  assert.deepEqual(gone, []);
  now = 3100;
  g.check();
  assert.deepEqual(gone, ['gw2 silent']);
  g.check();
  assert.deepEqual(gone, ['gw2 silent'], 'declared once');
  g.heard('gw1', true);
  assert.deepEqual(gone, ['gw2 silent', 'gw1 stopping']);
});

test('a gateway heard of before a loaded session names it keeps its own clock', () => {
  let now = 0;
  const gone: string[] = [];
  const g = new GatewayLiveness(
    1000,
    () => now,
    (gw) => gone.push(gw),
  );
  g.heard('gw1', false);
  now = 2000;
  g.knowOf('gw1'); // does not restart the clock
  now = 3100;
  g.check();
  assert.deepEqual(gone, ['gw1']);
});

test('a gateway whose bus connection came back (its reconnection count grew) is reported once per reconnection', () => {
  const back: string[] = [];
  const g = new GatewayLiveness(
    1000,
    () => 0,
    () => {},
    (gw) => back.push(gw),
  );
  g.heard('gw1', false, 0);
  g.heard('gw1', false, 0);
  assert.deepEqual(back, []);
  g.heard('gw1', false, 1);
  g.heard('gw1', false, 1);
  assert.deepEqual(back, ['gw1']);
  // First heard with a count already above 0 (this owner started later): nothing to resend.
  g.heard('gw2', false, 3);
  assert.deepEqual(back, ['gw1']);
  g.heard('gw2', false, 4);
  assert.deepEqual(back, ['gw1', 'gw2']);
});
