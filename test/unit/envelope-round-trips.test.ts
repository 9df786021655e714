import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeGatewayOut, encodeGatewayOut, type GatewayOutItem } from '../../common/src/envelope/gateway-out.js';
import { decodeHeartbeat, encodeHeartbeat } from '../../common/src/envelope/heartbeat.js';
import {
  decodeRetainedAnswer,
  decodeRetainedSync,
  decodeRoutePublish,
  decodeSubChanges,
  encodeRetainedAnswer,
  encodeRetainedSync,
  encodeRoutePublish,
  encodeSubChanges,
} from '../../common/src/envelope/router.js';
import { decodeConnectReply, decodeSessionIn, encodeConnectReply, encodeSessionIn, SessIn } from '../../common/src/envelope/session-in.js';
import { RingQueue } from '../../common/src/ring-queue.js';
import { decodeSession, encodeSession } from '../../session-actor/src/core/session-codec.js';
import type { Delivery, Session } from '../../session-actor/src/core/session.js';
import * as arb from '../support/envelope-arbitraries.js';
import { fuzzParams } from '../support/fuzz-params.js';

// decode(encode(x)) deep-equals x for every envelope kind and for the stored session:
// nothing an encoder accepts is lost or changed on the way (optional fields, extreme integers,
// any Unicode, user property keys such as "__proto__").

function roundTrips<T>(name: string, a: fc.Arbitrary<T>, encode: (x: T) => Uint8Array, decode: (b: Uint8Array) => T, runs = 300): void {
  test(`${name}: decode(encode(x)) equals x`, () => {
    fc.assert(
      fc.property(a, (x) => {
        assert.deepStrictEqual(decode(encode(x)), x);
      }),
      fuzzParams(runs),
    );
  });
}

roundTrips('session-in envelopes (every kind)', arb.sessionIn, encodeSessionIn, decodeSessionIn, 1000);
roundTrips('connect reply', arb.connectReply, encodeConnectReply, decodeConnectReply);
roundTrips(
  'gateway-out batches',
  fc.array(arb.gatewayOutItem, { maxLength: 5 }),
  encodeGatewayOut,
  (b) => {
    const items: GatewayOutItem[] = [];
    decodeGatewayOut(b, (it) => items.push(it));
    return items;
  },
  500,
);
roundTrips('route publish', arb.routePublish, encodeRoutePublish, decodeRoutePublish);
roundTrips('subscription change batch', arb.subChangeBatch, encodeSubChanges, decodeSubChanges);
roundTrips('retained answer', arb.retainedAnswer, encodeRetainedAnswer, decodeRetainedAnswer);
roundTrips('retained sync', arb.retainedSync, encodeRetainedSync, decodeRetainedSync);
roundTrips('heartbeat', arb.heartbeat, encodeHeartbeat, decodeHeartbeat);
/** A session with its queue as an array (RingQueue's internal layout depends on its history). */
function sessionView(s: Session): unknown {
  const items: unknown[] = [];
  for (let i = 0; i < s.queue.length; i++) {
    const d = s.queue.shift()!;
    items.push(d);
    s.queue.push(d);
  }
  return { ...s, queue: items };
}
function sessionAgain(v: unknown): Session {
  const o = v as Session & { queue: Delivery[] };
  const queue = new RingQueue<Delivery>();
  for (const d of o.queue) queue.push(d);
  return { ...o, queue };
}
roundTrips('stored session', arb.session.map(sessionView), (v) => encodeSession(sessionAgain(v)), (b) => sessionView(decodeSession(b)), 500);

test('session expiry 0xFFFFFFFF ("never expires") is kept, not read as "not given"', () => {
  const c = decodeSessionIn(
    encodeSessionIn({ kind: SessIn.Connect, key: 'k', mountpoint: '', clientId: 'c', gateway: 'g', connId: 1, proto: 5, cleanStart: false, keepaliveS: 60, sessionExpiryS: 0xffffffff, receiveMaximum: 10, maxPacketBytes: 0 }),
  );
  assert.equal(c.kind === SessIn.Connect && c.sessionExpiryS, 0xffffffff);
  const d = decodeSessionIn(encodeSessionIn({ kind: SessIn.Disconnect, key: 'k', epoch: 1, rc: 0, sessionExpiryS: 0xffffffff }));
  assert.equal(d.kind === SessIn.Disconnect && d.sessionExpiryS, 0xffffffff);
});
