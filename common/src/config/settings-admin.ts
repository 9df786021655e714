import { int, optStr } from './setting.js';

/** The admin API on the HTTP port (docs/operations.md, "Admin API"). */
export const adminSettings = {
  'admin.token': optStr({ default: undefined, secret: true, doc: 'Bearer token of the admin API (/api/v1/... on http.port). Unset: the admin API is off and answers 404.' }),
  'admin.gatherMs': int({ default: 500, min: 50, max: 30000, doc: 'How long GET /api/v1/cluster collects the answers of every process before it replies.' }),
  'admin.maxRequestBytes': int({ default: 1048576, min: 1024, max: 16777216, doc: 'Largest admin API request body (POST /api/v1/publish); larger ones get 413.' }),
  'admin.maxTraceS': int({
    default: 600,
    min: 1,
    max: 86400,
    doc: 'Longest client trace (POST /api/v1/clients/{id}/trace, shardmq clients trace): every packet of one client is logged at info for at most this many seconds.',
  }),
} as const;
