/**
 * Fleet: the durable traffic of a device fleet, and what a broker failure does to it.
 *
 * - `devices` devices, each a persistent session (a mix of MQTT 3.1.1 and 5 by `v5Percent`), each with a
 *   Will (MQTT 5 ones with a Will Delay of `willDelayS`), spread over the gateway URLs (device i starts
 *   on URL i mod U and, when its connection dies, reconnects through the next one). Each publishes
 *   telemetry at QoS 1 every `intervalS` (device k at offset k/devices of the interval, as a real
 *   fleet's clocks are spread) and subscribes at QoS 1 to its own command topic.
 * - a backend of `consumers` persistent MQTT 5 clients consuming all telemetry through one `$share`
 *   group (QoS 1), and sending commands at QoS 1 at `commandRatePerS` in total, round robin over the
 *   devices (device d's commands always from the same backend client, so they stay in order);
 * - a Will watcher (persistent) subscribed to the Will topics;
 * - optionally a kill: one broker process killed -9 at `kill.atS` and started again `kill.restartAfterS` later.
 *
 * Reported: telemetry and commands sent / acknowledged / received, loss (acknowledged, never received,
 * by per-device sequence numbers), duplicates with and without DUP, latency, Wills fired against the
 * Will rules (will-expectation.ts), reconnects, and persistent sessions a reconnect did not find.
 * Bounded: every wait has a limit, and the whole run a hard deadline (`deadlineS`).
 *
 * Who may call: anyone with broker URLs; the run owns its clients and ends them before returning.
 */
import { LatencyHistogram, type LatencySummary } from '../latency-histogram.js';
import { runTag } from '../mqtt-clients.js';
import { makeStampedPayload, readStamp, wallClockMs, type Stamp } from '../payload-stamp.js';
import { scheduleKill, type KillEvent, type KillSchedule, type KillTarget } from '../fleet/kill-schedule.js';
import { allConnected, parseGatewayUrls, RoamingClient, type GatewayAddress } from '../fleet/roaming-client.js';
import { SequenceLedger, type LedgerCounts } from '../fleet/sequence-ledger.js';
import { judgeWills, type WillReport } from '../fleet/will-expectation.js';
import { sleep } from '../timing.js';

export interface FleetOptions {
  /** Gateway URLs (mqtt://host:port); devices and backend clients are spread over them. */
  urls: string[];
  username?: string;
  password?: string;
  devices: number;
  /** Share of devices speaking MQTT 5 (the rest 3.1.1), percent. */
  v5Percent: number;
  /** Will Delay Interval of the MQTT 5 devices, seconds. */
  willDelayS: number;
  /** Session Expiry Interval of the MQTT 5 clients, seconds (must outlast outages and the drain). */
  sessionExpiryS: number;
  /** Telemetry period of each device, seconds. */
  intervalS: number;
  /** Commands per second from the backend to the devices, in total. */
  commandRatePerS: number;
  /** Backend clients in the `$share` group. */
  consumers: number;
  payloadBytes: number;
  /** Seconds of telemetry and commands. */
  durationS: number;
  /** After the traffic: at most this long for PUBACKs and deliveries to complete. */
  drainTimeoutS: number;
  /** Time allowed for every client's first CONNACK and SUBACK. */
  connectTimeoutS: number;
  /** Hard limit for the whole run; 0: connect + duration + drain + Will settle + 30 s. */
  deadlineS: number;
  reconnectPeriodMs: number;
  keepaliveS: number;
  /** Devices being connected at once during the ramp. */
  connectConcurrency: number;
  /** How much later than a device the broker may notice a lost connection (Will judgement). */
  willLateNoticeMs: number;
  topicPrefix: string;
  tickMs: number;
  kill?: KillTarget;
  /** Progress lines. */
  log?: (line: string) => void;
}

export const fleetDefaults: Omit<FleetOptions, 'urls'> = {
  devices: 1000,
  v5Percent: 50,
  willDelayS: 30,
  sessionExpiryS: 3600,
  intervalS: 5,
  commandRatePerS: 50,
  consumers: 4,
  payloadBytes: 128,
  durationS: 30,
  drainTimeoutS: 30,
  connectTimeoutS: 120,
  deadlineS: 0,
  reconnectPeriodMs: 1000,
  keepaliveS: 60,
  connectConcurrency: 100,
  willLateNoticeMs: 10_000,
  topicPrefix: 'fleet',
  tickMs: 20,
};

export interface FlowResult extends LedgerCounts {
  /** Issued publishes still without an answer when the run ended. */
  unanswered: number;
  /** Acknowledged but never received: a broker bug while the session exists. */
  lost: number;
  /** A few lost (device, sequence) pairs. */
  lostExamples: [number, number][];
  /** Publish -> delivery. */
  latency: LatencySummary;
  /** Publish -> PUBACK. */
  ackLatency: LatencySummary;
}

export interface FleetResult {
  scenario: 'fleet';
  devices: number;
  v5Devices: number;
  gateways: number;
  consumers: number;
  intervalS: number;
  commandRatePerS: number;
  connectS: number;
  measuredS: number;
  telemetry: FlowResult;
  commands: FlowResult;
  /**
   * Acknowledged and not received when the drain ended, before the receivers owed something were made
   * to reconnect; minus `lost`, what was stuck in a session while its client stayed connected.
   */
  owedBeforeReconnect: { telemetry: number; commands: number };
  wills: WillReport;
  /** Devices that lost their connection at least once; reconnects of devices and of the backend. */
  devicesDisconnected: number;
  deviceReconnects: number;
  backendReconnects: number;
  /** Longest time a device was without a connection, ms (0 if none lost one). */
  longestOutageMs: number;
  /** Reconnects whose CONNACK found no session (persistent sessions the broker lost). */
  sessionsLost: number;
  kill?: KillEvent;
  /** True when the hard deadline cut the run short (figures are then incomplete). */
  deadlineHit: boolean;
  /** Why the run failed (empty: it passed); the CLI exits with 1 when there is any. */
  failures: string[];
}

/** Receives the stamped messages of one flow and records arrivals and latency. */
function receiver(ledger: SequenceLedger, hist: LatencyHistogram, streams: number) {
  const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
  return (_topic: string, payload: Buffer, packet: { dup?: boolean }) => {
    if (!readStamp(payload, stamp) || stamp.publisher >= streams) return;
    if (ledger.receive(stamp.publisher, stamp.seq, packet.dup === true) === 'first') hist.recordMs(wallClockMs() - stamp.sentAtMs);
  };
}

function subscribeOnce(c: RoamingClient, filter: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no SUBACK for ${filter} within ${timeoutMs} ms`)), timeoutMs);
    c.client.subscribe(filter, { qos: 1 }, (err, granted) => {
      clearTimeout(timer);
      const g = granted?.[0]?.qos;
      if (err) reject(err);
      else if (g === undefined || g >= 0x80) reject(new Error(`subscription to ${filter} refused (${g})`));
      else resolve();
    });
  });
}

async function waitFor(done: () => boolean, untilMs: number): Promise<boolean> {
  while (!done()) {
    if (wallClockMs() >= untilMs) return false;
    await sleep(50);
  }
  return true;
}

function flowResult(l: SequenceLedger, latency: LatencyHistogram, ackLatency: LatencyHistogram): FlowResult {
  return {
    ...l.counts,
    unanswered: l.unanswered(),
    lost: l.acknowledgedNotReceived(),
    lostExamples: l.examplesNotReceived(10),
    latency: latency.summary(),
    ackLatency: ackLatency.summary(),
  };
}

export async function runFleet(input: Partial<FleetOptions> & { urls: string[] }): Promise<FleetResult> {
  const o: FleetOptions = { ...fleetDefaults, ...input };
  const log = o.log ?? (() => {});
  const N = o.devices;
  const C = Math.max(1, o.consumers);
  const gateways: GatewayAddress[] = parseGatewayUrls(o.urls);
  const U = gateways.length;
  const startMs = wallClockMs();
  const willSettleMs = o.willDelayS * 1000 + o.willLateNoticeMs;
  const hardDeadlineMs = startMs + 1000 * (o.deadlineS > 0 ? o.deadlineS : o.connectTimeoutS + o.durationS + o.drainTimeoutS + willSettleMs / 1000 + 30);
  const tag = runTag();
  const base = `${o.topicPrefix}/${tag}`;
  const teleTopic = (d: number) => `${base}/tele/${d}`;
  const cmdTopic = (d: number) => `${base}/cmd/${d}`;
  const isV5 = (d: number) => d * 100 < N * o.v5Percent; // the first v5Percent % of the devices
  const tele = new SequenceLedger(N);
  const cmds = new SequenceLedger(N);
  const hists = { tele: new LatencyHistogram(), teleAck: new LatencyHistogram(), cmd: new LatencyHistogram(), cmdAck: new LatencyHistogram() };
  const willsOf = new Uint32Array(N);
  const common = { gateways, reconnectPeriodMs: o.reconnectPeriodMs, keepaliveS: o.keepaliveS, connectTimeoutMs: 10_000, sessionExpiryS: o.sessionExpiryS, username: o.username, password: o.password };
  const devices: RoamingClient[] = [];
  const backend: RoamingClient[] = [];
  let watcher: RoamingClient | undefined;
  const tickers: NodeJS.Timeout[] = [];
  let kill: KillSchedule | undefined;
  let deadlineHit = false;
  const subTimeoutMs = o.connectTimeoutS * 1000;
  try {
    // --- backend: the Will watcher, then the $share consumers (which also send the commands).
    watcher = new RoamingClient({ ...common, clientId: `${o.topicPrefix}-${tag}-wills`, first: 0, protocolVersion: 5 });
    const stamp: Stamp = { publisher: 0, seq: 0, sentAtMs: 0 };
    watcher.client.on('message', (_t, payload) => {
      if (readStamp(payload, stamp) && stamp.publisher < N) willsOf[stamp.publisher] = willsOf[stamp.publisher]! + 1;
    });
    const onTelemetry = receiver(tele, hists.tele, N);
    for (let k = 0; k < C; k++) {
      // Consumer k sends the commands of devices d with d mod C = k: their unacknowledged ones may be resent.
      const c = new RoamingClient({ ...common, clientId: `${o.topicPrefix}-${tag}-backend-${k}`, first: k % U, protocolVersion: 5 }, () => {
        for (let d = k; d < N; d += C) cmds.publisherLostConnection(d);
      });
      c.client.on('message', onTelemetry);
      backend.push(c);
    }
    await allConnected([watcher, ...backend], startMs + subTimeoutMs);
    await subscribeOnce(watcher, `${base}/will/+`, subTimeoutMs);
    await Promise.all(backend.map((c) => subscribeOnce(c, `$share/${tag}/${base}/tele/+`, subTimeoutMs)));
    log(`backend: ${C} consumers in $share/${tag}, Will watcher subscribed`);

    // --- devices, at most connectConcurrency connecting at once.
    const c0 = wallClockMs();
    let subscribed = 0;
    let subscribeError: Error | undefined;
    for (let d = 0; d < N; d++) {
      while (devices.length - subscribed >= o.connectConcurrency) {
        if (subscribeError) throw subscribeError;
        if (wallClockMs() > startMs + subTimeoutMs) throw new Error(`devices: ${subscribed} of ${N} connected and subscribed within ${o.connectTimeoutS} s`);
        await sleep(5);
      }
      const v5 = isV5(d);
      const dev = new RoamingClient(
        {
          ...common,
          clientId: `${o.topicPrefix}-${tag}-d${d}`,
          first: d % U,
          protocolVersion: v5 ? 5 : 4,
          will: {
            topic: `${base}/will/${d}`,
            payload: makeStampedPayload(16, d, 0, 0),
            qos: 1,
            retain: false,
            ...(v5 ? { properties: { willDelayInterval: o.willDelayS } } : {}),
          },
        },
        () => tele.publisherLostConnection(d),
      );
      dev.client.on('message', receiver(cmds, hists.cmd, N));
      dev.client.once('connect', () => {
        subscribeOnce(dev, cmdTopic(d), subTimeoutMs).then(
          () => subscribed++,
          (err: Error) => (subscribeError ??= err),
        );
      });
      devices.push(dev);
    }
    if (!(await waitFor(() => subscribed === N || subscribeError !== undefined, startMs + subTimeoutMs))) {
      throw new Error(`devices: ${subscribed} of ${N} connected and subscribed within ${o.connectTimeoutS} s`);
    }
    if (subscribeError) throw subscribeError;
    const connectS = (wallClockMs() - c0) / 1000;
    log(`devices: ${N} connected and subscribed in ${connectS.toFixed(1)} s (${devices.filter((_, d) => isV5(d)).length} MQTT 5)`);

    // --- traffic: telemetry number k from device k mod N at t0 + k * interval / N; commands round robin.
    const t0 = wallClockMs();
    if (o.kill) {
      kill = scheduleKill(o.kill, t0);
      log(`kill: ${o.kill.name} at ${o.kill.atS} s${o.kill.restartAfterS !== undefined && o.kill.restart ? `, restart ${o.kill.restartAfterS} s later` : ''}`);
    }
    const publish = (c: RoamingClient, topic: string, ledger: SequenceLedger, ackHist: LatencyHistogram, stream: number) => {
      const seq = ledger.issue(stream);
      const now = wallClockMs();
      c.client.publish(topic, makeStampedPayload(o.payloadBytes, stream, seq, now), { qos: 1 }, (err) => {
        if (err) {
          ledger.refuse();
          return;
        }
        ledger.acknowledge(stream, seq);
        ackHist.recordMs(wallClockMs() - now);
      });
    };
    const intervalMs = o.intervalS * 1000;
    let teleIssued = 0;
    let cmdIssued = 0;
    tickers.push(
      setInterval(() => {
        const elapsed = wallClockMs() - t0;
        const teleDue = Math.floor((elapsed * N) / intervalMs);
        for (; teleIssued < teleDue; teleIssued++) {
          const d = teleIssued % N;
          publish(devices[d]!, teleTopic(d), tele, hists.teleAck, d);
        }
        const cmdDue = Math.floor((elapsed * o.commandRatePerS) / 1000);
        for (; cmdIssued < cmdDue; cmdIssued++) {
          const d = cmdIssued % N;
          publish(backend[d % C]!, cmdTopic(d), cmds, hists.cmdAck, d);
        }
      }, o.tickMs),
    );
    const trafficEnd = Math.min(t0 + o.durationS * 1000, hardDeadlineMs);
    let lastReport = t0;
    await waitFor(() => {
      const now = wallClockMs();
      if (now - lastReport >= 5000) {
        lastReport = now;
        const offline = devices.filter((c) => !c.connected()).length;
        log(
          `${Math.round((now - t0) / 1000)} s: telemetry ${tele.counts.acknowledged}/${tele.counts.sent} acked, ${tele.counts.received} received; commands ${cmds.counts.acknowledged}/${cmds.counts.sent} acked, ${cmds.counts.received} received; ${offline} devices offline`,
        );
      }
      return false;
    }, trafficEnd);
    for (const t of tickers.splice(0)) clearInterval(t);
    const measuredS = (wallClockMs() - t0) / 1000;

    // --- drain: the killed process back, every client connected, every publish answered and delivered.
    const killEvent = kill ? await kill.finish(Math.max(0, hardDeadlineMs - wallClockMs())) : undefined;
    const drainUntil = Math.min(hardDeadlineMs, wallClockMs() + o.drainTimeoutS * 1000);
    log(`traffic over after ${measuredS.toFixed(1)} s; draining (at most ${o.drainTimeoutS} s)`);
    await waitFor(() => tele.unanswered() === 0 && cmds.unanswered() === 0, drainUntil);
    const allDelivered = () => tele.acknowledgedNotReceived() === 0 && cmds.acknowledgedNotReceived() === 0;
    await waitFor(allDelivered, drainUntil);

    // --- still owed: stuck in a session whose client stayed connected, or gone? A reconnect makes the
    // broker resend what the session holds [MQTT-4.4.0-1]; what arrives then was not lost but stuck.
    const owedBeforeReconnect = { telemetry: tele.acknowledgedNotReceived(), commands: cmds.acknowledgedNotReceived() };
    if (!allDelivered() && wallClockMs() < hardDeadlineMs) {
      const owedDevices = cmds.streamsOwed();
      log(
        `still owed after the drain: telemetry ${owedBeforeReconnect.telemetry}, commands ${owedBeforeReconnect.commands}; reconnecting ${owedBeforeReconnect.telemetry > 0 ? C : 0} backend clients and ${owedDevices.length} devices to make the broker resend`,
      );
      if (owedBeforeReconnect.telemetry > 0) for (const c of backend) c.dropConnection();
      for (const d of owedDevices) devices[d]!.dropConnection();
      await waitFor(allDelivered, Math.min(hardDeadlineMs, wallClockMs() + o.drainTimeoutS * 1000));
    }

    // --- Wills: wait until a Will that should not fire would have (delay + late notice after the last loss).
    const outages = devices.flatMap((c) => c.outages);
    const lastLoss = outages.reduce((m, x) => Math.max(m, x.lostAtMs), 0);
    const settleUntil = Math.min(hardDeadlineMs, lastLoss > 0 ? lastLoss + willSettleMs : wallClockMs() + 500);
    if (settleUntil > wallClockMs()) log(`waiting ${Math.round((settleUntil - wallClockMs()) / 1000)} s for Wills to settle`);
    await waitFor(() => false, settleUntil);
    deadlineHit = wallClockMs() >= hardDeadlineMs;
    const watchedUntilMs = wallClockMs();

    const telemetry = flowResult(tele, hists.tele, hists.teleAck);
    const commands = flowResult(cmds, hists.cmd, hists.cmdAck);
    const wills = judgeWills(
      devices.map((c, d) => ({ protocolVersion: c.o.protocolVersion, willDelayS: o.willDelayS, outages: c.outages, abandonedFirstConnects: c.abandonedFirstConnects, willsReceived: willsOf[d]! })),
      { earlyNoticeMs: 1000, lateNoticeMs: o.willLateNoticeMs, watchedUntilMs },
    );
    const sessionsLost = [...devices, ...backend].reduce((n, c) => n + c.sessionsLost, 0);
    const failures: string[] = [];
    if (telemetry.lost > 0) failures.push(`${telemetry.lost} acknowledged telemetry messages never reached the backend`);
    if (commands.lost > 0) failures.push(`${commands.lost} acknowledged commands never reached their device`);
    const stuckTele = owedBeforeReconnect.telemetry - telemetry.lost;
    const stuckCmds = owedBeforeReconnect.commands - commands.lost;
    if (stuckTele > 0 || stuckCmds > 0) {
      failures.push(`${stuckTele} telemetry messages and ${stuckCmds} commands, acknowledged, reached their connected receiver only after it reconnected (stuck in the session)`);
    }
    if (wills.unexpected > 0) failures.push(`${wills.unexpected} Wills fired that must not have`);
    if (wills.missing > 0) failures.push(`${wills.missing} Wills that must have fired did not`);
    if (sessionsLost > 0) failures.push(`${sessionsLost} reconnects found no persistent session`);
    if (deadlineHit) failures.push('the hard deadline cut the run short');
    if (killEvent?.error) failures.push(`kill mode: ${killEvent.error}`);
    return {
      scenario: 'fleet',
      devices: N,
      v5Devices: devices.filter((_, d) => isV5(d)).length,
      gateways: U,
      consumers: C,
      intervalS: o.intervalS,
      commandRatePerS: o.commandRatePerS,
      connectS,
      measuredS,
      telemetry,
      commands,
      owedBeforeReconnect,
      wills,
      devicesDisconnected: devices.filter((c) => c.outages.length > 0).length,
      deviceReconnects: devices.reduce((n, c) => n + c.reconnects, 0),
      backendReconnects: [watcher, ...backend].reduce((n, c) => n + c.reconnects, 0),
      longestOutageMs: Math.round(outages.reduce((m, x) => Math.max(m, (x.backAtMs ?? watchedUntilMs) - x.lostAtMs), 0)),
      sessionsLost,
      ...(killEvent ? { kill: killEvent } : {}),
      deadlineHit,
      failures,
    };
  } finally {
    for (const t of tickers) clearInterval(t);
    await kill?.finish(5000);
    // Devices first, the Will watcher last: a clean DISCONNECT publishes no Will, and the watcher would see one if it did.
    await Promise.all([...devices, ...backend].map((c) => c.end(3000)));
    await watcher?.end(3000);
  }
}
