import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mapJwtClaims } from '../../auth-service/src/jwt/jwt-claims.js';
import { passwordAsJwt } from '../../auth-service/src/jwt/looks-like-jwt.js';

const names = { clientId: 'clientid', username: 'username', publishAcl: 'publish_acl', subscribeAcl: 'subscribe_acl' };

test('claims bind the token to a client id and user name', () => {
  const req = { mountpoint: '', clientId: 'dev-1', username: 'jwt' };
  assert.deepEqual(mapJwtClaims({ clientid: 'dev-2' }, req, names), { kind: 'deny', reason: 'token is for another client id' });
  assert.deepEqual(mapJwtClaims({ username: 'alice' }, req, names), { kind: 'deny', reason: 'token is for another user name' });
  assert.equal(mapJwtClaims({ username: 7 }, { mountpoint: '', clientId: 'dev-1' }, names).kind, 'deny');
  const ok = mapJwtClaims({ clientid: 'dev-1', username: 'alice' }, { mountpoint: '', clientId: 'dev-1' }, names);
  assert.equal(ok.kind === 'allow' && ok.username, 'alice', 'MQTT 5 without user name: the claim names the user');
});

test('ACL claims use the VerneMQ shape with %c %u %m; configurable claim names; defaults when absent', () => {
  const req = { mountpoint: 'mp', clientId: 'dev-1' };
  const d = mapJwtClaims({ username: 'alice', pub: [{ pattern: 'devices/%c/up', max_qos: 1 }], sub: [{ pattern: '%m/%u/#' }] }, req, { ...names, publishAcl: 'pub', subscribeAcl: 'sub' });
  assert.equal(d.kind, 'allow');
  if (d.kind !== 'allow') return;
  assert.deepEqual(
    d.acl.publish.map((r) => [r.pattern, r.maxQos, r.wildcard]),
    [['devices/dev-1/up', 1, false]],
  );
  assert.deepEqual(
    d.acl.subscribe.map((r) => r.pattern),
    ['mp/alice/#'],
  );

  const none = mapJwtClaims({}, req, names);
  assert.deepEqual(none.kind === 'allow' && none.acl, { publish: [], subscribe: [] }, 'no ACL claim, no default: nothing allowed');
  const dflt = mapJwtClaims({}, req, names, { publish: [{ pattern: 'devices/%c/#' }] });
  assert.deepEqual(dflt.kind === 'allow' && dflt.acl.publish.map((r) => r.pattern), ['devices/dev-1/#']);
});

test('an ACL claim that is not a list is malformed; an unsafe substitution drops the entry', () => {
  assert.equal(mapJwtClaims({ publish_acl: { pattern: '#' } }, { mountpoint: '', clientId: 'c' }, names).kind, 'malformed');
  const d = mapJwtClaims({ username: '+', publish_acl: [{ pattern: 'd/%u/#' }] }, { mountpoint: '', clientId: 'c' }, names);
  assert.equal(d.kind, 'allow');
  assert.deepEqual(d.kind === 'allow' && d.acl.publish, []);
  assert.ok(d.kind === 'allow' && d.warnings.length === 1);
});

test('only JWT-shaped passwords are read as tokens', () => {
  const header = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
  const payload = Buffer.from('{"sub":"x"}').toString('base64url');
  const token = `${header}.${payload}.c2lnbmF0dXJl`;
  assert.equal(passwordAsJwt(Buffer.from(token)), token);
  for (const p of ['s3cret-password', 'a.b.c', `${Buffer.from('{"typ":"JWT"}').toString('base64url')}.${payload}.c2ln`, `${header}.${payload}`, 'x'.repeat(20000)]) {
    assert.equal(passwordAsJwt(Buffer.from(p)), undefined, p.slice(0, 40));
  }
  assert.equal(passwordAsJwt(undefined), undefined);
});
