import { readFile } from 'node:fs/promises';
import type { PostgresHandle } from './postgres.js';

/**
 * Applies auth-service/migrations/001_vmq_auth_acl.sql (VerneMQ's table + pgcrypto) to a test
 * database, read from the source tree (this file runs from dist/test/support).
 */
export const VMQ_MIGRATION_URL = new URL('../../../auth-service/migrations/001_vmq_auth_acl.sql', import.meta.url);

export async function applyVmqMigration(db: PostgresHandle): Promise<void> {
  const sql = await readFile(VMQ_MIGRATION_URL, 'utf8');
  await db.query(sql);
}

/** VerneMQ's documented way to add a user: pgcrypto crypt(password, gen_salt('bf')). */
export async function insertVmqUser(
  db: PostgresHandle,
  u: { mountpoint?: string; clientId?: string; username: string; password: string; publishAcl?: unknown; subscribeAcl?: unknown },
): Promise<void> {
  await db.query(
    `INSERT INTO vmq_auth_acl (mountpoint, client_id, username, password, publish_acl, subscribe_acl)
     VALUES ($1, $2, $3, crypt($4, gen_salt('bf')), $5::json, $6::json)`,
    [
      u.mountpoint ?? '',
      u.clientId ?? '*',
      u.username,
      u.password,
      u.publishAcl === undefined ? null : JSON.stringify(u.publishAcl),
      u.subscribeAcl === undefined ? null : JSON.stringify(u.subscribeAcl),
    ],
  );
}

/** A user whose password column holds a given hash verbatim (bcrypt-method tests). */
export async function insertVmqHash(db: PostgresHandle, u: { mountpoint?: string; clientId?: string; username: string; hash: string; publishAcl?: unknown; subscribeAcl?: unknown }): Promise<void> {
  await db.query(`INSERT INTO vmq_auth_acl (mountpoint, client_id, username, password, publish_acl, subscribe_acl) VALUES ($1, $2, $3, $4, $5::json, $6::json)`, [
    u.mountpoint ?? '',
    u.clientId ?? '*',
    u.username,
    u.hash,
    u.publishAcl === undefined ? null : JSON.stringify(u.publishAcl),
    u.subscribeAcl === undefined ? null : JSON.stringify(u.subscribeAcl),
  ]);
}
