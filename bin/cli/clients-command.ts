import { ADMIN_OPTIONS, ADMIN_OPTIONS_USAGE, adminTarget, callAdmin, failed, parseCommand, runAdminCommand, UsageError, type CliIo } from './admin-client.js';

export const CLIENTS_USAGE = `usage: shardmq clients <show|kick|trace> <client-id> [options]

  show <client-id>            the client's session and connection as JSON: connected, connectedAt,
                              gateway, peer, protocol level, keepalive, subscriptions, queued and
                              inflight counts, session expiry (exit 1 when it has no session)
  kick <client-id> [--session]
                              disconnect it (MQTT 5: DISCONNECT 0x98 Administrative action);
                              --session also discards its session
  trace <client-id> [--seconds n]
                              every gateway logs every MQTT packet of the client, in and out, at
                              info ("msg":"client trace": type, packet id, QoS, topic, flags,
                              reason codes, payload length; never payloads or passwords) for n
                              seconds (default 60, at most admin.maxTraceS), connections made
                              meanwhile included; the trace ends by itself

options:
  --mountpoint <mp>  the client's mountpoint (default "")
${ADMIN_OPTIONS_USAGE}`;

const OPTIONS = { ...ADMIN_OPTIONS, mountpoint: { type: 'string' }, session: { type: 'boolean' }, seconds: { type: 'string' } } as const;

/** `shardmq clients show|kick|trace`: through the admin API of a running broker (any process). */
export function runClientsCommand(args: readonly string[], io: CliIo): Promise<number> {
  return runAdminCommand(CLIENTS_USAGE, io, async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    if (values.help || positionals[0] === 'help') {
      io.out(CLIENTS_USAGE);
      return 0;
    }
    const [sub, clientId, ...extra] = positionals;
    if (sub !== 'show' && sub !== 'kick' && sub !== 'trace') throw new UsageError(sub === undefined ? 'name a subcommand: show, kick or trace' : `unknown subcommand "clients ${sub}"`);
    if (clientId === undefined || extra.length > 0) throw new UsageError(`"clients ${sub}" takes one client id`);
    if (sub !== 'kick' && values.session) throw new UsageError('--session applies to "clients kick" only');
    if (sub !== 'trace' && values.seconds !== undefined) throw new UsageError('--seconds applies to "clients trace" only');
    const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
    if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 1)) throw new UsageError('--seconds: a whole number of seconds, 1 or more');
    const t = adminTarget(values, io.env);
    const q = new URLSearchParams();
    if (values.mountpoint) q.set('mountpoint', values.mountpoint);
    if (values.session) q.set('session', 'true');
    const path = `/api/v1/clients/${encodeURIComponent(clientId)}${sub === 'trace' ? '/trace' : ''}${q.size > 0 ? `?${q}` : ''}`;
    const a = await callAdmin(t, sub === 'show' ? 'GET' : sub === 'kick' ? 'DELETE' : 'POST', path, sub === 'trace' ? (seconds === undefined ? {} : { seconds }) : undefined);
    if (a.status !== 200) return failed(a, io, t);
    if (sub === 'show') io.out(JSON.stringify(a.json, null, 2));
    else if (sub === 'trace') {
      const j = a.json as { seconds: number; until: string; gateways: { gateway: string; connections: number }[] };
      const open = j.gateways.reduce((n, g) => n + g.connections, 0);
      io.out(`${clientId}: traced for ${j.seconds} s (until ${j.until}) on ${j.gateways.length} gateway(s), ${open} open connection(s); see the gateways' logs ("msg":"client trace")`);
    } else {
      const j = a.json as { disconnected: boolean; sessionDiscarded: boolean };
      io.out(`${clientId}: ${j.disconnected ? 'disconnected' : 'was not connected'}${j.sessionDiscarded ? ', session discarded' : ''}`);
    }
    return 0;
  });
}
