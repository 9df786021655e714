/** Public surface of the load generator: what scripts/bench.mjs (`npm run bench`) needs. Tier boundaries: docs/architecture.md. */
export { durableTable, fanInTable, fanOutTable, idleMemoryTable, latencyTable, reconnectStormTable } from './bench/bench-report.js';
export { runBench } from './bench/run-bench.js';
export { killAllGroupsNow, stopAllGroups } from './brokers/process-group.js';
