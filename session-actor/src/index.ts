/** Public surface of the session-actor tier: what bin/ (the composition root) needs to run session actors. Tier boundaries: docs/architecture.md. */
export { SessionService } from './session-service.js';
