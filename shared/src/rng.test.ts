import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from './rng.ts';

test('fillUint32 draws exactly what nextUint32() would, and leaves the stream where nextUint32() would', () => {
  for (const length of [0, 1, 7, 5000]) {
    const a = Rng.derive(3, 'uint32', length);
    const b = Rng.derive(3, 'uint32', length);
    const bulk = a.fillUint32(new Uint32Array(length));
    const single = Uint32Array.from({ length }, () => b.nextUint32());
    assert.deepEqual(bulk, single);
    if (length === 5000) assert.ok(bulk.some((u) => u >= 2 ** 31), 'the full 32 bits, not int32');
    assert.equal(a.nextUint32(), b.nextUint32(), `${length}: the streams continue alike`);
  }
});
