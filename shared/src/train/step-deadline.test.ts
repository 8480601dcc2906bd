import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stepDeadlineMs } from './step-deadline.ts';

const steps = (...totals: number[]) => totals.map((total) => ({ ms: { total } }));
const limits = { ceilingMs: 30_000, floorMs: 5_000 };

describe('step deadline', () => {
  it('gives the ceiling with fewer than 3 steps to go by', () => {
    assert.equal(stepDeadlineMs([], false, limits), 30_000);
    assert.equal(stepDeadlineMs(steps(10, 10), false, limits), 30_000);
    assert.equal(stepDeadlineMs(steps(10, 10, 10), false, limits), 5_000);
  });

  it('gives the ceiling to the first step after a sync, whatever the history', () => {
    assert.equal(stepDeadlineMs(steps(10, 10, 10, 10), true, limits), 30_000);
  });

  it('is five times the median plus 2 s between floor and ceiling', () => {
    const open = { ceilingMs: 1e9, floorMs: 0 };
    assert.equal(stepDeadlineMs(steps(300, 100, 200), false, open), 5 * 200 + 2000);
    // An even count takes the upper of the two middle values.
    assert.equal(stepDeadlineMs(steps(400, 100, 300, 200), false, open), 5 * 300 + 2000);
    // One outlier does not move the median.
    assert.equal(stepDeadlineMs(steps(1000, 1000, 1000, 1000, 900_000), false, open), 7000);
  });

  it('clamps to the floor and to the ceiling', () => {
    assert.equal(stepDeadlineMs(steps(100, 100, 100), false, limits), 5_000);
    assert.equal(stepDeadlineMs(steps(1000, 1000, 1000), false, limits), 7_000);
    assert.equal(stepDeadlineMs(steps(9000, 9000, 9000), false, limits), 30_000);
  });

  it('lets the ceiling win over a floor above it', () => {
    assert.equal(stepDeadlineMs(steps(1, 1, 1), false, { ceilingMs: 4_000, floorMs: 5_000 }), 4_000);
  });

  it('looks at the last 20 steps only', () => {
    const history = [...steps(...Array<number>(100).fill(10)), ...steps(...Array<number>(20).fill(2000))];
    assert.equal(stepDeadlineMs(history, false, limits), 12_000);
    // Half the window slow holds the (upper) median; one fewer does not.
    const mixed = (slow: number) => [...steps(...Array<number>(20 - slow).fill(10)), ...steps(...Array<number>(slow).fill(2000))];
    assert.equal(stepDeadlineMs(mixed(10), false, limits), 12_000);
    assert.equal(stepDeadlineMs(mixed(9), false, limits), 5_000);
  });
});
