import type { ClientAcl } from '../../../common/src/index.js';
import { AclFormatError, compileAcl, type AclContext } from '../acl/compile-acl.js';

/**
 * The HTTP auth server's answer to one CONNECT (docs/auth.md, "HTTP backend"): status 200 with
 *   {"result": "allow" | "deny" | "ignore", "publish_acl": [...], "subscribe_acl": [...],
 *    "superuser": false, "reason": "..."}
 * where the ACL lists have the VerneMQ row shape and are compiled by the same compileAcl (entries
 * with invalid fields are dropped with a warning; a list that is not an array refuses the CONNECT).
 * 401 and 403 mean deny. Pure; runs on the auth-service.
 */
export type HttpAuthDecision =
  | { readonly kind: 'allow'; readonly acl: ClientAcl | null; readonly warnings: readonly string[] }
  | { readonly kind: 'deny'; readonly reason?: string }
  | { readonly kind: 'ignore' }
  /** The body is not a usable answer: refused for this client (not authorized), logged, counted. */
  | { readonly kind: 'malformed'; readonly error: string };

/** Longest `reason` passed on (it may reach an MQTT 5 client as a Reason String). */
const MAX_REASON_CHARS = 200;

const KNOWN_KEYS = new Set(['result', 'publish_acl', 'subscribe_acl', 'superuser', 'reason']);

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decideHttpAnswer(status: number, body: Uint8Array, ctx: AclContext): HttpAuthDecision {
  if (status === 401 || status === 403) return { kind: 'deny', reason: `auth server answered ${status}` };
  if (status !== 200) return { kind: 'malformed', error: `unexpected status ${status}` };
  let o: unknown;
  try {
    o = JSON.parse(utf8.decode(body));
  } catch (e) {
    return { kind: 'malformed', error: `body is not JSON: ${(e as Error).message}` };
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return { kind: 'malformed', error: 'body is not a JSON object' };
  const a = o as Record<string, unknown>;
  const reason = typeof a.reason === 'string' ? a.reason.slice(0, MAX_REASON_CHARS) : undefined;
  switch (a.result) {
    case 'ignore':
      return { kind: 'ignore' };
    case 'deny':
      return reason === undefined ? { kind: 'deny' } : { kind: 'deny', reason };
    case 'allow':
      break;
    default:
      return { kind: 'malformed', error: 'result must be "allow", "deny" or "ignore"' };
  }
  if (a.superuser !== undefined && typeof a.superuser !== 'boolean') return { kind: 'malformed', error: 'superuser must be true or false' };
  const unknown = Object.keys(a)
    .filter((k) => !KNOWN_KEYS.has(k))
    .map((k) => `unknown key "${k}" ignored`);
  // A superuser is exempt from ACLs, like an anonymous client: the server said so explicitly.
  if (a.superuser === true) return { kind: 'allow', acl: null, warnings: unknown };
  try {
    const compiled = compileAcl(a.publish_acl ?? null, a.subscribe_acl ?? null, ctx);
    return { kind: 'allow', acl: compiled.acl, warnings: [...unknown, ...compiled.warnings] };
  } catch (e) {
    if (e instanceof AclFormatError) return { kind: 'malformed', error: e.message };
    throw e;
  }
}

/** Body of the request to the HTTP auth server. `password` only when it is UTF-8 text, else base64. */
export interface HttpAuthRequestBody {
  clientid: string;
  username: string | null;
  password?: string | null;
  password_base64?: string;
  peer: string | null;
  mountpoint: string;
  protocol_version: 3 | 4 | 5;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function httpAuthRequestBody(r: { clientId: string; username?: string; peer?: string; mountpoint: string; protocolVersion: 3 | 4 | 5 }, password: Buffer | undefined): HttpAuthRequestBody {
  const body: HttpAuthRequestBody = {
    clientid: r.clientId,
    username: r.username ?? null,
    password: null,
    peer: r.peer ?? null,
    mountpoint: r.mountpoint,
    protocol_version: r.protocolVersion,
  };
  if (password !== undefined) {
    try {
      body.password = strictUtf8.decode(password);
    } catch {
      // MQTT passwords are binary data (3.1.1 §3.1.3.5, 5.0 §3.1.3.6): bytes that are not text go as base64.
      delete body.password;
      body.password_base64 = password.toString('base64');
    }
  }
  return body;
}
