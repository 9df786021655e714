import type { Message } from '../../common/src/index.js';

/** The limit a retained message would pass, named as in shardmq_router_limit_hits_total{limit}. */
export type RetainedLimit = 'maxRetainedMessages' | 'maxRetainedBytes';

/** Bytes a retained message holds against router.maxRetainedBytes: its topic and payload. */
export function retainedCost(topic: string, m: Message): number {
  return Buffer.byteLength(topic) + m.payload.length;
}

/**
 * The bounds on the retained store (router.maxRetainedMessages, router.maxRetainedBytes): a
 * retained PUBLISH that would pass one is refused whole, before fan-out, so a publisher told
 * "Quota exceeded" knows nobody got it. Replacing a topic's message only counts the byte
 * difference; clearing one (empty payload) always passes. Runs on a router's event loop.
 */
export class RetainedQuota {
  /** Topic and payload bytes of every retained message held. */
  bytes = 0;

  constructor(
    private readonly maxMessages: number,
    private readonly maxBytes: number,
  ) {}

  /**
   * Which limit storing a message of `cost` bytes would pass, or undefined when it fits.
   * `previousCost` is the cost of the message it replaces (undefined: a new topic).
   */
  check(count: number, previousCost: number | undefined, cost: number): RetainedLimit | undefined {
    if (previousCost === undefined && count >= this.maxMessages) return 'maxRetainedMessages';
    if (this.bytes - (previousCost ?? 0) + cost > this.maxBytes) return 'maxRetainedBytes';
    return undefined;
  }
}
