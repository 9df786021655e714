import { beforeScrape, counterFromTotal, type Metrics } from '../../common/src/index.js';

/** Names of MQTT control packet types, indexed by the type in the first byte's high nibble. */
const PACKET_TYPES = [
  'reserved',
  'connect',
  'connack',
  'publish',
  'puback',
  'pubrec',
  'pubrel',
  'pubcomp',
  'subscribe',
  'suback',
  'unsubscribe',
  'unsuback',
  'pingreq',
  'pingresp',
  'disconnect',
  'auth',
];

/**
 * Bytes and packets a gateway moves, tallied in plain numbers where the bytes pass (one addition
 * per socket read, per socket write and per packet queued: no allocation, no prom-client call)
 * and turned into counters at scrape time. One per gateway, shared by its connections.
 * Bytes are MQTT bytes as the gateway reads and writes them: after TLS and WebSocket framing
 * are taken off, before they are put on.
 */
export class GatewayTraffic {
  bytesIn = 0;
  bytesOut = 0;
  /** Packets queued for clients, by control packet type (first byte >> 4). */
  readonly packetsOut = new Float64Array(16);

  /** Counts one encoded packet about to be written (every write() carries exactly one packet). */
  packetOut(firstByte: number): void {
    this.packetsOut[firstByte >> 4]!++;
  }

  register(metrics: Metrics): void {
    counterFromTotal(metrics.counter('gateway_received_bytes_total', 'MQTT bytes read from client connections (counted per socket read).'), () => this.bytesIn);
    counterFromTotal(metrics.counter('gateway_sent_bytes_total', 'MQTT bytes written to client connections (counted per socket write).'), () => this.bytesOut);
    const out = metrics.counter('gateway_packets_out_total', 'MQTT packets sent to clients, by type (publish: PUBLISH packets sent).', ['type']);
    const reported = new Float64Array(16);
    beforeScrape(out, () => {
      for (let t = 0; t < 16; t++) {
        const n = this.packetsOut[t]!;
        if (n > reported[t]!) out.labels(PACKET_TYPES[t]!).inc(n - reported[t]!);
        reported[t] = n;
      }
    });
  }
}

/** For connections made without a gateway (unit tests of framing and decoding). */
export const UNCOUNTED = new GatewayTraffic();
