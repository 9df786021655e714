import type { AuthReply } from '../../../common/src/index.js';
import type { AuthBackend, BackendAnswer, CredentialInput } from './auth-backend.js';

/**
 * The chain decision (docs/auth.md, "Chain"), as EMQX's authenticator chain: the backends are
 * asked in auth.chain order and the first answer that is not "ignore" decides. When every backend
 * ignored the CONNECT:
 * - without a user name it is an anonymous client: accepted with no ACL only when allowAnonymous
 *   is on, else not authorized (today's PostgreSQL behaviour: PostgreSQL ignores such CONNECTs);
 * - with a user name nobody vouched for the credentials: bad user name or password.
 * An empty chain (no backend configured) accepts everyone; the service logs that at start.
 * Pure apart from the backends it is handed; runs on the auth-service.
 */
export async function runChain(
  backends: readonly AuthBackend[],
  input: CredentialInput,
  o: { allowAnonymous: boolean; onAnswer?: (backend: AuthBackend, answer: BackendAnswer) => void },
): Promise<AuthReply> {
  if (backends.length === 0) return { result: 'ok', acl: null };
  for (const b of backends) {
    const a = await b.authenticate(input);
    o.onAnswer?.(b, a);
    if (a.kind !== 'ignore') return replyFor(a);
  }
  if (input.req.username === undefined) {
    return o.allowAnonymous ? { result: 'ok', acl: null } : { result: 'not-authorized', acl: null, reason: 'user name and password required' };
  }
  return { result: 'bad-credentials', acl: null, reason: 'no authentication backend accepted the credentials' };
}

/** The bus reply for a definitive backend answer. */
export function replyFor(a: Exclude<BackendAnswer, { kind: 'ignore' }>): AuthReply {
  switch (a.kind) {
    case 'allow':
      return { result: 'ok', acl: a.acl };
    case 'deny':
      return a.reason === undefined ? { result: a.result, acl: null } : { result: a.result, acl: null, reason: a.reason };
    case 'unavailable':
      return { result: 'unavailable', acl: null, reason: a.reason };
  }
}
