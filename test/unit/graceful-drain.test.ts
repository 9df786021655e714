import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { drainConnections } from '../../gateway/src/graceful-drain.js';
import { createConnState, type ConnState } from '../../gateway/src/protocol/conn-state.js';

/**
 * The gateway's drain (issue 15), without sockets: every connection is closed, a connection
 * with a QoS 1 publish still being routed is closed only after that publish is answered (its
 * PUBACK leaves before the DISCONNECT), and a forced stop closes the rest without waiting.
 */

function conns(n: number): { state: ConnState }[] {
  return Array.from({ length: n }, (_, i) => {
    const state = createConnState(i + 1, `peer-${i}`, '', 0);
    state.phase = 'connected';
    return { state };
  });
}

describe('graceful drain', () => {
  it('closes every connection, each after being told to take no new work', async () => {
    const all = conns(25);
    const events: string[] = [];
    await drainConnections(all, {
      ratePerS: 100,
      startDraining: (c) => events.push(`drain ${c.state.id}`),
      close: (c) => events.push(`close ${c.state.id}`),
      forced: () => false,
    });
    for (const c of all) {
      const d = events.indexOf(`drain ${c.state.id}`);
      const cl = events.indexOf(`close ${c.state.id}`);
      assert.ok(d >= 0 && cl > d, `connection ${c.state.id}: drained, then closed`);
    }
    assert.equal(events.filter((e) => e.startsWith('close')).length, 25);
  });

  it('closes a connection only once its in-flight QoS 1 publish is answered', async () => {
    const [busy, idle] = conns(2);
    busy!.state.acks.push({ packetId: 7, rc: -1 });
    const closed: number[] = [];
    const done = drainConnections([busy!, idle!], {
      ratePerS: 1000,
      startDraining: () => {},
      close: (c) => closed.push(c.state.id),
      forced: () => false,
    });
    while (!closed.includes(idle!.state.id)) await new Promise((r) => setTimeout(r, 5));
    assert.deepEqual(closed, [idle!.state.id], 'the connection waiting for its PUBACK is still open');
    busy!.state.acks.shift(); // the router answered; the PUBACK was written
    await done;
    assert.deepEqual(closed, [idle!.state.id, busy!.state.id]);
  });

  it('forced: closes the rest at once, even with publishes in flight', async () => {
    const all = conns(50);
    for (const c of all) c.state.acks.push({ packetId: 1, rc: -1 });
    let forced = false;
    const closed: number[] = [];
    const done = drainConnections(all, {
      ratePerS: 1, // one connection per tick: would take 50 ticks
      startDraining: () => {
        forced = true; // the deadline passes as soon as the drain starts
      },
      close: (c) => closed.push(c.state.id),
      forced: () => forced,
    });
    await done;
    assert.equal(closed.length, 50);
  });
});
