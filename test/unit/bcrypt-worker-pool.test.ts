import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { silentLogger } from '../../common/src/log.js';
import { bcryptVariant, prepareBcryptHash, toPgcryptoCompatible } from '../../auth-service/src/bcrypt/bcrypt-hash.js';
import { BcryptBusyError, BcryptPool } from '../../auth-service/src/bcrypt/bcrypt-pool.js';

test('worker threads verify $2a$, $2b$, $2y$ and (ASCII) $2x$ hashes', async (t) => {
  const pool = new BcryptPool({ workers: 2, maxQueue: 100, log: silentLogger });
  t.after(() => pool.close());
  const b = bcrypt.hashSync('s3cret', 4);
  assert.equal(bcryptVariant(b), '2b');
  for (const prefix of ['$2a$', '$2b$', '$2y$', '$2x$']) {
    const h = prefix + b.slice(4);
    assert.deepEqual(await pool.verify('s3cret', h), { match: true }, prefix);
    assert.equal((await pool.verify('wrong', h)).match, false, prefix);
  }
  const nonAscii = bcrypt.hashSync('pässword', 4);
  const x = await pool.verify('pässword', '$2x$' + nonAscii.slice(4));
  assert.equal(x.match, false);
  assert.match(x.reason ?? '', /non-ASCII/);
  const junk = await pool.verify('a', 'plaintext-password');
  assert.equal(junk.match, false);
  assert.match(junk.reason ?? '', /not a bcrypt hash/);
  // Many at once: all answered, each correctly.
  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => pool.verify(i % 2 ? 's3cret' : 'no', b)));
  assert.deepEqual(
    many.map((r) => r.match),
    Array.from({ length: 20 }, (_, i) => i % 2 === 1),
  );
});

test('a full queue is refused with BcryptBusyError instead of growing', async (t) => {
  const pool = new BcryptPool({ workers: 1, maxQueue: 2, log: silentLogger });
  t.after(() => pool.close());
  const h = bcrypt.hashSync('x', 8);
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => pool.verify('x', h)));
  const busy = results.filter((r) => r.status === 'rejected' && r.reason instanceof BcryptBusyError).length;
  assert.ok(busy >= 1, 'some verifications refused');
  assert.ok(
    results.some((r) => r.status === 'fulfilled' && r.value.match),
    'queued ones still verified',
  );
});

test('hashes for pgcrypto are rewritten to $2a$ only where that is the same algorithm', () => {
  assert.equal(toPgcryptoCompatible('$2b$06$' + 'a'.repeat(53)), '$2a$06$' + 'a'.repeat(53));
  assert.equal(toPgcryptoCompatible('$2y$06$' + 'a'.repeat(53)), '$2a$06$' + 'a'.repeat(53));
  assert.equal(toPgcryptoCompatible('$2x$06$' + 'a'.repeat(53)), '$2x$06$' + 'a'.repeat(53));
  assert.deepEqual(prepareBcryptHash('$2x$06$' + 'a'.repeat(53), 'ascii'), { ok: true, hash: '$2a$06$' + 'a'.repeat(53) });
});
