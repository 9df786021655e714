/**
 * Kubernetes "service links": for every Service in the namespace a pod gets, unless its spec sets
 * `enableServiceLinks: false`, Docker-link style variables named after the Service (upper case,
 * "-" -> "_"). A Service named `shardmq-mqtt` with port `mqtt` 1883/TCP yields:
 *   SHARDMQ_MQTT_SERVICE_HOST=10.0.0.11          SHARDMQ_MQTT_SERVICE_PORT=1883
 *   SHARDMQ_MQTT_SERVICE_PORT_MQTT=1883           SHARDMQ_MQTT_PORT=tcp://10.0.0.11:1883
 *   SHARDMQ_MQTT_PORT_1883_TCP=tcp://10.0.0.11:1883
 *   SHARDMQ_MQTT_PORT_1883_TCP_PROTO=tcp  SHARDMQ_MQTT_PORT_1883_TCP_PORT=1883  SHARDMQ_MQTT_PORT_1883_TCP_ADDR=10.0.0.11
 * They share our SHARDMQ_ prefix whenever a release is named after the chart. The loader ignores a
 * variable only when both its name and its value have one of these exact shapes, so a typo of a
 * real setting (SHARDMQ_MQTT_MAX_PACKET_BYTE=1024) is still refused.
 */

const IP = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*)`;
/** In a URL Kubernetes joins host and port like Go's net.JoinHostPort: IPv6 in brackets. */
const URL_HOST = String.raw`(?:\d{1,3}(?:\.\d{1,3}){3}|\[[0-9A-Fa-f:.]+\])`;
const PORT = String.raw`\d{1,5}`;
const PROTO = '(?:TCP|UDP|SCTP)';

/** [name suffix, value] shapes; `$n` in a value stands for the port number captured from the name. */
const SHAPES: readonly (readonly [RegExp, (m: RegExpExecArray) => RegExp])[] = [
  [/_SERVICE_HOST$/, () => new RegExp(`^${IP}$`)],
  [/_SERVICE_PORT(?:_[A-Z0-9_]+)?$/, () => new RegExp(`^${PORT}$`)],
  [/_PORT$/, () => new RegExp(`^(?:tcp|udp|sctp)://${URL_HOST}:${PORT}$`)],
  [new RegExp(`_PORT_(${PORT})_(${PROTO})$`), (m) => new RegExp(`^${m[2]!.toLowerCase()}://${URL_HOST}:${m[1]}$`)],
  [new RegExp(`_PORT_${PORT}_(${PROTO})_PROTO$`), (m) => new RegExp(`^${m[1]!.toLowerCase()}$`)],
  [new RegExp(`_PORT_(${PORT})_${PROTO}_PORT$`), (m) => new RegExp(`^${m[1]}$`)],
  [new RegExp(`_PORT_${PORT}_${PROTO}_ADDR$`), () => new RegExp(`^${IP}$`)],
];

/** True when `name=value` has the exact shape of a Kubernetes service-link variable. */
export function isServiceLinkVar(name: string, value: string): boolean {
  for (const [nameShape, valueShape] of SHAPES) {
    const m = nameShape.exec(name);
    if (m && m.index > 0 && valueShape(m).test(value)) return true;
  }
  return false;
}
