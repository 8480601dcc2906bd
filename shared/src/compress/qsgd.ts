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

/** Entries decoded per block by decompressMean: a multiple of 8, so every block starts on a byte; its f64 sums fit in L1. */
const DECODE_BLOCK = 2048;

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
  // Norm-free halves of the decode tables, built once: the signed level of each code (level 0 as
  // +0 whatever its sign bit) and whether its level exceeds s; with pairs, the same per pair of codes.
  const codeLevels = new Float64Array(1 << bits);
  const codeInvalid = new Uint8Array(1 << bits);
  for (let code = 0; code < 1 << bits; code++) {
    const level = code >>> 1;
    if (level > levels) codeInvalid[code] = 1;
    else codeLevels[code] = code & 1 && level > 0 ? -level : level;
  }
  const pairLevels = bits <= 6 ? new Float64Array(2 << (2 * bits)) : null;
  const pairInvalid = bits <= 6 ? new Uint8Array(1 << (2 * bits)) : null;
  if (pairLevels && pairInvalid) {
    for (let group = 0; group < 1 << (2 * bits); group++) {
      const low = group & ((1 << bits) - 1);
      const high = group >>> bits;
      pairLevels[2 * group] = codeLevels[low]!;
      pairLevels[2 * group + 1] = codeLevels[high]!;
      pairInvalid[group] = codeInvalid[low]! | codeInvalid[high]!;
    }
  }
  const codeValues: Float32Array[] = [];
  const pairValues: Float32Array[] = [];
  const blockSum = new Float64Array(DECODE_BLOCK);
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
      return decodeMean([message], layer);
    },
    decompressAdd(message, layer, _ctx, sum) {
      const d = layerSize(layer);
      const norm = readNorm(message, layer, d);
      if (sum.length !== d) throw new RangeError(`qsgd sum for ${layer.name} has ${sum.length} entries, expected ${d}`);
      const pairs = usePairs(d);
      const bad = addRange(message, valueTable(0, norm, pairs), pairs, 0, d, sum);
      if (bad !== 0) throw new WireFormatError(`qsgd message for ${layer.name} has a level above ${levels}`);
      if (norm === Infinity) sum.fill(NaN);
    },
    decompressMean(messages, layer) {
      return decodeMean(messages, layer);
    },
  };

  function readNorm(message: Uint8Array, layer: LayerShape, d: number): number {
    if (message.length !== bytesOf(d)) throw new WireFormatError(`qsgd message for ${layer.name} has ${message.length} bytes, expected ${bytesOf(d)}`);
    const norm = new DataView(message.buffer, message.byteOffset, message.byteLength).getFloat32(0, true);
    if (!(norm >= 0)) throw new WireFormatError(`qsgd message for ${layer.name} has a bad norm ${norm}`);
    return norm;
  }

  /** Pairs of codes when their table is small (bits <= 6: 4,096 pairs) and the layer large enough to pay for filling it. */
  function usePairs(d: number): boolean {
    return pairLevels !== null && d >= pairLevels.length / 2;
  }

  /**
   * Peer `slot`'s table of f32 entry values, for one or two codes per lookup: the signed levels
   * times this message's unit, rounded to f32 as decompress's output is. The arrays are the codec's,
   * refilled per message.
   */
  function valueTable(slot: number, norm: number, pairs: boolean): Float32Array {
    const signed = pairs ? pairLevels! : codeLevels;
    const cache = pairs ? pairValues : codeValues;
    while (cache.length <= slot) cache.push(new Float32Array(signed.length));
    const values = cache[slot]!;
    const unit = norm / levels;
    for (let i = 0; i < signed.length; i++) values[i] = signed[i]! * unit;
    return values;
  }

  /**
   * The mean over `messages` (rank order), with the bits of adding each one's entries into f64
   * zeros in that order and dividing: done a block of entries at a time, so the sums stay in cache
   * and no layer-sized f64 array is written.
   */
  function decodeMean(messages: Uint8Array[], layer: LayerShape): Float32Array {
    const d = layerSize(layer);
    const peers = messages.length;
    if (peers === 0) throw new RangeError(`qsgd needs at least one message for ${layer.name}`);
    const norms = messages.map((m) => readNorm(m, layer, d));
    const pairs = usePairs(d);
    const tables = norms.map((norm, p) => valueTable(p, norm, pairs));
    const out = new Float32Array(d);
    let bad = 0;
    for (let start = 0; start < d; start += DECODE_BLOCK) {
      const end = Math.min(d, start + DECODE_BLOCK);
      const sum = blockSum.fill(0);
      for (let p = 0; p < peers; p++) bad |= addRange(messages[p]!, tables[p]!, pairs, start, end, sum);
      for (let j = start; j < end; j++) out[j] = sum[j - start]! / peers;
    }
    if (bad !== 0) throw new WireFormatError(`qsgd message for ${layer.name} has a level above ${levels}`);
    // A sender's norm overflowed f32: its vector is not representable here.
    return norms.includes(Infinity) ? out.fill(NaN) : out;
  }

  /**
   * Adds entries [start, end) of `message` to into[0 ..], `start` a multiple of 8 (its codes then
   * begin on a byte). Returns 1 when a code holds a level above s, else 0.
   */
  function addRange(message: Uint8Array, values: Float32Array, pairs: boolean, start: number, end: number, into: Float64Array): number {
    let bad = 0;
    // Bytes enter `pending` LSB first until it holds a group; a group never needs a byte past the message.
    let pending = 0;
    let pendingBits = 0;
    let at = 4 + (start * bits) / 8; // after the norm
    let j = start;
    const invalid = pairInvalid ?? codeInvalid; // read only when pairs is set, which implies the pair table
    if (pairs && bits === 6) {
      // Two pairs in three bytes: no bit reservoir, no refill loop.
      for (const last = end - ((end - start) & 3); j < last; j += 4) {
        const word = message[at]! | (message[at + 1]! << 8) | (message[at + 2]! << 16);
        at += 3;
        const low = word & 0xfff;
        const high = word >>> 12;
        bad |= invalid[low]! | invalid[high]!;
        const i = j - start;
        into[i]! += values[2 * low]!;
        into[i + 1]! += values[2 * low + 1]!;
        into[i + 2]! += values[2 * high]!;
        into[i + 3]! += values[2 * high + 1]!;
      }
    }
    if (pairs) {
      const groupBits = 2 * bits;
      const groupMask = (1 << groupBits) - 1;
      for (const last = end - ((end - start) & 1); j < last; j += 2) {
        while (pendingBits < groupBits) {
          pending |= message[at++]! << pendingBits;
          pendingBits += 8;
        }
        const group = pending & groupMask;
        pending >>>= groupBits;
        pendingBits -= groupBits;
        bad |= invalid[group]!;
        into[j - start]! += values[2 * group]!;
        into[j - start + 1]! += values[2 * group + 1]!;
      }
    }
    // One code at a time: every entry without pairs, else an odd last one.
    const codeMask = (1 << bits) - 1;
    const stride = pairs ? 2 : 1; // a lone code's value is the first of a pair whose second code is 0
    for (; j < end; j++) {
      while (pendingBits < bits) {
        pending |= message[at++]! << pendingBits;
        pendingBits += 8;
      }
      const code = pending & codeMask;
      pending >>>= bits;
      pendingBits -= bits;
      bad |= codeInvalid[code]!;
      into[j - start]! += values[code * stride]!;
    }
    return bad;
  }
}
