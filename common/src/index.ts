/** Public surface of common/: everything another tier (or bin/) imports from common goes through this file. Tier boundaries: docs/architecture.md. */
export { type ClientAcl, type PublishRule, type Qos, type SubscribeRule, VMQ_MAX_PAYLOAD_BYTES } from './acl/acl-types.js';
export { checkPublish, checkSubscribe } from './acl/check-acl.js';
export { createAdminApi } from './admin/admin-api.js';
export {
  type ClientTraceAck,
  type ClientTraceRequest,
  type ConnectionInfoReply,
  decodeClientTraceRequest,
  decodeConnectionInfoRequest,
  decodeSessionAdminRequest,
  encodeJson,
  type SessionAdminReply,
  type SessionInfo,
} from './admin/admin-envelopes.js';
export { adminSubjects, type AdminSubjects } from './admin/admin-subjects.js';
export { answerNodeInfo } from './admin/cluster-gather.js';
export {
  type AuthorizeReply,
  type AuthorizeRequest,
  AuthProtocolError,
  type AuthReply,
  type AuthRequest,
  type AuthResult,
  AuthVersionError,
  connackCodeFor,
  decodeAuthorizeReply,
  decodeAuthorizeRequest,
  decodeAuthReply,
  decodeAuthRequest,
  encodeAuthorizeReply,
  encodeAuthorizeRequest,
  encodeAuthReply,
  encodeAuthRequest,
} from './auth-contract/auth-protocol.js';
export { type Bus, type BusMsg, type BusSubscription, NoRespondersError, RequestTimeoutError } from './bus/bus.js';
export { type BusBody, type BusCodec, BusValue, handedOver, bodyValue } from './bus/bus-value.js';
export { subjectKind, unknownVersionCounter } from './bus/handler-guard.js';
export { onBusReconnected } from './bus/bus-reconnected.js';
export { createBus } from './bus/index.js';
export { natsConnection, toNatsHeaders } from './bus/nats-bus.js';
export { NatsRequestMux } from './bus/nats-request-mux.js';
export { OwnerDirect } from './bus/owner-direct.js';
export { GatewayOutPerTurn } from './bus/gateway-out-per-turn.js';
export { atTurnEnd } from './turn-end.js';
export { deliveredQos, deliveredRetain, messageExpired, surelyTooLarge } from './delivery-rules.js';
export { cidrMatcher } from './cidr.js';
export { ChainConfigError, chainOrder, configuredBackends } from './config/auth-chain-order.js';
export { ConfigError, type IgnoredEnv, loadConfig, redactedConfig, redactUrl } from './config/load-config.js';
export type { AuthBackendName } from './config/settings-auth-chain.js';
export { authSettings, SSL_MODES, type SslMode, TARGET_SESSION_ATTRS, type TargetSessionAttrs } from './config/settings-auth.js';
export type { CertIdentitySource } from './config/settings-edge.js';
export type { Config } from './config/settings.js';
export { EnvelopeError, Reader, Writer } from './envelope/codec.js';
export { type ControlItem, ControlType, decodeGatewayOut, encodeGatewayOut, encodeGatewayOutChunks, gatewayOutCodec, type GatewayOutItem, GwOut, type PublishItem } from './envelope/gateway-out.js';
export { decodeHeartbeat, encodeHeartbeat, encodeRouterBeat } from './envelope/heartbeat.js';
export { decodeRouteBatch, encodeRouteBatch } from './envelope/route-batch.js';
export { type Message, messageBytes, type MessageProps, type QoS, readMessage, writeMessage } from './envelope/message.js';
export { decodeOwnerBatch, encodeOwnerBatchAnswer, ownerStatus } from './envelope/owner-batch.js';
export {
  decodeResyncAnswer,
  decodeRetainedAnswer,
  decodeRetainedSync,
  decodeRoutePublish,
  decodeStatusSafe,
  decodeSubChanges,
  encodeResyncAnswer,
  encodeRetainedAnswer,
  encodeRetainedSync,
  encodeRoutePublish,
  encodeSubChanges,
  type RetainedAnswer,
  ROUTE_FAILED,
  ROUTE_NO_MATCH,
  ROUTE_OK,
  ROUTE_QUOTA,
  ROUTE_SLOW,
  type RoutePublish,
  routePublishCodec,
  type SubChange,
  type SubChangeBatch,
  subChangesCodec,
  type SessionLocation,
  SubOp,
} from './envelope/router.js';
export {
  type AckEnv,
  type ConnectEnv,
  type ConnectReply,
  type ConnLostEnv,
  decodeConnectReply,
  decodeSessionIn,
  type DeliverEnv,
  type DeliveryTarget,
  type DisconnectEnv,
  encodeConnectReply,
  encodeSessionIn,
  type GatewayGoneEnv,
  LostReason,
  type ProtocolVersion,
  type Publish2Env,
  type PublishDroppedEnv,
  SessIn,
  type SessionInEnv,
  sessionInCodec,
  type SubscribeEnv,
  type SubscriptionRequest,
  type UnsubscribeEnv,
  type Will,
} from './envelope/session-in.js';
export { startHttpEndpoints } from './http-endpoints.js';
export type { AuthRefusedEvent, DisconnectReason, OwnerClientEvent, SessionEndReason } from './integration/client-events.js';
export { exportHeaders, messageFromHeaders } from './integration/message-headers.js';
export { publishClientEvent } from './integration/publish-client-event.js';
export { subjectToken, topicTokens } from './integration/subject-token.js';
export { utf8Interned } from './interned-string.js';
export { errorFields, LogEveryNth } from './log-every-nth.js';
export { createLogger, type Logger, silentLogger } from './log.js';
export { beforeScrape, counterFromTotal, labelledCounter, Metrics } from './metrics.js';
export { installProcessFaultPolicy } from './process-faults.js';
export { nodeRuntimeFlags } from './node-runtime-flags.js';
export { rendezvousOwner } from './rendezvous.js';
export { BACKOFF, RETRY, type RetryPolicy, retryDelayMs, retrying, SESSION_LOG_READ_RETRIES, sleepBeforeRetry } from './retry-policy.js';
export { RingQueue } from './ring-queue.js';
export { RouterChoice } from './router-choice.js';
export { sessionKey, shardOf } from './shard.js';
export { subjectSpace, type SubjectSpace } from './subjects.js';
export { TokenBucket } from './token-bucket.js';
export { isWildcardFilter, parseSharedFilter, topicMatchesFilter, validateTopicFilter, validateTopicName } from './topic.js';
