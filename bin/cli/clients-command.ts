import { ADMIN_OPTIONS, ADMIN_OPTIONS_USAGE, adminTarget, callAdmin, failed, parseCommand, runAdminCommand, UsageError, type CliIo } from './admin-client.js';

export const CLIENTS_USAGE = `usage: shardmq clients <show|kick> <client-id> [options]

  show <client-id>            the client's session and connection as JSON: connected, connectedAt,
                              gateway, peer, protocol level, keepalive, subscriptions, queued and
                              inflight counts, session expiry (exit 1 when it has no session)
  kick <client-id> [--session]
                              disconnect it (MQTT 5: DISCONNECT 0x98 Administrative action);
                              --session also discards its session

options:
  --mountpoint <mp>  the client's mountpoint (default "")
${ADMIN_OPTIONS_USAGE}`;

const OPTIONS = { ...ADMIN_OPTIONS, mountpoint: { type: 'string' }, session: { type: 'boolean' } } as const;

/** `shardmq clients show|kick`: through the admin API of a running broker (any process). */
export function runClientsCommand(args: readonly string[], io: CliIo): Promise<number> {
  return runAdminCommand(CLIENTS_USAGE, io, async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    if (values.help || positionals[0] === 'help') {
      io.out(CLIENTS_USAGE);
      return 0;
    }
    const [sub, clientId, ...extra] = positionals;
    if (sub !== 'show' && sub !== 'kick') throw new UsageError(sub === undefined ? 'name a subcommand: show or kick' : `unknown subcommand "clients ${sub}"`);
    if (clientId === undefined || extra.length > 0) throw new UsageError(`"clients ${sub}" takes one client id`);
    if (sub === 'show' && values.session) throw new UsageError('--session applies to "clients kick" only');
    const t = adminTarget(values, io.env);
    const q = new URLSearchParams();
    if (values.mountpoint) q.set('mountpoint', values.mountpoint);
    if (values.session) q.set('session', 'true');
    const path = `/api/v1/clients/${encodeURIComponent(clientId)}${q.size > 0 ? `?${q}` : ''}`;
    const a = await callAdmin(t, sub === 'show' ? 'GET' : 'DELETE', path);
    if (a.status !== 200) return failed(a, io, t);
    if (sub === 'show') io.out(JSON.stringify(a.json, null, 2));
    else {
      const j = a.json as { disconnected: boolean; sessionDiscarded: boolean };
      io.out(`${clientId}: ${j.disconnected ? 'disconnected' : 'was not connected'}${j.sessionDiscarded ? ', session discarded' : ''}`);
    }
    return 0;
  });
}
