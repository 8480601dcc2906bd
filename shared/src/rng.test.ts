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

test('getState/setState hand over the sfc32 words: a loop that runs the step on them draws what nextUint32() would', () => {
  const a = Rng.derive(5, 'state');
  const b = Rng.derive(5, 'state');
  let [s0, s1, s2, s3] = a.getState();
  const inline: number[] = [];
  for (let i = 0; i < 100; i++) {
    const t = (s0 + s1 + s3) | 0;
    s3 = (s3 + 1) | 0;
    s0 = s1 ^ (s1 >>> 9);
    s1 = (s2 + (s2 << 3)) | 0;
    s2 = (((s2 << 21) | (s2 >>> 11)) + t) | 0;
    inline.push(t >>> 0);
  }
  a.setState([s0, s1, s2, s3]);
  assert.deepEqual(inline, Array.from({ length: 100 }, () => b.nextUint32()));
  assert.equal(a.nextUint32(), b.nextUint32());
});
