/** The rebuild of a room from its members' registrations after a server restart: the decision alone. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decideRebuild, everyoneRegistered, viewKey, type Registration } from './room-rebuild.ts';

/** A registration of `peerId` training in `members` at `epoch`, `step`. */
function reg(peerId: string, members: string[], epoch: number, step: number, config: Record<string, unknown> = { steps: 150 }): Registration {
  return { peerId, token: `t-${peerId}`, config, epoch, members, step, hash: `h${step}` };
}

test('everyone back with one view and one epoch: the room goes on at that epoch, nobody adopts', () => {
  const view = ['a', 'b', 'c'];
  const registrations = [reg('b', view, 7, 21), reg('a', view, 7, 22), reg('c', view, 7, 21)];
  assert.ok(everyoneRegistered(registrations));
  const decision = decideRebuild(registrations);
  assert.equal(decision.epoch, 7, 'kept: nobody aborts the step under way');
  assert.deepEqual(decision.members, view);
  assert.deepEqual(decision.adopters, []);
  assert.equal(decision.lineage, viewKey(view));
  assert.equal(decision.notes.length, 1);
});

test('disagreeing epochs (a member missed the last announcement): one view still, a new epoch above every report', () => {
  const view = ['a', 'b', 'c'];
  const decision = decideRebuild([reg('a', view, 8, 30), reg('b', view, 9, 30), reg('c', view, 8, 30)]);
  assert.equal(decision.epoch, 10);
  assert.deepEqual(decision.members, view);
  assert.deepEqual(decision.adopters, [], 'the same view: the state sync sorts out who is behind');
  assert.match(decision.notes[0]!, /epoch 10 \(highest reported 9\)/);
});

test('a missing member: the window is not complete; the room is rebuilt without it at a new epoch', () => {
  const view = ['a', 'b', 'c'];
  const registrations = [reg('a', view, 4, 50), reg('c', view, 4, 50)];
  assert.equal(everyoneRegistered(registrations), false, 'b is listed and not back: wait for it');
  const decision = decideRebuild(registrations);
  assert.equal(decision.epoch, 5);
  assert.deepEqual(decision.members, ['a', 'c']);
  assert.deepEqual(decision.adopters, []);
  assert.ok(decision.notes.some((n) => /missing b/.test(n)), decision.notes.join('\n'));
});

test('two forks: the view most registrants share wins whatever the steps; the others adopt its state', () => {
  // a trained alone to step 150; b and c together to step 40.
  const registrations = [
    reg('a', ['a'], 6, 150, { steps: 150, lr: 0.5 }),
    reg('b', ['b', 'c'], 5, 40),
    reg('c', ['b', 'c'], 5, 41),
  ];
  assert.ok(everyoneRegistered(registrations));
  const decision = decideRebuild(registrations);
  assert.deepEqual(decision.members, ['a', 'b', 'c']);
  assert.deepEqual(decision.adopters, ['a']);
  assert.equal(decision.lineage, 'b,c');
  assert.equal(decision.epoch, 7, 'above every epoch reported');
  assert.deepEqual(decision.config, { steps: 150 }, 'the winning view\'s config');
  assert.ok(decision.notes.some((n) => /^fork: 2 views; \{b, c\} at step 41 .* wins over \{a\} at step 150 .*; a adopt/.test(n)), decision.notes.join('\n'));
});

test('a fork that split off the room waits for the peers it knew: it cannot settle the room alone', () => {
  const lone = { ...reg('a', ['a'], 6, 150), known: ['b', 'c'] };
  assert.equal(everyoneRegistered([lone]), false, 'b and c are not back yet');
  const rest = [{ ...reg('b', ['b', 'c'], 5, 40), known: ['a'] }, { ...reg('c', ['b', 'c'], 5, 40), known: ['a'] }];
  assert.equal(everyoneRegistered([lone, ...rest]), true);
  assert.deepEqual(decideRebuild([lone, ...rest]).adopters, ['a']);
});

test('forks of equal size: the newer epoch wins, then the higher step', () => {
  const newer = decideRebuild([reg('a', ['a', 'b'], 3, 90), reg('c', ['c', 'd'], 4, 10)]);
  assert.deepEqual(newer.adopters, ['a']);
  const further = decideRebuild([reg('a', ['a', 'b'], 4, 90), reg('c', ['c', 'd'], 4, 10)]);
  assert.deepEqual(further.adopters, ['c']);
  // The order of registration changes nothing.
  assert.deepEqual(decideRebuild([reg('c', ['c', 'd'], 4, 10), reg('a', ['a', 'b'], 4, 90)]), further);
});

test('a rebuild needs a registration', () => {
  assert.throws(() => decideRebuild([]));
});
