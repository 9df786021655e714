/** Public surface of the router tier: what bin/ (the composition root) needs to run a router. Tier boundaries: docs/architecture.md. */
export { RouterService } from './router-service.js';
