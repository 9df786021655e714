import { randomBytes } from 'node:crypto';
import type { Bus } from '../bus/bus.js';
import { EnvelopeError } from '../envelope/envelope-error.js';
import { decodeNodeInfo, encodeJson, type NodeInfo } from './admin-envelopes.js';
import type { AdminSubjects } from './admin-subjects.js';

/**
 * Publishes `request` on `subject` with a fresh reply subject and collects the answers that
 * arrive within `gatherMs` (a scatter-gather: Bus.request keeps only the first reply). A process
 * that answers later is missing from this view, not an error. Answers that do not decode are
 * counted and skipped (a process of another version would still be listed by the others).
 */
export async function gatherReplies<T>(
  bus: Bus,
  subjects: AdminSubjects,
  subject: string,
  request: unknown,
  gatherMs: number,
  decode: (data: Uint8Array) => T,
): Promise<{ replies: T[]; undecodable: number }> {
  const reply = subjects.gatherReply(randomBytes(8).toString('hex'));
  const replies: T[] = [];
  let undecodable = 0;
  const sub = bus.subscribe(reply, (m) => {
    try {
      replies.push(decode(m.data));
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      undecodable++;
    }
  });
  try {
    await bus.flush();
    bus.publish(subject, encodeJson(request), { reply });
    await new Promise((r) => setTimeout(r, gatherMs));
  } finally {
    sub.unsubscribe();
  }
  return { replies, undecodable };
}

/** Every process of the cluster describing itself (GET /api/v1/cluster). */
export async function gatherNodes(bus: Bus, subjects: AdminSubjects, gatherMs: number): Promise<{ nodes: NodeInfo[]; undecodable: number }> {
  const { replies: nodes, undecodable } = await gatherReplies(bus, subjects, subjects.nodes, {}, gatherMs, decodeNodeInfo);
  nodes.sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  return { nodes, undecodable };
}

/** Answers `nodes` requests for this process. Every process runs one (bin/start-node.ts). */
export function answerNodeInfo(bus: Bus, subjects: AdminSubjects, describe: () => NodeInfo): { unsubscribe(): void } {
  return bus.subscribe(subjects.nodes, (m) => void m.respond(encodeJson(describe())));
}
