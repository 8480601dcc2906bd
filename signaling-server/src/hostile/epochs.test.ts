/**
 * Hostile row: "1 socket asks for resyncs: 265 new epochs in 3 s, every member's step aborted each
 * time". Now one resync per member per epoch, resyncs in a window merged into one epoch, and a
 * per-member budget per minute.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MembersEvent } from '@tabswarm/shared/protocol';
import { joined, LIMIT, rawAck, record, sleep, type Tab } from '../testing.ts';
import { arena, ATTACKER, HONEST } from './kit.ts';

/** Sends resyncs of the current epoch from `tab` for `ms`, paced under the per-socket event limit. */
async function askForResyncs(tab: Tab, epoch: () => number, ms: number): Promise<number> {
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < ms) {
    await rawAck(tab, 'room:resync', { epoch: epoch() });
    sent += 1;
    await sleep(15);
  }
  return sent;
}

test('a socket asking for resyncs for 3 s starts at most one epoch per resync window', LIMIT, async (t) => {
  const h = await arena(t);
  const honest = await h.from(HONEST[0]);
  await joined(honest, 'churn');
  const epochs = record<MembersEvent>(honest, 'room:members');
  const hostile = await h.from(ATTACKER);
  await joined(hostile, 'churn');
  await sleep(50);
  const before = epochs.length;
  const sent = await askForResyncs(hostile, () => h.signaling.rooms()[0]!.epoch, 3000);
  await sleep(1100); // a deferred epoch lands when its window ends
  const started = epochs.length - before;
  t.diagnostic(`${sent} resyncs sent in 3 s: ${started} new epochs (was 265)`);
  assert.ok(sent > 20, 'the attack ran');
  // One per 1 s window over 3 s, plus the one a window still open at the end lands.
  assert.ok(started <= 5, `${started} epochs`);
});

test('without a window, the per-member budget bounds the epochs; a repeated report of one epoch starts none', LIMIT, async (t) => {
  const h = await arena(t, { resyncWindowMs: 0, resyncBudget: { burst: 5, perMinute: 12 } });
  const honest = await h.from(HONEST[0]);
  await joined(honest, 'budget');
  const hostile = await h.from(ATTACKER);
  await joined(hostile, 'budget');
  const epoch = h.signaling.rooms()[0]!.epoch;
  for (let i = 0; i < 5; i++) await rawAck(hostile, 'room:resync', { epoch });
  assert.equal(h.signaling.rooms()[0]!.epoch, epoch + 1, 'one resync per member per epoch');
  await askForResyncs(hostile, () => h.signaling.rooms()[0]!.epoch, 1000);
  const after = h.signaling.rooms()[0]!.epoch - epoch;
  t.diagnostic(`epochs started in 1 s with a budget of 5 + 12/min: ${after}`);
  assert.ok(after <= 5 + 1, `${after} epochs`);
  // The honest member's own budget is untouched: its report still starts an epoch.
  const now = h.signaling.rooms()[0]!.epoch;
  assert.deepEqual(await rawAck(honest, 'room:resync', { epoch: now }), { ok: true, data: null });
  assert.equal(h.signaling.rooms()[0]!.epoch, now + 1);
});

test('honest members reporting one failure together start exactly one epoch, at once', LIMIT, async (t) => {
  const h = await arena(t);
  const tabs = [];
  for (const address of HONEST.slice(0, 3)) {
    const tab = await h.from(address);
    tabs.push(tab);
    await joined(tab, 'together');
  }
  const epoch = h.signaling.rooms()[0]!.epoch;
  const seen = record<MembersEvent>(tabs[0]!, 'room:members');
  await Promise.all(tabs.map((tab) => rawAck(tab, 'room:resync', { epoch })));
  await sleep(1200);
  assert.deepEqual(seen.map((e) => e.epoch).filter((e) => e > epoch), [epoch + 1]);
});
