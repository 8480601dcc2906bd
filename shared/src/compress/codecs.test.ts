import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { fp16Codec } from './fp16.ts';
import { CODEC_IDS } from './ids.ts';
import { noneCodec } from './none.ts';
import { createQsgd } from './qsgd.ts';
import { createRandomK } from './randomk.ts';
import { createGaussianSketch } from './sketch-gaussian.ts';
import { createHaarSketch } from './sketch-haar.ts';
import { gaussianArray } from '../testing/simulated-collective.ts';
import { createTopK, topKIndices } from './topk.ts';
import type { Codec, CodecContext, LayerShape, LinearCodec } from './types.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

const RATIO = 0.1;
const RANK = 2;
const LEVELS = 4;

const LAYERS: LayerShape[] = [
  { name: 'scalar', shape: [] },
  { name: 'one', shape: [1] },
  { name: 'bias', shape: [37] },
  { name: 'conv', shape: [3, 3, 1, 8] },
  { name: 'dense', shape: [24, 16] },
  { name: 'row', shape: [1, 20] },
  { name: 'narrow', shape: [30, 3] },
];

const size = (layer: LayerShape): number => layer.shape.reduce((a, b) => a * b, 1);
const ctx = (step: number, layerIndex = 0, peer = 0): CodecContext => ({ seed: 1234, step, layerIndex, peer });

function decode(codec: Codec, message: Float32Array | Uint8Array, layer: LayerShape, c: CodecContext): Float32Array {
  return codec.linear ? codec.decompress(message as Float32Array, layer, c) : codec.decompress(message as Uint8Array, layer, c);
}

function roundTrip(codec: Codec, x: Float32Array, layer: LayerShape, c: CodecContext): Float32Array {
  return decode(codec, codec.compress(x, layer, c), layer, c);
}

const CODECS: Codec[] = [
  noneCodec,
  fp16Codec,
  createRandomK({ ratio: RATIO, scaled: true }),
  createRandomK({ ratio: RATIO, scaled: false }),
  createTopK({ ratio: RATIO }),
  createQsgd({ levels: LEVELS }),
  createGaussianSketch({ rank: RANK }),
  createHaarSketch({ rank: RANK }),
];

test('codec ids are the stable wire ids', () => {
  assert.deepEqual(
    CODECS.map((c) => c.id),
    [CODEC_IDS.none, CODEC_IDS.fp16, CODEC_IDS.randomk, CODEC_IDS.randomk, CODEC_IDS.topk, CODEC_IDS.qsgd, CODEC_IDS['sketch-gaussian'], CODEC_IDS['sketch-haar']],
  );
  assert.deepEqual(Object.values(CODEC_IDS), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
});

/** The declared formulas, written independently of the codecs. */
function expectedBytes(codec: Codec, layer: LayerShape): number {
  const d = size(layer);
  const k = d === 0 ? 0 : Math.min(d, Math.max(1, Math.round(RATIO * d)));
  const isMatrix = layer.shape.length >= 2;
  const n = layer.shape[layer.shape.length - 1] ?? 1;
  const m = d / n;
  switch (codec.name) {
    case 'none':
      return 4 * d;
    case 'fp16':
      return 2 * d;
    case 'randomk':
    case 'randomk-scaled':
      return 4 * k;
    case 'topk':
      return 8 * k;
    case 'qsgd':
      return 4 + Math.ceil((d * (Math.ceil(Math.log2(LEVELS + 1)) + 1)) / 8);
    case 'sketch-gaussian':
    case 'sketch-haar':
      return isMatrix && 2 * RANK < n ? 4 * m * RANK : 4 * d;
    default:
      throw new Error(codec.name);
  }
}

test('message sizes equal the declared formula and the bytes actually produced', () => {
  for (const codec of CODECS) {
    LAYERS.forEach((layer, l) => {
      const x = gaussianArray(size(layer), 1, 'sizes', l);
      const message = codec.compress(x, layer, ctx(3, l));
      const produced = codec.linear ? message.length * (codec.wire === 'f16' ? 2 : 4) : message.byteLength;
      assert.equal(codec.messageBytes(layer), expectedBytes(codec, layer), `${codec.name} ${layer.name}`);
      assert.equal(produced, codec.messageBytes(layer), `${codec.name} ${layer.name} produced`);
    });
  }
  // Spot checks of the formulas themselves: conv [3,3,1,8] is 9 x 8.
  const conv = LAYERS[3]!;
  assert.equal(createGaussianSketch({ rank: 2 }).messageBytes(conv), 4 * 9 * 2);
  assert.equal(createTopK({ ratio: 0.1 }).messageBytes(conv), 8 * 7);
  assert.equal(createQsgd({ levels: 16 }).messageBytes(conv), 4 + 72 * 6 / 8);
});

const maxAbs = (x: Float32Array): number => x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const add = (a: Float32Array, b: Float32Array): Float32Array => Float32Array.from(a, (v, j) => v + b[j]!);

/** |a - b| <= relative * scale elementwise, scale = the largest magnitude among the terms summed. */
function assertClose(a: Float32Array, b: Float32Array, scale: number, relative: number, label: string): void {
  assert.equal(a.length, b.length, label);
  for (let j = 0; j < a.length; j++) assert.ok(Math.abs(a[j]! - b[j]!) <= relative * scale, `${label}[${j}]: ${a[j]} vs ${b[j]}`);
}

test('linear codecs: sum of compressed equals compressed sum, and decompression is linear', () => {
  const linear = CODECS.filter((c): c is LinearCodec => c.linear);
  assert.equal(linear.length, 6);
  for (const codec of linear) {
    // fp16 sums in f32 but each message is rounded to halves: linear to half precision only.
    const relative = codec.wire === 'f16' ? 2 ** -10 : 1e-5;
    LAYERS.forEach((layer, l) => {
      const xs = [0, 1, 2].map((p) => gaussianArray(size(layer), 1 + p, 'linearity', l, p));
      // Each peer compresses with its own rank: shared parameters must not depend on it.
      const messages = xs.map((x, p) => codec.compress(x, layer, ctx(5, l, p)));
      const summed = messages.reduce(add);
      const direct = codec.compress(xs.reduce(add), layer, ctx(5, l, 0));
      const scale = messages.reduce((s, y) => s + maxAbs(y), maxAbs(direct)) + 1e-30;
      assertClose(summed, direct, scale, relative, `${codec.name} ${layer.name} C`);
      const decoded = messages.map((y) => codec.decompress(y, layer, ctx(5, l)));
      const decodedOfSum = codec.decompress(summed, layer, ctx(5, l));
      const decodedScale = decoded.reduce((s, y) => s + maxAbs(y), maxAbs(decodedOfSum)) + 1e-30;
      assertClose(decoded.reduce(add), decodedOfSum, decodedScale, 1e-5, `${codec.name} ${layer.name} D`);
    });
  }
});

test('the linearity check does catch a non-linear codec (Top-K)', () => {
  const codec = createTopK({ ratio: 0.1 });
  const layer = LAYERS[4]!;
  const xs = [0, 1].map((p) => gaussianArray(size(layer), 1, 'nonlinear', p));
  const sumOfDecoded = xs.map((x) => roundTrip(codec, x, layer, ctx(0))).reduce((a, b) => Float32Array.from(a, (v, j) => v + b[j]!));
  const decodedOfSum = roundTrip(codec, Float32Array.from(xs[0]!, (v, j) => v + xs[1]![j]!), layer, ctx(0));
  assert.ok(sumOfDecoded.some((v, j) => Math.abs(v - decodedOfSum[j]!) > 1e-3));
});

/** Per-coordinate test of E[D(C(x))] = x over `draws` steps: |mean - x| <= z * sd / sqrt(draws). */
function biasViolations(codec: Codec, x: Float32Array, layer: LayerShape, draws: number, z: number): number {
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

test('unbiased codecs: the mean of 2000 draws is within 5 standard errors of x', () => {
  const layer: LayerShape = { name: 'm', shape: [6, 10] };
  const x = gaussianArray(60, 1, 'unbiased');
  const unbiased = CODECS.filter((c) => c.unbiased && c.name !== 'none');
  assert.deepEqual(unbiased.map((c) => c.name), ['randomk-scaled', 'qsgd', 'sketch-gaussian', 'sketch-haar']);
  for (const codec of unbiased) assert.equal(biasViolations(codec, x, layer, 2000, 5), 0, codec.name);
});

test('the unbiasedness check does catch a biased codec (unscaled Random-K)', () => {
  const layer: LayerShape = { name: 'm', shape: [6, 10] };
  const x = gaussianArray(60, 1, 'unbiased');
  assert.ok(biasViolations(createRandomK({ ratio: RATIO, scaled: false }), x, layer, 2000, 5) > 30);
});

test('omega bounds the variance of the unbiased codecs (in expectation)', () => {
  const layer: LayerShape = { name: 'm', shape: [6, 10] };
  const x = gaussianArray(60, 1, 'omega');
  const norm2 = x.reduce((s, v) => s + v * v, 0);
  for (const codec of CODECS.filter((c) => c.unbiased && c.name !== 'none')) {
    const draws = 1000;
    let mse = 0;
    for (let t = 0; t < draws; t++) {
      const y = roundTrip(codec, x, layer, ctx(t));
      for (let j = 0; j < 60; j++) mse += (y[j]! - x[j]!) ** 2;
    }
    const ratio = mse / draws / norm2;
    const omega = codec.omega!(layer);
    // randomk's omega is exact in expectation; sketch-gaussian's true variance is (n + 1)/r, a bit above n/r - 1.
    const slack = codec.name === 'sketch-gaussian' ? (11 / 2 + 1) / omega : 1.1;
    assert.ok(ratio <= omega * slack, `${codec.name}: ${ratio} > ${omega}`);
    if (codec.name === 'randomk-scaled' || codec.name === 'sketch-haar') assert.ok(ratio > 0.8 * omega, `${codec.name}: ${ratio} << ${omega}`);
  }
});

test('Top-K contracts by k/d on every input, ties included', () => {
  const codec = createTopK({ ratio: RATIO });
  for (let trial = 0; trial < 200; trial++) {
    LAYERS.forEach((layer, l) => {
      const d = size(layer);
      // Every third input has many equal magnitudes, to exercise the tie-breaking.
      const x = trial % 3 === 0 ? Float32Array.from(gaussianArray(d, 1, 'ties', trial, l), (v) => Math.sign(v) * Math.round(Math.abs(v))) : gaussianArray(d, 1 + trial, 'topk', trial, l);
      const y = roundTrip(codec, x, layer, ctx(trial, l));
      let err = 0;
      let norm = 0;
      for (let j = 0; j < d; j++) {
        err += (y[j]! - x[j]!) ** 2;
        norm += x[j]! ** 2;
      }
      const delta = codec.contraction!(layer);
      assert.ok(err <= (1 - delta) * norm * (1 + 1e-6) + 1e-30, `${layer.name} trial ${trial}: ${err} > ${(1 - delta) * norm}`);
    });
  }
});

test('Top-K keeps the largest magnitudes and breaks ties by the lower index', () => {
  const codec = createTopK({ ratio: 0.3 });
  const layer: LayerShape = { name: 'v', shape: [10] };
  const x = Float32Array.from([1, -3, 2, 3, 0, -2, 3, 1, 0, 2]);
  assert.deepEqual(Array.from(roundTrip(codec, x, layer, ctx(0))), [0, -3, 0, 3, 0, 0, 3, 0, 0, 0]);
  const ties = Float32Array.from([1, -1, 1, -1, 1, 1, 1, 1, 1, 1]);
  assert.deepEqual(Array.from(roundTrip(codec, ties, layer, ctx(0))), [1, -1, 1, 0, 0, 0, 0, 0, 0, 0]);
});

test('topKIndices matches a sort-based reference (heap and sort paths, with ties)', () => {
  for (const d of [1, 7, 100, 1000, 4096]) {
    for (const k of [1, 2, Math.round(d / 100), Math.round(d / 20), Math.round(d / 3), d - 1]) {
      if (k < 1 || k > d) continue;
      for (const ties of [false, true]) {
        const x = Float32Array.from(gaussianArray(d, 3, 'topk-ref', d, k), (v) => (ties ? Math.round(v) : v));
        const reference = Array.from(x.keys())
          .sort((a, b) => Math.abs(x[b]!) - Math.abs(x[a]!) || a - b)
          .slice(0, k)
          .sort((a, b) => a - b);
        assert.deepEqual(Array.from(topKIndices(x, k)), reference, `d ${d} k ${k} ties ${ties}`);
      }
    }
  }
});

test('unscaled Random-K contracts by k/d in expectation', () => {
  const codec = createRandomK({ ratio: RATIO, scaled: false });
  const layer = LAYERS[4]!;
  const d = size(layer);
  const x = gaussianArray(d, 1, 'randomk-contraction');
  const norm = x.reduce((s, v) => s + v * v, 0);
  const draws = 2000;
  const ratios: number[] = [];
  for (let t = 0; t < draws; t++) {
    const y = roundTrip(codec, x, layer, ctx(t));
    let err = 0;
    for (let j = 0; j < d; j++) err += (y[j]! - x[j]!) ** 2;
    ratios.push(err / norm);
  }
  const mean = ratios.reduce((a, b) => a + b, 0) / draws;
  const sd = Math.sqrt(ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / draws);
  const expected = 1 - codec.contraction!(layer);
  assert.ok(Math.abs(mean - expected) <= (5 * sd) / Math.sqrt(draws), `mean ${mean} vs ${expected}`);
});

test('same seed and inputs give identical bytes; Random-K indices are shared, QSGD rounding is per peer', () => {
  const layer = LAYERS[4]!;
  const x = gaussianArray(size(layer), 1, 'determinism');
  const fresh = (): Codec[] => [
    noneCodec,
    fp16Codec,
    createRandomK({ ratio: RATIO, scaled: true }),
    createTopK({ ratio: RATIO }),
    createQsgd({ levels: LEVELS }),
    createGaussianSketch({ rank: RANK }),
    createHaarSketch({ rank: RANK }),
  ];
  const [a, b] = [fresh(), fresh()];
  a.forEach((codec, i) => {
    const first = codec.compress(x, layer, ctx(9, 4, 1));
    const second = b[i]!.compress(x, layer, ctx(9, 4, 1));
    assert.deepEqual(new Uint8Array(first.buffer, first.byteOffset, first.byteLength), new Uint8Array(second.buffer, second.byteOffset, second.byteLength), codec.name);
  });
  const qsgd = createQsgd({ levels: LEVELS });
  assert.notDeepEqual(qsgd.compress(x, layer, ctx(9, 4, 0)), qsgd.compress(x, layer, ctx(9, 4, 1)));
  const randomk = createRandomK({ ratio: RATIO, scaled: false });
  const ones = new Float32Array(size(layer)).fill(1);
  const support = (peer: number): number[] => Array.from(randomk.decompress(randomk.compress(ones, layer, ctx(9, 4, peer)), layer, ctx(9, 4, peer)));
  assert.deepEqual(support(0), support(2));
  assert.notDeepEqual(support(0), Array.from(randomk.decompress(randomk.compress(ones, layer, ctx(10, 4)), layer, ctx(10, 4))));
});

test('QSGD decodes to levels of the norm with the right signs', () => {
  const codec = createQsgd({ levels: 16 });
  const layer: LayerShape = { name: 'v', shape: [101] };
  const x = gaussianArray(101, 3, 'qsgd-levels');
  x[5] = 0;
  const norm = Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const y = roundTrip(codec, x, layer, ctx(0));
  for (let j = 0; j < 101; j++) {
    const level = (Math.abs(y[j]!) * 16) / norm;
    assert.ok(Math.abs(level - Math.round(level)) < 1e-4 && Math.round(level) <= 16);
    assert.ok(y[j] === 0 || Math.sign(y[j]!) === Math.sign(x[j]!));
    // Stochastic rounding only moves to an adjacent level.
    assert.ok(Math.abs(level - (Math.abs(x[j]!) * 16) / norm) < 1 + 1e-4);
  }
  assert.equal(y[5], 0);
  assert.deepEqual(roundTrip(codec, new Float32Array(101), layer, ctx(0)), new Float32Array(101));
  assert.equal(createQsgd({ levels: 65535 }).messageBytes(layer), 4 + Math.ceil((101 * 17) / 8));
});

test('gathered codecs reject malformed messages with WireFormatError', () => {
  const layer = LAYERS[4]!;
  const x = gaussianArray(size(layer), 1, 'malformed');
  const topk = createTopK({ ratio: RATIO });
  const message = topk.compress(x, layer, ctx(0));
  assert.throws(() => topk.decompress(message.subarray(1), layer, ctx(0)), { name: 'WireFormatError' });
  const badIndex = message.slice();
  new DataView(badIndex.buffer).setInt32(badIndex.length - 4, size(layer), true);
  assert.throws(() => topk.decompress(badIndex, layer, ctx(0)), { name: 'WireFormatError' });
  const qsgd = createQsgd({ levels: 4 });
  const q = qsgd.compress(x, layer, ctx(0));
  assert.throws(() => qsgd.decompress(q.subarray(0, q.length - 1), layer, ctx(0)), { name: 'WireFormatError' });
  const overLevel = q.slice();
  overLevel[4] = 0xff; // level 7 > 4 in the first 3-bit level field
  assert.throws(() => qsgd.decompress(overLevel, layer, ctx(0)), { name: 'WireFormatError' });
});

test('sketch codecs do not leak tensors', () => {
  const before = tf.memory().numTensors;
  for (const codec of [createGaussianSketch({ rank: RANK }), createHaarSketch({ rank: RANK })]) {
    for (let t = 0; t < 5; t++) roundTrip(codec, gaussianArray(384, 1, 'leak', t), LAYERS[4]!, ctx(t));
  }
  assert.equal(tf.memory().numTensors, before);
});
