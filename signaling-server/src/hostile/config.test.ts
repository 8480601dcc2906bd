/**
 * Hostile rows: "a first joiner's in-range but ruinous config (cnn, batchSize 4096, evalEvery 1,
 * evalSize 10000, greedylore rank 1024 period 1): accepted; every later tab runs it" and "a 900 KB
 * config string, 10 joins: 9 MB of server log". Now the server's cost policy refuses it, a
 * joiner sees the cost of what it joins, and nothing quotes a value whole.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG } from '@tabswarm/shared/protocol';
import { errorOf, joined, LIMIT, raw, tryJoin } from '../testing.ts';
import type { Logger } from '../server.ts';
import { readServerFlags } from '../server-flags.ts';
import { arena, ATTACKER, disconnected, HONEST } from './kit.ts';

const RUINOUS = { model: 'cnn', batchSize: 4096, evalEvery: 1, evalSize: 10000, compressor: 'greedylore', rank: 1024, period: 1 };

test('the ruinous config is refused key by key, and opens no room', LIMIT, async (t) => {
  const h = await arena(t);
  const tab = await h.from(ATTACKER);
  const refusals: string[] = [];
  let config: Record<string, unknown> = { ...RUINOUS };
  // Fix each key the server names, and it names the next: every part of it is over the policy.
  for (let i = 0; i < 6; i++) {
    const result = await tryJoin(tab, 'ruin', config);
    if (result.ok) break;
    const error = errorOf(result);
    assert.equal(error.name, 'ConfigError');
    const key = /^(\w+)/.exec(error.message)![1]!;
    refusals.push(key);
    config = { ...config, [key === 'evalSize' ? 'evalEvery' : key]: { batchSize: 64, evalSize: 1000, evalEvery: 10, rank: 4, period: 100 }[key === 'evalSize' ? 'evalEvery' : key] };
    assert.equal(h.signaling.rooms().length, 0, 'no room opened');
  }
  assert.deepEqual(refusals, ['batchSize', 'evalSize', 'rank', 'period']);
});

test('workers above the room cap could never start: refused', LIMIT, async (t) => {
  const h = await arena(t, { maxMembersPerRoom: 8 });
  const error = errorOf(await tryJoin(await h.from(ATTACKER), 'big', { workers: 9 }));
  assert.equal(error.name, 'ConfigError');
  assert.match(error.message, /workers must be at most 8/);
});

test('the join ack carries the cost; a heavy but allowed config says why', LIMIT, async (t) => {
  const h = await arena(t);
  const light = await joined(await h.from(HONEST[0]), 'light');
  assert.equal(light.cost.heavy, false);
  assert.equal(light.cost.params, 203_530);
  const heavy = await joined(await h.from(HONEST[1]), 'heavy', { batchSize: 512, evalSize: 10000, evalEvery: 10 });
  const later = await joined(await h.from(HONEST[2]), 'heavy');
  assert.equal(later.cost.heavy, true, 'a later joiner sees it before training');
  assert.ok(later.cost.relative > 8);
  assert.deepEqual(later.cost, heavy.cost);
  assert.ok(later.cost.reasons.some((r) => /512 examples/.test(r)), later.cost.reasons.join('; '));
});

test('the server\'s own maxima (--max-batch-size etc.) tighten the policy', LIMIT, async (t) => {
  const { options } = readServerFlags({ 'max-batch-size': '32', 'max-eval-per-step': '50', 'min-period': '20' }, {});
  assert.deepEqual(options.policy, { maxBatchSize: 32, maxEvalPerStep: 50, minPeriod: 20 });
  // The server's own default must fit its policy, or it would refuse every room: it does not start.
  await assert.rejects(arena(t, options), { name: 'ConfigError' });
  const h = await arena(t, { ...options, defaultConfig: { ...DEFAULT_CONFIG, batchSize: 16, evalSize: 500 } });
  const tab = await h.from(HONEST[0]);
  assert.match(errorOf(await tryJoin(tab, 'p', { batchSize: 64, evalEvery: 100 })).message, /batchSize must be at most 32/);
  assert.throws(() => readServerFlags({ 'max-batch-size': 'lots' }, {}), { name: 'ConfigError' });
});

test('a huge config value is never quoted whole: ten joins write a few KB of log, not megabytes', LIMIT, async (t) => {
  let logged = 0;
  const log: Logger = { info: (line) => { logged += line.length; }, error: (line) => { logged += line.length; } };
  const h = await arena(t, { log });
  const tab = await h.from(ATTACKER);
  // Just under the message cap: decoded, refused, logged.
  const long = 's'.repeat(90_000);
  for (let i = 0; i < 10; i++) {
    const error = errorOf(await tryJoin(tab, `cfg${i}`, { steps: long }));
    assert.equal(error.name, 'ConfigError');
    assert.ok(error.message.length < 200, `message of ${error.message.length} characters`);
  }
  t.diagnostic(`10 joins with a 90 KB value: ${logged} characters of log`);
  assert.ok(logged < 10 * 400, `${logged} characters logged`);
  // 900 KB is past the largest real message: the connection closes before anything is decoded.
  const huge = await h.from(ATTACKER);
  raw(huge).emit('room:join', { room: 'cfg', config: { steps: 's'.repeat(900_000) } });
  assert.equal(await disconnected(huge, 5000), true);
  assert.ok(logged < 10 * 400);
});
