import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthBackend, BackendAnswer, CredentialInput } from '../../auth-service/src/chain/auth-backend.js';
import { ChainConfigError, chainOrder } from '../../common/src/config/auth-chain-order.js';
import { runChain } from '../../auth-service/src/chain/run-chain.js';
import { loadConfig } from '../../common/src/config/load-config.js';
import type { AuthBackendName } from '../../common/src/config/settings-auth-chain.js';

/** A backend that answers the same thing every time and counts how often it was asked. */
function fake(name: AuthBackendName, answer: BackendAnswer): AuthBackend & { asked: number } {
  return {
    name,
    asked: 0,
    async authenticate() {
      this.asked++;
      return answer;
    },
    async start() {},
    async stop() {},
    ready: () => true,
    describe: () => ({}),
  };
}

const withUser: CredentialInput = { req: { mountpoint: '', clientId: 'c', username: 'u', password: 'cHc=', protocolVersion: 4 }, password: Buffer.from('pw'), key: 'k' };
const anonymous: CredentialInput = { req: { mountpoint: '', clientId: 'c', protocolVersion: 5 }, password: undefined, key: 'k2' };
const acl = { publish: [], subscribe: [{ pattern: 'a/#', wildcard: true, maxQos: 1 as const }] };

test('the first definitive answer decides; later backends are not asked', async () => {
  const jwt = fake('jwt', { kind: 'ignore' });
  const http = fake('http', { kind: 'allow', acl });
  const pg = fake('postgres', { kind: 'deny', result: 'bad-credentials' });
  assert.deepEqual(await runChain([jwt, http, pg], withUser, { allowAnonymous: false }), { result: 'ok', acl });
  assert.deepEqual([jwt.asked, http.asked, pg.asked], [1, 1, 0]);

  const deny = fake('jwt', { kind: 'deny', result: 'not-authorized', reason: 'token is for another client id' });
  const after = fake('http', { kind: 'allow', acl: null });
  assert.deepEqual(await runChain([deny, after], withUser, { allowAnonymous: true }), { result: 'not-authorized', acl: null, reason: 'token is for another client id' });
  assert.equal(after.asked, 0, 'a deny is definitive: the next backend cannot overrule it');
});

test('unavailable stops the chain (retry later, never a bad-password answer from the next backend)', async () => {
  const http = fake('http', { kind: 'unavailable', reason: 'HTTP auth server unavailable' });
  const pg = fake('postgres', { kind: 'deny', result: 'bad-credentials' });
  const seen: string[] = [];
  const r = await runChain([http, pg], withUser, { allowAnonymous: false, onAnswer: (b, a) => seen.push(`${b.name}:${a.kind}`) });
  assert.deepEqual(r, { result: 'unavailable', acl: null, reason: 'HTTP auth server unavailable' });
  assert.equal(pg.asked, 0);
  assert.deepEqual(seen, ['http:unavailable']);
});

test('everyone ignored: anonymous rule without user name, bad credentials with one', async () => {
  const all = [fake('jwt', { kind: 'ignore' }), fake('postgres', { kind: 'ignore' })];
  assert.deepEqual(await runChain(all, anonymous, { allowAnonymous: true }), { result: 'ok', acl: null });
  assert.equal((await runChain(all, anonymous, { allowAnonymous: false })).result, 'not-authorized');
  assert.equal((await runChain(all, withUser, { allowAnonymous: true })).result, 'bad-credentials', 'allowAnonymous never lets an unverified user name in');
});

test('no backend configured: everyone is accepted without ACL', async () => {
  assert.deepEqual(await runChain([], withUser, { allowAnonymous: false }), { result: 'ok', acl: null });
});

test('chain order: default jwt, http, postgres among the configured; mistakes name auth.chain', () => {
  assert.deepEqual(chainOrder([], { jwt: false, http: false, postgres: true }), ['postgres'], "PostgreSQL alone: today's behaviour");
  assert.deepEqual(chainOrder([], { jwt: true, http: true, postgres: true }), ['jwt', 'http', 'postgres']);
  assert.deepEqual(chainOrder([], { jwt: false, http: false, postgres: false }), []);
  assert.deepEqual(chainOrder(['postgres', 'jwt'], { jwt: true, http: false, postgres: true }), ['postgres', 'jwt']);
  assert.throws(
    () => chainOrder(['http'], { jwt: false, http: false, postgres: false }),
    (e: Error) => e instanceof ChainConfigError && /auth\.chain.*"http".*auth\.http\.url/.test(e.message),
  );
  assert.throws(() => chainOrder(['jwt'], { jwt: true, http: false, postgres: true }), /auth\.chain.*"postgres" is not in the chain/);
});

test('chain mistakes stop loading the config (so `shardmq config check` reports them), naming the setting', () => {
  const load = (env: Record<string, string>) => loadConfig({ env, argv: [] });
  assert.throws(() => load({ SHARDMQ_AUTH_CHAIN: 'http' }), /auth\.chain.*auth\.http\.url is not set/);
  assert.throws(() => load({ SHARDMQ_AUTH_CHAIN: 'jwt,jwt', SHARDMQ_AUTH_JWT_SECRET_FILE: '/s' }), /auth\.chain.*names "jwt" twice/);
  assert.throws(() => load({ SHARDMQ_AUTH_CHAIN: 'ldap' }), /auth\.chain.*entries must be among jwt, http, postgres/);
  assert.throws(() => load({ SHARDMQ_AUTH_HTTP_URL: 'ftp://x/' }), /auth\.http\.url/);
  assert.deepEqual(load({ SHARDMQ_AUTH_HTTP_URL: 'http://127.0.0.1:1/auth', SHARDMQ_AUTH_CHAIN: 'http' })['auth.chain'], ['http']);
});
