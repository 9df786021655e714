/** Public surface of the gateway tier: what bin/ (the composition root) needs to run a gateway. Tier boundaries: docs/architecture.md. */
export { GatewayService } from './gateway-service.js';
