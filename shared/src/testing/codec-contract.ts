/**
 * The contract every Codec keeps (compress/types.ts), as node:test tests to run against each codec
 * of the registry. What a codec declares is checked on seeded inputs:
 * - its wire id; `messageBytes` is exactly what `compress` produces; compress is a pure function
 *   of (x, layer, context); `decompress(compress(x))` has the layer's length;
 * - `linear`: C(x1 + x2 + x3) = C(x1) + C(x2) + C(x3), and the same for D;
 * - `unbiased`: the mean of many draws is within 5 standard errors of x;
 * - `contraction` (on every input, or in expectation) and `omega` (in expectation) hold;
 * - a gather codec refuses a truncated or lengthened message with WireFormatError; its optional
 *   decompressAdd adds exactly decompress's bits, and its optional decompressMean is exactly the
 *   rank-order f64 sum divided;
 * - no tensor outlives a call.
 * The caller sets tfjs up (backend) before the tests run.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import type { Codec, CodecContext, GatherCodec, LayerShape } from '../compress/types.ts';
import { layerSize } from '../compress/layers.ts';
import { gaussianArray } from './simulated-collective.ts';

export interface CodecContractOptions {
  /** The stable wire id the codec must carry (CODEC_IDS). */
  id: number;
  /** Whether `contraction` holds on every input or only in expectation. @default 'every input' */
  contraction?: 'every input' | 'in expectation';
  /**
   * The measured E|D(C(x)) - x|^2 / |x|^2 may exceed `omega` by this factor (a declared omega
   * that is a design choice rather than a bound, as sketch-gaussian's). @default 1.1
   */
  omegaSlack?: number;
  /** Layers to compress. @default CONTRACT_LAYERS */
  layers?: LayerShape[];
}

/**
 * The kernels of sequence models, as tfjs-layers shapes them: an embedding [vocabulary, dim], an
 * LSTM's input and recurrent kernels [in, 4 x units] and [units, 4 x units] (four gates side by
 * side), a GRU's recurrent kernel [units, 3 x units]. Compressors see them as matrices like any
 * dense kernel (a low-rank codec factors the gates together).
 */
export const SEQUENCE_LAYERS: LayerShape[] = [
  { name: 'embedding', shape: [50, 8] },
  { name: 'lstm/kernel', shape: [8, 64] },
  { name: 'lstm/recurrent_kernel', shape: [16, 64] },
  { name: 'gru/recurrent_kernel', shape: [16, 48] },
];

/** Awkward shapes every codec must handle: a scalar, a single value, a vector, a conv kernel, matrices of every aspect, sequence models' kernels. */
export const CONTRACT_LAYERS: LayerShape[] = [
  { name: 'scalar', shape: [] },
  { name: 'one', shape: [1] },
  { name: 'bias', shape: [37] },
  { name: 'conv', shape: [3, 3, 1, 8] },
  { name: 'dense', shape: [24, 16] },
  { name: 'row', shape: [1, 20] },
  { name: 'narrow', shape: [30, 3] },
  ...SEQUENCE_LAYERS,
];
/** The layer of the statistical clauses: small enough for thousands of draws. */
const STAT_LAYER: LayerShape = { name: 'm', shape: [6, 10] };
const DRAWS = 2000;
/** Standard errors a statistical mean may stray before a clause fails (about 1 in 1.7 million). */
const Z = 5;
const SEED = 1234;

const ctx = (step: number, layerIndex = 0, peer = 0): CodecContext => ({ seed: SEED, step, layerIndex, peer });

/** D(C(x)) for either kind of codec. */
export function roundTrip(codec: Codec, x: Float32Array, layer: LayerShape, c: CodecContext): Float32Array {
  return codec.linear ? codec.decompress(codec.compress(x, layer, c), layer, c) : codec.decompress(codec.compress(x, layer, c), layer, c);
}

const bytesOf = (m: Float32Array | Uint8Array): Uint8Array => new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
const squaredError = (y: Float32Array, x: Float32Array): number => y.reduce((s, v, j) => s + (v - x[j]!) ** 2, 0);
const squaredNorm = (x: Float32Array): number => x.reduce((s, v) => s + v * v, 0);

/**
 * Coordinates of x where the mean of D(C(x)) over `draws` steps (peers rotating) is more than z
 * standard errors away: 0 for an unbiased codec, many for a biased one.
 */
export function unbiasedViolations(codec: Codec, x: Float32Array, layer: LayerShape, draws: number, z: number): number {
  const d = x.length;
  const sum = new Float64Array(d);
  const sumSquares = new Float64Array(d);
  for (let t = 0; t < draws; t++) {
    const y = roundTrip(codec, x, layer, ctx(t, 2, t % 3));
    for (let j = 0; j < d; j++) {
      sum[j]! += y[j]!;
      sumSquares[j]! += y[j]! * y[j]!;
    }
  }
  let violations = 0;
  for (let j = 0; j < d; j++) {
    const mean = sum[j]! / draws;
    const variance = Math.max(sumSquares[j]! / draws - mean * mean, 0);
    const bound = (z * Math.sqrt(variance)) / Math.sqrt(draws) + 1e-6 * Math.abs(x[j]!) + 1e-9;
    if (Math.abs(mean - x[j]!) > bound) violations++;
  }
  return violations;
}

/** Mean and standard deviation of |D(C(x)) - x|^2 / |x|^2 over `draws` steps. */
function errorRatio(codec: Codec, x: Float32Array, layer: LayerShape, draws: number): { mean: number; sd: number } {
  const norm = squaredNorm(x);
  const ratios = Array.from({ length: draws }, (_, t) => squaredError(roundTrip(codec, x, layer, ctx(t, 1, t % 3)), x) / norm);
  const mean = ratios.reduce((a, b) => a + b, 0) / draws;
  return { mean, sd: Math.sqrt(ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / draws) };
}

export function codecContract(name: string, codec: Codec, options: CodecContractOptions): void {
  const layers = options.layers ?? CONTRACT_LAYERS;
  const inputs = layers.map((layer, l) => gaussianArray(layerSize(layer), 1 + l, 'codec-contract', l));

  describe(`Codec contract: ${name}`, () => {
    it(`carries wire id ${options.id}`, () => {
      assert.equal(codec.id, options.id);
      assert.ok(Number.isInteger(codec.id) && codec.id >= 0 && codec.id <= 0xff);
    });

    it('produces exactly messageBytes, the same bytes for the same inputs, and decodes to the layer size', () => {
      layers.forEach((layer, l) => {
        const x = inputs[l]!;
        const message = codec.compress(x, layer, ctx(3, l, 1));
        const produced = codec.linear ? (message.length * (codec.wire === 'f16' ? 2 : 4)) : message.byteLength;
        assert.equal(produced, codec.messageBytes(layer), `${layer.name}: produced vs messageBytes`);
        assert.deepEqual(bytesOf(codec.compress(x, layer, ctx(3, l, 1))), bytesOf(message), `${layer.name}: not deterministic`);
        const y = roundTrip(codec, x, layer, ctx(3, l, 1));
        assert.equal(y.length, layerSize(layer), layer.name);
        assert.ok(y.every(Number.isFinite), `${layer.name}: non-finite decompression`);
      });
    });

    if (codec.linear) {
      it('is linear: the sum of compressed equals the compressed sum, and decompression is linear', () => {
        // fp16 sums in f32 but each message is rounded to halves: linear to half precision only.
        const relative = codec.wire === 'f16' ? 2 ** -10 : 1e-5;
        const maxAbs = (v: Float32Array): number => v.reduce((m, a) => Math.max(m, Math.abs(a)), 0);
        const add = (a: Float32Array, b: Float32Array): Float32Array => Float32Array.from(a, (v, j) => v + b[j]!);
        const close = (a: Float32Array, b: Float32Array, scale: number, tolerance: number, label: string): void => {
          assert.equal(a.length, b.length, label);
          for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j]! - b[j]!) <= tolerance * scale, `${label}[${j}]: ${a[j]} vs ${b[j]}`);
        };
        layers.forEach((layer, l) => {
          const xs = [0, 1, 2].map((p) => gaussianArray(layerSize(layer), 1 + p, 'linearity', l, p));
          // Each peer compresses with its own rank: shared parameters must not depend on it.
          const messages = xs.map((x, p) => codec.compress(x, layer, ctx(5, l, p)));
          const summed = messages.reduce(add);
          const direct = codec.compress(xs.reduce(add), layer, ctx(5, l, 0));
          close(summed, direct, messages.reduce((s, y) => s + maxAbs(y), maxAbs(direct)) + 1e-30, relative, `${layer.name} C`);
          const decoded = messages.map((y) => codec.decompress(y, layer, ctx(5, l)));
          const ofSum = codec.decompress(summed, layer, ctx(5, l));
          close(decoded.reduce(add), ofSum, decoded.reduce((s, y) => s + maxAbs(y), maxAbs(ofSum)) + 1e-30, 1e-5, `${layer.name} D`);
        });
      });
    }

    if (codec.unbiased) {
      it(`is unbiased: the mean of ${DRAWS} draws is within ${Z} standard errors of x`, () => {
        const x = gaussianArray(layerSize(STAT_LAYER), 1, 'unbiased');
        assert.equal(unbiasedViolations(codec, x, STAT_LAYER, DRAWS, Z), 0);
      });
    }

    const { contraction, omega } = codec;
    if (contraction) {
      if ((options.contraction ?? 'every input') === 'every input') {
        it('contracts by its declared delta on every input', () => {
          for (let trial = 0; trial < 20; trial++) {
            layers.forEach((layer, l) => {
              const x = gaussianArray(layerSize(layer), 1 + trial, 'contraction', trial, l);
              const delta = contraction.call(codec, layer);
              const err = squaredError(roundTrip(codec, x, layer, ctx(trial, l)), x);
              assert.ok(err <= (1 - delta) * squaredNorm(x) * (1 + 1e-6) + 1e-30, `${layer.name} trial ${trial}: ${err} > ${(1 - delta) * squaredNorm(x)}`);
            });
          }
        });
      } else {
        it(`contracts by its declared delta in expectation (${DRAWS} draws)`, () => {
          const x = gaussianArray(layerSize(STAT_LAYER), 1, 'contraction-expected');
          const { mean, sd } = errorRatio(codec, x, STAT_LAYER, DRAWS);
          const bound = 1 - contraction.call(codec, STAT_LAYER);
          assert.ok(mean <= bound + (Z * sd) / Math.sqrt(DRAWS), `mean ${mean} > ${bound}`);
        });
      }
    }

    if (omega) {
      it(`keeps E|D(C(x)) - x|^2 within omega |x|^2 (${DRAWS / 2} draws)`, () => {
        const x = gaussianArray(layerSize(STAT_LAYER), 1, 'omega');
        const { mean } = errorRatio(codec, x, STAT_LAYER, DRAWS / 2);
        const bound = omega.call(codec, STAT_LAYER) * (options.omegaSlack ?? 1.1);
        assert.ok(mean <= bound + 1e-12, `mean ${mean} > ${bound}`);
      });
    }

    if (!codec.linear) {
      it('refuses a truncated, a lengthened or an empty message with WireFormatError', () => {
        layers.forEach((layer, l) => {
          const message = codec.compress(inputs[l]!, layer, ctx(0, l));
          const longer = new Uint8Array(message.length + 1);
          longer.set(message);
          const bad = [message.subarray(0, message.length - 1), longer, ...(message.length > 0 ? [new Uint8Array(0)] : [])];
          for (const m of bad) assert.throws(() => codec.decompress(m, layer, ctx(0, l)), { name: 'WireFormatError' }, `${layer.name}: ${m.length} of ${message.length} bytes`);
        });
      });

      const { decompressAdd } = codec;
      if (decompressAdd) {
        it('decompressAdd adds exactly the bits of decompress, and refuses what decompress refuses', () => {
          layers.forEach((layer, l) => {
            const message = codec.compress(inputs[l]!, layer, ctx(2, l, 1));
            const start = Float64Array.from(gaussianArray(layerSize(layer), 1, 'decompress-add', l));
            const sum = Float64Array.from(start);
            decompressAdd.call(codec, message, layer, ctx(2, l, 1), sum);
            const decoded = codec.decompress(message, layer, ctx(2, l, 1));
            assert.deepEqual(sum, Float64Array.from(start, (v, j) => v + decoded[j]!), layer.name);
            const bad = message.subarray(0, Math.max(0, message.length - 1));
            assert.throws(() => decompressAdd.call(codec, bad, layer, ctx(2, l, 1), sum), { name: 'WireFormatError' }, layer.name);
          });
        });
      }
      const { decompressMean } = codec;
      if (decompressMean) {
        const gather: GatherCodec = codec;
        it('decompressMean has exactly the bits of decompressAdd in rank order onto f64 zeros, divided; it refuses what decompress refuses', () => {
          layers.forEach((layer, l) => {
            for (const peers of [1, 3]) {
              const messages = Array.from({ length: peers }, (_, p) => gather.compress(gaussianArray(layerSize(layer), 1 + p, 'decompress-mean', l, p), layer, ctx(2, l, p)));
              const ctxs = messages.map((_, p) => ctx(2, l, p));
              const sum = new Float64Array(layerSize(layer));
              messages.forEach((m, p) => addDecoded(gather, m, layer, ctxs[p]!, sum));
              assert.deepEqual(decompressMean.call(codec, messages, layer, ctxs), Float32Array.from(sum, (v) => v / peers), `${layer.name}, ${peers} peers`);
              const bad = [...messages.slice(0, -1), messages[peers - 1]!.subarray(0, Math.max(0, messages[peers - 1]!.length - 1))];
              assert.throws(() => decompressMean.call(codec, bad, layer, ctxs), { name: 'WireFormatError' }, layer.name);
            }
          });
        });
      }
    }

    it('leaves no tensor behind', () => {
      roundTrip(codec, inputs[0]!, layers[0]!, ctx(0)); // warm-up: tfjs may register kernels lazily
      const before = tf.memory().numTensors;
      for (let t = 0; t < 3; t++) layers.forEach((layer, l) => roundTrip(codec, inputs[l]!, layer, ctx(t, l)));
      assert.equal(tf.memory().numTensors, before);
    });
  });
}

/** decompressAdd where the codec has it, else decompress added entry by entry. */
function addDecoded(codec: GatherCodec, message: Uint8Array, layer: LayerShape, c: CodecContext, sum: Float64Array): void {
  if (codec.decompressAdd) return codec.decompressAdd(message, layer, c, sum);
  const decoded = codec.decompress(message, layer, c);
  for (let j = 0; j < sum.length; j++) sum[j]! += decoded[j]!;
}
