/**
 * The devices of the reconnect storm: device i is client id and user name `storm-dev-<i>` with password
 * `storm-pw-<i mod 256>`, one VerneMQ `vmq_auth_acl` row each, its password a bcrypt hash of cost 6 made
 * by pgcrypto (`crypt(pw, gen_salt('bf', 6))`, VerneMQ's documented way, $2a$), and the hashing limit
 * of this machine: how many cost-6 verifications one core does per second.
 *
 * Why 256 passwords and hashes rather than one per device: verifying costs the same whatever the
 * salt, and the cache is keyed by client id, user name and password, so every device is still its own
 * verification and its own cache entry; but 20,000 distinct hashes took 170 s to make on this machine
 * (longer than the storm), 256 take about a second.
 *
 * Who may call: the reconnect-storm bench (rows) and its generator processes (credentials).
 */
import bcrypt from 'bcryptjs';
import pg from 'pg';

export const bcryptCost = 6;

const passwords = 256;

export function deviceCredentials(i: number): { clientId: string; username: string; password: string } {
  return { clientId: `storm-dev-${i}`, username: `storm-dev-${i}`, password: `storm-pw-${i % passwords}` };
}

/** Inserts devices 0..n-1 (the table must exist and hold none of them). */
export async function insertDevices(databaseUrl: string, n: number): Promise<void> {
  await withClient(databaseUrl, async (c) => {
    // MATERIALIZED: each of the 256 hashes is made once, not once per row joined to it.
    await c.query(
      `WITH h AS MATERIALIZED (SELECT g, crypt('storm-pw-' || g, gen_salt('bf', ${bcryptCost})) AS hash FROM generate_series(0, ${passwords - 1}) AS g)
       INSERT INTO vmq_auth_acl (mountpoint, client_id, username, password, publish_acl, subscribe_acl)
       SELECT '', 'storm-dev-' || i, 'storm-dev-' || i, h.hash, '[{"pattern":"storm/%c/#"}]'::json, '[{"pattern":"storm/%c/#"}]'::json
       FROM generate_series(0, $1::int - 1) AS i JOIN h ON h.g = i % ${passwords}`,
      [n],
    );
    // A table in service has planner statistics (autovacuum, or `shardmq user import`, which runs
    // ANALYZE). Without them, right after this bulk insert, PostgreSQL plans the auth query's
    // `(client_id=$2 OR client_id='*')` as a scan of every index entry of the mountpoint (228 pages
    // at 20,000 rows, about 1-2 ms per CONNECT), until autovacuum gets to the table a minute or so later.
    await c.query('ANALYZE vmq_auth_acl');
  });
}

/**
 * Cost-6 verifications per second on one core, timed for about `forMs`: in PostgreSQL (pgcrypto
 * crypt(), what auth.passwordMethod=crypt runs) or with bcryptjs (what the auth service's worker
 * threads run with auth.passwordMethod=bcrypt).
 */
export async function hashesPerSecondPerCore(method: 'crypt' | 'bcrypt', databaseUrl: string, forMs = 1500): Promise<number> {
  if (method === 'bcrypt') {
    const hash = bcrypt.hashSync('storm-pw-probe', bcryptCost);
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < forMs) {
      bcrypt.compareSync('storm-pw-probe', hash);
      n++;
    }
    return n / ((performance.now() - t0) / 1000);
  }
  return withClient(databaseUrl, async (c) => {
    const { rows } = await c.query<{ h: string }>(`SELECT crypt('storm-pw-probe', gen_salt('bf', ${bcryptCost})) AS h`);
    const hash = rows[0]!.h;
    // One backend is one core: calibrate with a small batch, then time about forMs worth.
    let batch = 20;
    for (;;) {
      const t0 = performance.now();
      // The password depends on the row (an empty suffix), or PostgreSQL folds crypt() into one call.
      await c.query(`SELECT count(*) FROM generate_series(1, $1::int) AS i WHERE crypt('storm-pw-probe' || left(i::text, 0), $2) = $2`, [batch, hash]);
      const ms = performance.now() - t0;
      if (ms >= forMs / 2) return batch / (ms / 1000);
      batch = Math.ceil(batch * Math.min(10, forMs / Math.max(ms, 1)));
    }
  });
}

async function withClient<T>(databaseUrl: string, f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}
