import assert from 'node:assert/strict';
import { test } from 'node:test';
import { subjectSpace } from '../../common/src/subjects.js';

test('per-message subjects are built once per shard or id and reused; unsafe ids are refused every time', () => {
  const s = subjectSpace('pfx');
  assert.equal(s.sessionIn(0), 'pfx.sess.0.in');
  assert.equal(s.sessionIn(65535), 'pfx.sess.65535.in');
  assert.equal(s.sessionIn(7), s.sessionIn(7));
  assert.equal(s.gatewayOut('gw-1'), 'pfx.gw.gw-1.out');
  assert.equal(s.gatewayOut('gw-1'), 'pfx.gw.gw-1.out');
  assert.equal(s.routePublishTo('r_2'), 'pfx.route.v1.pub.r_2');
  assert.equal(s.routePublishTo('r_2'), 'pfx.route.v1.pub.r_2');
  for (let round = 0; round < 2; round++) {
    assert.throws(() => s.gatewayOut('a.b'), /gateway id must match/);
    assert.throws(() => s.routePublishTo('>'), /router id must match/);
  }
  // Another prefix has its own subjects, and many ids (past the cache bound) all stay right.
  const other = subjectSpace('other');
  assert.equal(other.sessionIn(7), 'other.sess.7.in');
  for (let i = 0; i < 10_000; i++) assert.equal(s.gatewayOut(`g${i}`), `pfx.gw.g${i}.out`);
  assert.equal(s.gatewayOut('gw-1'), 'pfx.gw.gw-1.out');
});
