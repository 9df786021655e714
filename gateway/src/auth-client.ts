import {
  type Bus,
  type SubjectSpace,
  AuthVersionError,
  decodeAuthorizeReply,
  decodeAuthReply,
  encodeAuthorizeRequest,
  encodeAuthRequest,
  type AuthorizeReply,
  type AuthorizeRequest,
  type AuthReply,
  type AuthRequest,
} from '../../common/src/index.js';

export interface AuthClient {
  /**
   * Asks any auth-service replica (queue group) to authenticate one CONNECT. Never rejects:
   * no responders, a timeout or a malformed answer all give `{ result: 'unavailable' }`, which the
   * gateway turns into CONNACK "server unavailable" (3.1.1 0x03, 5.0 0x88) so the device retries.
   */
  authenticate(req: AuthRequest): Promise<AuthReply>;
  /**
   * Asks an auth-service to authorize one topic or filter (auth.http.aclUrl). Never rejects:
   * no answer or a malformed one is a refusal not to be reused (fail closed, ask again next time).
   */
  authorize(req: AuthorizeRequest): Promise<AuthorizeReply>;
}

/** Used by the gateway (any number of concurrent calls). */
export function createAuthClient(bus: Bus, subjects: SubjectSpace, timeoutMs: number): AuthClient {
  return {
    async authenticate(req) {
      let data: Uint8Array;
      try {
        const msg = await bus.request(subjects.authConnect, encodeAuthRequest(req), { timeoutMs });
        data = msg.data;
      } catch (e) {
        const code = (e as { code?: string }).code;
        const reason = code === 'NO_RESPONDERS' ? 'no auth service running' : code === 'TIMEOUT' ? 'auth service timed out' : 'auth request failed';
        return { result: 'unavailable', acl: null, reason };
      }
      try {
        return decodeAuthReply(data);
      } catch (e) {
        return { result: 'unavailable', acl: null, reason: e instanceof AuthVersionError ? 'auth reply of another contract version' : 'malformed auth reply' };
      }
    },
    async authorize(req) {
      try {
        const msg = await bus.request(subjects.authAuthorize, encodeAuthorizeRequest(req), { timeoutMs });
        return decodeAuthorizeReply(msg.data);
      } catch {
        return { allow: false, ttlMs: 0 };
      }
    },
  };
}
