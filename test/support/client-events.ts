import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { ClientEvent } from '../../common/src/integration/client-events.js';
import { waitFor } from './mqtt-clients.js';

/**
 * Records the client lifecycle events (docs/integration.md) a broker publishes, in arrival
 * order, from its own NATS connection. Tests only.
 */
export class EventRecorder {
  readonly events: ClientEvent[] = [];

  private constructor(private readonly nc: NatsConnection) {}

  static async start(natsUrl: string, prefix = 'mqtt'): Promise<EventRecorder> {
    const nc = await connect({ servers: natsUrl.split(',') });
    const r = new EventRecorder(nc);
    nc.subscribe(`${prefix}.events.v1.>`, { callback: (err, m) => void (err || r.events.push(m.json<ClientEvent>())) });
    await nc.flush();
    return r;
  }

  /** The events about one client id, in arrival order. */
  of(clientId: string): ClientEvent[] {
    return this.events.filter((e) => e.clientId === clientId);
  }

  /** Waits until the client has at least n events of this type; returns them all. */
  async waitFor(clientId: string, type: ClientEvent['type'], n = 1, timeoutMs = 20_000): Promise<ClientEvent[]> {
    await waitFor(() => this.of(clientId).filter((e) => e.type === type).length >= n, `${n} ${type} event(s) of ${clientId}; got ${JSON.stringify(this.of(clientId))}`, timeoutMs);
    return this.of(clientId);
  }

  async stop(): Promise<void> {
    await this.nc.close();
  }
}
