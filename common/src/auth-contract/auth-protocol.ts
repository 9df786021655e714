import type { ClientAcl } from '../acl/acl-types.js';

/**
 * Bus contract between gateway and auth-service on `subjects.authConnect` (request/reply,
 * queue group `subjects.authQueue`). JSON is fine here: one round trip per CONNECT, never per
 * message. Both directions carry the contract's major version as `v` (absent: 1, from a release
 * before the field); the subject names it too (`<prefix>.auth.v1.connect`). Compatibility rule, as
 * for bus envelopes (docs/architecture.md, "Envelope versions"): within a major, fields are only
 * added, optional, and a reader ignores fields it does not know; a message of another major is
 * refused with AuthVersionError (the auth service answers `unavailable` and counts it, the gateway
 * treats such a reply as `unavailable`).
 */

export const AUTH_CONTRACT_MAJOR = 1;

export interface AuthRequest {
  /** Mountpoint of the listener the client connected to ('' by default). */
  mountpoint: string;
  clientId: string;
  /** Absent when the CONNECT carried no user name flag. */
  username?: string;
  /** Base64 of the raw password bytes; absent when the CONNECT carried no password flag. */
  password?: string;
  /** Peer address for logs ("1.2.3.4:5678"); never used for decisions. */
  peer?: string;
  /** 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0. */
  protocolVersion: 3 | 4 | 5;
}

/**
 * ok: connect, enforce `acl`. bad-credentials: unknown user or wrong password.
 * not-authorized: credentials missing where required, or the user's ACL is unusable.
 * unavailable: the database (or the auth-service) could not answer; the client should retry.
 */
export type AuthResult = 'ok' | 'bad-credentials' | 'not-authorized' | 'unavailable';

export interface AuthReply {
  result: AuthResult;
  /** Present when result is 'ok'; null means no enforcement (anonymous / no auth database). */
  acl: ClientAcl | null;
  /** Short operator-facing reason (never a password); may go into an MQTT 5 Reason String. */
  reason?: string;
}

const RESULTS: readonly AuthResult[] = ['ok', 'bad-credentials', 'not-authorized', 'unavailable'];
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export class AuthProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthProtocolError';
  }
}

/** An auth message of another major contract version. */
export class AuthVersionError extends AuthProtocolError {
  constructor(readonly major: unknown) {
    super(`auth contract major version ${String(major)}; this process speaks ${AUTH_CONTRACT_MAJOR}`);
    this.name = 'AuthVersionError';
  }
}

function checkMajor(o: Record<string, unknown>): void {
  const v = o.v ?? 1;
  if (v !== AUTH_CONTRACT_MAJOR) throw new AuthVersionError(v);
}

export function encodeAuthRequest(r: AuthRequest): Uint8Array {
  return enc.encode(
    JSON.stringify({
      v: AUTH_CONTRACT_MAJOR,
      mountpoint: r.mountpoint,
      clientId: r.clientId,
      username: r.username,
      password: r.password,
      peer: r.peer,
      protocolVersion: r.protocolVersion,
    }),
  );
}

/** Throws AuthProtocolError on anything malformed. */
export function decodeAuthRequest(b: Uint8Array): AuthRequest {
  const o = parseObject(b);
  checkMajor(o);
  const str = (k: string, optional: boolean): string | undefined => {
    const v = o[k];
    if (v === undefined || v === null) {
      if (optional) return undefined;
      throw new AuthProtocolError(`auth request: ${k} missing`);
    }
    if (typeof v !== 'string') throw new AuthProtocolError(`auth request: ${k} must be a string`);
    return v;
  };
  const pv = o.protocolVersion;
  if (pv !== 3 && pv !== 4 && pv !== 5) throw new AuthProtocolError('auth request: protocolVersion must be 3, 4 or 5');
  const password = str('password', true);
  if (password !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(password)) {
    throw new AuthProtocolError('auth request: password must be base64');
  }
  return {
    mountpoint: str('mountpoint', false)!,
    clientId: str('clientId', false)!,
    username: str('username', true),
    password,
    peer: str('peer', true),
    protocolVersion: pv,
  };
}

/**
 * One PUBLISH topic or SUBSCRIBE filter to authorize (auth.http.aclUrl), on `subjects.authAuthorize`.
 * Sent only when the connection has no cached answer for it, never per message otherwise.
 */
export interface AuthorizeRequest {
  mountpoint: string;
  clientId: string;
  username?: string;
  action: 'publish' | 'subscribe';
  /** The topic name (publish) or the filter as the client sent it, `$share/...` included (subscribe). */
  topic: string;
  qos: 0 | 1 | 2;
  retain: boolean;
}

/** allow or not; ttlMs: how long the connection may reuse the answer (0: ask again next time). */
export interface AuthorizeReply {
  allow: boolean;
  ttlMs: number;
}

export function encodeAuthorizeRequest(r: AuthorizeRequest): Uint8Array {
  return enc.encode(JSON.stringify({ v: AUTH_CONTRACT_MAJOR, mountpoint: r.mountpoint, clientId: r.clientId, username: r.username, action: r.action, topic: r.topic, qos: r.qos, retain: r.retain }));
}

/** Throws AuthProtocolError on anything malformed. */
export function decodeAuthorizeRequest(b: Uint8Array): AuthorizeRequest {
  const o = parseObject(b);
  checkMajor(o);
  if (typeof o.mountpoint !== 'string' || typeof o.clientId !== 'string' || typeof o.topic !== 'string')
    throw new AuthProtocolError('authorize request: mountpoint, clientId and topic must be strings');
  if (o.username !== undefined && o.username !== null && typeof o.username !== 'string') throw new AuthProtocolError('authorize request: username must be a string');
  if (o.action !== 'publish' && o.action !== 'subscribe') throw new AuthProtocolError('authorize request: action must be publish or subscribe');
  if (o.qos !== 0 && o.qos !== 1 && o.qos !== 2) throw new AuthProtocolError('authorize request: qos must be 0, 1 or 2');
  if (typeof o.retain !== 'boolean') throw new AuthProtocolError('authorize request: retain must be a boolean');
  return { mountpoint: o.mountpoint, clientId: o.clientId, username: typeof o.username === 'string' ? o.username : undefined, action: o.action, topic: o.topic, qos: o.qos, retain: o.retain };
}

export function encodeAuthorizeReply(r: AuthorizeReply): Uint8Array {
  return enc.encode(JSON.stringify({ v: AUTH_CONTRACT_MAJOR, allow: r.allow, ttlMs: r.ttlMs }));
}

/** Throws AuthProtocolError on anything malformed. */
export function decodeAuthorizeReply(b: Uint8Array): AuthorizeReply {
  const o = parseObject(b);
  checkMajor(o);
  if (typeof o.allow !== 'boolean' || typeof o.ttlMs !== 'number' || !Number.isSafeInteger(o.ttlMs) || o.ttlMs < 0) throw new AuthProtocolError('authorize reply: allow and ttlMs required');
  return { allow: o.allow, ttlMs: o.ttlMs };
}

export function encodeAuthReply(r: AuthReply): Uint8Array {
  return enc.encode(JSON.stringify({ v: AUTH_CONTRACT_MAJOR, result: r.result, acl: r.acl, reason: r.reason }));
}

/** Throws AuthProtocolError on anything malformed. */
export function decodeAuthReply(b: Uint8Array): AuthReply {
  const o = parseObject(b);
  checkMajor(o);
  if (!RESULTS.includes(o.result as AuthResult)) throw new AuthProtocolError('auth reply: unknown result');
  const acl = o.acl ?? null;
  if (acl !== null) {
    const a = acl as Record<string, unknown>;
    if (typeof acl !== 'object' || !Array.isArray(a.publish) || !Array.isArray(a.subscribe)) {
      throw new AuthProtocolError('auth reply: acl must hold publish and subscribe lists');
    }
    // The gateway checks every PUBLISH and SUBSCRIBE against these rules: a rule of the wrong
    // shape must fail here (CONNECT refused), not later inside a check on the message path.
    for (const r of a.publish) if (!isRule(r, true)) throw new AuthProtocolError('auth reply: malformed publish rule');
    for (const r of a.subscribe) if (!isRule(r, false)) throw new AuthProtocolError('auth reply: malformed subscribe rule');
  }
  const reply: AuthReply = { result: o.result as AuthResult, acl: acl as ClientAcl | null };
  if (typeof o.reason === 'string') reply.reason = o.reason;
  return reply;
}

function isRule(r: unknown, publish: boolean): boolean {
  if (r === null || typeof r !== 'object' || Array.isArray(r)) return false;
  const o = r as Record<string, unknown>;
  if (typeof o.pattern !== 'string' || typeof o.wildcard !== 'boolean' || (o.maxQos !== 0 && o.maxQos !== 1 && o.maxQos !== 2)) return false;
  if (!publish) return true;
  const n = o.maxPayloadBytes;
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && typeof o.allowedRetain === 'boolean';
}

function parseObject(b: Uint8Array): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(dec.decode(b));
  } catch (e) {
    throw new AuthProtocolError(`auth message is not JSON: ${(e as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new AuthProtocolError('auth message must be a JSON object');
  return v as Record<string, unknown>;
}

/**
 * CONNACK code for an auth result. MQTT 3.1/3.1.1 return codes [MQTT-3.2.2.3]: 0x00 accepted,
 * 0x03 server unavailable, 0x04 bad user name or password, 0x05 not authorized.
 * MQTT 5.0 reason codes [MQTT-3.2.2.2]: 0x00 success, 0x86 bad user name or password,
 * 0x87 not authorized, 0x88 server unavailable.
 */
export function connackCodeFor(result: AuthResult, protocolVersion: 3 | 4 | 5): number {
  const v5 = protocolVersion === 5;
  switch (result) {
    case 'ok':
      return 0x00;
    case 'bad-credentials':
      return v5 ? 0x86 : 0x04;
    case 'not-authorized':
      return v5 ? 0x87 : 0x05;
    case 'unavailable':
      return v5 ? 0x88 : 0x03;
  }
}
