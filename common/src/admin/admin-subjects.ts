/**
 * Bus subjects of the admin API (kept beside common/src/subjects.ts, built the same way: the
 * cluster's `nats.subjectPrefix` first, so an admin request never reaches another cluster).
 */

export interface AdminSubjects {
  /** API process -> owner of `shard`: ask about or act on one session (request/reply). */
  session(shard: number): string;
  /** API process -> one gateway: details of one of its connections (request/reply). */
  gateway(gatewayId: string): string;
  /** API process -> every process: "describe yourself" (every process answers on the reply subject). */
  readonly nodes: string;
  /** API process -> every gateway: trace one client's packets for a while (each gateway answers on the reply subject). */
  readonly trace: string;
  /** Reply subject of one scatter-gather (`nodes`), unique per request. */
  gatherReply(token: string): string;
}

const SAFE = /^[A-Za-z0-9_-]+$/;

export function adminSubjects(prefix = 'mqtt'): AdminSubjects {
  if (!SAFE.test(prefix)) throw new Error(`bus subject prefix must match ${SAFE}`);
  const checked = (what: string, id: string) => {
    if (!SAFE.test(id)) throw new Error(`${what} must match ${SAFE}: ${id}`);
    return id;
  };
  return {
    session: (shard) => `${prefix}.admin.v1.sess.${shard}`,
    gateway: (gatewayId) => `${prefix}.admin.v1.gw.${checked('gateway id', gatewayId)}`,
    nodes: `${prefix}.admin.v1.nodes`,
    trace: `${prefix}.admin.v1.trace`,
    gatherReply: (token) => `${prefix}.admin.v1.reply.${checked('reply token', token)}`,
  };
}
