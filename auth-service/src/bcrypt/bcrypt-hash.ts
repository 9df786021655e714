/**
 * bcrypt hash variants. All four prefixes name the same algorithm except for one historical bug:
 * - `$2a$`: what pgcrypto's gen_salt('bf') writes and the only prefix crypt() verifies correctly.
 * - `$2b$`: OpenBSD's fix for passwords longer than 255 bytes (irrelevant below bcrypt's 72-byte
 *   limit); bcryptjs writes it.
 * - `$2y$`: PHP/crypt_blowfish's name for the correct algorithm.
 * - `$2x$`: crypt_blowfish's name for hashes made by the old sign-extension bug. For passwords
 *   whose bytes are all below 0x80 the bug changes nothing, so `$2x$` verifies like `$2a$`; for
 *   other passwords we cannot reproduce the bug and refuse (docs/auth.md).
 * Pure; run anywhere.
 */

export type BcryptPrefix = '2a' | '2b' | '2y' | '2x';

const BCRYPT_RE = /^\$(2[abxy]?)\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The variant of a well-formed bcrypt hash, or undefined when `hash` is not one. */
export function bcryptVariant(hash: string): string | undefined {
  const m = BCRYPT_RE.exec(hash);
  return m ? m[1] : undefined;
}

export type PreparedHash = { ok: true; hash: string } | { ok: false; reason: string };

/**
 * The hash bcryptjs should verify the password against: `$2x$` becomes `$2a$` for ASCII-only
 * passwords; malformed hashes and `$2x$` with non-ASCII passwords are refused.
 */
export function prepareBcryptHash(hash: string, password: string): PreparedHash {
  const v = bcryptVariant(hash);
  if (v === undefined) return { ok: false, reason: 'stored password is not a bcrypt hash' };
  if (v === '2x') {
    // eslint-disable-next-line no-control-regex
    if (!/^[\x00-\x7f]*$/.test(password)) return { ok: false, reason: '$2x$ hash with a non-ASCII password cannot be verified' };
    return { ok: true, hash: '$2a$' + hash.slice(4) };
  }
  return { ok: true, hash };
}

/** `$2b$`/`$2y$` -> `$2a$`: same algorithm, and the only prefix pgcrypto's crypt() verifies. */
export function toPgcryptoCompatible(hash: string): string {
  return /^\$2[by]\$/.test(hash) ? '$2a$' + hash.slice(4) : hash;
}
