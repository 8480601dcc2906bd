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

/** Uniform draws per block of entries: a small buffer, refilled. */
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
      let sumSquares = 0;
      for (let j = 0; j < d; j++) sumSquares += x[j]! * x[j]!;
      const norm = f32AtLeast(Math.sqrt(sumSquares));
      const bytes = new Uint8Array(bytesOf(d));
      new DataView(bytes.buffer).setFloat32(0, norm, true);
      if (norm === 0 || norm === Infinity) return bytes;
      const rng = Rng.derive(ctx.seed, ctx.step, ctx.layerIndex, ctx.peer, 'qsgd');
      // One uniform per entry, drawn in blocks (the same stream as one rng.next() per entry).
      const draws = new Float64Array(Math.min(d, DRAW_BLOCK));
      const size = bytes.length;
      let bit = 32; // after the norm
      let partial = 0;
      for (let start = 0; start < d; start += DRAW_BLOCK) {
        const end = Math.min(d, start + DRAW_BLOCK);
        rng.fillUniform(end - start === draws.length ? draws : draws.subarray(0, end - start));
        for (let j = start; j < end; j++) {
          const v = x[j]!;
          const scaled = (levels * Math.abs(v)) / norm;
          // 0 <= scaled <= s (+ rounding) < 2^31: truncation is the floor.
          // Rounding up and the sign are coin flips: added as 0/1, not branched on (a branch the
          // CPU mispredicts half the time costs more than the rest of the entry).
          let level = (scaled | 0) + +(draws[j - start]! < scaled - (scaled | 0));
          if (level > levels) level = levels;
          // The code at its bit position over the byte in progress (`partial`, kept in a register
          // rather than read back): < 8 + bits <= 25 bits, so at most 3 bytes.
          const word = partial | (((level << 1) | (+(v < 0) & +(level > 0))) << (bit & 7));
          const at = bit >>> 3;
          bytes[at] = word;
          if (at + 2 < size) {
            bytes[at + 1] = word >>> 8;
            bytes[at + 2] = word >>> 16;
          } else if (at + 1 < size) bytes[at + 1] = word >>> 8;
          bit += bits;
          partial = (word >>> (((bit >>> 3) - at) << 3)) & 0xff;
        }
      }
      return bytes;
    },
    decompress(message, layer) {
      const d = layerSize(layer);
      const norm = readNorm(message, layer, d);
      const out = new Float32Array(d);
      decodeLevels(message, layer, norm, out, false);
      // The sender's norm overflowed f32: its vector is not representable here.
      return norm === Infinity ? out.fill(NaN) : out;
    },
    decompressAdd(message, layer, _ctx, sum) {
      const d = layerSize(layer);
      const norm = readNorm(message, layer, d);
      if (sum.length !== d) throw new RangeError(`qsgd sum for ${layer.name} has ${sum.length} entries, expected ${d}`);
      decodeLevels(message, layer, norm, sum, true);
      if (norm === Infinity) sum.fill(NaN);
    },
  };

  function readNorm(message: Uint8Array, layer: LayerShape, d: number): number {
    if (message.length !== bytesOf(d)) throw new WireFormatError(`qsgd message for ${layer.name} has ${message.length} bytes, expected ${bytesOf(d)}`);
    const norm = new DataView(message.buffer, message.byteOffset, message.byteLength).getFloat32(0, true);
    if (!(norm >= 0)) throw new WireFormatError(`qsgd message for ${layer.name} has a bad norm ${norm}`);
    return norm;
  }

  /** Every entry's value (looked up by its code among the 2^bits codes' f32 values), stored into `into` or added to it. */
  function decodeLevels(message: Uint8Array, layer: LayerShape, norm: number, into: Float32Array | Float64Array, add: boolean): void {
    const mask = (1 << bits) - 1;
    const unit = norm / levels;
    const values = new Float32Array(mask + 1);
    // 1 for codes whose level exceeds s: or-ed over the message and refused at the end.
    const invalid = new Uint8Array(mask + 1);
    for (let code = 0; code <= mask; code++) {
      const level = code >>> 1;
      if (level <= levels) values[code] = (code & 1 ? -level : level) * unit;
      else invalid[code] = 1;
    }
    const size = message.length;
    let bad = 0;
    let bit = 32; // after the norm
    for (let j = 0; j < into.length; j++) {
      const at = bit >>> 3;
      // A code spans at most 3 bytes (see compress); the last ones may have fewer.
      const word = at + 2 < size ? message[at]! | (message[at + 1]! << 8) | (message[at + 2]! << 16) : message[at]! | (at + 1 < size ? message[at + 1]! << 8 : 0);
      const code = (word >>> (bit & 7)) & mask;
      bad |= invalid[code]!;
      if (add) into[j]! += values[code]!;
      else into[j] = values[code]!;
      bit += bits;
    }
    if (bad !== 0) throw new WireFormatError(`qsgd message for ${layer.name} has a level above ${levels}`);
  }
}
