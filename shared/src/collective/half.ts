/**
 * IEEE 754 binary16 <-> binary32, bit-exact: round to nearest, ties to even; subnormals,
 * signed zeros, infinities and NaN (quiet, top payload bits kept) handled. Pure integer work,
 * so every engine produces the same halves.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Half bits (uint16) of `value` rounded to f32 first. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 127 + 15; // biased half exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Half subnormal (or zero): drop 13 + (1 - e) bits of the 24-bit significand.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const halfway = 1 << (shift - 1);
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > halfway || (rest === halfway && (h & 1) === 1)) h++;
    return sign | h; // a carry into bit 10 is exactly the smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++; // a carry may reach the exponent: 65520 -> inf
  return sign | h;
}

let table: Float32Array | undefined;

/** All 65,536 halves as f32, built once. */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(0x10000);
  for (let h = 0; h < 0x10000; h++) {
    const sign = (h & 0x8000) !== 0 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = sign * mant * 2 ** -24;
    else if (exp === 0x1f) v = mant !== 0 ? NaN : sign * Infinity;
    else v = sign * (1024 + mant) * 2 ** (exp - 25);
    table[h] = v;
  }
  return table;
}

export function f16BitsToF32(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}

export function toHalf(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32ToF16Bits(values[i]!);
  return out;
}

export function fromHalf(bits: Uint16Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}

/** Each value rounded to the nearest half, kept as f32 (what an f16 wire delivers). */
export function roundToHalf(values: Float32Array): Float32Array {
  const t = halfTable();
  const out = new Float32Array(values.length);
  const inBits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const outBits = new Uint32Array(out.buffer);
  for (let i = 0; i < values.length; i++) {
    const x = inBits[i]!;
    const exp = (x >>> 23) & 0xff;
    if (exp >= 113 && exp <= 142) {
      // A half normal (biased half exponent 1..30): round the f32 significand to 10 bits in place,
      // ties to even, on the bits; a carry into the exponent is the next binade, or infinity past 65504.
      const y = (x + 0xfff + ((x >>> 13) & 1)) & 0xffffe000;
      outBits[i] = ((y >>> 23) & 0xff) > 142 ? (x & 0x80000000) | 0x7f800000 : y;
    } else out[i] = t[f32ToF16Bits(values[i]!)]!; // subnormal halves, zero, overflow, NaN
  }
  return out;
}

/** Values as little-endian half floats on the wire (2 bytes each). */
export function encodeHalf(values: Float32Array): Uint8Array {
  return new Uint8Array(toHalf(values).buffer);
}

export function decodeHalf(bytes: Uint8Array): Float32Array {
  if (bytes.length % 2 !== 0) throw new RangeError(`half-float payload of odd length ${bytes.length}`);
  return fromHalf(new Uint16Array(bytes.slice().buffer));
}
