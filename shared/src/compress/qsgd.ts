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
import type { GatherCodec } from './types.ts';

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
      let acc = 0;
      let pending = 0;
      let offset = 4;
      for (let j = 0; j < d; j++) {
        const v = x[j]!;
        const scaled = (levels * Math.abs(v)) / norm;
        const floor = Math.floor(scaled);
        const level = Math.min(levels, floor + (rng.next() < scaled - floor ? 1 : 0));
        const code = (level << 1) | (v < 0 && level > 0 ? 1 : 0);
        acc |= code << pending;
        pending += bits;
        while (pending >= 8) {
          bytes[offset++] = acc & 0xff;
          acc >>>= 8;
          pending -= 8;
        }
      }
      if (pending > 0) bytes[offset] = acc & 0xff;
      return bytes;
    },
    decompress(message, layer) {
      const d = layerSize(layer);
      if (message.length !== bytesOf(d)) throw new WireFormatError(`qsgd message for ${layer.name} has ${message.length} bytes, expected ${bytesOf(d)}`);
      const norm = new DataView(message.buffer, message.byteOffset, message.byteLength).getFloat32(0, true);
      if (!(norm >= 0)) throw new WireFormatError(`qsgd message for ${layer.name} has a bad norm ${norm}`);
      const out = new Float32Array(d);
      const mask = (1 << bits) - 1;
      const unit = norm / levels;
      let acc = 0;
      let pending = 0;
      let offset = 4;
      for (let j = 0; j < d; j++) {
        while (pending < bits) {
          acc |= message[offset++]! << pending;
          pending += 8;
        }
        const code = acc & mask;
        acc >>>= bits;
        pending -= bits;
        const level = code >>> 1;
        if (level > levels) throw new WireFormatError(`qsgd message for ${layer.name} has level ${level} > ${levels}`);
        out[j] = (code & 1 ? -level : level) * unit;
      }
      // The sender's norm overflowed f32: its vector is not representable here.
      return norm === Infinity ? out.fill(NaN) : out;
    },
  };
}
