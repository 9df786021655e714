import { bool, int, list, oneOf, optStr, str, url } from './setting.js';

export const ROLES = ['gateway', 'session', 'router', 'auth'] as const;
export type Role = (typeof ROLES)[number];

/** Settings every process reads. */
export const coreSettings = {
  roles: list({ default: ROLES, values: ROLES, doc: 'Roles this process runs (comma list of gateway, session, router, auth).' }),
  'nats.url': url({
    default: undefined,
    protocols: ['nats', 'tls'],
    doc: 'NATS server URL(s), comma separated. Unset: in-memory bus, valid only when every role runs in this process.',
  }),
  'nats.user': optStr({ default: undefined, doc: 'NATS user name.' }),
  'nats.password': optStr({ default: undefined, secret: true, doc: 'NATS password.' }),
  'nats.token': optStr({ default: undefined, secret: true, doc: 'NATS auth token.' }),
  'nats.subjectPrefix': str({ default: 'mqtt', pattern: /^[A-Za-z0-9_-]+$/, doc: 'First token of every MQTT bus subject (one cluster per prefix on a shared NATS).' }),
  'nats.requestTimeoutMs': int({ default: 5000, min: 100, max: 120000, doc: 'Timeout of one bus request between tiers.' }),
  shards: int({ default: 1024, min: 1, max: 65536, doc: 'Number of virtual session shards. Fixed for the life of a cluster.' }),
  'node.id': optStr({ default: undefined, doc: 'Identity of this process on the bus (letters, digits, - and _). Default: hostname-pid-random.' }),
  'node.stopTimeoutMs': int({
    default: 25000,
    min: 1000,
    max: 3600000,
    doc: "Deadline of a graceful stop (SIGTERM): past it, or on a second signal, what is left is closed at once and the process exits with code 1. Keep it below the orchestrator's grace period (the Helm chart sets it per tier: terminationGracePeriodSeconds - preStopSleepSeconds - stopMarginSeconds).",
  }),
  'log.level': oneOf({ default: 'info', values: ['debug', 'info', 'warn', 'error'] as const, doc: 'Log level (JSON lines on stderr).' }),
  'log.format': oneOf({
    default: 'json',
    values: ['json', 'pretty'] as const,
    doc: 'Log format on stderr: json (one JSON object per line, for log collectors) or pretty (readable lines with indented stacks, for development). Both mask secrets.',
  }),
  'log.clientEvents': bool({
    default: true,
    doc: 'Log each client connect and disconnect at info on the gateway (client id, username, peer, protocol level, keepalive; disconnect reason and duration). Turn off for very large fleets; metrics still count them.',
  }),
  'http.host': str({ default: '0.0.0.0', doc: 'Listen address of the /metrics, /healthz and /readyz endpoint.' }),
  'http.port': int({ default: 9464, min: 0, max: 65535, doc: 'Port of /metrics, /healthz and /readyz; 0 picks a free port.' }),
  'http.enabled': bool({ default: true, doc: 'Serve /metrics, /healthz and /readyz.' }),
} as const;
