import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeSessionIn, encodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';
import { codecs } from '../support/envelope-arbitraries.js';
import { fuzzParams } from '../support/fuzz-params.js';

// decode(encode(x)) deep-equals x for every envelope kind and for the stored session:
// nothing an encoder accepts is lost or changed on the way (optional fields, extreme integers,
// any Unicode, user property keys such as "__proto__").

for (const c of codecs) {
  test(`${c.name}: decode(encode(x)) equals x`, () => {
    fc.assert(
      fc.property(c.values, (x) => {
        assert.deepStrictEqual(c.decode(c.encode(x)), x);
      }),
      fuzzParams(300 * c.runs),
    );
  });
}

test('session expiry 0xFFFFFFFF ("never expires") is kept, not read as "not given"', () => {
  const c = decodeSessionIn(
    encodeSessionIn({
      kind: SessIn.Connect,
      key: 'k',
      mountpoint: '',
      clientId: 'c',
      gateway: 'g',
      connId: 1,
      proto: 5,
      cleanStart: false,
      keepaliveS: 60,
      sessionExpiryS: 0xffffffff,
      receiveMaximum: 10,
      maxPacketBytes: 0,
    }),
  );
  assert.equal(c.kind === SessIn.Connect && c.sessionExpiryS, 0xffffffff);
  const d = decodeSessionIn(encodeSessionIn({ kind: SessIn.Disconnect, key: 'k', epoch: 1, rc: 0, sessionExpiryS: 0xffffffff }));
  assert.equal(d.kind === SessIn.Disconnect && d.sessionExpiryS, 0xffffffff);
});
