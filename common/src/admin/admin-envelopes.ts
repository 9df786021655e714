import { EnvelopeError } from '../envelope/envelope-error.js';

/**
 * Request/reply envelopes of the admin API on the bus (admin-subjects.ts). JSON, like the auth
 * contract: an operator's request is rare, never per message. Versioned by the subject
 * (`<prefix>.admin.v1.*`); unknown fields are ignored, so fields may be added without a new
 * subject. Every decoder checks the shape and throws EnvelopeError (only) on anything else.
 */

export interface SubscriptionInfo {
  /** The filter as the client subscribed it (`$share/<group>/<filter>` for shared ones). */
  filter: string;
  qos: number;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  /** MQTT 5 Subscription Identifier; absent when none. */
  subscriptionId?: number;
}

/** What the shard owner knows about one session (runs on the shard owner: session-info.ts). */
export interface SessionInfo {
  clientId: string;
  mountpoint: string;
  /** 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0 (of the current or last connection). */
  protocolVersion: number;
  connected: boolean;
  /** The gateway holding the connection, while connected. */
  gateway?: string;
  connId?: number;
  epoch?: number;
  /** Seconds the session outlives its connection; 4294967295 = never expires. */
  sessionExpiryS: number;
  /** While disconnected: when the session expires (ms since the epoch), unless it never does. */
  expiresAt?: number;
  subscriptions: SubscriptionInfo[];
  /** Messages waiting in the offline/overflow queue, and their bytes. */
  queued: number;
  queuedBytes: number;
  /** QoS 1/2 deliveries sent and not yet acknowledged. */
  inflight: number;
  /** A Will is held (sent on an unclean close, or after its delay). */
  willPending: boolean;
}

export type SessionAdminRequest = { op: 'info'; key: string } | { op: 'kick'; key: string; discardSession: boolean };

export type SessionAdminReply = { found: false } | { found: true; info: SessionInfo } | { found: true; disconnected: boolean; sessionDiscarded: boolean };

/** A gateway's view of one connection. */
export interface ConnectionInfo {
  /** The client's address: the socket peer, or the one a trusted PROXY protocol header named. */
  peer: string;
  /** When the CONNECT was accepted (ms since the epoch). */
  connectedAt?: number;
  /** The keepalive in force (the client's, or the MQTT 5 Server Keep Alive), in seconds. */
  keepaliveS: number;
  listener: string;
}

export interface ConnectionInfoRequest {
  connId: number;
  epoch: number;
}

export type ConnectionInfoReply = { found: false } | { found: true; conn: ConnectionInfo };

/** One process's answer to `nodes`. */
export interface NodeInfo {
  nodeId: string;
  roles: string[];
  version: string;
  /** ms since the epoch. */
  startedAt: number;
  gateway?: { id: string; connections: number; ports: Record<string, number> };
  /** Shards this session actor serves. */
  session?: { shards: number[] };
  router?: { id: string };
}

/** API process -> every gateway: log every packet of this client for `seconds`. */
export interface ClientTraceRequest {
  clientId: string;
  mountpoint: string;
  seconds: number;
}

/** One gateway's answer: it opened the window; `connections` of the client are open on it now. */
export interface ClientTraceAck {
  gateway: string;
  connections: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeJson(v: unknown): Uint8Array {
  return enc.encode(JSON.stringify(v));
}

function parse(data: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(data));
  } catch (err) {
    throw new EnvelopeError(`admin envelope is not JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EnvelopeError('admin envelope is not an object');
  return v as Record<string, unknown>;
}

function field<T>(o: Record<string, unknown>, k: string, type: 'string' | 'number' | 'boolean', optional = false): T {
  const v = o[k];
  if (v === undefined && optional) return v as T;
  if (typeof v !== type || (type === 'number' && !Number.isFinite(v))) throw new EnvelopeError(`admin envelope field ${k}: expected ${type}`);
  return v as T;
}

/** Copies the optional fields present in `o` onto `target`: an absent field stays absent, never undefined. */
function optionalFields<T extends object>(o: Record<string, unknown>, target: T, fields: ReadonlyArray<readonly [keyof T & string, 'string' | 'number' | 'boolean']>): T {
  for (const [k, type] of fields) {
    const v = field<unknown>(o, k, type, true);
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  }
  return target;
}

function obj(o: Record<string, unknown>, k: string): Record<string, unknown> {
  const v = o[k];
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EnvelopeError(`admin envelope field ${k}: expected an object`);
  return v as Record<string, unknown>;
}

function arr(o: Record<string, unknown>, k: string): unknown[] {
  const v = o[k];
  if (!Array.isArray(v)) throw new EnvelopeError(`admin envelope field ${k}: expected an array`);
  return v;
}

export function decodeSessionAdminRequest(data: Uint8Array): SessionAdminRequest {
  const o = parse(data);
  const key = field<string>(o, 'key', 'string');
  if (o.op === 'info') return { op: 'info', key };
  if (o.op === 'kick') return { op: 'kick', key, discardSession: field<boolean>(o, 'discardSession', 'boolean') };
  throw new EnvelopeError(`unknown admin session op ${String(o.op)}`);
}

export function decodeSessionAdminReply(data: Uint8Array): SessionAdminReply {
  const o = parse(data);
  if (!field<boolean>(o, 'found', 'boolean')) return { found: false };
  if (o.info !== undefined) return { found: true, info: decodeSessionInfo(obj(o, 'info')) };
  return { found: true, disconnected: field(o, 'disconnected', 'boolean'), sessionDiscarded: field(o, 'sessionDiscarded', 'boolean') };
}

function decodeSessionInfo(o: Record<string, unknown>): SessionInfo {
  const subscriptions = arr(o, 'subscriptions').map((s): SubscriptionInfo => {
    if (typeof s !== 'object' || s === null) throw new EnvelopeError('admin envelope: subscription is not an object');
    const r = s as Record<string, unknown>;
    const sub: SubscriptionInfo = {
      filter: field(r, 'filter', 'string'),
      qos: field(r, 'qos', 'number'),
      noLocal: field(r, 'noLocal', 'boolean'),
      retainAsPublished: field(r, 'retainAsPublished', 'boolean'),
      retainHandling: field(r, 'retainHandling', 'number'),
    };
    return optionalFields(r, sub, [['subscriptionId', 'number']]);
  });
  const info: SessionInfo = {
    clientId: field(o, 'clientId', 'string'),
    mountpoint: field(o, 'mountpoint', 'string'),
    protocolVersion: field(o, 'protocolVersion', 'number'),
    connected: field(o, 'connected', 'boolean'),
    sessionExpiryS: field(o, 'sessionExpiryS', 'number'),
    subscriptions,
    queued: field(o, 'queued', 'number'),
    queuedBytes: field(o, 'queuedBytes', 'number'),
    inflight: field(o, 'inflight', 'number'),
    willPending: field(o, 'willPending', 'boolean'),
  };
  return optionalFields(o, info, [
    ['gateway', 'string'],
    ['connId', 'number'],
    ['epoch', 'number'],
    ['expiresAt', 'number'],
  ]);
}

export function decodeConnectionInfoRequest(data: Uint8Array): ConnectionInfoRequest {
  const o = parse(data);
  return { connId: field(o, 'connId', 'number'), epoch: field(o, 'epoch', 'number') };
}

export function decodeConnectionInfoReply(data: Uint8Array): ConnectionInfoReply {
  const o = parse(data);
  if (!field<boolean>(o, 'found', 'boolean')) return { found: false };
  const c = obj(o, 'conn');
  const conn: ConnectionInfo = { peer: field(c, 'peer', 'string'), keepaliveS: field(c, 'keepaliveS', 'number'), listener: field(c, 'listener', 'string') };
  return { found: true, conn: optionalFields(c, conn, [['connectedAt', 'number']]) };
}

export function decodeNodeInfo(data: Uint8Array): NodeInfo {
  const o = parse(data);
  const roles = arr(o, 'roles');
  if (!roles.every((r) => typeof r === 'string')) throw new EnvelopeError('admin envelope field roles: expected strings');
  const n: NodeInfo = { nodeId: field(o, 'nodeId', 'string'), roles: roles as string[], version: field(o, 'version', 'string'), startedAt: field(o, 'startedAt', 'number') };
  if (o.gateway !== undefined) {
    const g = obj(o, 'gateway');
    const ports = obj(g, 'ports');
    for (const v of Object.values(ports)) if (typeof v !== 'number') throw new EnvelopeError('admin envelope field ports: expected numbers');
    n.gateway = { id: field(g, 'id', 'string'), connections: field(g, 'connections', 'number'), ports: ports as Record<string, number> };
  }
  if (o.session !== undefined) {
    const shards = arr(obj(o, 'session'), 'shards');
    if (!shards.every((s) => Number.isInteger(s))) throw new EnvelopeError('admin envelope field shards: expected integers');
    n.session = { shards: shards as number[] };
  }
  if (o.router !== undefined) n.router = { id: field(obj(o, 'router'), 'id', 'string') };
  return n;
}

export function decodeClientTraceRequest(data: Uint8Array): ClientTraceRequest {
  const o = parse(data);
  const seconds = field<number>(o, 'seconds', 'number');
  if (!Number.isInteger(seconds) || seconds < 1) throw new EnvelopeError('admin envelope field seconds: expected a positive integer');
  return { clientId: field(o, 'clientId', 'string'), mountpoint: field(o, 'mountpoint', 'string'), seconds };
}

export function decodeClientTraceAck(data: Uint8Array): ClientTraceAck {
  const o = parse(data);
  return { gateway: field(o, 'gateway', 'string'), connections: field(o, 'connections', 'number') };
}
