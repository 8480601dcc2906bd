/** Rejoin penalties on a manual clock: 3 s, doubling per eviction, capped, forgotten after ten minutes. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RejoinPenalties } from './rejoin-penalty.ts';

test('each eviction from an address doubles its wait, up to 2 min; other addresses never wait', () => {
  const clock = { t: 0 };
  const penalties = new RejoinPenalties(() => clock.t);
  const waits: number[] = [];
  for (let i = 0; i < 8; i++) {
    waits.push(penalties.evicted('10.0.0.1'));
    clock.t += 1000;
  }
  assert.deepEqual(waits, [3000, 6000, 12_000, 24_000, 48_000, 96_000, 120_000, 120_000]);
  assert.equal(penalties.remaining('10.0.0.1'), 119_000);
  assert.equal(penalties.remaining('10.0.0.2'), 0);
  clock.t += 119_000;
  assert.equal(penalties.remaining('10.0.0.1'), 0);
});

test('an address quiet for ten minutes starts again at 3 s', () => {
  const clock = { t: 0 };
  const penalties = new RejoinPenalties(() => clock.t);
  penalties.evicted('a');
  penalties.evicted('a');
  clock.t = 10 * 60_000 + 1;
  assert.equal(penalties.evicted('a'), 3000);
});
