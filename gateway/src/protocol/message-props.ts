import type { MessageProps } from '../../../common/src/index.js';

interface InProps {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

/**
 * The MQTT 5 application properties a PUBLISH (or Will) carries through the broker
 * unchanged [MQTT-3.3.2-4..20]; the Message Expiry Interval becomes an absolute deadline.
 */
export function messageProps(p: InProps, now: number): MessageProps | undefined {
  let out: MessageProps | undefined;
  if (p.payloadFormatIndicator !== undefined) (out ??= {}).payloadFormatIndicator = p.payloadFormatIndicator;
  if (p.messageExpiryInterval !== undefined) (out ??= {}).expiresAt = now + p.messageExpiryInterval * 1000;
  if (p.contentType !== undefined) (out ??= {}).contentType = p.contentType;
  if (p.responseTopic !== undefined) (out ??= {}).responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) (out ??= {}).correlationData = p.correlationData;
  if (p.userProperties !== undefined) (out ??= {}).userProperties = p.userProperties;
  return out;
}
