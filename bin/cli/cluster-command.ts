import { ADMIN_OPTIONS, ADMIN_OPTIONS_USAGE, adminTarget, callAdmin, failed, parseCommand, runAdminCommand, UsageError, type CliIo } from './admin-client.js';

export const CLUSTER_USAGE = `usage: shardmq cluster status [--json] [options]

  status   members per tier, gateways (with their connections), routers, versions and shard
           owners, as the processes that answered describe themselves; --json prints the API answer

options:
  --json
${ADMIN_OPTIONS_USAGE}`;

const OPTIONS = { ...ADMIN_OPTIONS, json: { type: 'boolean' } } as const;

interface ClusterAnswer {
  tiers: Record<string, string[]>;
  gateways: Array<{ id: string; connections: number; ports: Record<string, number> }>;
  routers: Array<{ id: string; node: string }>;
  shards: { total: number; owned: number; unowned: number; owners: Record<string, number> };
  versions: Record<string, string[]>;
}

/** `shardmq cluster status`: through the admin API of a running broker (any process). */
export function runClusterCommand(args: readonly string[], io: CliIo): Promise<number> {
  return runAdminCommand(CLUSTER_USAGE, io, async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    if (values.help || positionals[0] === 'help') {
      io.out(CLUSTER_USAGE);
      return 0;
    }
    if (positionals[0] !== 'status' || positionals.length > 1)
      throw new UsageError(positionals[0] === undefined ? 'name a subcommand: status' : `unknown subcommand "cluster ${positionals.join(' ')}"`);
    const t = adminTarget(values, io.env);
    const a = await callAdmin(t, 'GET', '/api/v1/cluster');
    if (a.status !== 200) return failed(a, io, t);
    if (values.json) {
      io.out(JSON.stringify(a.json, null, 2));
      return 0;
    }
    const c = a.json as ClusterAnswer;
    for (const [tier, nodes] of Object.entries(c.tiers)) io.out(`${tier.padEnd(8)} ${nodes.length}  ${nodes.join(' ')}`);
    for (const g of c.gateways)
      io.out(
        `gateway  ${g.id}: ${g.connections} connections, ports ${Object.entries(g.ports)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    for (const r of c.routers) io.out(`router   ${r.id} on ${r.node}`);
    io.out(
      `shards   ${c.shards.owned}/${c.shards.total} owned${c.shards.unowned > 0 ? `, ${c.shards.unowned} UNOWNED` : ''}; ${Object.entries(c.shards.owners)
        .map(([n, k]) => `${n}=${k}`)
        .join(' ')}`,
    );
    for (const [v, nodes] of Object.entries(c.versions)) io.out(`version  ${v}: ${nodes.length} process${nodes.length === 1 ? '' : 'es'}`);
    return 0;
  });
}
