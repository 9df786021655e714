/**
 * The end of the event-loop turn: the work that batches what one turn produced (per-turn bus
 * messages, a connection's socket writes, a shard's session write, the NATS socket flush) runs
 * here, after every I/O callback of the turn, and all of it in the same check phase.
 *
 * Each batcher used to take its own `setImmediate`. One queued while the check phase runs waits
 * for the next loop iteration, so a chain of batchers (a router's owner-direct batch, then the NATS
 * flush of its request; a shard's session write, then the NATS flush of its append; in one process
 * the owner's gateway output, then the subscriber's socket write) cost a turn per link. Under
 * load a turn takes milliseconds (its poll phase reads every socket with data), and those turns
 * were most of a QoS 1 message's time in the broker (docs/operations.md, "QoS 1 latency").
 *
 * Here one `setImmediate` runs the tasks queued for the turn end in the order queued, then lets the
 * microtasks they queued run (the memory bus delivers in a microtask), then runs the tasks those
 * queued, and so on; `last` tasks (the NATS socket flush) run when no other task is left, so the
 * turn's messages leave in one write. Rounds are bounded: work that keeps making work (handlers
 * ping-ponging) goes on in the next turn, after I/O. A task must not throw; one that does is
 * rethrown as an uncaught exception after its round (as from its own setImmediate before), and
 * the round's other tasks still run. Runs in any process.
 */
const MAX_ROUNDS = 16;

type Task = () => void;

let tasks: Task[] = [];
let spareTasks: Task[] = [];
let lastTasks: Task[] = [];
let spareLast: Task[] = [];
let scheduled = false;
let rounds = 0;

/** Runs `task` at the end of this turn, in the order queued (in the next turn when this one's end is past). */
export function atTurnEnd(task: Task): void {
  tasks.push(task);
  if (!scheduled) schedule();
}

/** Runs `task` at the end of this turn, once no atTurnEnd task is left. */
export function atTurnEndLast(task: Task): void {
  lastTasks.push(task);
  if (!scheduled) schedule();
}

function schedule(): void {
  scheduled = true;
  rounds = 0;
  setImmediate(round);
}

function round(): void {
  let batch: Task[];
  if (tasks.length > 0) {
    // Swapped, so what this round queues goes to the next round.
    batch = tasks;
    tasks = spareTasks;
    spareTasks = batch;
  } else if (lastTasks.length > 0) {
    batch = lastTasks;
    lastTasks = spareLast;
    spareLast = batch;
  } else {
    scheduled = false;
    return;
  }
  let failure: { err: unknown } | undefined;
  for (let i = 0; i < batch.length; i++) {
    try {
      batch[i]!();
    } catch (err) {
      failure ??= { err };
    }
  }
  batch.length = 0;
  if (failure !== undefined) {
    const { err } = failure;
    queueMicrotask(() => {
      throw err;
    });
  }
  // Queued after the microtasks of this round, so they run first.
  if (++rounds < MAX_ROUNDS) queueMicrotask(round);
  else {
    rounds = 0;
    setImmediate(round);
  }
}
