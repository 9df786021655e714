// Preloaded into every test file by scripts/test.mjs (`node --test --import`).
//
// A test file that leaves a socket, timer or child process open would never exit, and the run
// would hang. Node's --test-force-exit solves that but exits the file's process before its report
// has reached the runner: seen here on Node 20 and 24, a file of 60 tests was counted as 33 to 59,
// with every test run, so a failure in the lost part would go unseen. Instead, once every test of
// the file has finished (a root-level after hook), the process exits 2 s later if something still
// keeps it alive: time enough for the report to leave. The exit code is the runner's
// (process.exitCode: 1 when a test failed). The timer is unref'd: a clean file exits at once.
import { after } from 'node:test';

after(() => {
  setTimeout(() => process.exit(), 2000).unref();
});
