import { after, before } from 'node:test';
import { startBroker, type Broker, type BrokerMode, type BrokerOptions } from './broker.js';
import { ClientPool } from './mqtt-clients.js';
import type { RawClient } from './raw-mqtt.js';

export interface BrokerFixture {
  /** The broker started by the suite's before() hook. */
  readonly broker: Broker;
  /** mqtt.js clients, closed after the suite. */
  readonly pool: ClientPool;
  /** Raw clients to destroy after the suite (push what the tests open). */
  readonly raws: RawClient[];
}

/**
 * Registers the usual suite hooks inside a describe(): start a broker before the tests; after
 * them destroy the raw clients, close the mqtt.js clients and stop the broker. Tests only.
 */
export function brokerFixture(mode: BrokerMode, o: BrokerOptions = {}): BrokerFixture {
  let broker: Broker | undefined;
  const pool = new ClientPool();
  const raws: RawClient[] = [];
  before(async () => {
    broker = await startBroker(mode, o);
  });
  after(async () => {
    for (const r of raws) r.destroy();
    await pool.closeAll();
    await broker?.stop();
  });
  return {
    get broker() {
      if (!broker) throw new Error('the broker is started in before()');
      return broker;
    },
    pool,
    raws,
  };
}
