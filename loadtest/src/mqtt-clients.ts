/**
 * Thin helpers around the `mqtt` npm client for load generation: connect once, never auto-reconnect
 * (a benchmark must see failures, not hide them behind retries), and close everything reliably.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';

export type ProtocolVersion = 3 | 4 | 5;

export interface ConnectionParams {
  /** Broker URL, e.g. mqtt://127.0.0.1:1883. */
  url: string;
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5.0, 3 = MQTT 3.1. */
  protocolVersion?: ProtocolVersion;
  username?: string;
  password?: string;
  keepaliveS?: number;
  connectTimeoutMs?: number;
  /** Clean session (3.1.1) / clean start (5.0); default true. */
  clean?: boolean;
}

const noop = (): void => {};

/** Connects one client; resolves after CONNACK, rejects on error, refusal, close or timeout. */
export function connectClient(params: ConnectionParams, clientId: string): Promise<MqttClient> {
  const protocolVersion = params.protocolVersion ?? 4;
  const opts: IClientOptions = {
    clientId,
    protocolVersion,
    protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
    clean: params.clean ?? true,
    keepalive: params.keepaliveS ?? 60,
    connectTimeout: params.connectTimeoutMs ?? 10_000,
    reconnectPeriod: 0,
    // QoS 1/2 state only in memory; the default store is in memory already, listed for clarity.
    queueQoSZero: false,
    // The client logs through `debug` on every packet; even disabled, that costs about a fifth of the
    // generator's CPU at 150 k msgs/s. A no-op logger keeps the generator from being the bottleneck.
    log: noop,
  };
  if (params.username !== undefined) opts.username = params.username;
  if (params.password !== undefined) opts.password = params.password;
  return new Promise((resolve, reject) => {
    const client = connect(params.url, opts);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      client.removeAllListeners('connect');
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      if (settled) return;
      settled = true;
      client.removeListener('error', fail);
      // Small MQTT packets must not wait for Nagle/delayed-ACK (up to 40 ms on Linux loopback).
      const stream = client.stream as { setNoDelay?: (on: boolean) => void };
      stream.setNoDelay?.(true);
      // Keep a listener so a later socket error does not crash the process as an unhandled 'error'.
      client.on('error', () => {});
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error(`connection closed before CONNACK (${clientId})`)));
  });
}

/** Connects `count` clients with at most `concurrency` handshakes in flight; throws on the first failure. */
export async function connectMany(params: ConnectionParams, ids: readonly string[], concurrency = 50): Promise<MqttClient[]> {
  const clients: MqttClient[] = new Array(ids.length);
  let next = 0;
  let failure: Error | undefined;
  const worker = async () => {
    while (failure === undefined && next < ids.length) {
      const i = next++;
      try {
        clients[i] = await connectClient(params, ids[i]!);
      } catch (err) {
        failure ??= err as Error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  if (failure !== undefined) {
    await closeAll(clients.filter((c) => c !== undefined));
    throw failure;
  }
  return clients;
}

export function subscribe(client: MqttClient, filter: string, qos: 0 | 1 | 2): Promise<void> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos }, (err, granted) => {
      if (err) return reject(err);
      const g = granted?.[0]?.qos;
      if (g === undefined || g >= 0x80) return reject(new Error(`subscription to ${filter} refused (${g})`));
      resolve();
    });
  });
}

/** Ends clients, waiting at most `timeoutMs` for a clean DISCONNECT before forcing the sockets shut. */
export async function closeAll(clients: readonly MqttClient[], timeoutMs = 2000): Promise<void> {
  await Promise.all(
    clients.map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.disconnected || (!c.connected && !c.reconnecting)) {
            c.end(true, () => resolve());
            return;
          }
          const timer = setTimeout(() => c.end(true, () => resolve()), timeoutMs);
          c.end(false, () => {
            clearTimeout(timer);
            resolve();
          });
        }),
    ),
  );
}

/** A random tag so concurrent runs against one broker use disjoint client ids and topics. */
export function runTag(): string {
  return Math.random().toString(36).slice(2, 8);
}
