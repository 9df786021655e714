// Preloaded into every test file by scripts/test.mjs (`node --test --import`).
//
// A test file that leaves a socket, timer or child process open would never exit, and the run
// would hang. Node's --test-force-exit solves that but exits the file's process before its report
// has reached the runner: seen here on Node 20 and 24, a file of 60 tests was counted as 33 to 59,
// with every test run, so a failure in the lost part would go unseen. Instead, once every test of
// the file has finished (a root-level after hook), the process exits 2 s later if something still
// keeps it alive: time enough for the report to leave. The timer is unref'd: a clean file exits
// at once, with the runner's own exit code.
//
// The exit code of a forced exit is 1 when a test of the file failed: Node 24 sets the file's
// exit code only on a natural exit, and test/support/processes.ts prints the output of the
// processes a test started when the file fails (it reads the exit code).
import { after, afterEach } from 'node:test';

// A todo test may fail without failing its file (Node's rule), but the hook cannot tell a todo
// test from its context: a file names its todo tests in globalThis.shardmqTodoTests.
let failed = false;
afterEach((t) => {
  if (t.passed === false && !globalThis.shardmqTodoTests?.has(t.name)) failed = true;
});

after(() => {
  setTimeout(() => process.exit(failed ? 1 : process.exitCode), 2000).unref();
});
