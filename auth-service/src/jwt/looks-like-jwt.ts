import { decodeProtectedHeader } from 'jose';

/** Three base64url segments (JWS Compact Serialization, RFC 7515 §7.1); the signature may not be empty. */
const COMPACT_JWS = /^[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]{2,}$/;

/** Longest password read as a JWT (a token with a large ACL claim stays far below this). */
const MAX_TOKEN_BYTES = 16384;

/**
 * The password as a token when it has the shape of a signed JWT (three base64url segments whose
 * header is JSON with an `alg`), else undefined: the JWT backend then ignores the CONNECT so the
 * next backend of the chain can check an ordinary password. Pure; runs on the auth-service.
 */
export function passwordAsJwt(password: Uint8Array | undefined): string | undefined {
  if (password === undefined || password.length < 8 || password.length > MAX_TOKEN_BYTES) return undefined;
  const s = Buffer.from(password.buffer, password.byteOffset, password.byteLength).toString('latin1');
  if (!COMPACT_JWS.test(s)) return undefined;
  try {
    const h = decodeProtectedHeader(s);
    return typeof h.alg === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}
