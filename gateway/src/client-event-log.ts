import { LostReason, type Logger } from '../../common/src/index.js';
import type { Connection } from './connection.js';
import type { ConnState } from './protocol/conn-state.js';
import { REASON_TEXT } from './protocol/reason-codes.js';

/**
 * The per-client connect and disconnect lines at info (`log.clientEvents`, on by default; off
 * for very large fleets, where metrics and the client events on the bus still count them).
 * One line per connection each way, never per packet. Gateway only.
 */
export class ClientEventLog {
  constructor(
    private readonly log: Logger,
    private readonly gatewayId: string,
    private readonly enabled: boolean,
  ) {}

  /** After CONNACK 0 was written. */
  connected(c: Connection): void {
    if (!this.enabled) return;
    const st = c.state;
    this.log.info('client connected', {
      clientId: st.clientId,
      ...(st.mountpoint ? { mountpoint: st.mountpoint } : {}),
      username: st.username ?? null,
      peer: st.peer,
      listener: c.listener,
      protocolLevel: st.proto,
      keepaliveS: st.keepaliveMs / 1000,
      cleanStart: st.cleanStart,
      gateway: this.gatewayId,
    });
  }

  /** When the socket closed, for a connection that had been connected. */
  disconnected(c: Connection, now: number): void {
    if (!this.enabled || c.connectedAt === undefined) return;
    const st = c.state;
    const why = c.closedBy ?? { reason: st.cleanlyDisconnected ? 'client_disconnect' : 'connection_lost' };
    this.log.info('client disconnected', {
      clientId: st.clientId,
      ...(st.mountpoint ? { mountpoint: st.mountpoint } : {}),
      peer: st.peer,
      reason: why.reason,
      ...(why.rc !== undefined ? { rc: why.rc } : {}),
      durationMs: now - c.connectedAt,
      gateway: this.gatewayId,
    });
  }
}

/** Why the gateway closed a connection, in words for the disconnect line (`rc`: the MQTT 5 reason code sent, if any). */
export function closeReason(st: ConnState, lost: LostReason, rc: number | undefined): { reason: string; rc?: number } {
  if (st.cleanlyDisconnected) return { reason: 'client_disconnect' };
  const withRc = (reason: string) => (rc === undefined ? { reason } : { reason, rc });
  switch (lost) {
    case LostReason.KeepaliveTimeout:
      return withRc('keepalive_timeout');
    case LostReason.ServerShutdown:
      return withRc('server_shutdown');
    case LostReason.Backpressure:
      return withRc('backpressure');
    default: {
      // 0x98 is sent without a reason string (the admin API's kick), so it has no REASON_TEXT.
      const text = rc === undefined ? undefined : rc === 0x98 ? 'administrative action' : REASON_TEXT[rc];
      return withRc(text ? text.toLowerCase().replace(/[^a-z0-9]+/g, '_') : 'closed_by_server');
    }
  }
}
