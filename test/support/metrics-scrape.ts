import assert from 'node:assert/strict';
import type { Broker } from './broker.js';

/** The HTTP port a process printed in its "ready" line. */
export function httpPortOf(broker: Broker, name: string): number {
  const port = broker.httpPorts.get(name);
  assert.ok(port, `${name} printed its httpPort`);
  return port;
}

/** The /metrics text of a process. */
export async function scrape(port: number): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(r.status, 200);
  return r.text();
}

/** Sum of a counter's samples whose labels contain `labelMatch` (0 when absent). */
export function counterValue(text: string, name: string, labelMatch: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    if (!line.includes(labelMatch)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}
