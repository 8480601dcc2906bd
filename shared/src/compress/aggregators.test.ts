import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { createAggregator, PowerSgdAggregator, type AggregatorConfig } from './index.ts';
import { Rng } from '../rng.ts';
import { TAG_DENSE } from './layers.ts';
import { gaussianArray, simulatePeers, type CollectiveCall } from '../testing/simulated-collective.ts';
import type { GradientAggregator, LayerShape } from './types.ts';

await tf.setBackend('cpu');
assert.equal(tf.getBackend(), 'cpu');

const RANK = 2;
const RATIO = 0.05;
const LEVELS = 8;
const PERIOD = 4;
const PEERS = 3;

const LAYERS: LayerShape[] = [
  { name: 'conv', shape: [3, 3, 1, 8] },
  { name: 'dense', shape: [64, 48] },
  { name: 'tall', shape: [120, 16] },
  { name: 'bias', shape: [48] },
  { name: 'one', shape: [1] },
  { name: 'scalar', shape: [] },
  { name: 'tiny', shape: [5, 5] },
  { name: 'row', shape: [1, 20] },
];

const size = (layer: LayerShape): number => layer.shape.reduce((a, b) => a * b, 1);

type Variant = { label: string; config: Partial<AggregatorConfig> } | { label: string; make: () => GradientAggregator };

const VARIANTS: Variant[] = [
  ...(
    [
      ['none', 'none'],
      ['none', 'diana'],
      ['fp16', 'none'],
      ['fp16', 'ef14'],
      ['randomk', 'none'],
      ['randomk', 'ef14'],
      ['randomk', 'ef21'],
      ['randomk', 'diana'],
      ['topk', 'none'],
      ['topk', 'ef14'],
      ['topk', 'ef21'],
      ['qsgd', 'none'],
      ['qsgd', 'diana'],
      ['sketch-gaussian', 'none'],
      ['sketch-gaussian', 'diana'],
      ['sketch-haar', 'none'],
      ['sketch-haar', 'diana'],
      ['powersgd', 'none'],
      ['greedylore', 'none'],
    ] as const
  ).map(([compressor, ef]) => ({ label: `${compressor}+${ef}`, config: { compressor, ef } })),
  { label: 'powersgd-1round', make: () => new PowerSgdAggregator(LAYERS, { rank: RANK, seed: 99, oneRound: true }) },
  { label: 'topk+ef14+perturb', config: { compressor: 'topk', ef: 'ef14', perturb: 0.01 } },
];

function make(variant: Variant): GradientAggregator {
  if ('make' in variant) return variant.make();
  return createAggregator({ compressor: 'none', ef: 'none', rank: RANK, ratio: RATIO, levels: LEVELS, period: PERIOD, seed: 99, ...variant.config }, LAYERS);
}

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

function gradsFor(rank: number, step: number, scale = 1): Float32Array[] {
  return LAYERS.map((layer, l) => gaussianArray(size(layer), scale * (1 + rank), 'grads', rank, step, l));
}

function bytesOf(calls: CollectiveCall[]): { allReduce: number; allGather: number } {
  const out = { allReduce: 0, allGather: 0 };
  for (const c of calls) out[c.op === 'allReduceSum' ? 'allReduce' : 'allGather'] += c.bytes;
  return out;
}

const bits = (arrays: Float32Array[]): Uint8Array[] => arrays.map((a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength));

/** Runs `steps` steps on PEERS peers; returns per step the updates and calls of every peer. */
async function run(variant: Variant, steps: number, firstStep = 0) {
  const aggregators = Array.from({ length: PEERS }, () => make(variant));
  const history: Array<{ step: number; updates: Float32Array[][]; calls: CollectiveCall[][]; expected: Array<{ allReduce: number; allGather: number }> }> = [];
  for (let step = firstStep; step < firstStep + steps; step++) {
    const expected = aggregators.map((a) => a.messageBytes(step));
    const calls: CollectiveCall[][] = [];
    const updates = await simulatePeers(PEERS, async (collective, rank) => {
      calls[rank] = collective.calls;
      return aggregators[rank]!.aggregate(gradsFor(rank, step), collective);
    }, { step });
    history.push({ step, updates, calls, expected });
  }
  return { aggregators, history };
}

for (const variant of VARIANTS) {
  test(`${variant.label}: message sizes, identical replicas, reproducible bytes`, async () => {
    const first = await run(variant, 6);
    const second = await run(variant, 6);
    first.history.forEach(({ step, updates, calls, expected }, i) => {
      for (let rank = 0; rank < PEERS; rank++) {
        // What was handed to the collective equals what the aggregator declares...
        assert.deepEqual(bytesOf(calls[rank]!), expected[rank], `step ${step} peer ${rank} declared`);
        // ...and the documented per-layer formula (EF21's first step is a dense initialisation).
        const dense = calls[rank]!.some((c) => c.tag === TAG_DENSE);
        if (!dense) assert.deepEqual(bytesOf(calls[rank]!), formulaBytes(variant.label.startsWith('powersgd-1round') ? 'powersgd-1round' : variant.label, step), `step ${step} formula`);
        else assert.deepEqual(bytesOf(calls[rank]!), { allReduce: 4 * LAYERS.reduce((s, l) => s + size(l), 0), allGather: 0 });
        // Identical bits on every replica.
        assert.deepEqual(bits(updates[rank]!), bits(updates[0]!), `step ${step} peer ${rank} update`);
        assert.deepEqual(updates[rank]!.map((u) => u.length), LAYERS.map(size));
        // The same seed and inputs produce the same bytes on the wire in a second run.
        const again = second.history[i]!.calls[rank]!;
        assert.equal(again.length, calls[rank]!.length);
        calls[rank]!.forEach((c, j) => assert.deepEqual(new Uint8Array(c.payload.buffer), new Uint8Array(again[j]!.payload.buffer), `step ${step} peer ${rank} call ${j}`));
      }
      assert.deepEqual(bits(second.history[i]!.updates[0]!), bits(updates[0]!));
    });
    const states = first.aggregators.map((a) => a.exportSharedState());
    for (const s of states) assert.deepEqual(s, states[0]);
    // bytesPerStep follows the ring/all-gather model from a steady step's payload.
    const steady = variant.label.startsWith('powersgd-1round')
      ? [formulaBytes('powersgd-1round', 0), formulaBytes('powersgd-1round', 1)]
      : [formulaBytes(variant.label, 1)];
    const model = (b: { allReduce: number; allGather: number }, n: number): number => (n <= 1 ? 0 : (2 * (n - 1) * b.allReduce) / n + (n - 1) * b.allGather);
    for (const n of [1, 2, 5]) {
      const expected = steady.reduce((s, b) => s + model(b, n), 0) / steady.length;
      assert.ok(Math.abs(first.aggregators[0]!.bytesPerStep(n) - expected) < 1e-9, `bytesPerStep(${n})`);
    }
  });

  test(`${variant.label}: a failed collective leaves the state exactly as before`, async () => {
    const steps = 5;
    const reference = await run(variant, steps);
    const aggregators = Array.from({ length: PEERS }, () => make(variant));
    for (let step = 0; step < steps; step++) {
      const callCount = reference.history[step]!.calls[0]!.length;
      const before = aggregators.map((a) => a.exportSharedState());
      // Fail the last collective of the step (the most state-changing point), then redo the step.
      await assert.rejects(
        simulatePeers(PEERS, (c, rank) => aggregators[rank]!.aggregate(gradsFor(rank, step), c), { step, failAtCall: callCount - 1 }),
        { name: 'AbortedError' },
      );
      assert.deepEqual(aggregators.map((a) => a.exportSharedState()), before);
      const updates = await simulatePeers(PEERS, (c, rank) => aggregators[rank]!.aggregate(gradsFor(rank, step), c), { step });
      assert.deepEqual(bits(updates[0]!), bits(reference.history[step]!.updates[0]!), `step ${step}`);
    }
  });
}

test('a late joiner that imports the shared state continues in lockstep', async () => {
  for (const variant of VARIANTS.filter((v) => ['powersgd+none', 'greedylore+none', 'randomk+diana', 'topk+ef21', 'powersgd-1round'].includes(v.label))) {
    const { aggregators } = await run(variant, 3);
    const joiner = make(variant);
    joiner.importSharedState(aggregators[0]!.exportSharedState());
    assert.deepEqual(joiner.exportSharedState(), aggregators[0]!.exportSharedState(), variant.label);
    // The joiner replaces peer 2 (which left): all replicas still agree.
    const team = [aggregators[0]!, aggregators[1]!, joiner];
    for (let step = 3; step < 6; step++) {
      const updates = await simulatePeers(PEERS, (c, rank) => team[rank]!.aggregate(gradsFor(rank, step), c), { step });
      for (const u of updates) assert.deepEqual(bits(u), bits(updates[0]!), `${variant.label} step ${step}`);
    }
    const states = team.map((a) => a.exportSharedState());
    for (const s of states) assert.deepEqual(s, states[0]);
  }
});

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

test('aggregators do not leak tensors', async () => {
  const variants = VARIANTS.filter((v) => ['powersgd+none', 'powersgd-1round', 'greedylore+none', 'sketch-haar+diana', 'sketch-gaussian+none'].includes(v.label));
  const aggregators = variants.map((v) => Array.from({ length: 2 }, () => make(v)));
  const step = async (s: number): Promise<void> => {
    for (const group of aggregators) await simulatePeers(2, (c, rank) => group[rank]!.aggregate(gradsFor(rank, s), c), { step: s });
  };
  await step(0); // warm-up: tfjs may register kernels lazily
  const before = tf.memory().numTensors;
  for (let s = 1; s < 6; s++) await step(s);
  assert.equal(tf.memory().numTensors, before);
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

test('bad gradients are refused before anything is sent', async () => {
  const agg = createAggregator({ compressor: 'powersgd', ef: 'none', rank: RANK, ratio: RATIO, levels: LEVELS, period: PERIOD, seed: 1 }, LAYERS);
  const grads = gradsFor(0, 0);
  grads[1]![7] = NaN;
  await assert.rejects(simulatePeers(1, (c) => agg.aggregate(grads, c)), { name: 'NonFiniteError' });
  await assert.rejects(simulatePeers(1, (c) => agg.aggregate(grads.slice(1), c)), RangeError);
  agg.dispose();
  await assert.rejects(simulatePeers(1, (c) => agg.aggregate(gradsFor(0, 0), c)));
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
    { seed: -3 },
  ];
  for (const patch of bad) assert.throws(() => createAggregator({ ...base, ...patch }, LAYERS), { name: 'ConfigError' }, JSON.stringify(patch));
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'none' }, LAYERS).name, 'randomk-scaled');
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'diana' }, LAYERS).name, 'randomk-scaled+diana');
  assert.equal(createAggregator({ ...base, compressor: 'randomk', ef: 'ef14' }, LAYERS).name, 'randomk+ef14');
  assert.equal(createAggregator({ ...base, compressor: 'powersgd', ef: 'ef14' }, LAYERS).name, 'powersgd');
});
