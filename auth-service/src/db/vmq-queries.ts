/**
 * The statements VerneMQ's vmq_diversity runs against `vmq_auth_acl`, so an existing VerneMQ
 * database works unchanged, plus the row choice VerneMQ applies to their results. Pure.
 */

export type PasswordMethod = 'crypt' | 'bcrypt';

/** One candidate row for a CONNECT (column names as the query returns them). */
export interface CredentialRow {
  client_id: string;
  /** TEXT (VerneMQ casts ::TEXT) or already-parsed JSON (a custom query without the cast). */
  publish_acl: unknown;
  subscribe_acl: unknown;
  /** bcrypt method only: the stored hash. */
  passhash?: string | null;
}

/**
 * crypt: PostgreSQL checks the password with pgcrypto (`password = crypt($4, password)`), so only
 * matching rows come back. bcrypt: rows come back with the hash, verified by the service.
 * Parameters: $1 mountpoint, $2 client id, $3 user name, $4 password (crypt only).
 * `table` was validated as [schema.]identifier by the auth.table setting.
 */
export function authQuery(method: PasswordMethod, table: string, customQuery?: string): string {
  if (customQuery !== undefined && customQuery.trim() !== '') return customQuery;
  if (method === 'crypt') {
    return (
      `SELECT publish_acl::TEXT AS publish_acl, subscribe_acl::TEXT AS subscribe_acl, client_id FROM ${table} ` +
      `WHERE mountpoint=$1 AND (client_id=$2 OR client_id='*') AND username=$3 AND password=crypt($4, password)`
    );
  }
  return (
    `SELECT publish_acl::TEXT AS publish_acl, subscribe_acl::TEXT AS subscribe_acl, password AS passhash, client_id FROM ${table} ` +
    `WHERE mountpoint=$1 AND (client_id=$2 OR client_id='*') AND username=$3`
  );
}

/**
 * VerneMQ's row choice: a row for the exact client id wins over the `'*'` row. With the crypt
 * method only rows whose password matched come back, so the first element of the result is the
 * answer; with bcrypt the caller verifies in this order and takes the first match (an exact row
 * whose password does not match falls through to the `'*'` row, as in VerneMQ).
 */
export function orderRows<R extends { client_id: string }>(rows: readonly R[]): R[] {
  const exact: R[] = [];
  const wildcard: R[] = [];
  for (const r of rows) (r.client_id === '*' ? wildcard : exact).push(r);
  return exact.concat(wildcard);
}
