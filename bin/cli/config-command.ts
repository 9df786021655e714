import { ConfigError, loadConfig, redactedConfig, type IgnoredEnv } from '../../common/src/index.js';
import { CONFIG_USAGE } from './usage.js';

/**
 * `shardmq config print|check`: the configuration exactly as `shardmq start` would load it
 * (same env, same flags), without starting anything. Exit 0 valid, 1 invalid, 2 usage error.
 */
export function runConfigCommand(args: readonly string[], env: Record<string, string | undefined>, out: (s: string) => void, err: (s: string) => void): number {
  const [sub, ...rest] = args;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out(CONFIG_USAGE);
    return 0;
  }
  if (sub !== 'print' && sub !== 'check') {
    err(sub === undefined ? 'shardmq config: name a subcommand' : `shardmq config: unknown subcommand "${sub}"`);
    err(CONFIG_USAGE);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(CONFIG_USAGE);
    return 0;
  }
  const ignored: IgnoredEnv[] = [];
  let config;
  try {
    config = loadConfig({ env, argv: rest, onIgnoredEnv: (i) => ignored.push(i) });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`shardmq: configuration error: ${e.message}`);
      return 1;
    }
    throw e;
  }
  if (ignored.length > 0) err(`shardmq: ignored Kubernetes service-link variables: ${ignored.map((i) => i.name).join(', ')}`);
  // Unset settings print as null rather than vanishing from the JSON.
  if (sub === 'print') out(JSON.stringify(redactedConfig(config), (_k, v: unknown) => (v === undefined ? null : v), 2));
  else out(`ok: configuration is valid (roles: ${config.roles.join(',')})`);
  return 0;
}
