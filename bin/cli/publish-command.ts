import { ADMIN_OPTIONS, ADMIN_OPTIONS_USAGE, adminTarget, callAdmin, failed, parseCommand, runAdminCommand, UsageError, type CliIo } from './admin-client.js';

export const PUBLISH_USAGE = `usage: shardmq publish -t <topic> -m <payload> [-q 0|1|2] [-r] [options]

Publishes one message as the broker (no ACL applies) through the admin API.

options:
  -t, --topic <topic>    topic name (no wildcards)
  -m, --message <text>   payload (UTF-8), or base64 with --base64
  -q, --qos <0|1|2>      default 0; 1 and 2 return once every matching session's owner stored it
  -r, --retain           store as the topic's retained message
  --base64               the payload is base64
  --mountpoint <mp>      publish under this mountpoint (default "")
${ADMIN_OPTIONS_USAGE}`;

const OPTIONS = {
  ...ADMIN_OPTIONS,
  topic: { type: 'string', short: 't' },
  message: { type: 'string', short: 'm' },
  qos: { type: 'string', short: 'q' },
  retain: { type: 'boolean', short: 'r' },
  base64: { type: 'boolean' },
  mountpoint: { type: 'string' },
} as const;

/** `shardmq publish`: through the admin API of a running broker (any process). */
export function runPublishCommand(args: readonly string[], io: CliIo): Promise<number> {
  return runAdminCommand(PUBLISH_USAGE, io, async () => {
    const { values, positionals } = parseCommand(args, OPTIONS);
    if (values.help) {
      io.out(PUBLISH_USAGE);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    if (values.topic === undefined) throw new UsageError('-t/--topic is required');
    if (values.message === undefined) throw new UsageError('-m/--message is required (-m "" for an empty payload)');
    const qos = Number(values.qos ?? '0');
    if (!['0', '1', '2'].includes(values.qos ?? '0')) throw new UsageError('-q/--qos must be 0, 1 or 2');
    const t = adminTarget(values, io.env);
    const a = await callAdmin(t, 'POST', '/api/v1/publish', {
      topic: values.topic,
      payload: values.message,
      payloadEncoding: values.base64 ? 'base64' : 'utf8',
      qos,
      retain: values.retain === true,
      ...(values.mountpoint !== undefined ? { mountpoint: values.mountpoint } : {}),
    });
    if (a.status !== 200) return failed(a, io, t);
    io.out(`published to ${values.topic} (QoS ${qos}${values.retain ? ', retained' : ''})${(a.json as { matched: boolean }).matched ? '' : '; no subscription matched'}`);
    return 0;
  });
}
