import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/bus.js';
import { EnvelopeError } from '../envelope/envelope-error.js';
import { decodeNodeInfo, encodeJson, type NodeInfo } from './admin-envelopes.js';
import type { AdminSubjects } from './admin-subjects.js';

/**
 * Asks every process of the cluster to describe itself and collects the answers that arrive
 * within `gatherMs` (a scatter-gather: Bus.request keeps only the first reply). A process
 * that answers later is missing from this view, not an error. Answers that do not decode are
 * skipped (a process of another version would still be listed by the others).
 */
export async function gatherNodes(bus: Bus, subjects: AdminSubjects, gatherMs: number): Promise<{ nodes: NodeInfo[]; undecodable: number }> {
  const reply = subjects.gatherReply(randomBytes(8).toString('hex'));
  const nodes: NodeInfo[] = [];
  let undecodable = 0;
  const sub = bus.subscribe(reply, (m) => {
    try {
      nodes.push(decodeNodeInfo(m.data));
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      undecodable++;
    }
  });
  try {
    await bus.flush();
    bus.publish(subjects.nodes, encodeJson({}), { reply });
    await new Promise((r) => setTimeout(r, gatherMs));
  } finally {
    sub.unsubscribe();
  }
  nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return { nodes, undecodable };
}

/** Answers `nodes` requests for this process. Every process runs one (bin/start-node.ts). */
export function answerNodeInfo(bus: Bus, subjects: AdminSubjects, describe: () => NodeInfo): { unsubscribe(): void } {
  return bus.subscribe(subjects.nodes, (m) => void m.respond(encodeJson(describe())));
}
