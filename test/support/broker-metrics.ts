import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Broker } from './broker.js';

/**
 * Reading a broker process from outside, the way an operator would: its /metrics endpoint
 * (port from its "ready" line) and its resident memory. Tests only.
 */

/** The HTTP port a process printed in its "ready" line. */
export function httpPortOf(broker: Broker, name: string): number {
  const port = broker.httpPorts.get(name);
  assert.ok(port, `${name} printed its httpPort`);
  return port;
}

/** The Prometheus text of one process's /metrics. */
export async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

/** Sum of a metric's samples whose line contains `labelMatch` (0 when absent). */
export function counterValue(text: string, name: string, labelMatch = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line.length > name.length && line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (!line.includes(labelMatch)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** One sample of a process's metric, scraped now (e.g. gateway_events_total with 'what="connect_timeout"'). */
export async function metricOf(broker: Broker, processName: string, name: string, labelMatch = ''): Promise<number> {
  return counterValue(await scrape(httpPortOf(broker, processName)), name, labelMatch);
}

/** Resident set size of a process in bytes (Linux /proc), read by the test, not by the process. */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, `VmRSS of pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** Polls a process's metric until `ok(value)` holds; resolves with the value, rejects after timeoutMs. */
export async function waitForMetric(broker: Broker, processName: string, name: string, labelMatch: string, ok: (v: number) => boolean, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await metricOf(broker, processName, name, labelMatch);
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${name}{${labelMatch}} (last value ${v})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
