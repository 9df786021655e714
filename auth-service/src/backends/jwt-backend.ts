import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors, importSPKI, jwtVerify, type CryptoKey, type JWSHeaderParameters, type FlattenedJWSInput } from 'jose';
import type { Counter } from 'prom-client';
import { type Config, redactUrl, type Logger, type Metrics, ChainConfigError } from '../../../common/src/index.js';
import { lintAclJson } from '../acl/compile-acl.js';
import type { CredentialKeyer } from '../cache/credential-cache.js';
import type { AuthBackend, BackendAnswer, CredentialInput } from '../chain/auth-backend.js';
import { JsonHttpClient } from '../http/json-over-http.js';
import { mapJwtClaims, type ClaimNames } from '../jwt/jwt-claims.js';
import { JwksKeys, JwksUnavailableError } from '../jwt/jwks-keys.js';
import { passwordAsJwt } from '../jwt/looks-like-jwt.js';
import type { AclWarnings } from './acl-warnings.js';

/** The token's algorithm has no key here (an HS token without a secret, an RS token without public keys). */
class NoKeyError extends Error {}

/**
 * JWT authentication (docs/auth.md, "JWT"): the MQTT password carries a signed JWT, as with EMQX
 * and NATS. Ignores passwords that are not JWT-shaped (the next backend checks them). A token is
 * verified by jose (signature on WebCrypto, async: the event loop is never held for a signature),
 * with the algorithms of auth.jwt.algorithms only, exp/nbf checked with auth.jwt.clockSkewMs, and
 * iss/aud when configured; its claims are then mapped to identity and ACL (jwt/jwt-claims.ts).
 * Keys: an HMAC secret file (HS*), a PEM public key file or a JWKS URL (RS*, PS*, ES*).
 * A refused token is "bad user name or password"; a valid token for another client id or user
 * name is "not authorized"; JWKS never fetched is "unavailable". Runs on the auth-service.
 */
export class JwtBackend implements AuthBackend {
  readonly name = 'jwt' as const;
  private readonly secret?: Uint8Array;
  private readonly publicKey?: KeyObject;
  private readonly imported = new Map<string, Promise<CryptoKey>>();
  private readonly jwks?: JwksKeys;
  private readonly jwksHttp?: JsonHttpClient;
  private readonly claims: ClaimNames;
  private readonly defaults: { publish?: unknown; subscribe?: unknown };
  private readonly refused: Counter<'reason'>;

  constructor(
    private readonly config: Config,
    private readonly deps: { log: Logger; metrics: Metrics; keyer: CredentialKeyer; aclWarnings: AclWarnings },
  ) {
    const secretFile = config['auth.jwt.secretFile'];
    if (secretFile !== undefined) {
      const raw = readSetting('auth.jwt.secretFile', secretFile);
      // One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
      const secret = raw.subarray(0, raw.length - (raw.at(-1) === 0x0a ? (raw.at(-2) === 0x0d ? 2 : 1) : 0));
      if (secret.length === 0) throw new ChainConfigError(`setting auth.jwt.secretFile (SHARDMQ_AUTH_JWT_SECRET_FILE): ${secretFile} is empty`);
      this.secret = new Uint8Array(secret);
    }
    const keyFile = config['auth.jwt.publicKeyFile'];
    const jwksUrl = config['auth.jwt.jwksUrl'];
    if (keyFile !== undefined && jwksUrl !== undefined) {
      throw new ChainConfigError('setting auth.jwt.publicKeyFile (SHARDMQ_AUTH_JWT_PUBLIC_KEY_FILE): set it or auth.jwt.jwksUrl, not both');
    }
    if (keyFile !== undefined) {
      try {
        this.publicKey = createPublicKey(readSetting('auth.jwt.publicKeyFile', keyFile));
      } catch (e) {
        if (e instanceof ChainConfigError) throw e;
        throw new ChainConfigError(`setting auth.jwt.publicKeyFile (SHARDMQ_AUTH_JWT_PUBLIC_KEY_FILE): ${keyFile} is not a PEM public key or certificate: ${(e as Error).message}`);
      }
    }
    if (jwksUrl !== undefined) {
      try {
        this.jwksHttp = new JsonHttpClient({ caFile: config['auth.jwt.jwksCaFile'], timeoutMs: config['auth.jwt.jwksTimeoutMs'], maxResponseBytes: 1 << 20 });
      } catch (e) {
        throw new ChainConfigError(`setting auth.jwt.jwksCaFile (SHARDMQ_AUTH_JWT_JWKS_CA_FILE): cannot read ${config['auth.jwt.jwksCaFile']}: ${(e as Error).message}`);
      }
      const fetches = deps.metrics.counter('auth_jwks_fetches_total', 'JWKS fetches, by result (ok, error: the last keys are kept).', ['result']);
      this.jwks = new JwksKeys(
        jwksUrl,
        this.jwksHttp,
        { refreshMs: config['auth.jwt.jwksRefreshIntervalMs'], minRefreshMs: config['auth.jwt.jwksMinRefreshIntervalMs'] },
        { log: deps.log, onFetch: (result) => fetches.inc({ result }) },
      );
    }
    this.claims = {
      clientId: config['auth.jwt.clientIdClaim'],
      username: config['auth.jwt.usernameClaim'],
      publishAcl: config['auth.jwt.publishAclClaim'],
      subscribeAcl: config['auth.jwt.subscribeAclClaim'],
    };
    this.defaults = {
      publish: defaultAcl(config, 'auth.jwt.defaultPublishAcl', 'publish'),
      subscribe: defaultAcl(config, 'auth.jwt.defaultSubscribeAcl', 'subscribe'),
    };
    this.refused = deps.metrics.counter(
      'auth_jwt_refused_total',
      'JWT passwords refused, by reason: expired, not-yet-valid, signature, unknown-key, algorithm, claims, identity, malformed-acl, invalid.',
      ['reason'],
    );
  }

  describe(): Record<string, unknown> {
    return {
      keys: [this.secret && 'secret', this.publicKey && 'publicKeyFile', this.jwks && redactUrl(this.config['auth.jwt.jwksUrl']!)].filter(Boolean),
      algorithms: this.config['auth.jwt.algorithms'],
      clockSkewMs: this.config['auth.jwt.clockSkewMs'],
      issuer: this.config['auth.jwt.issuer'],
      audience: this.config['auth.jwt.audience'],
    };
  }

  async start(): Promise<void> {
    await this.jwks?.start();
  }

  async stop(): Promise<void> {
    this.jwks?.stop();
    this.jwksHttp?.close();
  }

  ready(): boolean {
    return true;
  }

  async authenticate(input: CredentialInput): Promise<BackendAnswer> {
    const token = passwordAsJwt(input.password);
    if (token === undefined) return { kind: 'ignore' };
    const { req } = input;
    let payload: Record<string, unknown>;
    try {
      const opts = {
        algorithms: [...this.config['auth.jwt.algorithms']],
        clockTolerance: this.config['auth.jwt.clockSkewMs'] / 1000,
        requiredClaims: [...this.config['auth.jwt.requiredClaims']],
        issuer: this.config['auth.jwt.issuer'],
        audience: this.config['auth.jwt.audience'],
      };
      payload = (await jwtVerify(token, (h: JWSHeaderParameters, t: FlattenedJWSInput) => this.keyFor(h, t), opts)).payload as Record<string, unknown>;
    } catch (e) {
      if (e instanceof JwksUnavailableError) return { kind: 'unavailable', reason: 'JWKS unavailable' };
      const reason = refusalReason(e);
      this.refused.inc({ reason });
      // The token itself is a credential: log why, never the token.
      this.deps.log.info('JWT refused', { mountpoint: req.mountpoint, clientId: req.clientId, username: req.username, reason, error: (e as Error).message });
      return { kind: 'deny', result: 'bad-credentials', reason: `token ${reason}` };
    }
    const d = mapJwtClaims(payload, req, this.claims, this.defaults);
    switch (d.kind) {
      case 'deny':
        this.refused.inc({ reason: 'identity' });
        this.deps.log.info('JWT refused', { mountpoint: req.mountpoint, clientId: req.clientId, username: req.username, reason: d.reason });
        return { kind: 'deny', result: 'not-authorized', reason: d.reason };
      case 'malformed':
        this.refused.inc({ reason: 'malformed-acl' });
        this.deps.log.warn('JWT ACL claim malformed; CONNECT refused', { mountpoint: req.mountpoint, clientId: req.clientId, username: req.username, error: d.error });
        return { kind: 'deny', result: 'not-authorized', reason: 'ACL claim malformed' };
      case 'allow':
        this.deps.aclWarnings.once(req.mountpoint, d.username, d.warnings, this.name);
        return { kind: 'allow', acl: d.acl };
    }
  }

  private async keyFor(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey | Uint8Array> {
    const alg = header.alg ?? '';
    if (alg.startsWith('HS')) {
      if (!this.secret) throw new NoKeyError('an HMAC token but no auth.jwt.secretFile');
      return this.secret;
    }
    if (this.publicKey) {
      let k = this.imported.get(alg);
      if (!k) {
        // jose binds an imported key to one algorithm; the file is one key, imported per alg used.
        k = importSPKI(this.publicKey.export({ format: 'pem', type: 'spki' }) as string, alg);
        this.imported.set(alg, k);
        k.catch(() => this.imported.delete(alg));
      }
      return k;
    }
    if (this.jwks) return this.jwks.key(header, token);
    throw new NoKeyError(`an ${alg} token but no auth.jwt.publicKeyFile or auth.jwt.jwksUrl`);
  }
}

/** Why jose refused a token, as a low-cardinality label. */
function refusalReason(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'expired';
  if (e instanceof errors.JWTClaimValidationFailed) return e.claim === 'nbf' ? 'not-yet-valid' : 'claims';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'signature';
  if (e instanceof errors.JWKSNoMatchingKey || e instanceof NoKeyError) return 'unknown-key';
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) return 'algorithm';
  return 'invalid';
}

function readSetting(setting: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ChainConfigError(`setting ${setting}: cannot read ${file}: ${(e as Error).message}`);
  }
}

/** A default ACL setting, parsed and checked like an ACL column (ConfigError naming the setting). */
function defaultAcl(config: Config, key: 'auth.jwt.defaultPublishAcl' | 'auth.jwt.defaultSubscribeAcl', kind: 'publish' | 'subscribe'): unknown {
  const text = config[key];
  if (text === undefined) return undefined;
  const problems = lintAclJson(text, kind);
  if (problems.length > 0) throw new ChainConfigError(`setting ${key}: ${problems.join('; ')}`);
  return JSON.parse(text) as unknown;
}
