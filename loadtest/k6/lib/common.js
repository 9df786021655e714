// @ts-check
/**
 * Shared helpers for the k6 scripts (grafana/xk6-mqtt, MQTT 3.1.1): settings from __ENV, a run tag so
 * concurrent runs against one broker never share topics or client ids, and a text payload stamp
 * "<sentAtMs>;<publisher>;<seq>;" padded with 'x' so a subscriber can compute latency and loss.
 * One k6 process shares one clock, so Date.now() on both sides is comparable.
 */

/**
 * @param {string} name
 * @param {string} fallback
 * @returns {string}
 */
export function envString(name, fallback) {
  const v = __ENV[name];
  return v === undefined || v === '' ? fallback : v;
}

/**
 * A non-negative number from __ENV, failing loudly on typos instead of silently using a default.
 * @param {string} name
 * @param {number} fallback
 * @param {number} [min]
 * @returns {number}
 */
export function envNumber(name, fallback, min = 0) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!isFinite(n) || n < min) throw new Error(`${name} must be a number >= ${min}, got '${raw}'`);
  return n;
}

/**
 * @param {string} name
 * @param {0 | 1 | 2} fallback
 * @returns {0 | 1 | 2}
 */
export function envQos(name, fallback) {
  const n = envNumber(name, fallback);
  if (n !== 0 && n !== 1 && n !== 2) throw new Error(`${name} must be 0, 1 or 2, got ${n}`);
  return n;
}

/** Broker URL (MQTT_URL), default the local broker. */
export function brokerUrl() {
  return envString('MQTT_URL', 'mqtt://127.0.0.1:1883');
}

/**
 * Client options with optional credentials (MQTT_USERNAME / MQTT_PASSWORD).
 * @param {string} clientId
 * @returns {import('k6/x/mqtt').ClientOptions}
 */
export function clientOptions(clientId) {
  /** @type {import('k6/x/mqtt').ClientOptions} */
  const o = { clientId };
  const username = envString('MQTT_USERNAME', '');
  if (username !== '') {
    o.username = username;
    o.password = envString('MQTT_PASSWORD', '');
  }
  return o;
}

/** A short random tag; create it in setup() so every VU of a run gets the same one. */
export function makeRunTag() {
  return Math.random().toString(36).slice(2, 8);
}

/**
 * @param {number} publisher
 * @param {number} seq
 * @param {number} payloadBytes
 * @returns {string}
 */
export function stampPayload(publisher, seq, payloadBytes) {
  const head = `${Date.now()};${publisher};${seq};`;
  return head.length >= payloadBytes ? head : head + 'x'.repeat(payloadBytes - head.length);
}

/**
 * Parses a stamp, or returns null for foreign payloads.
 * @param {ArrayBuffer} payload
 * @returns {{ sentAtMs: number, publisher: number, seq: number } | null}
 */
export function readStamp(payload) {
  const bytes = new Uint8Array(payload, 0, Math.min(payload.byteLength, 48));
  let text = '';
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  const parts = text.split(';');
  if (parts.length < 4) return null;
  const sentAtMs = Number(parts[0]);
  const publisher = Number(parts[1]);
  const seq = Number(parts[2]);
  if (!isFinite(sentAtMs) || !isFinite(publisher) || !isFinite(seq)) return null;
  return { sentAtMs, publisher, seq };
}

/**
 * Per-publisher sequence accounting on the receiving VU: returns how many messages a gap skipped
 * (0 for in-order, -1 for a duplicate or late arrival).
 */
export class SeqTracker {
  constructor() {
    /** @type {Record<number, number>} */
    this.expected = {};
  }

  /**
   * @param {number} publisher
   * @param {number} seq
   * @returns {number}
   */
  observe(publisher, seq) {
    const exp = this.expected[publisher] ?? 0;
    if (seq < exp) return -1;
    this.expected[publisher] = seq + 1;
    return seq - exp;
  }
}
