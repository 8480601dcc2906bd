/** Resync pacing on a manual clock: the window merges, the budget refills, the cooldown spaces evictions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ResyncPacing, roomResyncs } from './resync-pacing.ts';

function pacing(overrides: Partial<ConstructorParameters<typeof ResyncPacing>[0]> = {}): { pacing: ResyncPacing; clock: { t: number } } {
  const clock = { t: 0 };
  return { clock, pacing: new ResyncPacing({ evictAfter: 1, evictionCooldownMs: 10_000, resyncWindowMs: 1000, soloResyncMs: 0, resyncBudget: { burst: 3, perMinute: 6 }, now: () => clock.t, ...overrides }) };
}

test('a report within the window waits for its end; the room moving on meanwhile cancels it', () => {
  const { pacing: p, clock } = pacing();
  const room = roomResyncs();
  const members = new Set(['a', 'b']);
  assert.equal(p.report(room, members, 5, 'a', 5, undefined).start, 'now');
  p.started(room);
  clock.t = 300;
  assert.deepEqual(p.report(room, members, 6, 'b', 6, undefined), { start: 'later', deferMs: 700, evict: undefined });
  assert.equal(p.report(room, members, 6, 'a', 6, undefined).start, 'no', 'merged into the same deferred epoch');
  assert.equal(p.due(room, 6), true);
  clock.t = 400;
  p.started(room);
  clock.t = 500;
  assert.equal(p.report(room, members, 7, 'a', 7, undefined).start, 'later');
  assert.equal(p.due(room, 8), false, 'a join moved the epoch: nothing left to start');
});

test('the budget refills at perMinute', () => {
  const { pacing: p, clock } = pacing({ resyncWindowMs: 0 });
  const room = roomResyncs();
  const members = new Set(['a', 'b']);
  for (let epoch = 1; epoch <= 3; epoch++) p.report(room, members, epoch, 'a', epoch, undefined);
  assert.equal(p.report(room, members, 4, 'a', 4, undefined).refused?.name, 'RateLimitError');
  assert.equal(p.report(room, members, 4, 'b', 4, undefined).start, 'now', 'budgets are per member');
  clock.t = 10_000; // one token per 10 s at 6 per minute
  assert.equal(p.report(room, members, 5, 'a', 5, undefined).start, 'now');
});

test('after an eviction the next waits for the cooldown', () => {
  const { pacing: p, clock } = pacing({ resyncWindowMs: 0 });
  const room = roomResyncs();
  const members = new Set(['a', 'b', 'c', 'x', 'y']);
  p.report(room, members, 1, 'a', 1, 'x');
  p.report(room, members, 1, 'b', 1, 'x');
  assert.equal(p.report(room, members, 1, 'c', 1, 'x').evict, 'x', '3 of the 4 others');
  members.delete('x');
  p.report(room, members, 2, 'a', 2, 'y');
  assert.equal(p.report(room, members, 2, 'b', 2, 'y').evict, undefined, 'within the cooldown');
  clock.t = 10_000;
  p.report(room, members, 3, 'a', 3, 'y');
  assert.equal(p.report(room, members, 3, 'b', 3, 'y').evict, 'y', 'after it: 2 of the 3 others');
});

test('the cooldown covers the members present at the last eviction, not one that came since', () => {
  const { pacing: p, clock } = pacing({ resyncWindowMs: 0 });
  const room = roomResyncs();
  const members = new Set(['a', 'b', 'x']);
  p.report(room, members, 1, 'a', 1, 'x');
  assert.equal(p.report(room, members, 1, 'b', 1, 'x').evict, 'x');
  // x is back under a new id (x2) and misbehaves again: no cooldown shelters it.
  members.delete('x');
  members.add('x2');
  clock.t = 4000;
  p.report(room, members, 2, 'a', 2, 'x2');
  assert.equal(p.report(room, members, 2, 'b', 2, 'x2').evict, 'x2', 'a newcomer since the last eviction');
  // A member of the room then, blamed within the cooldown, stays.
  members.delete('x2');
  p.report(room, members, 3, 'a', 3, 'b');
  assert.equal(p.report(room, members, 3, 'x3', 3, 'b').evict, undefined);
});

test('only a report that opens a failed epoch spends budget; agreeing with one is free', () => {
  const { pacing: p } = pacing({ resyncWindowMs: 0, resyncBudget: { burst: 2, perMinute: 1 } });
  const room = roomResyncs();
  const members = new Set(['a', 'b', 'c']);
  // a opens epochs 1 and 2 (its burst); b and c only agree, many times over, and keep theirs.
  for (const epoch of [1, 2]) {
    assert.equal(p.report(room, members, epoch, 'a', epoch, undefined).start, 'now');
    p.report(room, members, epoch, 'b', epoch, undefined);
    p.report(room, members, epoch, 'c', epoch, undefined);
  }
  const refused = p.report(room, members, 3, 'a', 3, 'c');
  assert.deepEqual([refused.start, refused.refused?.name], ['no', 'RateLimitError']);
  assert.equal(p.report(room, members, 3, 'b', 3, undefined).start, 'now', 'b opens what a could not');
  assert.deepEqual([...room.failures.find((f) => f.epoch === 3)!.votes.get('c')!], ['a'], "a's refused report still voted");
  assert.equal(p.report(room, members, 4, 'c', 4, undefined).start, 'now');
});

test('a failure one member alone reports waits soloResyncMs; a second member agreeing starts it at once', () => {
  const { pacing: p, clock } = pacing({ resyncWindowMs: 1000, soloResyncMs: 25_000, evictAfter: 3 });
  const room = roomResyncs();
  const members = new Set(['a', 'b', 'c', 'x']);
  // x alone says epoch 1 failed: nothing moves for 25 s.
  assert.deepEqual(p.report(room, members, 1, 'x', 1, 'a'), { start: 'later', deferMs: 25_000, evict: undefined });
  clock.t = 25_000;
  assert.equal(p.due(room, 1), true, 'nobody agreed: the lone report wins after its wait');
  p.started(room);
  // Epoch 2: x alone again, then a agrees 3 s later (past the window): the next epoch starts now.
  clock.t = 30_000;
  assert.equal(p.report(room, members, 2, 'x', 2, 'b').start, 'later');
  clock.t = 33_000;
  assert.equal(p.report(room, members, 2, 'a', 2, 'x').start, 'now');
  assert.equal(p.due(room, 2), false, 'the lone wait is void once started');
  p.started(room);
  // Epoch 3: two reports at once: the next epoch waits a window after the first, not 25 s, so
  // that a member whose deadline fires a moment later still votes.
  clock.t = 33_200;
  assert.equal(p.report(room, members, 3, 'b', 3, 'x').deferMs, 25_000);
  assert.deepEqual(p.report(room, members, 3, 'c', 3, 'x'), { start: 'later', deferMs: 1000, evict: undefined });
  assert.equal(p.report(room, members, 3, 'a', 3, 'x').start, 'no', 'a third only votes');
});
