/** Public API of the auth-service tier (gateway, CLI and tests import from here). */
export type { ClientAcl, PublishRule, SubscribeRule, Qos } from './acl/acl-types.js';
export { VMQ_MAX_PAYLOAD_BYTES } from './acl/acl-types.js';
export { checkPublish, checkSubscribe, filterWithinPattern } from './acl/check-acl.js';
export { compileAcl, lintAclJson, AclFormatError, type AclContext, type CompiledAcl } from './acl/compile-acl.js';
export {
  encodeAuthRequest,
  decodeAuthRequest,
  encodeAuthReply,
  decodeAuthReply,
  connackCodeFor,
  AuthProtocolError,
  AuthVersionError,
  AUTH_CONTRACT_MAJOR,
  type AuthRequest,
  type AuthReply,
  type AuthResult,
} from './protocol.js';
export { createAuthClient, type AuthClient } from './auth-client.js';
export { AuthService, AUTH_RESULTS, type AuthServiceDeps } from './auth-service.js';
export { runUserCommand, hashPasswordForVmq, USER_USAGE, DEFAULT_BCRYPT_COST } from './cli/user-command.js';
export { databaseConfigured, resolveDbOptions, DbConfigError, type DbOptions } from './db/connection-options.js';
export { parsePgUrl, parseHostList, type ParsedPgUrl, type PgHost } from './db/connection-string.js';
export { PgCluster, DatabaseUnavailableError, type HostStatus } from './db/pg-cluster.js';
export { authQuery, orderRows, type CredentialRow, type PasswordMethod } from './db/vmq-queries.js';
export { BcryptPool, BcryptBusyError } from './bcrypt/bcrypt-pool.js';
export { bcryptVariant, prepareBcryptHash, toPgcryptoCompatible } from './bcrypt/bcrypt-hash.js';
export { CredentialCache } from './cache/credential-cache.js';
export { CredentialKeyer } from './cache/credential-cache.js';
export type { AuthBackend, BackendAnswer, CredentialInput } from './chain/auth-backend.js';
export { runChain, replyFor } from './chain/run-chain.js';
export { chainOrder, configuredBackends, ChainConfigError } from '../../common/src/config/auth-chain-order.js';
export { PostgresBackend } from './backends/postgres-backend.js';
export { HttpBackend } from './backends/http-backend.js';
export { JwtBackend } from './backends/jwt-backend.js';
export { cachePolicy, parseCacheControl, type CachePolicy } from './http/cache-control.js';
export { decideHttpAnswer, httpAuthRequestBody, type HttpAuthDecision, type HttpAuthRequestBody } from './http/http-answer.js';
export { retryWithJitter, jitterDelayMs } from './http/retry-with-jitter.js';
export { mapJwtClaims, type ClaimNames, type ClaimDecision } from './jwt/jwt-claims.js';
export { passwordAsJwt } from './jwt/looks-like-jwt.js';
