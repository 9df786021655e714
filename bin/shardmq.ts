#!/usr/bin/env node
import { runUserCommand, USER_USAGE, USER_IMPORT_USAGE } from '../auth-service/src/index.js';
import { ConfigError, loadConfig, type IgnoredEnv, createLogger, installProcessFaultPolicy } from '../common/src/index.js';
import { CLIENTS_USAGE, runClientsCommand } from './cli/clients-command.js';
import { CLUSTER_USAGE, runClusterCommand } from './cli/cluster-command.js';
import { runConfigCommand } from './cli/config-command.js';
import { PUBLISH_USAGE, runPublishCommand } from './cli/publish-command.js';
import { packageVersion } from './cli/package-version.js';
import { CONFIG_USAGE, MAIN_USAGE, START_USAGE } from './cli/usage.js';
import { stopOnSignal } from './stop-on-signal.js';
import { startNode } from './start-node.js';

const out = (s: string) => process.stdout.write(s + '\n');
const err = (s: string) => process.stderr.write(s + '\n');
const isHelp = (a: string | undefined) => a === '--help' || a === '-h';

const USAGE_OF: Record<string, string> = {
  start: START_USAGE,
  config: CONFIG_USAGE,
  user: USER_USAGE.join('\n'),
  clients: CLIENTS_USAGE,
  cluster: CLUSTER_USAGE,
  publish: PUBLISH_USAGE,
  help: MAIN_USAGE,
};

async function start(args: string[]): Promise<number> {
  const ignored: IgnoredEnv[] = [];
  let config;
  try {
    config = loadConfig({ env: process.env, argv: args, onIgnoredEnv: (i) => ignored.push(i) });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`shardmq: configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  const log = createLogger(config['log.level'], {}, undefined, config['log.format']);
  // Before anything starts: see common/src/process-faults.ts for the policy and why.
  const faults = installProcessFaultPolicy(log);
  for (const i of ignored) {
    if (i.shadowsSetting) log.warn("ignored a Kubernetes service-link variable that has a setting's name; set enableServiceLinks: false on the pod", { env: i.name });
    else log.debug('ignored a Kubernetes service-link variable', { env: i.name });
  }
  let node;
  try {
    node = await startNode(config, log);
  } catch (e) {
    log.error('start-up failed', { err: e as Error });
    return 1;
  }
  faults.useMetrics(node.metrics);
  return stopOnSignal(node, config['node.stopTimeoutMs'], log);
}

async function user(args: string[]): Promise<number> {
  if (args.length === 0 || isHelp(args[0])) {
    out(USER_USAGE.join('\n'));
    return args.length === 0 ? 2 : 0;
  }
  if (args[0] === 'import' && args.some(isHelp)) {
    out(USER_IMPORT_USAGE.join('\n'));
    return 0;
  }
  // The user CLI reads the same configuration (database URL etc.) from env; its own words are positional.
  let config;
  try {
    config = loadConfig({ env: process.env });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`shardmq: configuration error: ${e.message}`);
      return 2;
    }
    throw e;
  }
  return runUserCommand(args, config, out);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined) {
    err(MAIN_USAGE);
    return 2;
  }
  if (cmd === '--version' || cmd === 'version') {
    out(packageVersion());
    return 0;
  }
  if (cmd === 'help' || isHelp(cmd)) {
    const topic = cmd === 'help' && !isHelp(rest[0]) ? rest[0] : undefined;
    if (topic !== undefined && !(topic in USAGE_OF)) {
      err(`shardmq: unknown command "${topic}"\n${MAIN_USAGE}`);
      return 2;
    }
    out(topic ? USAGE_OF[topic]! : MAIN_USAGE);
    return 0;
  }
  if (cmd === 'start') {
    if (rest.some(isHelp)) {
      out(START_USAGE);
      return 0;
    }
    return start(rest);
  }
  if (cmd === 'config') return runConfigCommand(rest, process.env, out, err);
  if (cmd === 'user') return user(rest);
  const io = { env: process.env, out, err };
  if (cmd === 'clients') return runClientsCommand(rest, io);
  if (cmd === 'cluster') return runClusterCommand(rest, io);
  if (cmd === 'publish') return runPublishCommand(rest, io);
  err(`shardmq: unknown command "${cmd}"\n${MAIN_USAGE}`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    err(`shardmq: ${e.stack ?? e.message}`);
    process.exit(1);
  },
);
