import type { ClientAcl } from '../../../common/src/index.js';
import { AclFormatError, compileAcl } from '../acl/compile-acl.js';

/** Which claims carry what (auth.jwt.*Claim settings). */
export interface ClaimNames {
  readonly clientId: string;
  readonly username: string;
  readonly publishAcl: string;
  readonly subscribeAcl: string;
}

export type ClaimDecision =
  | { readonly kind: 'allow'; readonly acl: ClientAcl; readonly username: string; readonly warnings: readonly string[] }
  /** The token is valid but not for this CONNECT (another client id or user name). */
  | { readonly kind: 'deny'; readonly reason: string }
  /** An ACL claim is not a list (or not JSON): refused for this client, logged, counted. */
  | { readonly kind: 'malformed'; readonly error: string };

/**
 * Maps the claims of a verified token to the identity and ACL of one CONNECT (docs/auth.md, "JWT").
 * - client id claim present: it binds the token to that client id; any other client id is refused;
 * - user name claim present: it must equal the CONNECT user name when one was sent (with JWT the
 *   user name field is often a placeholder, and MQTT 5 may send a password alone) and is what
 *   `%u` stands for; absent: the CONNECT user name is;
 * - ACL claims in the VerneMQ row shape, compiled by compileAcl with `%c %u %m`; a missing claim
 *   takes the configured default (auth.jwt.defaultPublishAcl / defaultSubscribeAcl), else allows
 *   nothing, as a NULL column does in VerneMQ.
 * Pure; runs on the auth-service after the signature and time claims were verified.
 */
export function mapJwtClaims(
  payload: Readonly<Record<string, unknown>>,
  req: { readonly mountpoint: string; readonly clientId: string; readonly username?: string },
  names: ClaimNames,
  defaults: { readonly publish?: unknown; readonly subscribe?: unknown } = {},
): ClaimDecision {
  const cid = payload[names.clientId];
  if (cid !== undefined && cid !== req.clientId) return { kind: 'deny', reason: 'token is for another client id' };
  const user = payload[names.username];
  if (user !== undefined) {
    if (typeof user !== 'string') return { kind: 'deny', reason: `claim ${names.username} is not a string` };
    if (req.username !== undefined && req.username !== user) return { kind: 'deny', reason: 'token is for another user name' };
  }
  const username = typeof user === 'string' ? user : (req.username ?? '');
  const pub = payload[names.publishAcl] ?? defaults.publish ?? null;
  const sub = payload[names.subscribeAcl] ?? defaults.subscribe ?? null;
  try {
    const compiled = compileAcl(pub, sub, { mountpoint: req.mountpoint, clientId: req.clientId, username });
    return { kind: 'allow', acl: compiled.acl, username, warnings: compiled.warnings };
  } catch (e) {
    if (e instanceof AclFormatError) return { kind: 'malformed', error: e.message };
    throw e;
  }
}
