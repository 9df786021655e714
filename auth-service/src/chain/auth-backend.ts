import type { AuthBackendName, ClientAcl, AuthRequest } from '../../../common/src/index.js';

/**
 * What one authentication backend says about one CONNECT (EMQX's authenticator chain answers):
 * - allow: authenticated, enforce `acl` (null: no enforcement);
 * - deny: definitive refusal with the CONNACK result to send;
 * - ignore: "not mine" (a password that is not a JWT, an HTTP `{"result":"ignore"}`, no user
 *   name for PostgreSQL): the next backend in auth.chain is asked;
 * - unavailable: the backend could not decide (its server is down and nothing usable is cached).
 *   This is definitive too: asking the next backend could turn "retry later" into "bad password"
 *   for a device that backend does not know (docs/auth.md, "Chain").
 */
export type BackendAnswer =
  | { readonly kind: 'allow'; readonly acl: ClientAcl | null }
  | { readonly kind: 'deny'; readonly result: 'bad-credentials' | 'not-authorized'; readonly reason?: string }
  | { readonly kind: 'ignore' }
  | { readonly kind: 'unavailable'; readonly reason: string };

/** One CONNECT as the backends see it; built once by the auth-service. */
export interface CredentialInput {
  readonly req: AuthRequest;
  /** The raw password bytes; undefined when the CONNECT had no password flag. */
  readonly password: Buffer | undefined;
  /** HMAC of mountpoint, client id, user name and password (CredentialKeyer): cache key, never the secret. */
  readonly key: string;
}

/** A backend of the chain. Runs on the auth-service; start/stop are called once each. */
export interface AuthBackend {
  readonly name: AuthBackendName;
  authenticate(input: CredentialInput): Promise<BackendAnswer>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** False while the backend knows it cannot answer (PostgreSQL: no host reachable). */
  ready(): boolean;
  /** Settings worth a start-up log line (never a secret). */
  describe(): Record<string, unknown>;
}
