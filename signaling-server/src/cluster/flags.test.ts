/** `--redis` and `--redis-lease-ms`, and a Redis that cannot be reached: named errors, no half-started server. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '@tabswarm/shared/protocol';
import { listenSignalingServer } from '../listen.ts';
import { readServerFlags } from '../server-flags.ts';
import { silent } from '../testing.ts';
import { freePort } from './testing.ts';

const flags = (values: Record<string, unknown>): ReturnType<typeof readServerFlags>['options'] => readServerFlags(values, {}).options;

test('--redis URL [--redis-lease-ms N] become the cluster options; without them the server runs alone', () => {
  assert.equal(flags({}).cluster, undefined);
  assert.deepEqual(flags({ redis: 'redis://127.0.0.1:6379' }).cluster, { url: 'redis://127.0.0.1:6379' });
  assert.deepEqual(flags({ redis: 'rediss://cache.example.org:6380', 'redis-lease-ms': '1500' }).cluster, { url: 'rediss://cache.example.org:6380', leaseMs: 1500, renewMs: 500 });
});

test('bad --redis flags are usage errors that say what is wrong', () => {
  assert.throws(() => flags({ redis: 'http://127.0.0.1:6379' }), { name: 'ConfigError', message: '--redis must be a redis:// or rediss:// URL, got "http://127.0.0.1:6379"' });
  assert.throws(() => flags({ 'redis-lease-ms': '1500' }), { name: 'ConfigError', message: '--redis-lease-ms needs --redis' });
  assert.throws(() => flags({ redis: 'redis://r:1', 'redis-lease-ms': '100' }), { name: 'ConfigError', message: '--redis-lease-ms must be an integer of at least 300, got "100"' });
});

test('a Redis nobody answers at: the server does not start, and says why', { timeout: 20_000 }, async () => {
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(listenSignalingServer({ log: silent, cluster: { url: `redis://127.0.0.1:${port}` } }), (err: Error) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.message, `cannot reach Redis at redis://127.0.0.1:${port} within 5000 ms`);
    return true;
  });
  assert.ok(Date.now() - started < 8000);
});
