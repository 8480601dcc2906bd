/** A member flooding one other with signals gets the budget of that pair; other pairs keep theirs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { SignalEvent } from '@tabswarm/shared/protocol';
import { joined, LIMIT, relay, record, sleep } from '../testing.ts';
import { arena, ATTACKER, HONEST } from './kit.ts';

test('signals from one member to one other are budgeted per pair', LIMIT, async (t) => {
  const h = await arena(t, { relayPairLimit: { burst: 20, perSecond: 5 } });
  const hostile = await h.from(ATTACKER);
  const victim = await h.from(HONEST[0]);
  const other = await h.from(HONEST[1]);
  await joined(hostile, 'pairs');
  const v = await joined(victim, 'pairs');
  const o = await joined(other, 'pairs');
  const received = record<SignalEvent>(victim, 'signal');
  const started = performance.now();
  const results = await Promise.all(Array.from({ length: 60 }, () => relay(hostile, v.peerId, { candidate: 'c' })));
  // The pair's budget: 20 at once and 5 per second for as long as the 60 took.
  const allowed = 20 + 5 * ((performance.now() - started) / 1000) + 1;
  const refused = results.filter((r) => !r.ok);
  assert.ok(60 - refused.length <= allowed, `${60 - refused.length} of 60 relayed (budget ${allowed.toFixed(1)})`);
  assert.ok(refused.every((r) => !r.ok && r.error.name === 'RateLimitError'));
  await sleep(100);
  assert.ok(received.length <= allowed, `${received.length} delivered`);
  // The same sender to another target, and the victim to the sender, are other pairs.
  assert.equal((await relay(hostile, o.peerId, { candidate: 'c' })).ok, true);
  assert.equal((await relay(victim, (await joined(await h.from(HONEST[2]), 'pairs')).peerId, { candidate: 'c' })).ok, true);
});
