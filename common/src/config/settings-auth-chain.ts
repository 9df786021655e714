import { int, list, optStr, str, url, type Setting } from './setting.js';

/**
 * Authentication backends besides PostgreSQL (issue 11): the chain order, the HTTP backend and
 * JWT. docs/auth.md ("HTTP backend", "JWT", "Chain") explains each group. Cross-setting rules
 * (a backend named in auth.chain must be configured, a JWT key source must exist) are checked by
 * the auth-service at start (auth-service/src/chain/chain-order.ts), naming the setting.
 */

export const AUTH_BACKENDS = ['jwt', 'http', 'postgres'] as const;
export type AuthBackendName = (typeof AUTH_BACKENDS)[number];

/** JWS algorithms the JWT backend can accept (jose verifies them on WebCrypto). */
export const JWT_ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384'] as const;
export type JwtAlgorithm = (typeof JWT_ALGORITHMS)[number];

/** A JWT claim name: non-empty, no dots (claims are looked up at the top level of the payload). */
const CLAIM = /^[^.\s]+$/;

/** An optional list that must not repeat an entry (a backend twice in the chain is a mistake). */
function uniqueList<V extends string>(o: { doc: string; values: readonly V[]; default: readonly V[] }): Setting<readonly V[]> {
  const base = list({ default: o.default, doc: o.doc, values: o.values });
  const check = (items: readonly string[]): readonly V[] => {
    const seen = new Set<string>();
    for (const i of items) {
      if (seen.has(i)) throw new Error(`names "${i}" twice`);
      seen.add(i);
    }
    return items as readonly V[];
  };
  return { ...base, default: o.default, parse: (raw) => check(base.parse(raw)), fromJson: (v) => check(base.fromJson(v)) };
}

export const authChainSettings = {
  'auth.chain': uniqueList({
    default: [],
    values: AUTH_BACKENDS,
    doc: 'Authentication backends asked in this order (jwt, http, postgres); each allows, denies or ignores (not mine: ask the next), the first definitive answer decides. Empty: every configured backend in the order jwt, http, postgres.',
  }),
  'auth.http.url': url({
    default: undefined,
    protocols: ['http', 'https'],
    doc: 'HTTP authentication backend: each CONNECT is POSTed here as JSON (client id, user name, password, peer, mountpoint, protocol level); setting it turns the backend on.',
  }),
  'auth.http.authorization': optStr({
    default: undefined,
    secret: true,
    doc: 'Value of the Authorization header sent to auth.http.url (e.g. "Bearer <token>"), so the auth server can tell the broker from anyone else.',
  }),
  'auth.http.caFile': optStr({ default: undefined, doc: 'PEM file of the CA(s) that signed the HTTPS auth server certificate (default: the system CAs).' }),
  'auth.http.timeoutMs': int({ default: 3000, min: 50, max: 60000, doc: 'Timeout of one HTTP auth request (connect to last byte).' }),
  'auth.http.retries': int({ default: 2, min: 0, max: 10, doc: 'Retries of an HTTP auth request after a connection error, timeout, 429 or 5xx (never after an answer).' }),
  'auth.http.retryBaseDelayMs': int({ default: 100, min: 1, max: 10000, doc: 'Backoff before HTTP auth retry n: a random delay up to retryBaseDelayMs * 2^(n-1) (full jitter).' }),
  'auth.http.maxResponseBytes': int({ default: 65536, min: 256, max: 16777216, doc: 'Largest HTTP auth answer body; a longer one is refused as malformed.' }),
  'auth.http.cacheTtlMs': int({ default: 30000, min: 0, max: 86400000, doc: 'How long an HTTP allow answer without Cache-Control is answered from memory (0: never).' }),
  'auth.http.negativeCacheTtlMs': int({ default: 2000, min: 0, max: 600000, doc: 'How long an HTTP deny answer without Cache-Control is answered from memory (0: never).' }),
  'auth.http.maxCacheTtlMs': int({ default: 3600000, min: 0, max: 86400000, doc: 'Upper bound on Cache-Control: max-age from the HTTP auth server.' }),
  'auth.http.aclUrl': url({
    default: undefined,
    protocols: ['http', 'https'],
    doc: 'Per-message authorization: when set, every PUBLISH topic and SUBSCRIBE filter the CONNECT ACL allowed is also POSTed here (action, topic, qos, retain, client) and must be answered {"result":"allow"}. Answers are cached per connection (Cache-Control max-age, else auth.http.aclCacheTtlMs). Uses the auth.http.* timeout, retries, CA and Authorization.',
  }),
  'auth.http.aclCacheTtlMs': int({
    default: 60000,
    min: 0,
    max: 86400000,
    doc: 'How long a per-message authorization answer without Cache-Control is reused by the connection (0: ask for every message).',
  }),
  'auth.http.aclCacheMaxEntries': int({ default: 1000, min: 1, max: 1000000, doc: 'Most per-message authorization answers one connection keeps (oldest dropped first).' }),
  'auth.jwt.secretFile': optStr({
    default: undefined,
    doc: 'File holding the HMAC secret for HS256/HS384/HS512 tokens (one trailing newline is ignored). Setting a JWT key source turns the JWT backend on.',
  }),
  'auth.jwt.publicKeyFile': optStr({ default: undefined, doc: 'PEM public key (SPKI "BEGIN PUBLIC KEY" or a certificate) for RS*/PS*/ES* tokens.' }),
  'auth.jwt.jwksUrl': url({
    default: undefined,
    protocols: ['http', 'https'],
    doc: 'JWKS endpoint with the public keys of RS*/PS*/ES* tokens (chosen by kid); refreshed periodically and when a token names an unknown kid.',
  }),
  'auth.jwt.jwksCaFile': optStr({ default: undefined, doc: 'PEM file of the CA(s) that signed the HTTPS JWKS server certificate (default: the system CAs).' }),
  'auth.jwt.jwksRefreshIntervalMs': int({ default: 300000, min: 1000, max: 86400000, doc: 'The JWKS is fetched again this often in the background (a failed fetch keeps the last keys).' }),
  'auth.jwt.jwksMinRefreshIntervalMs': int({
    default: 30000,
    min: 0,
    max: 3600000,
    doc: 'A token with an unknown kid triggers a JWKS fetch at most once per this interval (rate limit against tokens with made-up kids).',
  }),
  'auth.jwt.jwksTimeoutMs': int({ default: 5000, min: 50, max: 60000, doc: 'Timeout of one JWKS fetch.' }),
  'auth.jwt.algorithms': list({ default: ['HS256', 'RS256', 'ES256'], values: JWT_ALGORITHMS, doc: 'JWS algorithms accepted; a token signed with another is refused.' }),
  'auth.jwt.clockSkewMs': int({ default: 30000, min: 0, max: 3600000, doc: "Tolerance when checking exp and nbf against this machine's clock." }),
  'auth.jwt.requiredClaims': list({ default: ['exp'], values: ['exp', 'nbf', 'iat', 'sub', 'iss', 'aud'], doc: 'Claims a token must carry (default exp: tokens that never expire are refused).' }),
  'auth.jwt.issuer': optStr({ default: undefined, doc: 'When set, the iss claim must equal it.' }),
  'auth.jwt.audience': optStr({ default: undefined, doc: 'When set, the aud claim must contain it.' }),
  'auth.jwt.clientIdClaim': str({ default: 'clientid', pattern: CLAIM, doc: 'Claim binding a token to a client id: when present it must equal the CONNECT client id.' }),
  'auth.jwt.usernameClaim': str({
    default: 'username',
    pattern: CLAIM,
    doc: 'Claim naming the user: when present it must equal the CONNECT user name (if one was sent) and is what %u stands for in ACL patterns.',
  }),
  'auth.jwt.publishAclClaim': str({ default: 'publish_acl', pattern: CLAIM, doc: 'Claim holding the publish ACL (VerneMQ publish_acl shape: [{"pattern": ..., "max_qos": ...}]; %c %u %m allowed).' }),
  'auth.jwt.subscribeAclClaim': str({ default: 'subscribe_acl', pattern: CLAIM, doc: 'Claim holding the subscribe ACL (VerneMQ subscribe_acl shape).' }),
  'auth.jwt.defaultPublishAcl': optStr({
    default: undefined,
    doc: 'Publish ACL (JSON, VerneMQ shape, placeholders allowed) for tokens without the publish ACL claim. Unset: such tokens may publish nothing.',
  }),
  'auth.jwt.defaultSubscribeAcl': optStr({
    default: undefined,
    doc: 'Subscribe ACL (JSON, VerneMQ shape, placeholders allowed) for tokens without the subscribe ACL claim. Unset: such tokens may subscribe to nothing.',
  }),
} as const;
