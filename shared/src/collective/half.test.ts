import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Rng } from '../rng.ts';
import { f16BitsToF32, f32ToF16Bits, fromHalf, roundToHalf, toHalf } from './half.ts';

/** Value of non-negative half bits, with 0x7c00 standing for 2^16 (where the next exponent would be). */
function positiveHalfValue(bits: number): number {
  const exp = bits >>> 10;
  const mant = bits & 0x3ff;
  return exp === 0 ? mant * 2 ** -24 : (1024 + mant) * 2 ** (exp - 25);
}

/** Reference rounding by search: the nearest half, ties to the even bit pattern; at or past the 65520 tie, infinity. */
function referenceHalf(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a >= 65536) return sign | 0x7c00;
  let lo = 0;
  let hi = 0x7c00;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (positiveHalfValue(mid) <= a) lo = mid;
    else hi = mid;
  }
  const below = a - positiveHalfValue(lo);
  const above = positiveHalfValue(hi) - a;
  const bits = below < above ? lo : above < below ? hi : lo % 2 === 0 ? lo : hi;
  return sign | bits;
}

test('every half survives f16 -> f32 -> f16', () => {
  for (let h = 0; h < 0x10000; h++) {
    const v = f16BitsToF32(h);
    if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) {
      assert.ok(Number.isNaN(v), `0x${h.toString(16)} is NaN`);
      assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(v))));
    } else {
      assert.equal(f32ToF16Bits(v), h, `0x${h.toString(16)}`);
    }
  }
});

test('f32 -> f16 rounds to nearest, ties to even, like a search over all halves', () => {
  const rng = new Rng(7);
  const bits = new Uint32Array(1);
  const f = new Float32Array(bits.buffer);
  let checked = 0;
  while (checked < 200_000) {
    // Exponents concentrated on the half range (subnormals to overflow) plus some anywhere.
    const exponent = checked % 4 === 0 ? rng.int(256) : 100 + rng.int(50);
    bits[0] = ((rng.int(2) << 31) | (exponent << 23) | rng.int(1 << 23)) >>> 0;
    const x = f[0]!;
    if (Number.isNaN(x)) continue;
    checked++;
    if (!Number.isFinite(x)) {
      assert.equal(f32ToF16Bits(x), x > 0 ? 0x7c00 : 0xfc00);
      continue;
    }
    assert.equal(f32ToF16Bits(x), referenceHalf(x), `x = ${x}`);
  }
});

test('f32 -> f16 edge cases: ties, subnormals, overflow, signed zero, NaN', () => {
  const cases: Array<[number, number]> = [
    [1, 0x3c00],
    [1 + 2 ** -11, 0x3c00], // tie, 1 is even
    [1 + 3 * 2 ** -11, 0x3c02], // tie, rounds up to even
    [65504, 0x7bff],
    [65519.99609375, 0x7bff],
    [65520, 0x7c00], // tie between 65504 (odd) and the next power: infinity
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -14 - 2 ** -25, 0x0400], // tie in the subnormals rounds up into the normals (0x3ff is odd)
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie with zero: to even
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002], // tie between 1 and 2 subnormal units: to even
    [2 ** -26, 0x0000],
    [-0, 0x8000],
    [-2, 0xc000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [x, h] of cases) assert.equal(f32ToF16Bits(x), h, `x = ${x}`);
  const nan = f32ToF16Bits(NaN);
  assert.equal(nan & 0x7c00, 0x7c00);
  assert.notEqual(nan & 0x3ff, 0);
});

test('array helpers agree with the scalar conversion', () => {
  const x = Float32Array.from([0.1, -3.75, 1e-6, 7e4, -0, 12345.678]);
  const halves = toHalf(x);
  assert.deepEqual(Array.from(halves), Array.from(x, (v) => f32ToF16Bits(v)));
  assert.deepEqual(fromHalf(halves), roundToHalf(x));
  assert.equal(roundToHalf(x)[3], Infinity);
});

test('roundToHalf (rounding on the bits) equals the scalar conversion on a sweep of all f32 patterns and every rounding case', () => {
  const patterns: number[] = [];
  for (let x = 0; x < 2 ** 32; x += 4099) patterns.push(x);
  // Around every normal half binade and its edges: every low-13-bit remainder (ties, carries),
  // under significands with the last kept bit 0 and 1 and all ones (the carry into the exponent).
  for (let exp = 111; exp <= 144; exp++) {
    const rests = [0, 1, 0xffe, 0xfff, 0x1000, 0x1001, 0x1002, 0x1ffe, 0x1fff];
    for (let rest = 0; rest < 0x2000; rest += 61) rests.push(rest);
    for (const top of [0, 1, 0x2a5, 0x3fe, 0x3ff]) {
      for (const rest of rests) {
        for (const sign of [0, 0x80000000]) patterns.push((sign | (exp << 23) | (top << 13) | rest) >>> 0);
      }
    }
  }
  const x = new Float32Array(new Uint32Array(patterns).buffer);
  const expected = Float32Array.from(x, (v) => f16BitsToF32(f32ToF16Bits(v)));
  const got = roundToHalf(x);
  const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer);
  // NaN payloads compare as bits too.
  assert.deepEqual(bits(got), bits(expected));
});
