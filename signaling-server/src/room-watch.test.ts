import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CONFIG, parseRunConfig } from '@tabswarm/shared/protocol';
import { RoomWatch } from './room-watch.ts';

const config = parseRunConfig({ steps: 10 }, DEFAULT_CONFIG);
const run = { step: 10, hash: '00000000000000aa', testAccuracy: 0.9 };

test('a run is finished once more than half of the room reported the same last step and hash', () => {
  const watch = new RoomWatch();
  const members = ['a', 'b', 'c', 'd'];
  assert.equal(watch.report('r', 'a', run, members, config), undefined);
  assert.equal(watch.report('r', 'b', { ...run, hash: '00000000000000bb' }, members, config), undefined);
  assert.equal(watch.report('r', 'c', run, members, config), undefined, '2 of 4 is no majority');
  assert.equal(watch.report('r', 'e', { ...run, step: 9 }, members, config), undefined, 'not the last step: not counted');
  assert.deepEqual(watch.report('r', 'd', run, members, config), run);
  assert.deepEqual(watch.finished('r'), { run, config });
  assert.equal(watch.report('r', 'b', run, members, config), undefined, 'finished once');
  // Members who reported and left still count as voters: 1 of 2 is no majority.
  const other = new RoomWatch();
  assert.equal(other.report('s', 'a', run, ['b'], config), undefined);
  assert.deepEqual(other.report('s', 'b', run, ['b'], config), run);
});

test('observers come and go; a room that emptied unfinished is forgotten, finished ones are kept up to the cap', () => {
  const watch = new RoomWatch(2);
  watch.observe('r', 'o1', '10.0.0.1');
  watch.observe('r', 'o2', '10.0.0.1');
  assert.deepEqual(watch.observers('r'), ['o1', 'o2']);
  assert.equal(watch.observersFrom('r', '10.0.0.1'), 2);
  assert.equal(watch.isObserver('r', 'o1'), true);
  assert.equal(watch.unobserve('r', 'o1'), true);
  assert.equal(watch.unobserve('r', 'o1'), false);
  watch.report('u', 'a', run, ['a', 'b', 'c'], config);
  watch.emptied('u');
  assert.equal(watch.report('u', 'b', run, ['b'], config)?.hash, run.hash, 'the old report was forgotten with the room: b alone is the majority now');
  for (const room of ['x', 'y', 'z']) watch.report(room, 'a', run, ['a'], config);
  assert.equal(watch.finished('u'), undefined, 'the oldest finished record went first');
  assert.equal(watch.finished('x'), undefined);
  assert.ok(watch.finished('y') && watch.finished('z'));
});
