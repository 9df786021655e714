import type { NodeInfo } from './admin-envelopes.js';

/**
 * GET /api/v1/cluster from the processes that answered: members per tier, gateways,
 * routers, versions and who owns how many shards (a shard nobody serves shows as unowned:
 * during a move, or with no session actor running).
 */
export function clusterView(g: { nodes: NodeInfo[]; undecodable: number }, shards: number) {
  const tiers: Record<string, string[]> = { gateway: [], session: [], router: [], auth: [] };
  const versions: Record<string, string[]> = {};
  const owners: Record<string, number> = {};
  const owned = new Set<number>();
  for (const n of g.nodes) {
    for (const r of n.roles) (tiers[r] ??= []).push(n.nodeId);
    (versions[n.version] ??= []).push(n.nodeId);
    if (n.session) {
      owners[n.nodeId] = n.session.shards.length;
      for (const s of n.session.shards) owned.add(s);
    }
  }
  return {
    nodes: g.nodes.map((n) => ({ nodeId: n.nodeId, roles: n.roles, version: n.version, startedAt: new Date(n.startedAt).toISOString() })),
    tiers,
    gateways: g.nodes.flatMap((n) => (n.gateway ? [{ id: n.gateway.id, node: n.nodeId, connections: n.gateway.connections, ports: n.gateway.ports }] : [])),
    routers: g.nodes.flatMap((n) => (n.router ? [{ id: n.router.id, node: n.nodeId }] : [])),
    shards: { total: shards, owned: owned.size, unowned: shards - owned.size, owners },
    versions,
    ...(g.undecodable > 0 ? { undecodableAnswers: g.undecodable } : {}),
  };
}
