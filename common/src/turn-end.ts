/**
 * The end of the event-loop turn: the work that batches what one turn produced (per-turn bus
 * messages, a shard's session write, the NATS socket flush) runs here, after every I/O callback
 * of the turn, and all of it in the same check phase.
 *
 * Each batcher used to take its own `setImmediate`. One queued while the check phase runs waits
 * for the next loop iteration, so a chain of batchers (a router's owner-direct batch, then the NATS
 * flush of its request; a shard's session write, then the NATS flush of its append; an owner's
 * gateway output, then the NATS flush) cost a turn per link: 55-75 % of those sends waited for the
 * next turn, and under load a turn takes milliseconds (docs/operations.md, "QoS 1 latency").
 *
 * Here one `setImmediate` runs the tasks queued for the turn end in the order queued, each followed
 * by the microtasks it queued (as after a setImmediate callback: the memory bus delivers in a
 * microtask), and the tasks those queue run in the same check phase; `last` tasks (the NATS
 * socket flush) run when no other task is left, so the turn's messages leave in one write. The
 * tasks of one turn are bounded: work that keeps making work (handlers ping-ponging) goes on in
 * the next turn, after I/O. A task that throws is an uncaught exception, as it was in its own
 * setImmediate, and the tasks after it still run. Runs in any process.
 */
/** Tasks run in one turn before the rest waits for the next turn (after its I/O). */
const MAX_TASKS_PER_TURN = 8192;

type Task = () => void;

const tasks: Array<Task | undefined> = [];
let head = 0;
const lastTasks: Task[] = [];
let scheduled = false;
let ran = 0;

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
  ran = 0;
  setImmediate(step);
}

/** Runs one task, then (in a microtask, after the ones it queued) the next. */
function step(): void {
  let task: Task | undefined;
  if (head < tasks.length) {
    task = tasks[head];
    tasks[head++] = undefined;
  } else {
    tasks.length = 0;
    head = 0;
    task = lastTasks.shift();
    if (task === undefined) {
      scheduled = false;
      return;
    }
  }
  try {
    task!();
  } finally {
    // Queued after the microtasks the task queued, so they run first; a throw still goes on
    // (as an uncaught exception) once the next step is queued.
    if (++ran < MAX_TASKS_PER_TURN) queueMicrotask(step);
    else {
      ran = 0;
      setImmediate(step);
    }
  }
}
