import type { CertIdentitySource } from '../../common/src/index.js';

/** The parts of a peer certificate (node:tls PeerCertificate) an identity is read from. */
export interface CertNames {
  subject?: { CN?: string | string[] };
  /** Node's form: `DNS:a.example, email:x@y, URI:spiffe://…`; values with separators come JSON-quoted. */
  subjectaltname?: string;
}

/** SAN types that name a device; IP addresses and others do not. */
const NAME_TYPES = new Set(['DNS', 'email', 'URI']);

/**
 * The user name a verified client certificate gives (mqtt.tlsCertIdentityAsUsername), as VerneMQ's
 * use_identity_as_username and EMQX's peer_cert_as_username do: the subject's Common Name (the
 * first when there are several), or the first DNS, email or URI Subject Alternative Name.
 * Undefined when the certificate has none. Pure; runs in the gateway when a connection is accepted.
 */
export function certIdentity(cert: CertNames, source: Exclude<CertIdentitySource, 'off'>): string | undefined {
  if (source === 'cn') {
    const cn = cert.subject?.CN;
    const first = Array.isArray(cn) ? cn[0] : cn;
    return first === undefined || first === '' ? undefined : first;
  }
  for (const entry of splitSan(cert.subjectaltname ?? '')) {
    const colon = entry.indexOf(':');
    if (colon < 0 || !NAME_TYPES.has(entry.slice(0, colon))) continue;
    const raw = entry.slice(colon + 1);
    const value = raw.startsWith('"') ? unquote(raw) : raw;
    if (value) return value;
  }
  return undefined;
}

/** Splits Node's subjectaltname on the ", " between entries, not inside a quoted value. */
function splitSan(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === '\\' && quoted) i++;
    else if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      out.push(s.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter((e) => e !== '');
}

function unquote(raw: string): string | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
