/**
 * An example backend for shardmq (docs/integration.md), in Node with the official NATS client:
 * - tracks presence from the client events, ordered by epoch (a late "disconnected" of a
 *   replaced connection never marks a device offline after it came back);
 * - consumes exported device messages in a queue group (run several: each message reaches one),
 *   or from the JetStream export stream through a shared durable consumer (at least once, also
 *   across restarts of the backend);
 * - publishes to devices through the backend publish API.
 * Run: `node dist/examples/backend-consumer/backend-consumer.js nats://127.0.0.1:4222 [prefix]`.
 * Tested by test/e2e/backend-integration-over-nats.test.ts.
 */
import { connect, headers as natsHeaders, type NatsConnection, type Msg, type MsgHdrs, type Subscription } from '@nats-io/transport-node';
import { AckPolicy, jetstream, jetstreamManager, type ConsumerMessages } from '@nats-io/jetstream';

/** The fields of the v1 connected / disconnected events this example reads. */
export interface PresenceEvent {
  type: 'client.connected' | 'client.disconnected';
  ts: number;
  epoch: number;
  mountpoint: string;
  clientId: string;
  reason?: string;
}

export interface Presence {
  online: boolean;
  epoch: number;
  since: number;
  reason?: string;
}

/**
 * Presence per device, keyed by mountpoint and client id. An event older (smaller epoch) than
 * what the tracker holds is ignored: that is all it takes to survive out-of-order delivery,
 * quick reconnects and takeovers.
 */
export class PresenceTracker {
  private readonly devices = new Map<string, Presence>();

  /** Applies one event; returns false when it was stale (older than what is known). */
  apply(e: PresenceEvent): boolean {
    const key = `${e.mountpoint}\u0000${e.clientId}`;
    const known = this.devices.get(key);
    if (known && known.epoch >= e.epoch) return false;
    const p: Presence = { online: e.type === 'client.connected', epoch: e.epoch, since: e.ts };
    if (e.reason !== undefined) p.reason = e.reason;
    this.devices.set(key, p);
    return true;
  }

  get(clientId: string, mountpoint = ''): Presence | undefined {
    return this.devices.get(`${mountpoint}\u0000${clientId}`);
  }
}

/** A device message as exported (payload as the body, the rest in headers). */
export interface DeviceMessage {
  subject: string;
  topic: string;
  qos: number;
  retain: boolean;
  clientId: string;
  mountpoint: string;
  userProperties: Array<[string, string]>;
  payload: Uint8Array;
}

function text(h: MsgHdrs | undefined, k: string): string {
  const v = h?.get(k) ?? '';
  return decodeURIComponent(v);
}

/** Reads an exported message's headers (docs/integration.md, "Message headers"). */
export function deviceMessageOf(m: { subject: string; data: Uint8Array; headers?: MsgHdrs }): DeviceMessage {
  const h = m.headers;
  const up = h?.get('Mqtt-User-Properties') ?? '';
  return {
    subject: m.subject,
    topic: text(h, 'Mqtt-Topic'),
    qos: Number(h?.get('Mqtt-Qos') ?? '0'),
    retain: h?.get('Mqtt-Retain') === 'true',
    clientId: text(h, 'Mqtt-Client-Id'),
    mountpoint: text(h, 'Mqtt-Mountpoint'),
    userProperties: [...new URLSearchParams(up)],
    payload: m.data,
  };
}

export interface BackendOptions {
  servers: string;
  /** nats.subjectPrefix of the cluster (default mqtt). */
  prefix?: string;
  /** Queue group of the backend instances (each message and event reaches one of them). */
  queue?: string;
  onPresence?(e: PresenceEvent, fresh: boolean): void;
  onMessage?(m: DeviceMessage): void;
  /** Export subject filter under the prefix, default every exported message. */
  messages?: string;
  /** Read from the JetStream export stream through this shared durable consumer instead of core NATS. */
  jetstream?: { stream: string; durable: string };
}

export interface Backend {
  readonly presence: PresenceTracker;
  readonly nc: NatsConnection;
  /** Publishes to devices through the broker (backend publish API); resolves with its JSON reply. */
  publish(
    topic: string,
    payload: string | Uint8Array,
    o?: { qos?: 0 | 1 | 2; retain?: boolean; mountpoint?: string; userProperties?: Array<[string, string]> },
  ): Promise<{ ok: boolean; matched?: boolean; error?: string }>;
  close(): Promise<void>;
}

export async function startBackend(o: BackendOptions): Promise<Backend> {
  const prefix = o.prefix ?? 'mqtt';
  const queue = o.queue ?? 'backend';
  const nc = await connect({ servers: o.servers.split(','), name: `example-backend-${queue}` });
  const presence = new PresenceTracker();
  const subs: Subscription[] = [];
  const onEvent = (err: Error | null, m: Msg) => {
    if (err) return;
    const e = m.json<PresenceEvent>();
    const fresh = presence.apply(e);
    o.onPresence?.(e, fresh);
  };
  // `*` is the mountpoint token: every mountpoint. Presence in a queue group needs one
  // tracker shared by the group (a database); this example keeps it in memory per instance.
  subs.push(nc.subscribe(`${prefix}.events.v1.*.client.connected`, { callback: onEvent, queue }));
  subs.push(nc.subscribe(`${prefix}.events.v1.*.client.disconnected`, { callback: onEvent, queue }));
  let consuming: ConsumerMessages | undefined;
  if (o.onMessage && o.jetstream) {
    const jsm = await jetstreamManager(nc);
    // A durable consumer shared by every backend instance: JetStream gives each message to
    // one of them, and keeps unacknowledged ones for whoever pulls next (a restart loses nothing).
    await jsm.consumers.add(o.jetstream.stream, { durable_name: o.jetstream.durable, ack_policy: AckPolicy.Explicit, filter_subject: `${prefix}.${o.messages ?? 'messages.v1.>'}` });
    const c = await jetstream(nc).consumers.get(o.jetstream.stream, o.jetstream.durable);
    consuming = await c.consume({
      callback: (m) => {
        o.onMessage!(deviceMessageOf(m));
        m.ack();
      },
    });
  } else if (o.onMessage) {
    subs.push(nc.subscribe(`${prefix}.${o.messages ?? 'messages.v1.>'}`, { queue, callback: (err, m) => void (err || o.onMessage!(deviceMessageOf(m))) }));
  }
  await nc.flush();
  return {
    presence,
    nc,
    async publish(topic, payload, p = {}) {
      const h = natsHeaders();
      h.set('Mqtt-Topic', encodeURIComponent(topic));
      h.set('Mqtt-Qos', String(p.qos ?? 0));
      h.set('Mqtt-Retain', p.retain ? 'true' : 'false');
      if (p.mountpoint) h.set('Mqtt-Mountpoint', encodeURIComponent(p.mountpoint));
      if (p.userProperties) h.set('Mqtt-User-Properties', new URLSearchParams(p.userProperties).toString());
      const r = await nc.request(`${prefix}.api.v1.publish`, payload, { headers: h, timeout: 10_000 });
      return r.json();
    },
    async close() {
      consuming?.stop();
      for (const s of subs) s.unsubscribe();
      await nc.drain();
    },
  };
}

const main = process.argv[1]?.endsWith('backend-consumer.js');
if (main && process.argv[2]) {
  const b = await startBackend({
    servers: process.argv[2],
    prefix: process.argv[3],
    onPresence: (e, fresh) => fresh && console.log(`${e.clientId} ${e.type === 'client.connected' ? 'online' : `offline (${e.reason})`} epoch ${e.epoch}`),
    onMessage: (m) => console.log(`${m.clientId} ${m.topic} ${Buffer.from(m.payload).toString()}`),
  });
  process.on('SIGINT', () => void b.close().then(() => process.exit(0)));
}
