/** Public surface of the auth-service tier: what bin/ (the composition root and the `shardmq user` CLI) needs. Tier boundaries: docs/architecture.md. */
export { AuthService } from './auth-service.js';
export { runUserCommand, USER_USAGE } from './cli/user-command.js';
export { USER_IMPORT_USAGE } from './cli/user-import.js';
