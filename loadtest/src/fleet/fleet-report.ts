/** The fleet scenario's result as plain-text tables (the CLI's output without --json). */
import type { LatencySummary } from '../latency-histogram.js';
import { formatTable, type Cell } from '../report-table.js';
import type { FleetResult, FlowResult } from '../scenarios/fleet.js';

function latencyRow(label: string, l: LatencySummary): Cell[] {
  return [label, l.count, l.p50Ms, l.p90Ms, l.p99Ms, l.p999Ms, l.maxMs];
}

function flowRow(label: string, f: FlowResult): Cell[] {
  return [label, f.sent, f.acknowledged, f.refused, f.unanswered, f.received, f.lost, f.duplicatesWithDup, f.duplicatesWithoutDup, f.duplicatesResentByPublisher];
}

export function formatFleetReport(r: FleetResult & { pids?: Record<string, number[]> }): string {
  const parts: string[] = [];
  parts.push(
    formatTable(
      ['devices', 'MQTT 5', 'gateways', 'consumers', 'interval s', 'commands/s', 'connect s', 'measured s'],
      [[r.devices, r.v5Devices, r.gateways, r.consumers, r.intervalS, r.commandRatePerS, r.connectS, r.measuredS]],
    ),
  );
  parts.push(
    formatTable(
      ['flow (QoS 1)', 'sent', 'acked', 'refused', 'unanswered', 'received', 'LOST', 'dup with DUP', 'dup no DUP', 'dup publisher resent'],
      [flowRow('telemetry', r.telemetry), flowRow('commands', r.commands)],
    ),
  );
  parts.push(
    formatTable(
      ['latency', 'samples', 'p50 ms', 'p90 ms', 'p99 ms', 'p99.9 ms', 'max ms'],
      [
        latencyRow('telemetry publish -> backend', r.telemetry.latency),
        latencyRow('telemetry publish -> PUBACK', r.telemetry.ackLatency),
        latencyRow('command publish -> device', r.commands.latency),
        latencyRow('command publish -> PUBACK', r.commands.ackLatency),
      ],
    ),
  );
  const ob = r.owedBeforeReconnect;
  if (ob.telemetry > 0 || ob.commands > 0) {
    parts.push(`owed when the drain ended (before making their receivers reconnect): telemetry ${ob.telemetry}, commands ${ob.commands}`);
  }
  const w = r.wills;
  parts.push(formatTable(['Wills fired', 'must fire', 'missing', 'must not fire', 'UNEXPECTED', 'undecided'], [[w.fired, w.mustFire, w.missing, w.mustNotFire, w.unexpected, w.undecided]]));
  parts.push(
    formatTable(
      ['devices disconnected', 'device reconnects', 'backend reconnects', 'longest outage ms', 'sessions lost'],
      [[r.devicesDisconnected, r.deviceReconnects, r.backendReconnects, r.longestOutageMs, r.sessionsLost]],
    ),
  );
  if (w.unexpectedExamples.length > 0) {
    parts.push(
      `unexpected Wills (device: MQTT version, connections lost, Wills): ${w.unexpectedExamples.map((e) => `${e.device}: v${e.protocolVersion === 5 ? 5 : '3.1.1'}, ${e.outages}, ${e.wills}`).join('; ')}`,
    );
  }
  if (r.pids)
    parts.push(
      `pids: ${Object.entries(r.pids)
        .map(([t, p]) => `${t} ${p.join(',')}`)
        .join('; ')}`,
    );
  if (r.kill) {
    const k = r.kill;
    parts.push(
      `kill -9 ${k.name}${k.pid !== undefined ? ` (pid ${k.pid})` : ''}` +
        (k.killedAtS !== undefined ? ` at ${k.killedAtS} s` : ' did not happen') +
        (k.restartedAtS !== undefined ? `, restarted at ${k.restartedAtS} s (pid ${k.newPid})` : '') +
        (k.error ? `; error: ${k.error}` : ''),
    );
  }
  for (const [label, f] of [
    ['telemetry', r.telemetry],
    ['commands', r.commands],
  ] as const) {
    if (f.lostExamples.length > 0) parts.push(`lost ${label} (device, seq): ${f.lostExamples.map(([d, s]) => `(${d}, ${s})`).join(' ')}`);
  }
  parts.push(r.failures.length === 0 ? 'result: PASS' : `result: FAIL\n${r.failures.map((f) => `  - ${f}`).join('\n')}`);
  return parts.join('\n\n');
}
