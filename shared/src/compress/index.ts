/**
 * The compressor registry: turns the room's run configuration into the aggregator the training
 * loop calls, and refuses combinations that would not converge or make no sense.
 *
 * Error control (`ef`) per codec:
 * - none: any codec (randomk is then scaled by d/k, i.e. unbiased);
 * - ef14, ef21: biased codecs only (fp16, randomk unscaled, topk);
 * - diana: unbiased codecs with a known omega (none, randomk scaled, qsgd, sketches);
 * - powersgd and greedylore carry their own error feedback: ef none or ef14 (same thing).
 */
import { ConfigError } from '../errors.ts';
import type { RunConfig } from '../train/config.ts';
import { DianaAggregator } from './diana.ts';
import { Ef14Aggregator } from './ef14.ts';
import { Ef21Aggregator } from './ef21.ts';
import { fp16Codec } from './fp16.ts';
import { GreedyLoreAggregator } from './greedylore.ts';
import { noneCodec } from './none.ts';
import { PerturbedAggregator } from './perturb.ts';
import { PlainAggregator } from './plain.ts';
import { PowerSgdAggregator } from './powersgd.ts';
import { createQsgd } from './qsgd.ts';
import { createRandomK } from './randomk.ts';
import { createGaussianSketch } from './sketch-gaussian.ts';
import { createHaarSketch } from './sketch-haar.ts';
import { createTopK } from './topk.ts';
import type { Codec, GradientAggregator, LayerShape } from './types.ts';

export { CODEC_IDS } from './ids.ts';
export type { Codec, CodecContext, CollectiveBytes, GatherCodec, GradientAggregator, LayerShape, LinearCodec } from './types.ts';
export { PowerSgdAggregator, type PowerSgdInit } from './powersgd.ts';
export { GreedyLoreAggregator, type GreedyLoreInit } from './greedylore.ts';
export { PlainAggregator } from './plain.ts';
export { Ef14Aggregator } from './ef14.ts';
export { Ef21Aggregator } from './ef21.ts';
export { DianaAggregator } from './diana.ts';
export { PerturbedAggregator } from './perturb.ts';

export type CodecConfig = Pick<RunConfig, 'compressor' | 'rank' | 'ratio' | 'levels'>;

export type AggregatorConfig = Pick<RunConfig, 'compressor' | 'rank' | 'ratio' | 'levels' | 'period' | 'ef' | 'seed'> & {
  /** Std of the shared-seed Gaussian noise added to every update (docs/ALGORITHMS.md, Perturbation). @default 0 (none) */
  perturb?: number;
  /** PowerSGD's rounds per step; 1 is the alternating one-round variant (docs/ALGORITHMS.md, PowerSGD). @default 2 */
  powersgdRounds?: 1 | 2;
};

function checkInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
}

/**
 * The single-message codec of a codec compressor (not powersgd/greedylore, which are aggregators).
 * `scaled` picks Random-K's unbiased (d/k-scaled) form.
 */
export function createCodec(config: CodecConfig, options: { scaled?: boolean } = {}): Codec {
  switch (config.compressor) {
    case 'none':
      return noneCodec;
    case 'fp16':
      return fp16Codec;
    case 'randomk':
      if (!(config.ratio > 0 && config.ratio <= 1)) throw new ConfigError(`ratio must be in (0, 1], got ${config.ratio}`);
      return createRandomK({ ratio: config.ratio, scaled: options.scaled ?? true });
    case 'topk':
      if (!(config.ratio > 0 && config.ratio <= 1)) throw new ConfigError(`ratio must be in (0, 1], got ${config.ratio}`);
      return createTopK({ ratio: config.ratio });
    case 'qsgd':
      checkInt('levels', config.levels, 1, 0xffff);
      return createQsgd({ levels: config.levels });
    case 'sketch-gaussian':
      checkInt('rank', config.rank, 1, 0xffff);
      return createGaussianSketch({ rank: config.rank });
    case 'sketch-haar':
      checkInt('rank', config.rank, 1, 0xffff);
      return createHaarSketch({ rank: config.rank });
    case 'powersgd':
    case 'greedylore':
      throw new ConfigError(`${config.compressor} is an aggregator, not a single-message codec`);
    default:
      throw new ConfigError(`unknown compressor ${JSON.stringify(config.compressor)}`);
  }
}

export function createAggregator(config: AggregatorConfig, layers: LayerShape[]): GradientAggregator {
  checkInt('seed', config.seed, 0, 0xffffffff);
  const perturb = config.perturb ?? 0;
  if (!(perturb >= 0 && Number.isFinite(perturb))) throw new ConfigError(`perturb must be a finite std >= 0, got ${perturb}`);
  const inner = createInner(config, layers);
  return perturb > 0 ? new PerturbedAggregator(inner, perturb, config.seed) : inner;
}

function createInner(config: AggregatorConfig, layers: LayerShape[]): GradientAggregator {
  const { compressor, ef, seed } = config;
  if (compressor === 'powersgd' || compressor === 'greedylore') {
    if (ef !== 'none' && ef !== 'ef14') throw new ConfigError(`${compressor} carries its own error feedback; ef must be none or ef14, not ${ef}`);
    checkInt('rank', config.rank, 1, 0xffff);
    if (compressor === 'powersgd') {
      const rounds = config.powersgdRounds ?? 2;
      if (rounds !== 1 && rounds !== 2) throw new ConfigError(`powersgdRounds must be 1 or 2, got ${rounds}`);
      return new PowerSgdAggregator(layers, { rank: config.rank, seed, oneRound: rounds === 1 });
    }
    checkInt('period', config.period, 1, 0xffffffff);
    return new GreedyLoreAggregator(layers, { rank: config.rank, period: config.period, seed });
  }
  const codec = createCodec(config, { scaled: ef === 'none' || ef === 'diana' });
  switch (ef) {
    case 'none':
      return new PlainAggregator(codec, layers, seed);
    case 'ef14':
    case 'ef21':
      if (codec.unbiased) throw new ConfigError(`${ef} is for biased codecs; ${compressor} is unbiased (use ef=none or diana)`);
      return ef === 'ef14' ? new Ef14Aggregator(codec, layers, seed) : new Ef21Aggregator(codec, layers, seed);
    case 'diana':
      if (!codec.unbiased || codec.omega === undefined) throw new ConfigError(`diana needs an unbiased codec; ${compressor} is biased (use ef14 or ef21)`);
      return new DianaAggregator(codec, layers, seed);
    default:
      throw new ConfigError(`unknown error control ${JSON.stringify(ef)}`);
  }
}
