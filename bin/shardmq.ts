#!/usr/bin/env node
import { runUserCommand, USER_USAGE } from '../auth-service/src/cli/user-command.js';
import { ConfigError, loadConfig } from '../common/src/config/load-config.js';
import { createLogger } from '../common/src/log.js';
import { installProcessFaultPolicy } from '../common/src/process-faults.js';
import { startNode } from './start-node.js';

const USAGE = `usage: shardmq <command> [flags]

commands:
  start        run the broker roles named by SHARDMQ_ROLES (default: all, in one process)
  user ...     manage devices in the auth database (shardmq user --help)
  help         this text

Every setting is an env var (SHARDMQ_...), a flag (--mqtt-port 1884) or a config-file key
(--config file.json); see docs/configuration.md.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 2 : 0;
  }
  if (cmd === 'start') {
    let config;
    try {
      config = loadConfig({ env: process.env, argv: rest });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`shardmq: configuration error: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    const log = createLogger(config['log.level']);
    // Before anything starts: see common/src/process-faults.ts for the policy and why.
    const faults = installProcessFaultPolicy(log);
    let node;
    try {
      node = await startNode(config, log);
    } catch (err) {
      log.error('start-up failed', { err: err as Error });
      return 1;
    }
    faults.useMetrics(node.metrics);
    await new Promise<void>((resolve) => {
      const onSignal = (sig: string) => {
        log.info('signal received, stopping gracefully', { signal: sig });
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        node.stop().then(resolve, resolve);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    return 0;
  }
  if (cmd === 'user') {
    // The user CLI reads the same configuration (database URL etc.) from env; its own words are positional.
    let config;
    try {
      config = loadConfig({ env: process.env });
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`shardmq: configuration error: ${err.message}\n`);
        return 2;
      }
      throw err;
    }
    if (rest.length === 0 || rest[0] === '--help') {
      process.stdout.write(USER_USAGE + '\n');
      return rest.length === 0 ? 2 : 0;
    }
    return runUserCommand(rest, config, (line) => process.stdout.write(line + '\n'));
  }
  process.stderr.write(`shardmq: unknown command "${cmd}"\n${USAGE}\n`);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`shardmq: ${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
