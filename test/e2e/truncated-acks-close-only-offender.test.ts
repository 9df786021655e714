import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BrokerHealth } from '../support/broker-health.js';
import { MODES, startBroker, type Broker } from '../support/broker.js';
import { RawClient } from '../support/raw-mqtt.js';

/**
 * A PUBACK, PUBREC, PUBREL or PUBCOMP without its packet identifier once reached the session
 * envelope encoder as packet id -1, threw, and took the whole process down (every device of a
 * cluster gateway with it). Each case sends one such packet on its own raw socket and checks
 * only that connection closes (MQTT 5: DISCONNECT 0x81 Malformed Packet, or 0x82 Protocol
 * Error for packet id 0), the broker processes
 * are the same and healthy, and a bystander connected before still publishes and receives.
 */

const ACKS = [
  { name: 'PUBACK', first: 0x40 },
  { name: 'PUBREC', first: 0x50 },
  { name: 'PUBREL', first: 0x62 },
  { name: 'PUBCOMP', first: 0x70 },
] as const;

/** Bodies shorter than the 2-byte packet identifier [MQTT-2.2.1-3], [MQTT-2.3.1-1] in 3.1.1. */
const TRUNCATIONS = [
  { name: 'no body', rc: 0x81, bytes: (first: number) => [first, 0x00] },
  { name: 'one byte of the id', rc: 0x81, bytes: (first: number) => [first, 0x01, 0x07] },
  // The parser once read the id from the next packet's bytes (here a PINGREQ, 0xC0 0x00).
  { name: 'no body, a PINGREQ right behind', rc: 0x81, bytes: (first: number) => [first, 0x00, 0xc0, 0x00] },
  // Parses, but 0 is not a packet identifier: a Protocol Error, not a Malformed Packet.
  { name: 'packet id 0', rc: 0x82, bytes: (first: number) => [first, 0x02, 0x00, 0x00] },
] as const;

function disconnectCode(c: RawClient): number | undefined {
  const d = c.packets.find((p) => p.cmd === 'disconnect') as { reasonCode?: number } | undefined;
  return d ? (d.reasonCode ?? 0) : undefined;
}

for (const mode of MODES) {
  describe(`truncated acknowledgements close only the offender (${mode})`, () => {
    let broker: Broker;
    let health: BrokerHealth;
    const raws: RawClient[] = [];
    let n = 0;

    before(async () => {
      broker = await startBroker(mode);
      health = await BrokerHealth.watch(broker, `truncated-acks-${mode}`);
    });
    after(async () => {
      for (const r of raws) r.destroy();
      await health?.close();
      await broker?.stop();
    });

    for (const v of [3, 4, 5] as const) {
      for (const ack of ACKS) {
        for (const t of TRUNCATIONS) {
          test(`MQTT ${v === 5 ? '5.0' : v === 4 ? '3.1.1' : '3.1'} ${ack.name}, ${t.name}: only that connection closes`, async () => {
            const c = await RawClient.connected(broker.ports[0]!, `trunc-${mode}-${++n}`, v);
            raws.push(c);
            c.send(t.bytes(ack.first));
            assert.equal(await c.waitClosed(), true, 'the offender is closed');
            if (v === 5) assert.equal(disconnectCode(c), t.rc, `MQTT 5: DISCONNECT 0x${t.rc.toString(16)}`);
            else assert.equal(disconnectCode(c), undefined, '3.1.1 has no DISCONNECT from the server');
            await health.assertHealthy();
          });
        }
      }
    }
  });
}
