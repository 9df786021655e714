import type { ConnState } from './conn-state.js';
import type { GatewayPorts } from './ports.js';

/**
 * Per-message authorization (auth.http.aclUrl, docs/auth.md): a PUBLISH topic or SUBSCRIBE filter
 * that the CONNECT ACL allowed is also put to the auth-service, which asks the team's HTTP API.
 * Answers are kept per connection for the time the API allowed (Cache-Control), so a device
 * publishing to its usual topics costs one request per topic, not one per message.
 *
 * While an answer is awaited the connection's input is held (handlePacket queues it in
 * pendingIn) and the packet is handled again once the answer is in, then the held packets in
 * arrival order: publishes are routed, and acknowledged, in the order they arrived [MQTT-4.6.0-2],
 * [MQTT-4.6.0-3]. Gateway only; no socket access.
 */

export interface TopicAsk {
  readonly action: 'publish' | 'subscribe';
  readonly topic: string;
  readonly qos: 0 | 1 | 2;
  readonly retain: boolean;
}

export interface TopicVerdict {
  readonly allow: boolean;
  /** How long the connection may reuse it (0: only for the packet that asked). */
  readonly ttlMs: number;
}

/** Answers obtained for the packet being handled again (by topicKey). */
export type Decided = ReadonlyMap<string, boolean>;

export function topicKey(a: TopicAsk): string {
  return `${a.action === 'publish' ? 'p' : 's'}${a.qos}${a.retain ? 1 : 0}${a.topic}`;
}

/** The known answer for `a` (just obtained, or cached and not expired), else undefined. */
export function knownVerdict(c: ConnState, a: TopicAsk, now: number, decided: Decided | undefined): boolean | undefined {
  const key = topicKey(a);
  const d = decided?.get(key);
  if (d !== undefined) return d;
  const e = c.topicVerdicts?.get(key);
  if (e === undefined) return undefined;
  if (e.until > now) return e.allow;
  c.topicVerdicts!.delete(key);
  return undefined;
}

/**
 * Holds the connection's input, asks for every `asks` entry, remembers the answers (at most
 * maxEntries per connection, oldest out first), then calls `again` with them and lets the held
 * packets through. A connection closed meanwhile is left alone.
 */
export function holdForVerdicts(c: ConnState, ports: GatewayPorts, asks: readonly TopicAsk[], maxEntries: number, again: (decided: Decided) => void): void {
  c.holding = true;
  ports.authorizeTopics!(c, asks)
    .then((verdicts) => {
      const now = ports.now();
      const decided = new Map<string, boolean>();
      const cache = c.topicVerdictCache;
      asks.forEach((a, i) => {
        const v = verdicts[i]!;
        const key = topicKey(a);
        decided.set(key, v.allow);
        if (v.ttlMs <= 0) return;
        cache.delete(key);
        cache.set(key, { allow: v.allow, until: now + v.ttlMs });
        if (cache.size > maxEntries) cache.delete(cache.keys().next().value as string);
      });
      c.holding = false;
      if (c.phase !== 'connected') return;
      again(decided);
      ports.resumeInput!(c);
    })
    .catch((err: unknown) => {
      c.holding = false;
      ports.fault(c, err);
    });
}
