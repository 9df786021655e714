import { bool, int, list, oneOf, type Setting } from './setting.js';
import { parseCidr } from '../cidr.js';

/** A comma list of CIDR blocks (`10.0.0.0/8`, `::1/128`; a bare address is one host). */
function cidrList(doc: string): Setting<readonly string[]> {
  const base = list({ default: [], doc });
  const check = (items: readonly string[]) => {
    for (const i of items) parseCidr(i);
    return items;
  };
  return { ...base, parse: (raw) => check(base.parse(raw)), fromJson: (v) => check(base.fromJson(v)) };
}

/** Where a listener takes the user name from: the CONNECT, or the verified client certificate. */
export const CERT_IDENTITY_SOURCES = ['off', 'cn', 'san'] as const;
export type CertIdentitySource = (typeof CERT_IDENTITY_SOURCES)[number];

function certIdentityAsUsername(listener: string): Setting<CertIdentitySource> {
  return oneOf({
    default: 'off',
    values: CERT_IDENTITY_SOURCES,
    doc: `The ${listener} listener takes the user name from the verified client certificate (needs mqtt.tlsRequireClientCert and mqtt.tlsCaFile): cn (Common Name of the subject) or san (first DNS, email or URI Subject Alternative Name). It replaces the CONNECT's user name for authentication, ACLs and logs; a certificate without one is refused (bad user name or password). off: the CONNECT's user name.`,
  });
}

/**
 * PROXY protocol on the TCP and TLS listeners (a load balancer in front that terminates TCP or
 * TLS), client certificate identity as user name, and certificate reload (docs/operations.md).
 */
export const edgeSettings = {
  'mqtt.tcpProxyProtocol': bool({
    default: false,
    doc: "The TCP listener expects a PROXY protocol v1 or v2 header on every connection (from mqtt.proxyProtocolTrustedCidrs only); the address it names is the client's address.",
  }),
  'mqtt.tlsProxyProtocol': bool({
    default: false,
    doc: 'The TLS listener expects a PROXY protocol v1 or v2 header before the TLS handshake (load balancer passing TLS through), from mqtt.proxyProtocolTrustedCidrs only.',
  }),
  'mqtt.proxyProtocolTrustedCidrs': cidrList(
    'Sources allowed to send a PROXY protocol header (comma list of CIDR blocks, e.g. 10.0.0.0/8,::1/128). A connection from anywhere else to a listener with PROXY protocol on is refused.',
  ),
  'mqtt.proxyHeaderMaxBytes': int({
    default: 4096,
    min: 232,
    max: 65551,
    doc: 'Largest PROXY protocol v2 header accepted (16 bytes plus addresses and TLVs); a larger one closes the connection (counted as proxy_header_too_large). v1 headers are at most 107 bytes by the specification.',
  }),
  'mqtt.proxyHeaderTimeoutMs': int({ default: 5000, min: 100, max: 600000, doc: 'Close a connection whose PROXY protocol header has not fully arrived within this time.' }),
  'mqtt.tlsCertIdentityAsUsername': certIdentityAsUsername('TLS'),
  'mqtt.wssCertIdentityAsUsername': certIdentityAsUsername('secure WebSocket'),
  'mqtt.tlsReloadCheckMs': int({
    default: 10000,
    min: 0,
    max: 3600000,
    doc: 'How often the TLS and WSS listeners re-read mqtt.tlsCertFile, mqtt.tlsKeyFile and mqtt.tlsCaFile; changed files are loaded for the next connections (cert-manager rotation without a restart). 0: read once at start.',
  }),
} as const;
