/**
 * Node/V8 flags every shardmq process is started with (`node <flags> dist/bin/shardmq.js start`). They
 * size the heap at start-up, so they must be on node's command line (or in NODE_OPTIONS): setting them
 * from inside the process (v8.setFlagsFromString) comes too late.
 *
 * `--max-semi-space-size=16` (MiB): the young generation's cap. Node 24's V8 raises it to 64 MiB per
 * semi-space on a machine with a large heap limit; a connection burst (every new connection's objects
 * survive their first scavenges) grows it to that cap and the memory stays resident: about 3 KB per
 * connection at 10,000 idle connections, more than the gateway's own objects. 16 MiB is the cap Node 20
 * used, so the scavenger does what it did there (docs/operations.md, "Memory per connection").
 *
 * `--min-semi-space-size=16` (MiB): the same size from the start, so the young generation no longer
 * grows (or, after a quiet full collection, shrinks and grows again) with the load. Without it, how
 * big the young generation was when a connection burst began depended on the process's history,
 * and its growth to the cap during the burst (up to 14 MB, 1.4 KB per connection at 10,000) was
 * resident memory that looked like a cost per connection; it also made the early scavenges of a
 * burst more frequent, promoting more of the handshakes' short-lived objects. What it costs: the
 * young generation is 2 x 16 MiB from the start (resident as soon as the process has allocated that
 * much, as any loaded process has) and is not given back after a quiet full collection
 * (docs/operations.md, "Memory per connection").
 *
 * Who uses it: the launchers (scripts/start.mjs, the benchmark's broker targets); deploy/Dockerfile
 * and deploy/local-cluster.sh spell the same flags out, and a unit test keeps them in step.
 */
export const nodeRuntimeFlags: readonly string[] = ['--max-semi-space-size=16', '--min-semi-space-size=16'];
