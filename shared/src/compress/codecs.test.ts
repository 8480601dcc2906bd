import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { codecContract, CONTRACT_LAYERS, roundTrip, unbiasedViolations } from '../testing/codec-contract.ts';
import { gaussianArray } from '../testing/simulated-collective.ts';
import { CODEC_IDS } from './ids.ts';
import { createCodec, type CodecConfig } from './index.ts';
import { createQsgd } from './qsgd.ts';
import { createRandomK } from './randomk.ts';
import { createGaussianSketch } from './sketch-gaussian.ts';
import { createTopK, topKIndices } from './topk.ts';
import type { Codec, CodecContext, LayerShape } from './types.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

const RATIO = 0.1;
const RANK = 2;
const LEVELS = 4;


const size = (layer: LayerShape): number => layer.shape.reduce((a, b) => a * b, 1);
const ctx = (step: number, layerIndex = 0, peer = 0): CodecContext => ({ seed: 1234, step, layerIndex, peer });

const registry = (compressor: CodecConfig['compressor'], scaled?: boolean): Codec =>
  createCodec({ compressor, ratio: RATIO, rank: RANK, levels: LEVELS }, scaled === undefined ? {} : { scaled });

/** Every codec of the registry, as createCodec makes it, with what its contract needs to know. */
const makeRegistry = (): Array<{ codec: Codec; id: number; contraction?: 'every input' | 'in expectation'; omegaSlack?: number }> => [
  { codec: registry('none'), id: CODEC_IDS.none },
  { codec: registry('fp16'), id: CODEC_IDS.fp16 },
  { codec: registry('randomk', true), id: CODEC_IDS.randomk },
  { codec: registry('randomk', false), id: CODEC_IDS.randomk, contraction: 'in expectation' },
  { codec: registry('topk'), id: CODEC_IDS.topk },
  { codec: registry('qsgd'), id: CODEC_IDS.qsgd },
  // Its omega, n/r - 1, is what DIANA is given; the true variance is (n + 1)/r (here 11/2 + 1).
  { codec: registry('sketch-gaussian'), id: CODEC_IDS['sketch-gaussian'], omegaSlack: (11 / 2 + 1) / (10 / RANK - 1) },
  { codec: registry('sketch-haar'), id: CODEC_IDS['sketch-haar'] },
];
const REGISTRY = makeRegistry();
const CODECS = REGISTRY.map((entry) => entry.codec);

for (const { codec, ...options } of REGISTRY) codecContract(codec.name, codec, { ...options, layers: CONTRACT_LAYERS });

test('the registry gives every compressor its own stable wire id (randomk scaled or not shares one)', () => {
  assert.deepEqual(
    CODECS.map((c) => c.id),
    [CODEC_IDS.none, CODEC_IDS.fp16, CODEC_IDS.randomk, CODEC_IDS.randomk, CODEC_IDS.topk, CODEC_IDS.qsgd, CODEC_IDS['sketch-gaussian'], CODEC_IDS['sketch-haar']],
  );
  assert.deepEqual(Object.values(CODEC_IDS), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.equal(new Set(Object.values(CODEC_IDS)).size, Object.keys(CODEC_IDS).length);
  assert.deepEqual(CODECS.map((c) => c.name), ['none', 'fp16', 'randomk-scaled', 'randomk', 'topk', 'qsgd', 'sketch-gaussian', 'sketch-haar']);
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

test('message sizes equal the documented formulas (the contract checks they are what compress produces)', () => {
  for (const codec of CODECS) {
    for (const layer of CONTRACT_LAYERS) assert.equal(codec.messageBytes(layer), expectedBytes(codec, layer), `${codec.name} ${layer.name}`);
  }
  // Spot checks of the formulas themselves: conv [3,3,1,8] is 9 x 8.
  const conv = CONTRACT_LAYERS[3]!;
  assert.equal(createGaussianSketch({ rank: 2 }).messageBytes(conv), 4 * 9 * 2);
  assert.equal(createTopK({ ratio: 0.1 }).messageBytes(conv), 8 * 7);
  assert.equal(createQsgd({ levels: 16 }).messageBytes(conv), 4 + 72 * 6 / 8);
});

test('the linearity check does catch a non-linear codec (Top-K)', () => {
  const codec = createTopK({ ratio: 0.1 });
  const layer = CONTRACT_LAYERS[4]!;
  const xs = [0, 1].map((p) => gaussianArray(size(layer), 1, 'nonlinear', p));
  const sumOfDecoded = xs.map((x) => roundTrip(codec, x, layer, ctx(0))).reduce((a, b) => Float32Array.from(a, (v, j) => v + b[j]!));
  const decodedOfSum = roundTrip(codec, Float32Array.from(xs[0]!, (v, j) => v + xs[1]![j]!), layer, ctx(0));
  assert.ok(sumOfDecoded.some((v, j) => Math.abs(v - decodedOfSum[j]!) > 1e-3));
});

test('the unbiasedness check does catch a biased codec (unscaled Random-K)', () => {
  const layer: LayerShape = { name: 'm', shape: [6, 10] };
  const x = gaussianArray(60, 1, 'unbiased');
  assert.ok(unbiasedViolations(createRandomK({ ratio: RATIO, scaled: false }), x, layer, 2000, 5) > 30);
});

test('omega is tight for Random-K and the Haar sketch (the contract checks it is an upper bound)', () => {
  const layer: LayerShape = { name: 'm', shape: [6, 10] };
  const x = gaussianArray(60, 1, 'omega');
  const norm2 = x.reduce((s, v) => s + v * v, 0);
  for (const codec of CODECS.filter((c) => c.name === 'randomk-scaled' || c.name === 'sketch-haar')) {
    const draws = 1000;
    let mse = 0;
    for (let t = 0; t < draws; t++) {
      const y = roundTrip(codec, x, layer, ctx(t));
      for (let j = 0; j < 60; j++) mse += (y[j]! - x[j]!) ** 2;
    }
    const ratio = mse / draws / norm2;
    assert.ok(ratio > 0.8 * codec.omega!(layer), `${codec.name}: ${ratio} << ${codec.omega!(layer)}`);
  }
});

test('Top-K contracts by k/d on every input, ties included', () => {
  const codec = createTopK({ ratio: RATIO });
  for (let trial = 0; trial < 200; trial++) {
    CONTRACT_LAYERS.forEach((layer, l) => {
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

test('two instances draw the same bytes from the same seed; Random-K indices are shared, QSGD rounding is per peer', () => {
  const layer = CONTRACT_LAYERS[4]!;
  const x = gaussianArray(size(layer), 1, 'determinism');
  // The contract checks one instance is deterministic; every replica builds its own.
  const replicas = makeRegistry().map((e) => e.codec);
  CODECS.forEach((codec, i) => {
    const first = codec.compress(x, layer, ctx(9, 4, 1));
    const second = replicas[i]!.compress(x, layer, ctx(9, 4, 1));
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

test('Top-K and QSGD refuse messages that have the right length but bad contents with WireFormatError', () => {
  const layer = CONTRACT_LAYERS[4]!;
  const x = gaussianArray(size(layer), 1, 'malformed');
  const topk = createTopK({ ratio: RATIO });
  const badIndex = topk.compress(x, layer, ctx(0)).slice();
  new DataView(badIndex.buffer).setInt32(badIndex.length - 4, size(layer), true);
  assert.throws(() => topk.decompress(badIndex, layer, ctx(0)), { name: 'WireFormatError' });
  const overLevel = createQsgd({ levels: 4 }).compress(x, layer, ctx(0)).slice();
  overLevel[4] = 0xff; // level 7 > 4 in the first 3-bit level field
  assert.throws(() => createQsgd({ levels: 4 }).decompress(overLevel, layer, ctx(0)), { name: 'WireFormatError' });
  for (const norm of [NaN, -1]) {
    const badNorm = createQsgd({ levels: 4 }).compress(x, layer, ctx(0)).slice();
    new DataView(badNorm.buffer).setFloat32(0, norm, true);
    assert.throws(() => createQsgd({ levels: 4 }).decompress(badNorm, layer, ctx(0)), { name: 'WireFormatError' }, `norm ${norm}`);
  }
});

test('QSGD sends a finite vector whose norm overflows f32 as norm Infinity, decoded to NaN', () => {
  const codec = createQsgd({ levels: 16 });
  const layer: LayerShape = { name: 'v', shape: [7] };
  const x = new Float32Array(7).fill(3e38);
  const message = codec.compress(x, layer, ctx(0));
  assert.equal(new DataView(message.buffer).getFloat32(0, true), Infinity);
  assert.deepEqual(Array.from(message.subarray(4)), new Array(message.length - 4).fill(0));
  assert.ok(codec.decompress(message, layer, ctx(0)).every(Number.isNaN));
});
