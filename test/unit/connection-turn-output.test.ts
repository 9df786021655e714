import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turnEnd } from 'node:timers/promises';
import { Connection, connectionContext } from '../../gateway/src/connection.js';
import { FakeSocket } from '../support/fake-socket.js';

/**
 * A connection's packets of one event-loop turn leave in one socket write (connection.ts,
 * turn-output.ts): the first one as the Buffer it came in, the next few gathered, then copied or
 * encoded into the turn's region of the slab, which grows; bytes handed over are never written again.
 */

function open(): { c: Connection; sock: FakeSocket } {
  const sock = new FakeSocket();
  const c = new Connection(sock.asSocket(), 1, 0, connectionContext({ onPacket: () => {}, onBad: () => {}, onFault: () => {} }));
  return { c, sock };
}

const packet = (i: number, size: number): Buffer => Buffer.alloc(size, i & 0xff);

test('one packet in a turn: written as it came, untouched', async () => {
  const { c, sock } = open();
  const shared = packet(1, 40);
  c.write(shared);
  assert.equal(c.queuedBytes, 40);
  assert.equal(sock.written.length, 0, 'not before the turn ends');
  await turnEnd();
  assert.deepEqual(sock.written, [packet(1, 40)]);
  assert.equal(c.queuedBytes, 0);
});

test('a few packets in a turn are gathered: no region before the eighth', async () => {
  const { c, sock } = open();
  c.write(packet(1, 40));
  assert.equal(c.room(10), undefined);
  for (let i = 2; i <= 7; i++) c.write(packet(i, 40));
  assert.equal(c.room(10), undefined);
  c.write(packet(8, 40));
  assert.ok(c.room(10) !== undefined);
  await turnEnd();
  assert.deepEqual(sock.written, [Buffer.concat(Array.from({ length: 8 }, (_, i) => packet(i + 1, 40)))]);
});

test('many packets in a turn, written and encoded in place, leave in one write in order; the first Buffer is not written into', async () => {
  const { c, sock } = open();
  const first = packet(1, 40);
  c.write(first);
  const expected = [packet(1, 40)];
  for (let i = 2; i < 400; i++) {
    const size = 10 + (i % 90);
    const buf = i % 2 === 0 ? undefined : c.room(size);
    if (buf === undefined) c.write(packet(i, size));
    else {
      buf.fill(i & 0xff, c.outEnd, c.outEnd + size);
      c.committed(size);
    }
    expected.push(packet(i, size));
  }
  assert.deepEqual(first, packet(1, 40));
  await turnEnd();
  assert.equal(sock.written.length, 1);
  assert.deepEqual(sock.written[0], Buffer.concat(expected));
});

test('bytes committed in a turn buffer stay as they were after it grows and after the next turns', async () => {
  const { c } = open();
  for (let i = 0; i < 10; i++) c.write(packet(1, 10));
  const buf = c.room(20)!;
  const at = c.outEnd;
  buf.fill(7, at, at + 20);
  c.committed(20);
  const kept = buf.subarray(at, at + 20); // what a fan-out shares with other connections
  for (let turn = 0; turn < 3; turn++) {
    for (let i = 0; i < 200; i++) c.write(packet(i, 50));
    await turnEnd();
  }
  assert.deepEqual(kept, Buffer.alloc(20, 7));
});

test('past 256 KiB a turn is written buffer by buffer, still in order', async () => {
  const { c, sock } = open();
  const expected: Buffer[] = [];
  for (let i = 0; i < 40; i++) {
    const p = packet(i, 10_000 + i);
    c.write(p);
    expected.push(p);
  }
  assert.equal(c.room(10), undefined, 'no room: the output is a list now');
  await turnEnd();
  assert.ok(sock.written.length > 1);
  assert.deepEqual(Buffer.concat(sock.written), Buffer.concat(expected));
});

test('a closed socket takes nothing', async () => {
  const { c, sock } = open();
  sock.destroyed = true;
  c.write(packet(1, 10));
  assert.equal(c.room(10), undefined);
  assert.equal(c.queuedBytes, 0);
  await turnEnd();
  assert.deepEqual(sock.written, []);
});
