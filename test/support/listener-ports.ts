import assert from 'node:assert/strict';
import type { Broker } from './broker.js';

/** The listener ports a gateway process logged in its "ready" line (tests only). */
export function listenerPorts(broker: Broker, processName?: string): { tcp: number; tls?: number; ws?: number; wss?: number } {
  const text = processName === undefined ? broker.output() : (broker.processes.get(processName)?.output() ?? '');
  const m = /"listeners":(\{[^}]*\})/.exec(text);
  assert.ok(m, 'ready line names the listeners');
  return JSON.parse(m[1]!);
}
