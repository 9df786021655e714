/**
 * A fleet client with a persistent session that, like a real device, reconnects by itself when its
 * connection dies, through the next gateway URL of its list (mqtt.js `servers`, `reconnectPeriod`).
 * It records what the device saw: each connection lost without its own DISCONNECT (an outage, with
 * when it came back), reconnects, and CONNACKs of a reconnect that found no session (the broker lost a
 * persistent session: a bug while its expiry has not passed).
 *
 * Unlike mqtt-clients.ts (benchmarks must see failures, so never reconnect), the fleet scenario is
 * about surviving failures. Who may call: the fleet scenario, which owns and ends its clients.
 */
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import { wallClockMs } from '../payload-stamp.js';
import type { Outage } from './will-expectation.js';

export interface GatewayAddress {
  host: string;
  port: number;
}

/** Parses `mqtt://host:port` URLs (the only scheme the fleet scenario roams over). */
export function parseGatewayUrls(urls: readonly string[]): GatewayAddress[] {
  if (urls.length === 0) throw new Error('at least one --url is needed');
  return urls.map((u) => {
    const url = new URL(u);
    if (url.protocol !== 'mqtt:') throw new Error(`the fleet scenario takes mqtt:// URLs, got ${u}`);
    return { host: url.hostname, port: url.port === '' ? 1883 : Number(url.port) };
  });
}

export interface RoamingOptions {
  clientId: string;
  /** Gateways in the order this client tries them: first the one at index `first`, then the next, round. */
  gateways: readonly GatewayAddress[];
  first: number;
  protocolVersion: 4 | 5;
  reconnectPeriodMs: number;
  keepaliveS: number;
  connectTimeoutMs: number;
  /** MQTT 5 Session Expiry Interval (the session must outlive outages and the drain). */
  sessionExpiryS: number;
  username?: string;
  password?: string;
  will?: IClientOptions['will'];
}

const noop = (): void => {};

export class RoamingClient {
  readonly client: MqttClient;
  readonly outages: Outage[] = [];
  /** CONNACKs after the first. */
  reconnects = 0;
  /** Reconnects whose CONNACK said no session was present. */
  sessionsLost = 0;
  /** Attempts before the first CONNACK that sent CONNECT and then gave up (see Outage.abandonedConnects). */
  abandonedFirstConnects = 0;
  /** A CONNECT was sent on the current socket and no CONNACK came yet. */
  private connectPending = false;
  private connacks = 0;
  private ending = false;
  private openOutage: Outage | undefined;

  constructor(
    readonly o: RoamingOptions,
    onLost: () => void = noop,
  ) {
    const n = o.gateways.length;
    const servers = o.gateways.map((_, i) => ({ ...o.gateways[(o.first + i) % n]!, protocol: 'mqtt' as const }));
    const opts: IClientOptions = {
      servers,
      clientId: o.clientId,
      protocolVersion: o.protocolVersion,
      clean: false,
      keepalive: o.keepaliveS,
      connectTimeout: o.connectTimeoutMs,
      reconnectPeriod: o.reconnectPeriodMs,
      // Subscriptions belong to the persistent session: after a reconnect that found it, the broker has them.
      resubscribe: false,
      queueQoSZero: false,
      log: noop,
    };
    if (o.protocolVersion === 5) opts.properties = { sessionExpiryInterval: o.sessionExpiryS };
    if (o.username !== undefined) opts.username = o.username;
    if (o.password !== undefined) opts.password = o.password;
    if (o.will) opts.will = o.will;
    this.client = connect(opts);
    this.client.on('packetsend', (packet) => {
      if (packet.cmd === 'connect') this.connectPending = true;
    });
    this.client.on('connect', (connack) => {
      this.connectPending = false;
      // Small MQTT packets must not wait for Nagle/delayed-ACK (up to 40 ms on Linux loopback).
      (this.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      if (this.connacks++ > 0) {
        this.reconnects++;
        if (!connack.sessionPresent) this.sessionsLost++;
      }
      if (this.openOutage) {
        this.openOutage.backAtMs = wallClockMs();
        this.openOutage = undefined;
      }
    });
    this.client.on('close', () => {
      const abandoned = this.connectPending;
      this.connectPending = false;
      if (this.ending) return;
      // 'close' also ends each failed reconnect attempt: only the first one after a CONNACK is a loss.
      if (abandoned) {
        if (this.openOutage) this.openOutage.abandonedConnects++;
        else if (this.connacks === 0) this.abandonedFirstConnects++;
      }
      if (this.openOutage || this.connacks === 0) return;
      this.openOutage = { lostAtMs: wallClockMs(), backAtMs: undefined, abandonedConnects: 0 };
      this.outages.push(this.openOutage);
      onLost();
    });
    // Errors (refused connects, resets) are retried by mqtt.js; without a listener they would throw.
    this.client.on('error', noop);
  }

  connected(): boolean {
    return this.client.connected;
  }

  hasConnected(): boolean {
    return this.connacks > 0;
  }

  /**
   * Drops the connection without DISCONNECT (the socket is destroyed) so mqtt.js reconnects and the
   * broker resends what the session holds unacknowledged [MQTT-4.4.0-1]. Recorded as an outage like
   * any other: a 3.1.1 device's Will fires for it.
   */
  dropConnection(): void {
    (this.client.stream as { destroy?: () => void } | undefined)?.destroy?.();
  }

  /**
   * Ends with a clean DISCONNECT (no Will) when connected, within `timeoutMs`; MQTT 5 sessions are
   * ended with it (Session Expiry 0) so a run leaves nothing behind on a shared broker.
   */
  end(timeoutMs: number): Promise<void> {
    this.ending = true;
    return new Promise((resolve) => {
      if (!this.client.connected) {
        this.client.end(true, () => resolve());
        return;
      }
      const timer = setTimeout(() => this.client.end(true, () => resolve()), timeoutMs);
      const disconnect = this.o.protocolVersion === 5 ? { reasonCode: 0, properties: { sessionExpiryInterval: 0 } } : {};
      this.client.end(false, disconnect, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/** Resolves once every client has had its first CONNACK, or rejects when `deadlineMs` (wall clock) passes. */
export async function allConnected(clients: readonly RoamingClient[], deadlineMs: number): Promise<void> {
  for (;;) {
    const waiting = clients.filter((c) => !c.hasConnected()).length;
    if (waiting === 0) return;
    if (wallClockMs() > deadlineMs) throw new Error(`${waiting} of ${clients.length} clients had no CONNACK in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
