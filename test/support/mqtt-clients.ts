import mqtt, { type IClientOptions, type MqttClient, type IPublishPacket } from 'mqtt';

/**
 * Real MQTT clients (the `mqtt` package) for end-to-end tests: connect with a timeout,
 * collect messages, and close everything a test opened.
 */

export interface Received {
  topic: string;
  payload: Buffer;
  packet: IPublishPacket;
}

export class ClientPool {
  private readonly clients: MqttClient[] = [];

  async connect(url: string, opts: IClientOptions = {}): Promise<MqttClient> {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    this.clients.push(c);
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: Error) => {
        c.off('connect', onOk);
        reject(err);
      };
      const onOk = () => {
        c.off('error', onErr);
        resolve();
      };
      c.once('connect', onOk);
      c.once('error', onErr);
    });
    return c;
  }

  /** Connects a client expected to be refused; resolves with the CONNACK reason/return code. */
  async refused(url: string, opts: IClientOptions = {}): Promise<number> {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    this.clients.push(c);
    return new Promise<number>((resolve, reject) => {
      c.once('connect', () => reject(new Error('connection was accepted')));
      c.once('error', (err: Error & { code?: number }) => resolve(err.code ?? -1));
      c.once('close', () => setTimeout(() => resolve(-1), 200));
    });
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => new Promise<void>((r) => c.end(true, {}, () => r()))));
  }
}

/** Collects every message a client receives from now on. */
export function collect(c: MqttClient): Received[] {
  const got: Received[] = [];
  c.on('message', (topic, payload, packet) => got.push({ topic, payload, packet }));
  return got;
}

/** Waits until cond() holds, polling; rejects with `what` after timeoutMs. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves after ms (for "nothing arrives" checks, never for asserting durations). */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function subscribe(c: MqttClient, topic: string | string[], opts: mqtt.IClientSubscribeOptions = { qos: 1 }): Promise<mqtt.ISubscriptionGrant[]> {
  return new Promise((resolve, reject) => c.subscribe(topic, opts, (err, granted) => (err ? reject(err) : resolve(granted ?? []))));
}

export function publish(c: MqttClient, topic: string, payload: string | Buffer, opts: mqtt.IClientPublishOptions = { qos: 1 }): Promise<void> {
  return new Promise((resolve, reject) => c.publish(topic, payload, opts, (err) => (err ? reject(err) : resolve())));
}
