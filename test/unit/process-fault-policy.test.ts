import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EXIT_UNCAUGHT } from '../../common/src/process-faults.js';
import { spawnProcess } from '../support/processes.js';

// The process-level policy, in a real child process: an unhandled rejection is logged with its
// stack and counted, and the process keeps running; an uncaught exception is logged with its
// stack and counted, then the process exits with EXIT_UNCAUGHT.

const dist = new URL('../../', import.meta.url);
let dir: string | undefined;

after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('unhandled rejection: logged and counted, process keeps running; uncaught exception: logged, counted, exit 70', async () => {
  dir = await mkdtemp(join(tmpdir(), 'shardmq-faults-'));
  const script = join(dir, 'faulty.mjs');
  await writeFile(
    script,
    `import { installProcessFaultPolicy } from ${JSON.stringify(new URL('common/src/process-faults.js', dist).href)};
import { createLogger } from ${JSON.stringify(new URL('common/src/log.js', dist).href)};
import { Metrics } from ${JSON.stringify(new URL('common/src/metrics.js', dist).href)};
const policy = installProcessFaultPolicy(createLogger('info'));
Promise.reject(new Error('nobody awaited me'));
setTimeout(async () => {
  const m = new Metrics(false);
  policy.useMetrics(m);
  const v = await m.registry.getSingleMetric('shardmq_process_faults_total').get();
  console.log('STILL RUNNING ' + JSON.stringify(v.values.map((x) => [x.labels.kind, x.value])));
  setTimeout(() => { throw new Error('escaped a callback'); }, 10);
}, 100);
setInterval(() => {}, 1000);
`,
  );
  const p = await spawnProcess(process.execPath, [script], { name: 'faulty' });
  const code = await p.exited;
  const out = p.output();
  assert.equal(code, EXIT_UNCAUGHT, out);
  assert.match(out, /STILL RUNNING \[\["unhandled_rejection",1\]\]/);
  const lines = out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; err: string; stack?: string });
  const rejection = lines.find((l) => l.msg.startsWith('unhandled promise rejection'));
  assert.match(rejection?.stack ?? '', /nobody awaited me\n\s+at /);
  const uncaught = lines.find((l) => l.msg.startsWith('uncaught exception'));
  assert.match(uncaught?.stack ?? '', /escaped a callback\n\s+at /);
});
