import type { Bus } from '../bus/bus.js';
import type { SubjectSpace } from '../subjects.js';
import type { ClientEvent } from './client-events.js';
import { subjectToken } from './subject-token.js';

/**
 * Publishes one client lifecycle event as JSON on `<prefix>.events.v1.<mountpoint>.<type>`
 * (fire and forget: a backend that is not listening costs one publish). Runs on the tier that
 * owns the fact: the session owner, or the gateway for authentication refusals.
 */
export function publishClientEvent(bus: Bus, subjects: SubjectSpace, event: ClientEvent): void {
  bus.publish(subjects.clientEvent(subjectToken(event.mountpoint), event.type), Buffer.from(JSON.stringify(event)));
}
