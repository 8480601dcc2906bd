/**
 * Experiment 2, greedy low-rank compression with error feedback (GreedyLore) on real MNIST
 * gradients: (a) the per-step contraction |M - C(M)|^2 / |M|^2 against PowerSGD and a fixed
 * random projection at equal rank; (b) training loss curves of the three and of uncompressed
 * training with 4 workers; (c) steps to a target loss with 1, 2, 4, 8 workers (the linear
 * speed-up claim), with momentum SGD and with Adam.
 */
import { Adam, createAggregator, DEFAULT_CONFIG, mnistTask, Rng, SgdMomentum, subset, type LayerShape, type Optimizer } from '@tabswarm/shared';
import type { SmallMnist } from './mnist-small.ts';
import { RandomProjectionAggregator } from './random-projection.ts';
import { averagedUpdate, type Aggregate } from './steps.ts';

export const RANK = 4;
export const PERIOD = 25;
export type CompressorLabel = 'uncompressed' | 'GreedyLore' | 'PowerSGD' | 'random projection';
export type OptimizerLabel = 'MSGD' | 'Adam';

export function makeAggregator(label: CompressorLabel, layers: LayerShape[]): Aggregate {
  const base = { ef: 'none' as const, rank: RANK, ratio: 1, levels: 1, period: PERIOD, seed: 77 };
  if (label === 'random projection') return new RandomProjectionAggregator(layers, RANK, 77);
  return createAggregator({ ...base, compressor: label === 'uncompressed' ? 'none' : label === 'GreedyLore' ? 'greedylore' : 'powersgd' }, layers);
}

function makeOptimizer(label: OptimizerLabel, sizes: number[], lr: number): Optimizer {
  return label === 'MSGD' ? new SgdMomentum(sizes, lr, 0.9) : new Adam(sizes, lr);
}

export interface TrainInit {
  data: SmallMnist;
  compressor: CompressorLabel;
  optimizer: OptimizerLabel;
  lr: number;
  workers: number;
  batch: number;
  steps: number;
  evalEvery: number;
  /** Stop at the first evaluation with training loss at or below this. */
  target?: number;
  /** Per step, the contraction of layer 0 (only with one worker, whose error memory we can follow). */
  contraction?: boolean;
}

export interface TrainRun {
  curve: Array<[number, number]>;
  /** First evaluated step with loss <= target, or null. */
  reached: number | null;
  accuracy: number;
  /** |e_{t+1}|^2 / |M_t|^2 of layer 0 on the compressed steps. */
  contractions: number[];
}

export async function train(init: TrainInit): Promise<TrainRun> {
  const model = mnistTask('mlp', () => Promise.resolve({ train: init.data.train, test: init.data.test })).createModel(init.data.train, DEFAULT_CONFIG);
  const weights = model.initialWeights(5);
  const sizes = model.layers.map((l) => l.shape.reduce((a, b) => a * b, 1));
  const optimizer = makeOptimizer(init.optimizer, sizes, init.lr);
  const aggregators = Array.from({ length: init.workers }, () => makeAggregator(init.compressor, model.layers));
  const curve: Array<[number, number]> = [];
  const contractions: number[] = [];
  let error = new Float32Array(sizes[0]!);
  let reached: number | null = null;
  try {
    for (let step = 0; step <= init.steps; step++) {
      model.setWeights(weights);
      if (step % init.evalEvery === 0) {
        const loss = model.gradient(init.data.lossSet).loss;
        curve.push([step, loss]);
        if (init.target !== undefined && loss <= init.target) {
          reached = step;
          break;
        }
      }
      if (step === init.steps) break;
      // Worker w's batch: seeded by (step, worker), drawn from the whole training set (iid shards).
      const grads = aggregators.map((_, w) => model.gradient(subset(init.data.train, Rng.derive(11, step, w).sample(init.data.train.count, init.batch))).grads);
      const corrected = init.contraction ? Float32Array.from(grads[0]![0]!, (g, j) => g + error[j]!) : undefined;
      const update = await averagedUpdate(aggregators, grads, step);
      if (corrected) {
        const refresh = init.compressor === 'GreedyLore' && step % PERIOD === 0;
        error = refresh ? new Float32Array(error.length) : Float32Array.from(corrected, (m, j) => m - update[0]![j]!);
        if (!refresh) contractions.push(sumSquares(error) / sumSquares(corrected));
      }
      optimizer.apply(weights, update);
    }
    model.setWeights(weights);
    return { curve, reached, accuracy: model.accuracy(init.data.test), contractions };
  } finally {
    aggregators.forEach((a) => a.dispose());
    model.dispose();
  }
}

function sumSquares(a: Float32Array): number {
  let s = 0;
  for (const v of a) s += v * v;
  return s;
}
