/**
 * What a room configuration costs each member, estimated from the configuration alone (no tfjs):
 * the model's weight matrices, the arithmetic of one step (training, evaluation, GreedyLore's
 * refresh) and the bytes one member sends per step without compression. The server refuses a
 * configuration over its policy, and a joiner sees this estimate before its tab commits to a
 * heavy one.
 */
import { DEFAULT_CONFIG, type ModelName, type RunConfig } from './config.ts';

/** The weight matrices (m x n, as compressors view them) of each model on MNIST, and its parameter count. */
export const MODEL_SHAPES: Readonly<Record<ModelName, { matrices: ReadonlyArray<readonly [number, number]>; params: number; forwardFlops: number }>> = {
  // 784-256-10: dense1 784x256 (+256), dense2 256x10 (+10).
  mlp: { matrices: [[784, 256], [256, 10]], params: 203_530, forwardFlops: 2 * (784 * 256 + 256 * 10) },
  // conv 3x3x1x8, conv 3x3x8x16, dense 400x10: few weights, but convolutions over every pixel.
  cnn: { matrices: [[9, 8], [72, 16], [400, 10]], params: 5_258, forwardFlops: 2 * (26 * 26 * 8 * 9 + 11 * 11 * 16 * 72 + 400 * 10) },
};

/**
 * The largest useful rank for `model`: above the smallest side of its largest weight matrix a
 * low-rank factor or sketch is no smaller than the matrix itself.
 */
export function maxUsefulRank(model: ModelName): number {
  return Math.max(...MODEL_SHAPES[model].matrices.map(([m, n]) => Math.min(m, n)));
}

export interface ConfigCost {
  /** Weights every member holds. */
  params: number;
  /** Arithmetic per member per step, in millions of floating-point operations. */
  mflopsPerStep: number;
  /** Bytes one member sends per step uncompressed (ring all-reduce of f32, for `workers` members). */
  denseBytesPerStep: number;
  /** mflopsPerStep relative to the default configuration's. */
  relative: number;
  /** More than HEAVY_RELATIVE times the default's work: a joiner should be asked first. */
  heavy: boolean;
  /** What makes it heavy, in words (empty when it is not). */
  reasons: string[];
}

/** A configuration this many times the default's work per step is called heavy. */
export const HEAVY_RELATIVE = 8;

function mflops(config: Pick<RunConfig, 'model' | 'batchSize' | 'evalSize' | 'evalEvery' | 'compressor' | 'rank' | 'period'>): { train: number; evaluation: number; refresh: number } {
  const shape = MODEL_SHAPES[config.model];
  // Forward and backward: about three forward passes per training example.
  const train = (3 * shape.forwardFlops * config.batchSize) / 1e6;
  const evaluation = (shape.forwardFlops * config.evalSize) / config.evalEvery / 1e6;
  // GreedyLore's refresh: a Jacobi SVD of every matrix, some m*n*min(m,n) per sweep, every `period` steps.
  const refresh = config.compressor === 'greedylore'
    ? shape.matrices.reduce((sum, [m, n]) => sum + 10 * m * n * Math.min(m, n), 0) / config.period / 1e6
    : 0;
  return { train, evaluation, refresh };
}

export function estimateCost(config: RunConfig): ConfigCost {
  const parts = mflops(config);
  const total = parts.train + parts.evaluation + parts.refresh;
  const base = mflops(DEFAULT_CONFIG);
  const relative = total / (base.train + base.evaluation + base.refresh);
  const params = MODEL_SHAPES[config.model].params;
  const heavy = relative > HEAVY_RELATIVE;
  const reasons: string[] = [];
  if (heavy) {
    const share = (part: number): string => `${Math.round((100 * part) / total)} %`;
    reasons.push(`${relative.toFixed(1)}x the default work per step`);
    if (parts.train > total / 4) reasons.push(`training ${config.model} on ${config.batchSize} examples per step (${share(parts.train)})`);
    if (parts.evaluation > total / 4) reasons.push(`evaluating ${config.evalSize} examples every ${config.evalEvery} steps (${share(parts.evaluation)})`);
    if (parts.refresh > total / 4) reasons.push(`GreedyLore refreshing its subspace every ${config.period} steps (${share(parts.refresh)})`);
  }
  return {
    params,
    mflopsPerStep: Math.round(total * 10) / 10,
    denseBytesPerStep: Math.round((2 * (config.workers - 1) / Math.max(1, config.workers)) * 4 * params),
    relative: Math.round(relative * 100) / 100,
    heavy,
    reasons,
  };
}
