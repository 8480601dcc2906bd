/** Leases on a real Redis (Debian's redis-server): a process declared gone learns it at its next beat. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createClient } from 'redis';
import { Leases } from './leases.ts';
import { RedisServer } from './testing.ts';

test('a process is declared gone only while its lease is missing, and its next beat says so once', { timeout: 30_000 }, async (t) => {
  const server = await RedisServer.start();
  const redis = createClient({ url: server.url });
  t.after(async () => {
    redis.destroy();
    await server.stop();
  });
  await redis.connect();
  const slow = new Leases(redis, 'slow', 200);
  const owner = new Leases(redis, 'owner', 200);
  assert.equal(await slow.beat(), true);
  assert.equal(await owner.bury('slow'), false, 'alive: its tabs stay');
  // It stalls past its lease: the owner lets its tabs leave, and it finds out when it beats again.
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(await owner.isAlive('slow'), false);
  assert.equal(await owner.bury('slow'), true);
  assert.equal(await slow.beat(), false, 'declared gone: its tabs must register again');
  assert.equal(await owner.isAlive('slow'), true);
  assert.equal(await slow.beat(), true, 'the mark is consumed');
});

test('an owner holds its room for a lease from when it sent its last claim or renewal, then no longer', { timeout: 30_000 }, async (t) => {
  const server = await RedisServer.start();
  const redis = createClient({ url: server.url });
  t.after(async () => {
    redis.destroy();
    await server.stop();
  });
  await redis.connect();
  const owner = new Leases(redis, 'owner', 300);
  const other = new Leases(redis, 'other', 300);
  const before = Date.now();
  assert.equal(await owner.owner('r'), 'owner');
  const after = Date.now();
  assert.equal(owner.holds('r'), true);
  assert.equal(owner.holds('r', before + 299), true);
  assert.equal(owner.holds('r', after + 300), false, 'past it, the key may have expired: it decides nothing');
  assert.equal(other.holds('r'), false);
  // It stalls past its lease and another process claims the room: it holds nothing, and its renewal says so.
  await new Promise((resolve) => setTimeout(resolve, 350));
  assert.equal(owner.holds('r'), false);
  assert.equal(await other.owner('r'), 'other');
  assert.equal(await owner.owner('r'), 'other');
  assert.equal(owner.holds('r'), false);
});
