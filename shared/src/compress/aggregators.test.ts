import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { Rng } from '../rng.ts';
import { aggregatorContract } from '../testing/aggregator-contract.ts';
import { SEQUENCE_LAYERS } from '../testing/codec-contract.ts';
import { gaussianArray, simulatePeers } from '../testing/simulated-collective.ts';
import { COMPRESSORS, ERROR_CONTROLS } from '../train/config.ts';
import { CODEC_IDS, createAggregator, PowerSgdAggregator, type AggregatorConfig } from './index.ts';
import type { GradientAggregator, LayerShape } from './types.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

const RANK = 2;
const RATIO = 0.05;
const LEVELS = 8;
const PERIOD = 4;

const LAYERS: LayerShape[] = [
  { name: 'conv', shape: [3, 3, 1, 8] },
  { name: 'dense', shape: [64, 48] },
  { name: 'tall', shape: [120, 16] },
  { name: 'bias', shape: [48] },
  { name: 'one', shape: [1] },
  { name: 'scalar', shape: [] },
  { name: 'tiny', shape: [5, 5] },
  { name: 'row', shape: [1, 20] },
  ...SEQUENCE_LAYERS,
];

const size = (layer: LayerShape): number => layer.shape.reduce((a, b) => a * b, 1);

const BASE: AggregatorConfig = { compressor: 'none', ef: 'none', rank: RANK, ratio: RATIO, levels: LEVELS, period: PERIOD, seed: 99 };

interface Variant {
  label: string;
  make: () => GradientAggregator;
  id: number;
  steadySteps?: number[];
}

/** Every combination the registry accepts (it refuses the others with ConfigError, tested below). */
const VALID: Variant[] = COMPRESSORS.flatMap((compressor) =>
  ERROR_CONTROLS.flatMap((ef): Variant[] => {
    const config = { ...BASE, compressor, ef };
    try {
      createAggregator(config, LAYERS);
    } catch (err) {
      if ((err as Error).name === 'ConfigError') return [];
      throw err;
    }
    return [{ label: `${compressor}+${ef}`, make: () => createAggregator(config, LAYERS), id: CODEC_IDS[compressor] }];
  }),
);

const VARIANTS: Variant[] = [
  ...VALID,
  { label: 'powersgd-1round', make: () => new PowerSgdAggregator(LAYERS, { rank: RANK, seed: 99, oneRound: true }), id: CODEC_IDS.powersgd, steadySteps: [0, 1] },
  { label: 'topk+ef14+perturb', make: () => createAggregator({ ...BASE, compressor: 'topk', ef: 'ef14', perturb: 0.01 }, LAYERS), id: CODEC_IDS.topk },
];

/**
 * Top-K sends the chosen values exactly and averages the gathered messages in f64, where a mean of
 * finite f32 values stays finite; every other first step sums in f32 (all-reduce, EF21's dense
 * step), scales (fp16, Random-K, sketches, PowerSGD) or takes a norm (QSGD) that overflows.
 */
const overflowStaysFinite = (label: string): boolean => label.startsWith('topk+') && !label.includes('ef21');

for (const variant of VARIANTS) {
  aggregatorContract(variant.label, variant.make, {
    layers: LAYERS,
    id: variant.id,
    overflowStaysFinite: overflowStaysFinite(variant.label),
    ...(variant.steadySteps ? { steadySteps: variant.steadySteps } : {}),
  });
}

test('the registry accepts exactly the documented compressor x error-control combinations', () => {
  assert.deepEqual(VALID.map((v) => v.label), [
    'none+none', 'none+diana',
    'fp16+none', 'fp16+ef14', 'fp16+ef21',
    'randomk+none', 'randomk+ef14', 'randomk+ef21', 'randomk+diana',
    'topk+none', 'topk+ef14', 'topk+ef21',
    'qsgd+none', 'qsgd+diana',
    'sketch-gaussian+none', 'sketch-gaussian+diana',
    'sketch-haar+none', 'sketch-haar+diana',
    'powersgd+none', 'powersgd+ef14',
    'greedylore+none', 'greedylore+ef14',
  ]);
});

/** Each layer's bytes per (non-refresh) step from the documented formulas, written independently. */
function formulaBytes(label: string, step: number): { allReduce: number; allGather: number } {
  let allReduce = 0;
  let allGather = 0;
  const compressor = label.split('+')[0]!;
  for (const layer of LAYERS) {
    const d = size(layer);
    const n = layer.shape.length >= 2 ? layer.shape[layer.shape.length - 1]! : 0;
    const m = layer.shape.length >= 2 ? d / n : 0;
    const k = Math.min(d, Math.max(1, Math.round(RATIO * d)));
    const lo = Math.min(m, n);
    const hi = Math.max(m, n);
    switch (compressor) {
      case 'none': allReduce += 4 * d; break;
      case 'fp16': allReduce += 2 * d; break;
      case 'randomk': allReduce += 4 * k; break;
      case 'topk': allGather += 8 * k; break;
      case 'qsgd': allGather += 4 + Math.ceil((d * (Math.ceil(Math.log2(LEVELS + 1)) + 1)) / 8); break;
      case 'sketch-gaussian':
      case 'sketch-haar': allReduce += m > 0 && 2 * RANK < n ? 4 * m * RANK : 4 * d; break;
      case 'powersgd': allReduce += m > 0 && RANK * (m + n) < (m * n) / 2 ? 4 * RANK * (m + n) : 4 * d; break;
      case 'powersgd-1round': allReduce += m > 0 && RANK * (m + n) < (m * n) / 2 ? 4 * RANK * (step % 2 === 0 ? m : n) : 4 * d; break;
      case 'greedylore':
        allReduce += step % PERIOD === 0 ? 4 * d : m > 0 && RANK < lo && lo + RANK * hi < (m * n) / 2 ? 4 * (lo + RANK * hi) : 4 * d;
        break;
      default: throw new Error(label);
    }
  }
  return { allReduce, allGather };
}

/** The ring/all-gather model of one message (written apart from the aggregators' own). */
const model = (b: { allReduce: number; allGather: number }, n: number): number => (n <= 1 ? 0 : (2 * (n - 1) * b.allReduce) / n + (n - 1) * b.allGather);

test('messageBytes and bytesPerStep follow the documented per-layer formulas', () => {
  const dense = { allReduce: 4 * LAYERS.reduce((s, l) => s + size(l), 0), allGather: 0 };
  for (const variant of VARIANTS) {
    const formula = variant.label;
    const aggregator = variant.make();
    for (let step = 0; step < 6; step++) {
      // A fresh EF21 starts with a dense step (its shared mean); the contract checks the steady ones on the wire.
      const expected = variant.label.includes('ef21') ? dense : formulaBytes(formula, step);
      assert.deepEqual(aggregator.messageBytes(step), expected, `${variant.label} step ${step}`);
    }
    const steady = formula === 'powersgd-1round' ? [formulaBytes(formula, 0), formulaBytes(formula, 1)] : [formulaBytes(formula, 1)];
    for (const n of [1, 2, 5]) {
      const expected = steady.reduce((s, b) => s + model(b, n), 0) / steady.length;
      assert.ok(Math.abs(aggregator.bytesPerStep(n) - expected) < 1e-9, `${variant.label} bytesPerStep(${n})`);
    }
  }
});

function gradsFor(rank: number, step: number, scale = 1): Float32Array[] {
  return LAYERS.map((layer, l) => gaussianArray(size(layer), scale * (1 + rank), 'grads', rank, step, l));
}

const bits = (arrays: Float32Array[]): Uint8Array[] => arrays.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

test('shared state from another kind, codec or layout is refused with WireFormatError', () => {
  const base = { rank: RANK, ratio: RATIO, levels: LEVELS, period: PERIOD, seed: 1 } as const;
  const powersgd = createAggregator({ ...base, compressor: 'powersgd', ef: 'none' }, LAYERS);
  const greedy = createAggregator({ ...base, compressor: 'greedylore', ef: 'none' }, LAYERS);
  const diana = createAggregator({ ...base, compressor: 'randomk', ef: 'diana' }, LAYERS);
  const ef21 = createAggregator({ ...base, compressor: 'randomk', ef: 'ef21' }, LAYERS);
  const small = createAggregator({ ...base, compressor: 'powersgd', ef: 'none' }, LAYERS.slice(0, 2));
  assert.throws(() => greedy.importSharedState(powersgd.exportSharedState()), { name: 'WireFormatError' });
  assert.throws(() => ef21.importSharedState(diana.exportSharedState()), { name: 'WireFormatError' });
  assert.throws(() => powersgd.importSharedState(small.exportSharedState()), { name: 'WireFormatError' });
  assert.throws(() => powersgd.importSharedState(powersgd.exportSharedState().subarray(0, 20)), { name: 'WireFormatError' });
});

test('the perturbation is the same on every replica, has the asked std and leaves the state alone', async () => {
  const std = 0.5;
  const base = { compressor: 'topk', ef: 'ef14', rank: RANK, ratio: RATIO, levels: LEVELS, period: PERIOD, seed: 7 } as const;
  const plain = Array.from({ length: 2 }, () => createAggregator(base, LAYERS));
  const noisy = Array.from({ length: 2 }, () => createAggregator({ ...base, perturb: std }, LAYERS));
  assert.equal(noisy[0]!.name, 'topk+ef14+perturb');
  const diffs: number[] = [];
  for (let step = 0; step < 3; step++) {
    const a = await simulatePeers(2, (c, r) => plain[r]!.aggregate(gradsFor(r, step), c), { step });
    const b = await simulatePeers(2, (c, r) => noisy[r]!.aggregate(gradsFor(r, step), c), { step });
    assert.deepEqual(bits(b[0]!), bits(b[1]!));
    b[0]!.forEach((u, l) => {
      // The difference is exactly this step's noise: the inner state never saw it.
      const rng = Rng.derive(7, step, l, 'perturb');
      u.forEach((v, j) => {
        const diff = v - a[0]![l]![j]!;
        assert.ok(Math.abs(diff - std * rng.gaussian()) < 1e-5, `step ${step} layer ${l}`);
        diffs.push(diff);
      });
    });
  }
  const mean = diffs.reduce((s, v) => s + v, 0) / diffs.length;
  const sd = Math.sqrt(diffs.reduce((s, v) => s + (v - mean) ** 2, 0) / diffs.length);
  assert.ok(Math.abs(mean) < 0.05 && Math.abs(sd - std) < 0.02 * std, `mean ${mean} sd ${sd}`);
});

test('a wrong number of gradients is refused before anything is sent; a disposed aggregator with DisposedError', async () => {
  const agg = createAggregator({ ...BASE, compressor: 'powersgd' }, LAYERS);
  await assert.rejects(simulatePeers(1, (c) => agg.aggregate(gradsFor(0, 0).slice(1), c)), RangeError);
  agg.dispose();
  await assert.rejects(simulatePeers(1, (c) => agg.aggregate(gradsFor(0, 0), c)), { name: 'DisposedError' });
});

test('createAggregator refuses invalid combinations with ConfigError', () => {
  const base: AggregatorConfig = { compressor: 'none', ef: 'none', rank: 2, ratio: 0.1, levels: 4, period: 10, seed: 1 };
  const bad: Array<Partial<AggregatorConfig>> = [
    { compressor: 'qsgd', ef: 'ef14' },
    { compressor: 'sketch-gaussian', ef: 'ef21' },
    { compressor: 'none', ef: 'ef14' },
    { compressor: 'topk', ef: 'diana' },
    { compressor: 'fp16', ef: 'diana' },
    { compressor: 'powersgd', ef: 'ef21' },
    { compressor: 'powersgd', ef: 'diana' },
    { compressor: 'greedylore', ef: 'diana' },
    { compressor: 'greedylore', ef: 'ef21' },
    { compressor: 'topk', ratio: 0 },
    { compressor: 'randomk', ratio: 1.5 },
    { compressor: 'qsgd', levels: 0 },
    { compressor: 'sketch-haar', rank: 0 },
    { compressor: 'powersgd', rank: 1.5 },
    { compressor: 'greedylore', period: 0 },
    { compressor: 'bogus' as AggregatorConfig['compressor'] },
    { ef: 'bogus' as AggregatorConfig['ef'] },
    { perturb: -1 },
    { compressor: 'powersgd', powersgdRounds: 3 as 1 },
    { seed: -3 },
  ];
  for (const patch of bad) assert.throws(() => createAggregator({ ...base, ...patch }, LAYERS), { name: 'ConfigError' }, JSON.stringify(patch));
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'none' }, LAYERS).name, 'randomk-scaled');
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'diana' }, LAYERS).name, 'randomk-scaled+diana');
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'ef14' }, LAYERS).name, 'randomk+ef14');
  assert.equal(createAggregator({ ...base, compressor: 'powersgd', ef: 'ef14' }, LAYERS).name, 'powersgd');
  assert.equal(createAggregator({ ...base, compressor: 'powersgd', powersgdRounds: 1 }, LAYERS).name, 'powersgd-1round');
  assert.equal(createAggregator({ ...base, compressor: 'powersgd', powersgdRounds: 1, perturb: 0.1 }, LAYERS).name, 'powersgd-1round+perturb');
});
