/** Help texts of the shardmq CLI, one per command (`shardmq <command> --help`). */

const SETTINGS_NOTE = `Every setting is an env var (SHARDMQ_...), a flag (--mqtt-port 1884) or a config-file key
(--config file.json); see docs/configuration.md.`;

export const MAIN_USAGE = `usage: shardmq <command> [flags]

commands:
  start          run the broker roles named by SHARDMQ_ROLES (default: all, in one process)
  config print   print the effective configuration, secrets masked
  config check   validate the configuration; exit 0 when valid, 1 naming the bad setting
  user ...       manage devices in the auth database, bulk import included (shardmq user --help)
  clients show <id> | kick <id> [--session] | trace <id> [--seconds n]
                 a client's session and connection; disconnect it; log its packets on every
                 gateway for n seconds (admin API of a running broker)
  cluster status members, gateways, routers, versions and shard owners of a running broker
  publish -t <topic> -m <payload> [-q qos] [-r]
                 publish a message as the broker
  help [command] this text, or a command's
  --version      print the shardmq version

${SETTINGS_NOTE}`;

export const START_USAGE = `usage: shardmq start [--config file.json] [--<setting> value ...]

Runs the roles in SHARDMQ_ROLES (gateway, session, router, auth; all by default, then the bus is in
memory). A process with only some roles needs SHARDMQ_NATS_URL. Logs one JSON line per event on
stderr (SHARDMQ_LOG_FORMAT=pretty: readable lines); "ready" once every role is up. SIGTERM/SIGINT stop it gracefully. Exit 2 on a configuration
error, 1 when start-up fails.

${SETTINGS_NOTE}`;

export const CONFIG_USAGE = `usage: shardmq config <print|check> [--config file.json] [--<setting> value ...]

  print   the effective configuration (defaults < config file < env < flags) as JSON, one key per
          setting; secrets print as *** and passwords in URLs as ***
  check   validates it as \`shardmq start\` would, without starting anything; exit 0 and "ok" when
          valid, exit 1 with the error naming the setting otherwise

${SETTINGS_NOTE}`;
