import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import mqtt, { type Packet } from 'mqtt-packet';
import { encodeAuthRequest, type AuthReply, type AuthRequest } from '../../common/src/auth-contract/auth-protocol.js';
import type { Message } from '../../common/src/envelope/message.js';
import { encodeRoutePublish } from '../../common/src/envelope/router.js';
import { encodeSessionIn, type ConnectEnv, type ConnectReply, type SessionInEnv } from '../../common/src/envelope/session-in.js';
import { Connection, connectionContext } from '../../gateway/src/connection.js';
import type { ConnState } from '../../gateway/src/protocol/conn-state.js';
import { handlePacket } from '../../gateway/src/protocol/handle-packet.js';
import type { PacketFault } from '../../gateway/src/protocol/packet-fault.js';
import type { GatewayLimits, GatewayPorts } from '../../gateway/src/protocol/ports.js';
import { describeCase, fuzzCase } from '../support/mqtt-fuzz.js';
import { FakeSocket } from '../support/fake-socket.js';

/**
 * The packet fuzzer's cases (test/support/mqtt-fuzz.ts) fed in-process through the real
 * Connection (framing, fast path, mqtt-packet, length check) and the real protocol handlers,
 * with ports that run the real encoders (MQTT answers, session envelopes, route envelopes, auth
 * requests). Thousands of cases a second, no sockets: a fault here is a crash the socket fuzzer
 * (test/e2e/mqtt-packet-fuzz-keeps-broker-up.test.ts) would find, found faster.
 * SHARDMQ_FUZZ_SEED / SHARDMQ_FUZZ_INPROCESS_CASES replay or extend it.
 */

const SEED = process.env.SHARDMQ_FUZZ_SEED !== undefined ? Number(process.env.SHARDMQ_FUZZ_SEED) >>> 0 : (Math.random() * 0x100000000) >>> 0;
const CASES = Number(process.env.SHARDMQ_FUZZ_INPROCESS_CASES ?? 20_000);

/** Ports that do the encoding work of the real gateway and record faults. */
class EncodingPorts implements GatewayPorts {
  readonly limits: GatewayLimits = {
    maxPacketBytes: 262144,
    maxClientIdLength: 128,
    maxTopicLevels: 32,
    maxTopicAlias: 64,
    receiveMaximum: 1024,
    maxKeepaliveS: 3600,
    maxSessionExpiryS: 86400,
    unauthorizedPublish: 'drop',
    allowWildcardSubscriptions: true,
  };
  readonly gatewayId = 'gw';
  readonly shards = 16;
  faults: unknown[] = [];
  now = () => Date.now();
  send = (c: ConnState, p: Packet) => void mqtt.generate(p, { protocolVersion: c.proto });
  close = (c: ConnState) => {
    c.phase = 'closed';
  };
  toSession = (_c: ConnState, env: SessionInEnv) => void encodeSessionIn(env);
  connectSession = async (env: ConnectEnv): Promise<ConnectReply> => {
    encodeSessionIn(env);
    return { rc: 0, sessionPresent: false, epoch: 1 };
  };
  authenticate = async (req: AuthRequest): Promise<AuthReply> => {
    encodeAuthRequest(req);
    return { result: 'ok', acl: null };
  };
  route = (c: ConnState, m: Message, ack: boolean) => {
    encodeRoutePublish({ mountpoint: c.mountpoint, message: m });
    return ack ? Promise.resolve(0) : undefined;
  };
  refuse = (c: ConnState, _f: PacketFault) => this.close(c);
  fault = (c: ConnState, err: unknown) => {
    this.faults.push(err);
    this.close(c);
  };
  slowDown = async () => {};
  count = () => {};
  newClientId = () => 'assigned';
  authRefused(): void {}
  connected = (c: ConnState) => {
    for (const p of c.pendingIn.splice(0)) handlePacket(c, p, this);
  };
}

test(`fuzzed packets never throw in the gateway (${CASES} cases, seed ${SEED})`, async () => {
  const failures: string[] = [];
  for (let i = 0; i < CASES && failures.length < 5; i++) {
    const fc = fuzzCase(SEED, i, `fz-${i}`);
    const ports = new EncodingPorts();
    const sock = new FakeSocket();
    const conn = new Connection(
      sock as unknown as Socket,
      1,
      0,
      connectionContext({
        maxPacketBytes: 262144,
        onPacket: (c, p) => handlePacket(c.state, p, ports),
        onBad: (c) => ports.close(c.state),
        onFault: (c, err) => ports.fault(c.state, err),
      }),
    );
    const stream = Buffer.concat([fc.connect, ...fc.packets]);
    let off = 0;
    for (const w of fc.writes) {
      sock.emit('data', stream.subarray(off, off + w));
      off += w;
      // Let the CONNECT's promise chain (auth, attach) run, as the CONNACK would arrive.
      if (fc.waitConnack && off === fc.connect.length) await new Promise((r) => setImmediate(r));
    }
    await new Promise((r) => setImmediate(r));
    if (ports.faults.length > 0) {
      const err = ports.faults[0] as Error;
      failures.push(`${describeCase(fc)}\n  ${err.stack ?? String(err)}\n  replay: SHARDMQ_FUZZ_SEED=${SEED} npm test -- gateway-survives-fuzzed`);
    }
    void conn;
  }
  assert.deepEqual(failures, [], `seed ${SEED}`);
});
