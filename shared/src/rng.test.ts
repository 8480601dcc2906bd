import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from './rng.ts';

test('fillUniform draws exactly what next() would, and leaves the stream where next() would', () => {
  for (const length of [0, 1, 7, 5000]) {
    const a = Rng.derive(3, 'uniform', length);
    const b = Rng.derive(3, 'uniform', length);
    const bulk = a.fillUniform(new Float64Array(length));
    const single = Float64Array.from({ length }, () => b.next());
    assert.deepEqual(bulk, single);
    assert.ok(bulk.every((u) => u >= 0 && u < 1));
    assert.equal(a.nextUint32(), b.nextUint32(), `${length}: the streams continue alike`);
  }
});
