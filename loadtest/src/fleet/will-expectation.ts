/**
 * Which Wills a fleet run may see, from what each device observed of its own connection.
 *
 * The rules (a device always ends its run with a clean DISCONNECT, which discards the Will):
 * - MQTT 3.1.1: a connection closed without DISCONNECT publishes the Will [MQTT-3.1.2-8], once per
 *   such connection: the broker's noticing the dead gateway and the device's takeover through another
 *   gateway are the same loss, not two.
 * - MQTT 5.0 with a Will Delay D: the Will is published D seconds after the server saw the connection
 *   go, unless a new connection for the session arrives first [MQTT-3.1.3-9]; the session outlives the
 *   run (long Session Expiry), so it never ends early. The server sees the loss no earlier than the device
 *   (give or take `earlyNoticeMs`) and at the latest `lateNoticeMs` later (3 missed gateway heartbeats). So:
 *     back within D - earlyNoticeMs             -> the Will must NOT fire;
 *     away longer than D + lateNoticeMs         -> the Will must fire, once;
 *     anything in between                       -> either is right (not judged).
 * - A connection attempt the device gave up on after sending CONNECT (no CONNACK in time) may have
 *   been accepted by a slow broker and then died without DISCONNECT: a 3.1.1 device's Will may fire for
 *   it (not judged); an MQTT 5 device's is cancelled by the later connection like any other loss.
 *
 * Pure: no clock, no clients. Who may call: the scenario at the end of a run, or tests.
 */

export interface Outage {
  /** When the device saw its connection close without having sent DISCONNECT (ms, wall clock). */
  lostAtMs: number;
  /** When it had a CONNACK again; undefined if it never came back. */
  backAtMs: number | undefined;
  /**
   * Reconnect attempts during the outage that sent CONNECT and gave up before a CONNACK (connect
   * timeout): the broker may have accepted such a connection, which then died without DISCONNECT.
   */
  abandonedConnects: number;
}

export interface DeviceWillInput {
  /** 3 or 4: MQTT 3.1/3.1.1; 5: MQTT 5.0. */
  protocolVersion: number;
  /** MQTT 5 Will Delay Interval, seconds (ignored for 3.1.1). */
  willDelayS: number;
  outages: readonly Outage[];
  /** First-connection attempts that sent CONNECT and gave up before a CONNACK (see Outage.abandonedConnects). */
  abandonedFirstConnects: number;
  /** Wills received for this device. */
  willsReceived: number;
}

export interface WillTiming {
  /** How much earlier than the device the server may notice a dead connection. */
  earlyNoticeMs: number;
  /** How much later than the device the server may notice it (dead gateway: 3 heartbeat periods, plus slack). */
  lateNoticeMs: number;
  /** When the run stopped watching for Wills (ms, wall clock). */
  watchedUntilMs: number;
}

export interface WillReport {
  /** Wills received in total. */
  fired: number;
  /** Connection losses after which the Will had to fire (and did or did not). */
  mustFire: number;
  /** ... of which no Will arrived. */
  missing: number;
  /** Connection losses after which the Will must not fire (MQTT 5 device back within its delay). */
  mustNotFire: number;
  /** Wills beyond what the losses allow: fired for a device that never lost a connection, or back within its delay. */
  unexpected: number;
  /** Losses whose Will may or may not fire (reconnect time close to the Will Delay, still away at the end, abandoned 3.1.1 connects). */
  undecided: number;
  /** Up to 10 devices with unexpected Wills: index, protocol, connections lost, Wills received. */
  unexpectedExamples: { device: number; protocolVersion: number; outages: number; wills: number }[];
}

type Verdict = 'must-fire' | 'must-not-fire' | 'undecided';

export function judgeOutage(d: Pick<DeviceWillInput, 'protocolVersion' | 'willDelayS'>, o: Outage, t: WillTiming): Verdict {
  if (d.protocolVersion < 5) {
    // [MQTT-3.1.2-8]; a device still away may not have been noticed yet.
    return o.backAtMs === undefined && t.watchedUntilMs - o.lostAtMs < t.lateNoticeMs ? 'undecided' : 'must-fire';
  }
  const delayMs = d.willDelayS * 1000;
  if (o.backAtMs !== undefined && o.backAtMs - o.lostAtMs < delayMs - t.earlyNoticeMs) return 'must-not-fire'; // [MQTT-3.1.3-9]
  const awayMs = (o.backAtMs ?? t.watchedUntilMs) - o.lostAtMs;
  if (awayMs > delayMs + t.lateNoticeMs) return 'must-fire';
  return 'undecided';
}

export function judgeWills(devices: readonly DeviceWillInput[], t: WillTiming): WillReport {
  const r: WillReport = { fired: 0, mustFire: 0, missing: 0, mustNotFire: 0, unexpected: 0, undecided: 0, unexpectedExamples: [] };
  for (const [index, d] of devices.entries()) {
    let least = 0;
    let most = 0;
    if (d.protocolVersion < 5) {
      const abandoned = d.abandonedFirstConnects + d.outages.reduce((n, o) => n + o.abandonedConnects, 0);
      r.undecided += abandoned;
      most += abandoned;
    }
    for (const o of d.outages) {
      const v = judgeOutage(d, o, t);
      if (v === 'must-fire') {
        r.mustFire++;
        least++;
        most++;
      } else if (v === 'must-not-fire') {
        r.mustNotFire++;
      } else {
        r.undecided++;
        most++;
      }
    }
    r.fired += d.willsReceived;
    r.missing += Math.max(0, least - d.willsReceived);
    const unexpected = Math.max(0, d.willsReceived - most);
    r.unexpected += unexpected;
    if (unexpected > 0 && r.unexpectedExamples.length < 10) {
      r.unexpectedExamples.push({ device: index, protocolVersion: d.protocolVersion, outages: d.outages.length, wills: d.willsReceived });
    }
  }
  return r;
}
