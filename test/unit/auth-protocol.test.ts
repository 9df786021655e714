import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryBus } from '../../common/src/bus/memory-bus.js';
import { subjectSpace } from '../../common/src/subjects.js';
import { createAuthClient } from '../../gateway/src/auth-client.js';
import { AuthProtocolError, connackCodeFor, decodeAuthReply, decodeAuthRequest, encodeAuthReply, encodeAuthRequest } from '../../common/src/auth-contract/auth-protocol.js';

test('auth request and reply survive encode/decode', () => {
  const req = { mountpoint: 'mp', clientId: 'c 1.*>', username: 'u', password: Buffer.from([0, 255, 1]).toString('base64'), peer: '1.2.3.4:5', protocolVersion: 5 as const };
  assert.deepEqual(decodeAuthRequest(encodeAuthRequest(req)), req);
  const anon = { mountpoint: '', clientId: 'x', protocolVersion: 4 as const };
  assert.deepEqual(decodeAuthRequest(encodeAuthRequest(anon)), { ...anon, username: undefined, password: undefined, peer: undefined });
  const reply = { result: 'ok' as const, acl: { publish: [{ pattern: 'a/#', wildcard: true, maxQos: 1 as const, maxPayloadBytes: 10, allowedRetain: false }], subscribe: [] } };
  assert.deepEqual(decodeAuthReply(encodeAuthReply(reply)), reply);
  assert.deepEqual(decodeAuthReply(encodeAuthReply({ result: 'unavailable', acl: null, reason: 'db down' })), { result: 'unavailable', acl: null, reason: 'db down' });
});

test('malformed messages are refused with AuthProtocolError', () => {
  const e = new TextEncoder();
  assert.throws(() => decodeAuthRequest(e.encode('nope')), AuthProtocolError);
  assert.throws(() => decodeAuthRequest(e.encode('{"mountpoint":"","clientId":"c","protocolVersion":6}')), AuthProtocolError);
  assert.throws(() => decodeAuthRequest(e.encode('{"mountpoint":"","clientId":"c","protocolVersion":4,"password":"%%%"}')), AuthProtocolError);
  assert.throws(() => decodeAuthReply(e.encode('{"result":"maybe","acl":null}')), AuthProtocolError);
  assert.throws(() => decodeAuthReply(e.encode('{"result":"ok","acl":{"publish":1}}')), AuthProtocolError);
});

test('CONNACK codes: 3.1.1 0x04/0x05/0x03, 5.0 0x86/0x87/0x88', () => {
  for (const v of [3, 4] as const) {
    assert.equal(connackCodeFor('ok', v), 0);
    assert.equal(connackCodeFor('bad-credentials', v), 0x04);
    assert.equal(connackCodeFor('not-authorized', v), 0x05);
    assert.equal(connackCodeFor('unavailable', v), 0x03);
  }
  assert.equal(connackCodeFor('ok', 5), 0);
  assert.equal(connackCodeFor('bad-credentials', 5), 0x86);
  assert.equal(connackCodeFor('not-authorized', 5), 0x87);
  assert.equal(connackCodeFor('unavailable', 5), 0x88);
});

test('auth client answers unavailable when no auth service runs or it does not answer in time', async () => {
  const bus = createMemoryBus();
  const subjects = subjectSpace();
  const client = createAuthClient(bus, subjects, 200);
  const req = { mountpoint: '', clientId: 'c', protocolVersion: 4 as const };
  const none = await client.authenticate(req);
  assert.equal(none.result, 'unavailable');
  const sub = bus.subscribe(subjects.authConnect, () => {}, { queue: subjects.authQueue }); // never answers
  const slow = await client.authenticate(req);
  assert.equal(slow.result, 'unavailable');
  sub.unsubscribe();
  const ok = bus.subscribe(subjects.authConnect, (m) => m.respond(encodeAuthReply({ result: 'ok', acl: null })), { queue: subjects.authQueue });
  assert.equal((await client.authenticate(req)).result, 'ok');
  ok.unsubscribe();
  await bus.close();
});
