import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CredentialCache } from '../../auth-service/src/cache/credential-cache.js';
import { cachePolicy, parseCacheControl } from '../../auth-service/src/http/cache-control.js';
import { decideHttpAnswer, httpAuthRequestBody } from '../../auth-service/src/http/http-answer.js';
import { jitterDelayMs } from '../../auth-service/src/http/retry-with-jitter.js';
import { AuthProtocolError, decodeAuthorizeReply, decodeAuthorizeRequest, encodeAuthorizeReply, encodeAuthorizeRequest } from '../../common/src/auth-contract/auth-protocol.js';

const ctx = { mountpoint: '', clientId: 'dev-1', username: 'fleet' };
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

test('allow carries VerneMQ-shaped ACLs, compiled with placeholders; bad entries dropped with a warning', () => {
  const d = decideHttpAnswer(
    200,
    json({
      result: 'allow',
      publish_acl: [
        { pattern: 'devices/%c/up/#', max_qos: 1 },
        { pattern: 'x', max_qos: 3 },
      ],
      subscribe_acl: [{ pattern: 'devices/%u/down/+' }],
      extra: 1,
    }),
    ctx,
  );
  assert.equal(d.kind, 'allow');
  if (d.kind !== 'allow') return;
  assert.deepEqual(
    d.acl?.publish.map((r) => [r.pattern, r.maxQos]),
    [['devices/dev-1/up/#', 1]],
  );
  assert.deepEqual(
    d.acl?.subscribe.map((r) => r.pattern),
    ['devices/fleet/down/+'],
  );
  assert.ok(d.warnings.some((w) => /max_qos/.test(w)));
  assert.ok(d.warnings.some((w) => /unknown key "extra"/.test(w)));
});

test('allow without ACL lists allows nothing; superuser means no ACL enforcement', () => {
  const none = decideHttpAnswer(200, json({ result: 'allow' }), ctx);
  assert.deepEqual(none.kind === 'allow' && none.acl, { publish: [], subscribe: [] });
  const su = decideHttpAnswer(200, json({ result: 'allow', superuser: true }), ctx);
  assert.equal(su.kind === 'allow' && su.acl, null);
});

test('deny, ignore, 401/403; malformed bodies are refused, not guessed', () => {
  assert.deepEqual(decideHttpAnswer(200, json({ result: 'deny', reason: 'suspended' }), ctx), { kind: 'deny', reason: 'suspended' });
  assert.deepEqual(decideHttpAnswer(200, json({ result: 'ignore' }), ctx), { kind: 'ignore' });
  assert.equal(decideHttpAnswer(401, Buffer.alloc(0), ctx).kind, 'deny');
  assert.equal(decideHttpAnswer(403, Buffer.from('nope'), ctx).kind, 'deny');
  for (const [status, body] of [
    [200, Buffer.from('<html>')],
    [200, json([1])],
    [200, json({ result: 'ok' })],
    [200, json({ result: 'allow', publish_acl: { pattern: '#' } })],
    [200, json({ result: 'allow', superuser: 'yes' })],
    [200, Buffer.from([0xff, 0xfe])],
    [204, Buffer.alloc(0)],
  ] as const) {
    assert.equal(decideHttpAnswer(status, body, ctx).kind, 'malformed', `${status} ${body.toString('hex')}`);
  }
});

test('request body: password as text, or base64 when it is not UTF-8; absent fields are null', () => {
  const r = { mountpoint: 'mp', clientId: 'c', username: 'u', peer: '127.0.0.1:5000', protocolVersion: 5 as const };
  assert.deepEqual(httpAuthRequestBody(r, Buffer.from('s3cret')), { clientid: 'c', username: 'u', password: 's3cret', peer: '127.0.0.1:5000', mountpoint: 'mp', protocol_version: 5 });
  const bin = httpAuthRequestBody(r, Buffer.from([0xff, 0x00]));
  assert.equal(bin.password, undefined);
  assert.equal(bin.password_base64, '/wA=');
  assert.deepEqual(httpAuthRequestBody({ mountpoint: '', clientId: 'c', protocolVersion: 4 }, undefined), {
    clientid: 'c',
    username: null,
    password: null,
    peer: null,
    mountpoint: '',
    protocol_version: 4,
  });
});

test('Cache-Control: max-age (capped), no-store/no-cache not stored, default otherwise', () => {
  assert.deepEqual(parseCacheControl('public, max-age=60'), { noStore: false, maxAgeS: 60 });
  assert.deepEqual(parseCacheControl('max-age=abc'), { noStore: false });
  const o = { defaultTtlMs: 30_000, maxTtlMs: 120_000 };
  assert.deepEqual(cachePolicy('max-age=60', o), { store: true, ttlMs: 60_000 });
  assert.deepEqual(cachePolicy('max-age=86400', o), { store: true, ttlMs: 120_000 });
  assert.deepEqual(cachePolicy('max-age=0', o), { store: true, ttlMs: 0 });
  assert.deepEqual(cachePolicy('no-store', o), { store: false, ttlMs: 0 });
  assert.deepEqual(cachePolicy('No-Cache, max-age=60', o), { store: false, ttlMs: 0 });
  assert.deepEqual(cachePolicy(undefined, o), { store: true, ttlMs: 30_000 });
});

test('cache entries honour their own TTL and stay usable while down for staleMs', () => {
  let now = 0;
  const c = new CredentialCache({ ttlMs: 30_000, negativeTtlMs: 2000, staleMs: 300_000, maxEntries: 10, now: () => now });
  c.set('a', true, null, 5000); // max-age=5
  c.set('b', true, null, 0); // max-age=0: only for the down policy
  c.set('n', false, null, 0); // a deny with max-age=0: not kept
  assert.equal(c.get('a').kind, 'fresh');
  assert.equal(c.get('b').kind, 'miss');
  assert.ok(c.getStale('b'));
  assert.equal(c.get('n').kind, 'miss');
  now = 5000;
  assert.equal(c.get('a').kind, 'miss');
  assert.ok(c.getStale('a'), 'allowed 5 s ago: still served while the server is down');
  now = 300_000;
  assert.equal(c.getStale('a'), undefined);
});

test('retry delays: full jitter under an exponential, capped ceiling', () => {
  assert.equal(
    jitterDelayMs(1, 100, 5000, () => 0.999),
    99,
  );
  assert.equal(
    jitterDelayMs(3, 100, 5000, () => 0.5),
    200,
  );
  assert.equal(
    jitterDelayMs(20, 100, 5000, () => 0.5),
    2500,
  );
  assert.equal(
    jitterDelayMs(2, 100, 5000, () => 0),
    0,
  );
});

test('per-message authorization requests and replies survive the bus; malformed ones are refused', () => {
  const req = { mountpoint: 'mp', clientId: 'c', username: 'u', action: 'subscribe' as const, topic: '$share/g/a/#', qos: 2 as const, retain: false };
  assert.deepEqual(decodeAuthorizeRequest(encodeAuthorizeRequest(req)), req);
  assert.deepEqual(decodeAuthorizeReply(encodeAuthorizeReply({ allow: true, ttlMs: 5000 })), { allow: true, ttlMs: 5000 });
  const e = new TextEncoder();
  for (const bad of [
    '{}',
    '{"mountpoint":"","clientId":"c","topic":"t","action":"read","qos":0,"retain":false}',
    '{"mountpoint":"","clientId":"c","topic":"t","action":"publish","qos":3,"retain":false}',
  ]) {
    assert.throws(() => decodeAuthorizeRequest(e.encode(bad)), AuthProtocolError, bad);
  }
  assert.throws(() => decodeAuthorizeReply(e.encode('{"allow":"yes","ttlMs":0}')), AuthProtocolError);
  assert.throws(() => decodeAuthorizeReply(e.encode('{"allow":true,"ttlMs":-1}')), AuthProtocolError);
});
