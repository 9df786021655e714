import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Bus } from '../bus/bus.js';
import type { Config } from '../config/settings.js';
import { decodeStatusSafe, encodeRoutePublish, ROUTE_FAILED, ROUTE_NO_MATCH, ROUTE_QUOTA } from '../envelope/router.js';
import type { Logger } from '../log.js';
import { labelledCounter, type Metrics } from '../metrics.js';
import { RETRY, retrying } from '../retry-policy.js';
import { sessionKey, shardOf } from '../shard.js';
import { subjectSpace } from '../subjects.js';
import { validateTopicName } from '../topic.js';
import {
  decodeClientTraceAck,
  decodeConnectionInfoReply,
  decodeSessionAdminReply,
  encodeJson,
  type ClientTraceRequest,
  type ConnectionInfo,
  type SessionAdminRequest,
  type SessionInfo,
} from './admin-envelopes.js';
import { adminSubjects } from './admin-subjects.js';
import { bearerMatches } from './bearer-token.js';
import { clusterView } from './cluster-view.js';
import { gatherNodes, gatherReplies } from './cluster-gather.js';

/** Every route the admin API serves (docs/openapi.json describes exactly these; a test checks). */
export const ADMIN_ROUTES = [
  { method: 'get', path: '/api/v1/clients/{clientId}' },
  { method: 'delete', path: '/api/v1/clients/{clientId}' },
  { method: 'post', path: '/api/v1/clients/{clientId}/trace' },
  { method: 'get', path: '/api/v1/cluster' },
  { method: 'post', path: '/api/v1/publish' },
] as const;

/** An answer with an HTTP status (thrown inside a route handler, sent as JSON). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface AdminApiOptions {
  bus: Bus;
  config: Config;
  log: Logger;
  metrics: Metrics;
}

/**
 * The admin API on the HTTP port, behind the bearer token `admin.token` (unset: every /api/
 * path answers 404). Works from any process: it asks over the bus (the shard owner for a
 * client, every process for the cluster view, a router for a publish), never its own state.
 * Returns a handler that takes the requests under /api/ and returns false for the others.
 */
export function createAdminApi(o: AdminApiOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const { bus, config, log } = o;
  const token = config['admin.token'];
  const admin = adminSubjects(config['nats.subjectPrefix']);
  const subjects = subjectSpace(config['nats.subjectPrefix']);
  const timeoutMs = config['nats.requestTimeoutMs'];
  const requests = labelledCounter(o.metrics.counter('admin_requests_total', 'Admin API requests, by route and HTTP status.', ['route']));

  const askOwner = async (mountpoint: string, clientId: string, req: { op: 'info' } | { op: 'kick'; discardSession: boolean }) => {
    const key = sessionKey(mountpoint, clientId);
    const shard = shardOf(key, config.shards);
    const r = await retrying(() => bus.request(admin.session(shard), encodeJson({ ...req, key } satisfies SessionAdminRequest), { timeoutMs }), RETRY.adminToOwner).catch((err: Error) => {
      throw new HttpError(503, `no owner of the client's shard answered: ${err.message}`);
    });
    return decodeSessionAdminReply(r.data);
  };

  const connectionOf = async (info: SessionInfo): Promise<ConnectionInfo | undefined> => {
    if (!info.connected || info.gateway === undefined || info.connId === undefined || info.epoch === undefined) return undefined;
    try {
      const r = await bus.request(admin.gateway(info.gateway), encodeJson({ connId: info.connId, epoch: info.epoch }), { timeoutMs });
      const reply = decodeConnectionInfoReply(r.data);
      return reply.found ? reply.conn : undefined;
    } catch (err) {
      log.debug('gateway did not describe a connection', { gateway: info.gateway, err: err as Error });
      return undefined;
    }
  };

  const getClient = async (clientId: string, q: URLSearchParams) => {
    const mountpoint = q.get('mountpoint') ?? '';
    const reply = await askOwner(mountpoint, clientId, { op: 'info' });
    if (!reply.found || !('info' in reply)) throw new HttpError(404, 'no session for this client id');
    const i = reply.info;
    const c = await connectionOf(i);
    return {
      clientId: i.clientId,
      mountpoint: i.mountpoint,
      connected: i.connected,
      connectedAt: c?.connectedAt !== undefined ? new Date(c.connectedAt).toISOString() : null,
      gateway: i.gateway ?? null,
      peer: c?.peer ?? null,
      listener: c?.listener ?? null,
      protocolLevel: i.protocolVersion,
      keepaliveS: c?.keepaliveS ?? null,
      subscriptions: i.subscriptions,
      queued: i.queued,
      queuedBytes: i.queuedBytes,
      inflight: i.inflight,
      sessionExpiryS: i.sessionExpiryS,
      sessionExpiresAt: i.expiresAt !== undefined ? new Date(i.expiresAt).toISOString() : null,
      willPending: i.willPending,
    };
  };

  const deleteClient = async (clientId: string, q: URLSearchParams) => {
    const discardSession = q.get('session') === 'true';
    const reply = await askOwner(q.get('mountpoint') ?? '', clientId, { op: 'kick', discardSession });
    if (!reply.found || !('disconnected' in reply)) throw new HttpError(404, 'no session for this client id');
    log.info('admin API: client disconnected', { clientId, disconnected: reply.disconnected, sessionDiscarded: reply.sessionDiscarded });
    return { clientId, disconnected: reply.disconnected, sessionDiscarded: reply.sessionDiscarded };
  };

  /** Every gateway opens the window (the client may be on any, or connect to any during it). */
  const trace = async (clientId: string, q: URLSearchParams, body: Buffer) => {
    const seconds = parseTraceBody(body, config['admin.maxTraceS']);
    const req: ClientTraceRequest = { clientId, mountpoint: q.get('mountpoint') ?? '', seconds };
    const until = Date.now() + seconds * 1000;
    const { replies } = await gatherReplies(bus, admin, admin.trace, req, config['admin.gatherMs'], decodeClientTraceAck);
    if (replies.length === 0) throw new HttpError(503, 'no gateway answered: nothing to trace');
    replies.sort((a, b) => a.gateway.localeCompare(b.gateway));
    log.info('admin API: client trace started', { clientId, seconds, gateways: replies.length });
    return { clientId, mountpoint: req.mountpoint, seconds, until: new Date(until).toISOString(), gateways: replies };
  };

  const publish = async (body: Buffer) => {
    const p = parsePublishBody(body, config);
    const id = p.qos > 0 ? `admin-${randomBytes(9).toString('base64url')}` : undefined;
    const data = encodeRoutePublish({ mountpoint: p.mountpoint, message: { topic: p.topic, payload: p.payload, qos: p.qos, retain: p.retain, origin: '' }, id });
    // Always a request, QoS 0 included, so the caller learns whether a router took it.
    const status = await retrying(() => bus.request(subjects.routePublish, data, { timeoutMs }), RETRY.adminPublishToRouter).then(
      (r) => decodeStatusSafe(r.data),
      () => ROUTE_FAILED,
    );
    if (status === ROUTE_QUOTA) throw new HttpError(429, 'retained message quota exceeded');
    if (status >= 0x80) throw new HttpError(503, 'no router accepted the message');
    log.info('admin API: message published', { topic: p.topic, qos: p.qos, retain: p.retain, bytes: p.payload.length });
    return { topic: p.topic, qos: p.qos, retain: p.retain, matched: status !== ROUTE_NO_MATCH };
  };

  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (!url.pathname.startsWith('/api/')) return false;
    const route = routeOf(req.method ?? 'GET', url.pathname);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests(`${route?.name ?? 'unknown'}_${status}`);
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
      res.end(JSON.stringify(body) + '\n');
    };
    if (token === undefined) {
      send(404, { error: 'the admin API is off: set admin.token (SHARDMQ_ADMIN_TOKEN)' });
      return true;
    }
    const auth = req.headers.authorization;
    if (!bearerMatches(auth, token)) {
      // RFC 6750 section 3: no credentials -> the bare challenge; wrong ones -> invalid_token.
      const challenge = auth === undefined ? 'Bearer realm="shardmq"' : 'Bearer realm="shardmq", error="invalid_token"';
      send(401, { error: 'missing or wrong bearer token' }, { 'www-authenticate': challenge });
      return true;
    }
    if (!route) {
      send(404, { error: `no route ${req.method} ${url.pathname}` });
      return true;
    }
    if (route.method !== req.method) {
      send(405, { error: `${req.method} is not allowed on ${url.pathname}` }, { allow: route.allow });
      return true;
    }
    const run = async () => {
      switch (route.name) {
        case 'client_get':
          return getClient(route.clientId!, url.searchParams);
        case 'client_delete':
          return deleteClient(route.clientId!, url.searchParams);
        case 'client_trace':
          return trace(route.clientId!, url.searchParams, await readBody(req, config['admin.maxRequestBytes']));
        case 'cluster':
          return clusterView(await gatherNodes(bus, admin, config['admin.gatherMs']), config.shards);
        case 'publish':
          return publish(await readBody(req, config['admin.maxRequestBytes']));
      }
    };
    run().then(
      (body) => send(200, body),
      (err: Error) => {
        if (err instanceof HttpError) send(err.status, { error: err.message });
        else {
          log.error('admin API request failed', { route: route.name, err });
          send(500, { error: 'internal error' });
        }
      },
    );
    return true;
  };
}

interface MatchedRoute {
  name: 'client_get' | 'client_delete' | 'client_trace' | 'cluster' | 'publish';
  method: string;
  allow: string;
  clientId?: string;
}

function routeOf(method: string, path: string): MatchedRoute | undefined {
  const parts = path.split('/'); // ['', 'api', 'v1', ...]
  if (parts[1] !== 'api' || parts[2] !== 'v1') return undefined;
  if ((parts.length === 5 || (parts.length === 6 && parts[5] === 'trace')) && parts[3] === 'clients' && parts[4] !== '') {
    let clientId: string;
    try {
      clientId = decodeURIComponent(parts[4]!); // a client id may hold '/' (sent as %2F)
    } catch {
      return undefined;
    }
    if (parts.length === 6) return { name: 'client_trace', method: 'POST', allow: 'POST', clientId };
    return { name: method === 'DELETE' ? 'client_delete' : 'client_get', method: method === 'DELETE' ? 'DELETE' : 'GET', allow: 'GET, DELETE', clientId };
  }
  if (parts.length === 4 && parts[3] === 'cluster') return { name: 'cluster', method: 'GET', allow: 'GET' };
  if (parts.length === 4 && parts[3] === 'publish') return { name: 'publish', method: 'POST', allow: 'POST' };
  return undefined;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      if (n > maxBytes) return; // already refused: read and drop the rest, so the 413 reaches the client
      n += c.length;
      if (n > maxBytes) {
        chunks.length = 0;
        reject(new HttpError(413, `request body larger than admin.maxRequestBytes (${maxBytes} bytes)`));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A request body that must be one JSON object; anything else is a 400. */
function jsonObjectBody(body: Buffer): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new HttpError(400, 'the body must be a JSON object');
  return v as Record<string, unknown>;
}

/** The trace length of a POST /api/v1/clients/{id}/trace body (`{"seconds": N}`, default 60, at most admin.maxTraceS); an empty body is the default. */
export function parseTraceBody(body: Buffer, maxS: number): number {
  if (body.length === 0) return Math.min(60, maxS);
  const s = jsonObjectBody(body).seconds ?? Math.min(60, maxS);
  if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > maxS) throw new HttpError(400, `seconds: an integer from 1 to ${maxS} (admin.maxTraceS)`);
  return s;
}

interface PublishRequest {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
  retain: boolean;
  mountpoint: string;
}

/** Validates a POST /api/v1/publish body; a bad one is a 400 naming the field. */
export function parsePublishBody(body: Buffer, config: Config): PublishRequest {
  const b = jsonObjectBody(body);
  if (typeof b.topic !== 'string') throw new HttpError(400, 'topic: required string');
  const why = validateTopicName(b.topic, config['mqtt.maxTopicLevels']);
  if (why) throw new HttpError(400, `topic: ${why}`);
  const encoding = b.payloadEncoding ?? 'utf8';
  if (encoding !== 'utf8' && encoding !== 'base64') throw new HttpError(400, 'payloadEncoding: utf8 or base64');
  if (b.payload !== undefined && typeof b.payload !== 'string') throw new HttpError(400, 'payload: string');
  const text = (b.payload as string | undefined) ?? '';
  if (encoding === 'base64' && !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new HttpError(400, 'payload: not base64');
  const payload = Buffer.from(text, encoding);
  // The subscribers' gateways refuse nothing larger than their own limit: keep to it.
  if (payload.length > config['mqtt.maxPacketBytes'] - b.topic.length - 16) throw new HttpError(413, 'payload: larger than mqtt.maxPacketBytes allows');
  const qos = b.qos ?? 0;
  if (qos !== 0 && qos !== 1 && qos !== 2) throw new HttpError(400, 'qos: 0, 1 or 2');
  if (b.retain !== undefined && typeof b.retain !== 'boolean') throw new HttpError(400, 'retain: boolean');
  if (b.mountpoint !== undefined && (typeof b.mountpoint !== 'string' || !/^[^\u0000/#+]*$/.test(b.mountpoint))) throw new HttpError(400, 'mountpoint: a string without NUL, /, + or #');
  return { topic: b.topic, payload, qos, retain: b.retain === true, mountpoint: (b.mountpoint as string | undefined) ?? '' };
}
