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

  /**
   * Connects and resolves on CONNACK. `into`: collect every message into it from the first
   * packet on. A kept session's resends and queued messages follow the CONNACK in the same
   * read, and mqtt.js emits (and acknowledges) them before the code awaiting this promise
   * runs: a listener attached after `await connect()` misses them, and the test reports an
   * acknowledged message as lost that the client did receive.
   */
  async connect(url: string, opts: IClientOptions = {}, into?: Received[]): Promise<MqttClient> {
    const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...opts });
    this.clients.push(c);
    if (into) collect(c, into);
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

/**
 * Collects every message a client receives from now on (into `got` when given). For a client
 * that resumes a session, collect from the start with `ClientPool.connect(url, opts, got)`.
 */
export function collect(c: MqttClient, got: Received[] = []): Received[] {
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

/**
 * A bystander's proof that the broker still serves: one QoS 1 PUBLISH to a topic it is
 * subscribed to, PUBACKed and delivered back to it.
 */
export async function qos1RoundTrip(c: MqttClient, topic: string): Promise<void> {
  const got = collect(c);
  await subscribe(c, topic, { qos: 1 });
  const payload = `round-trip-${Date.now()}-${Math.random()}`;
  await publish(c, topic, payload, { qos: 1 });
  await waitFor(() => got.some((g) => g.topic === topic && g.payload.toString() === payload), `the bystander's own QoS 1 message on ${topic}`, 20_000);
}

/** SUBSCRIBE returning the SUBACK codes, refusals included (mqtt.js rejects a 5.0 SUBACK with a code >= 0x80). */
export function subackCodes(c: MqttClient, topics: string | string[], qos: 0 | 1 | 2 = 1): Promise<number[]> {
  return new Promise((resolve, reject) =>
    c.subscribe(topics, { qos }, (err, granted) => {
      const packet = (err as (Error & { packet?: { granted?: number[] } }) | null)?.packet;
      if (packet?.granted) resolve(packet.granted);
      else if (err) reject(err);
      else resolve((granted ?? []).map((g) => g.qos));
    }),
  );
}

/**
 * A client that comes back through the next gateway when its connection drops: mqtt.js rotates
 * through `servers` on every reconnect attempt, starting at gateway `first` of `ports`, so after
 * its gateway dies or stops the next attempt goes to another one.
 */
export function connectRoaming(ports: readonly number[], first: number, opts: IClientOptions): MqttClient {
  const servers = ports.map((_, i) => ({ host: '127.0.0.1', port: ports[(first + i) % ports.length]! }));
  return mqtt.connect({ servers, protocol: 'mqtt', reconnectPeriod: 200, connectTimeout: 10_000, ...opts });
}
