/**
 * EF21 and DIANA after a member leaves (docs/ALGORITHMS.md, EF21 and DIANA): their shared mean
 * (g, h) equals the mean of the members' own estimates (g_i, h_i) only while the membership is
 * fixed, so the survivors restart. Three peers run over a real ring, one leaves, the two survivors
 * continue on a ring of two.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs'; // as a runner sets tfjs up: backends, gradients, chained ops
import { createLocalGroup } from '../testing/local-group.ts';
import { gaussianArray } from '../testing/simulated-collective.ts';
import { createAggregator, type AggregatorConfig } from './index.ts';
import type { GradientAggregator, LayerShape } from './types.ts';

await tf.setBackend('cpu');

const LAYERS: LayerShape[] = [
  { name: 'kernel', shape: [20, 10] },
  { name: 'bias', shape: [10] },
];
const BASE: AggregatorConfig = { compressor: 'topk', ef: 'ef21', rank: 2, ratio: 0.05, levels: 4, period: 4, seed: 5 };
const THREE_STEPS = 6;

const three = createLocalGroup(3);
const two = createLocalGroup(2);
after(() => {
  three.close();
  two.close();
});

/** Peer `rank`'s gradient at `step`: each peer's has its own mean, so the g_i (h_i) differ. */
const heterogeneous = (rank: number, step: number): Float32Array[] =>
  LAYERS.map((layer, l) => gaussianArray(layer.shape.reduce((a, b) => a * b, 1), 1, 'restart', rank, step, l).map((v) => v + 3 * (rank - 1)));

/** The same x for everybody. */
const X = LAYERS.map((layer, l) => gaussianArray(layer.shape.reduce((a, b) => a * b, 1), 1, 'restart-x', l));

const bits = (arrays: Float32Array[]): Uint8Array[] => arrays.map((a) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));

const maxGap = (update: Float32Array[], x: Float32Array[]): number => Math.max(...update.flatMap((u, l) => Array.from(u, (v, j) => Math.abs(v - x[l]![j]!))));

/** Three peers train THREE_STEPS steps; the third leaves; the two survivors are returned. */
async function survivorsOfThree(config: AggregatorConfig): Promise<GradientAggregator[]> {
  const team = Array.from({ length: 3 }, () => createAggregator(config, LAYERS));
  for (let step = 0; step < THREE_STEPS; step++) await three.run(step, (c, rank) => team[rank]!.aggregate(heterogeneous(rank, step), c));
  return team.slice(0, 2);
}

/** Both peers of the ring of two feed `x` at steps `first`.. and return each step's update (identical on both). */
async function feed(pair: GradientAggregator[], first: number, count: number, x: Float32Array[]): Promise<Float32Array[][]> {
  const updates: Float32Array[][] = [];
  for (let step = first; step < first + count; step++) {
    const [a, b] = await two.run(step, (c, rank) => pair[rank]!.aggregate(x.map((v) => v.slice()), c));
    assert.deepEqual(bits(a!), bits(b!), `step ${step}: the survivors disagree`);
    updates.push(a!);
  }
  return updates;
}

test('EF21 (Top-K): after a departure the survivors restart and match a fresh pair bit for bit, with no offset', async () => {
  const survivors = await survivorsOfThree(BASE);
  for (const a of survivors) a.restart();
  // The restart's step is the dense initialisation again.
  assert.deepEqual(survivors[0]!.messageBytes(THREE_STEPS), { allReduce: 4 * 210, allGather: 0 });
  const fresh = Array.from({ length: 2 }, () => createAggregator(BASE, LAYERS));
  const restarted = await feed(survivors, THREE_STEPS, 4, X);
  const reference = await feed(fresh, THREE_STEPS, 4, X);
  restarted.forEach((u, i) => assert.deepEqual(bits(u), bits(reference[i]!), `step ${THREE_STEPS + i}`));
  // g_i = x on both and g = x: the update is x exactly, every step.
  for (const u of restarted) assert.deepEqual(bits(u), bits(X));
  for (const a of [...survivors, ...fresh]) a.dispose();
});

test('EF21 (Top-K): without the restart the departed member leaves a constant offset', async () => {
  const survivors = await survivorsOfThree(BASE);
  const updates = await feed(survivors, THREE_STEPS, 200, X);
  // g_i has converged to x on both survivors; g - mean g_i is still there.
  const last = updates.at(-1)!;
  assert.deepEqual(bits(last), bits(updates.at(-2)!), 'not converged');
  assert.ok(maxGap(last, X) > 0.5, `offset ${maxGap(last, X)}`);
  for (const a of survivors) a.dispose();
});

test('DIANA (Random-K): after a departure the survivors take h_i = h and match a pair that joined with h, bit for bit', async () => {
  const config: AggregatorConfig = { ...BASE, compressor: 'randomk', ef: 'diana' };
  const survivors = await survivorsOfThree(config);
  const shared = survivors[0]!.exportSharedState();
  for (const a of survivors) a.restart();
  // Two newcomers that import the shared state take h_i = h too.
  const joined = Array.from({ length: 2 }, () => createAggregator(config, LAYERS));
  for (const a of joined) a.importSharedState(shared);
  const grads = (rank: number, step: number): Float32Array[] => heterogeneous(rank + 7, step);
  for (let step = THREE_STEPS; step < THREE_STEPS + 5; step++) {
    const a = await two.run(step, (c, rank) => survivors[rank]!.aggregate(grads(rank, step), c));
    const b = await two.run(step, (c, rank) => joined[rank]!.aggregate(grads(rank, step), c));
    assert.deepEqual(bits(a[0]!), bits(b[0]!), `step ${step}`);
  }
  assert.deepEqual(survivors[0]!.exportSharedState(), joined[0]!.exportSharedState());
  for (const a of [...survivors, ...joined]) a.dispose();
});

test('DIANA (none): the survivors that restart apply x when both feed x; without the restart, x plus an offset', async () => {
  const config: AggregatorConfig = { ...BASE, compressor: 'none', ef: 'diana' };
  const restartedPair = await survivorsOfThree(config);
  for (const a of restartedPair) a.restart();
  const unrestarted = await survivorsOfThree(config);
  // omega = 0, so alpha = 1: h_i = x after one step; from then on the update is h + mean(x - h_i).
  const restarted = await feed(restartedPair, THREE_STEPS, 3, X);
  const offset = await feed(unrestarted, THREE_STEPS, 3, X);
  for (const u of restarted) assert.ok(maxGap(u, X) < 1e-6, `gap ${maxGap(u, X)}`);
  assert.ok(maxGap(offset.at(-1)!, X) > 0.5, `offset ${maxGap(offset.at(-1)!, X)}`);
  for (const a of [...restartedPair, ...unrestarted]) a.dispose();
});
