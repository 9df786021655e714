-- shardmq auth: VerneMQ's vmq_auth_acl table, unchanged, so a VerneMQ database works as is.
-- Apply once with a role allowed to create extensions:
--   psql "$SHARDMQ_AUTH_DATABASE_URL" -v ON_ERROR_STOP=1 -f auth-service/migrations/001_vmq_auth_acl.sql
-- Idempotent: safe to run against a database VerneMQ already uses.

-- pgcrypto provides crypt() and gen_salt('bf'), used by auth.passwordMethod=crypt (the default)
-- and by the documented way to insert users.
CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE IF NOT EXISTS vmq_auth_acl (
  mountpoint character varying(10) NOT NULL,
  client_id character varying(128) NOT NULL,
  username character varying(128) NOT NULL,
  password character varying(128),
  publish_acl json,
  subscribe_acl json,
  CONSTRAINT vmq_auth_acl_primary_key PRIMARY KEY (mountpoint, client_id, username)
);

-- Example (VerneMQ's documented statement; client_id '*' means any client id):
--   INSERT INTO vmq_auth_acl (mountpoint, client_id, username, password, publish_acl, subscribe_acl)
--   VALUES ('', '*', 'device-1', crypt('secret', gen_salt('bf')),
--           '[{"pattern": "devices/%c/#"}]', '[{"pattern": "devices/%c/#"}]');
