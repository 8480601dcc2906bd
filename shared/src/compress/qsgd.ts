/**
 * QSGD (Alistarh et al. 2017) with s levels: each entry becomes sign(x_j) * |x| * l_j / s with
 * l_j the stochastic rounding of s|x_j|/|x|, so E = x. Message per layer: the norm |x| as f32,
 * then per entry (level << 1 | sign) in ceil(log2(s+1)) + 1 bits, LSB first, padded to a byte.
 * The per-peer scale makes it non-linear: messages are all-gathered. The rounding draws are seeded
 * by (seed, step, layer, peer), so runs are reproducible. A finite vector whose norm overflows f32
 * is sent as norm +Infinity (levels 0) and decodes to NaN, so the aggregator refuses the step on
 * every peer (compress/finite.ts).
 */
import { WireFormatError } from '../errors.ts';
import { Rng } from '../rng.ts';
import { CODEC_IDS } from './ids.ts';
import { layerSize } from './layers.ts';
import type { GatherCodec, LayerShape } from './types.ts';

/** Draws per block of entries: a small buffer, refilled. */
const DRAW_BLOCK = 4096;

/** Bits of one entry: the level (0..s) plus a sign bit. */
export function qsgdEntryBits(levels: number): number {
  return 32 - Math.clz32(levels) + 1;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The smallest f32 >= a non-negative `x`, so |x_j| / norm <= 1 and levels never exceed s. */
function f32AtLeast(x: number): number {
  f32[0] = x;
  if (f32[0]! < x) u32[0] = u32[0]! + 1;
  return f32[0]!;
}

/** Four partial sums, so the adds do not wait on each other. */
function sumOfSquares(x: Float32Array): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const quads = x.length - (x.length & 3);
  let j = 0;
  for (; j < quads; j += 4) {
    s0 += x[j]! * x[j]!;
    s1 += x[j + 1]! * x[j + 1]!;
    s2 += x[j + 2]! * x[j + 2]!;
    s3 += x[j + 3]! * x[j + 3]!;
  }
  for (; j < x.length; j++) s0 += x[j]! * x[j]!;
  return s0 + s1 + (s2 + s3);
}

export function createQsgd({ levels }: { levels: number }): GatherCodec {
  if (!Number.isInteger(levels) || levels < 1 || levels > 0xffff) throw new RangeError(`qsgd levels must be in [1, 65535], got ${levels}`);
  const bits = qsgdEntryBits(levels);
  const bytesOf = (d: number): number => 4 + Math.ceil((d * bits) / 8);
  return {
    id: CODEC_IDS.qsgd,
    name: 'qsgd',
    linear: false,
    unbiased: true,
    messageBytes: (layer) => bytesOf(layerSize(layer)),
    omega(layer) {
      const d = layerSize(layer);
      return Math.min(d / (levels * levels), Math.sqrt(d) / levels);
    },
    compress(x, layer, ctx) {
      const d = x.length;
      const norm = f32AtLeast(Math.sqrt(sumOfSquares(x)));
      const bytes = new Uint8Array(bytesOf(d));
      new DataView(bytes.buffer).setFloat32(0, norm, true);
      if (norm === 0 || norm === Infinity) return bytes;
      const rng = Rng.derive(ctx.seed, ctx.step, ctx.layerIndex, ctx.peer, 'qsgd');
      // One 32-bit draw per entry, in blocks: the level rounds up when draw / 2^32 < the fraction.
      const draws = new Uint32Array(Math.min(d, DRAW_BLOCK));
      const perUnit = levels / norm;
      // Codes are appended LSB first to `pending` (fewer than 8 + bits <= 25 bits held), whole
      // bytes leave it as they fill.
      let pending = 0;
      let pendingBits = 0;
      let at = 4; // after the norm
      for (let start = 0; start < d; start += DRAW_BLOCK) {
        const end = Math.min(d, start + DRAW_BLOCK);
        rng.fillUint32(end - start === draws.length ? draws : draws.subarray(0, end - start));
        for (let j = start; j < end; j++) {
          const v = x[j]!;
          const scaled = Math.abs(v) * perUnit;
          // 0 <= scaled <= s (+ rounding) < 2^31: truncation is the floor. Rounding up and the
          // sign are coin flips: added as 0/1, not branched on (a branch the CPU mispredicts half
          // the time costs more than the rest of the entry).
          const floor = scaled | 0;
          let level = floor + +(draws[j - start]! < (scaled - floor) * 4294967296);
          if (level > levels) level = levels;
          pending |= ((level << 1) | (+(v < 0) & +(level > 0))) << pendingBits;
          pendingBits += bits;
          while (pendingBits >= 8) {
            bytes[at++] = pending;
            pending >>>= 8;
            pendingBits -= 8;
          }
        }
      }
      if (pendingBits > 0) bytes[at] = pending;
      return bytes;
    },
    decompress(message, layer) {
      const d = layerSize(layer);
      const norm = readNorm(message, layer, d);
      const out = new Float32Array(d);
      addLevels(message, layer, norm, out); // onto zeros: level 0 is +0, never -0
      // The sender's norm overflowed f32: its vector is not representable here.
      return norm === Infinity ? out.fill(NaN) : out;
    },
    decompressAdd(message, layer, _ctx, sum) {
      const d = layerSize(layer);
      const norm = readNorm(message, layer, d);
      if (sum.length !== d) throw new RangeError(`qsgd sum for ${layer.name} has ${sum.length} entries, expected ${d}`);
      addLevels(message, layer, norm, sum);
      if (norm === Infinity) sum.fill(NaN);
    },
  };

  function readNorm(message: Uint8Array, layer: LayerShape, d: number): number {
    if (message.length !== bytesOf(d)) throw new WireFormatError(`qsgd message for ${layer.name} has ${message.length} bytes, expected ${bytesOf(d)}`);
    const norm = new DataView(message.buffer, message.byteOffset, message.byteLength).getFloat32(0, true);
    if (!(norm >= 0)) throw new WireFormatError(`qsgd message for ${layer.name} has a bad norm ${norm}`);
    return norm;
  }

  /**
   * Adds every entry's value to `into`. Codes are read two at a time when a table of all code
   * pairs is small (bits <= 6: 4,096 pairs) and the layer large enough to pay for building it; the
   * table holds each pair's two f32 values, so an entry costs a lookup and an add.
   */
  function addLevels(message: Uint8Array, layer: LayerShape, norm: number, into: Float32Array | Float64Array): void {
    const d = into.length;
    const perGroup = bits <= 6 && d >= 1 << (2 * bits) ? 2 : 1;
    const groupBits = perGroup * bits;
    const groupMask = (1 << groupBits) - 1;
    const unit = norm / levels;
    const values = new Float32Array((groupMask + 1) * perGroup);
    // 1 for groups holding a level above s: or-ed over the message and refused at the end.
    const invalid = new Uint8Array(groupMask + 1);
    for (let group = 0; group <= groupMask; group++) {
      for (let i = 0; i < perGroup; i++) {
        const code = (group >>> (i * bits)) & ((1 << bits) - 1);
        const level = code >>> 1;
        if (level <= levels) values[group * perGroup + i] = (code & 1 ? -level : level) * unit;
        else invalid[group] = 1;
      }
    }
    let bad = 0;
    // Bytes enter `pending` LSB first until it holds a group; a group never needs a byte past the message.
    let pending = 0;
    let pendingBits = 0;
    let at = 4; // after the norm
    let j = 0;
    if (perGroup === 2) {
      for (const pairs = d - (d & 1); j < pairs; j += 2) {
        while (pendingBits < groupBits) {
          pending |= message[at++]! << pendingBits;
          pendingBits += 8;
        }
        const group = pending & groupMask;
        pending >>>= groupBits;
        pendingBits -= groupBits;
        bad |= invalid[group]!;
        into[j]! += values[2 * group]!;
        into[j + 1]! += values[2 * group + 1]!;
      }
    }
    // One code at a time: every entry when perGroup is 1, else the odd last one (its group's second code is 0, a valid level).
    const codeMask = (1 << bits) - 1;
    for (; j < d; j++) {
      while (pendingBits < bits) {
        pending |= message[at++]! << pendingBits;
        pendingBits += 8;
      }
      const code = pending & codeMask;
      pending >>>= bits;
      pendingBits -= bits;
      bad |= invalid[code]!;
      into[j]! += values[code * perGroup]!;
    }
    if (bad !== 0) throw new WireFormatError(`qsgd message for ${layer.name} has a level above ${levels}`);
  }
}
