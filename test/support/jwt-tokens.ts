import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/**
 * Keys and tokens for JWT backend tests, made with jose (the library the broker verifies with,
 * so a test token is exactly what a real issuer would send). Who may call: tests only.
 */

export interface SigningKey {
  readonly alg: 'RS256' | 'ES256';
  readonly kid: string;
  readonly privateKey: CryptoKey;
  /** The public half as a JWK with kid/alg/use, for a JWKS document. */
  readonly jwk: JWK;
  /** The public half as PEM (SPKI), for auth.jwt.publicKeyFile. */
  readonly spkiPem: string;
}

export async function makeSigningKey(alg: 'RS256' | 'ES256', kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk, spkiPem: await exportSPKI(publicKey) };
}

/** Writes the PEM public key of `k` into dir and returns its path. */
export async function writePublicKeyFile(dir: string, k: SigningKey): Promise<string> {
  const file = join(dir, `${k.kid}.pem`);
  await writeFile(file, k.spkiPem);
  return file;
}

/**
 * A signed token. `expInS` / `nbfInS` are offsets from now in seconds (exp defaults to +600;
 * pass null for no exp). Key: a SigningKey (RS256/ES256, its kid in the header) or an HMAC
 * secret (HS256).
 */
export async function signToken(claims: JWTPayload, key: SigningKey | Uint8Array, o: { expInS?: number | null; nbfInS?: number; kid?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const isSecret = key instanceof Uint8Array;
  const header = isSecret ? { alg: 'HS256' } : { alg: key.alg, kid: o.kid ?? key.kid };
  let t = new SignJWT(claims).setProtectedHeader(header).setIssuedAt(now);
  if (o.expInS !== null) t = t.setExpirationTime(now + (o.expInS ?? 600));
  if (o.nbfInS !== undefined) t = t.setNotBefore(now + o.nbfInS);
  return t.sign(isSecret ? key : key.privateKey);
}
