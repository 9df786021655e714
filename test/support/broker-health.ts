import assert from 'node:assert/strict';
import type { MqttClient } from 'mqtt';
import type { Broker } from './broker.js';
import { ClientPool, collect, publish, subscribe, waitFor, type Received } from './mqtt-clients.js';

/**
 * What "no input can take a process down" checks after hostile input: every broker process is
 * the one started before (same pid, still running), none logged an internal error or an uncaught
 * exception, and a bystander client connected before still publishes and receives (QoS 1).
 */
export class BrokerHealth {
  private readonly pids = new Map<string, number>();
  /** Lines that show a crash the isolation layer caught (or missed). */
  readonly faults: string[] = [];
  private readonly pool = new ClientPool();
  private bystander?: MqttClient;
  private got: Received[] = [];
  private seq = 0;
  private topic = '';

  private constructor(private readonly broker: Broker) {
    for (const [name, p] of broker.processes) {
      this.pids.set(name, p.pid);
      p.onLine((line) => {
        if (FAULT_LINE.test(line) && this.faults.length < 20) this.faults.push(`[${name}] ${line}`);
      });
    }
  }

  /** Starts watching the broker's processes and connects a bystander (MQTT 5) on gateway 0. */
  static async watch(broker: Broker, name: string): Promise<BrokerHealth> {
    const h = new BrokerHealth(broker);
    h.topic = `bystander/${name}`;
    // A busy machine can take a while to lease every shard after start: a generous CONNACK wait.
    h.bystander = await h.pool.connect(broker.url(0), { protocolVersion: 5, clientId: `bystander-${name}`, connectTimeout: 60_000 });
    h.got = collect(h.bystander);
    await subscribe(h.bystander, h.topic, { qos: 1 });
    await h.assertBystanderWorks();
    return h;
  }

  /** The bystander publishes at QoS 1 (acknowledged) and receives its own message. */
  async assertBystanderWorks(): Promise<void> {
    const payload = `still-alive-${++this.seq}`;
    await publish(this.bystander!, this.topic, payload, { qos: 1 });
    await waitFor(() => this.got.some((g) => g.payload.toString() === payload), `bystander message ${payload}`, 30_000);
    assert.equal(this.bystander!.connected, true, 'the bystander is still connected');
  }

  /** Same processes, all running, no fault logged. */
  assertProcessesIntact(): void {
    for (const [name, pid] of this.pids) {
      const p = this.broker.processes.get(name);
      assert.equal(p?.pid, pid, `${name} is the process started before (pid ${pid})`);
      assert.equal(p.running, true, `${name} (pid ${pid}) is still running`);
    }
    assert.deepEqual(this.faults, [], 'no internal error or uncaught exception was logged');
  }

  async assertHealthy(): Promise<void> {
    this.assertProcessesIntact();
    await this.assertBystanderWorks();
    this.assertProcessesIntact();
  }

  close(): Promise<void> {
    return this.pool.closeAll();
  }
}

/** A caught per-connection fault (internal_error) or anything Node prints when a process dies of one. */
const FAULT_LINE = /internal_error|internal error|uncaught|unhandled|^\s+at .+:\d+:\d+\)?$|^(Range|Type|Reference|Syntax)?Error:/i;
