/** What the compression benchmark measures: the model, the gradients, every compressor case, and the method text. */
import { layerSize, matrixView, Rng, type AggregatorConfig, type LayerShape } from '@tabswarm/shared';

export const METHOD = [
  'Model: MLP 784-1024-256-10 with biases (1,068,810 parameters), gradients drawn once from the seeded Rng with a decaying spectrum (8 rank-1 terms, halving energy, plus 10% noise); 4 gradient sets rotate over steps and peers.',
  'Peer path (headline): one peer\'s `aggregate` for a 4-peer step against an echo collective (all-reduce returns 4x the input, all-gather returns 4 copies of the blob). This is compress + the tfjs products + decompress (all 4 blobs for all-gather codecs) + error-feedback bookkeeping; the echo\'s own copying is timed separately and subtracted. Chosen over simulatePeers total/4 because a real peer only pays for its own message and the interleaved peers of simulatePeers also pay for the in-memory reduction, which stands in for the network.',
  'Simulated (cross-check): all 4 peers through `simulatePeers` of @tabswarm/shared/testing, wall time / 4, starting from the peer path\'s shared state (exportSharedState/importSharedState), so GreedyLore does not refresh again and EF21 is past its dense first step. It includes the in-memory reduction (and, for fp16, its per-hop half rounding).',
  'Warm-up steps run first (JIT, shader compilation; GreedyLore\'s step 0 is its first, cold refresh, EF21\'s its dense initialisation, both reported as step 0). GreedyLore\'s later, warm refreshes (steps 100, 200, 300, after everything else) are timed apart and reported beside its steady step, which never includes one. Timed rounds then interleave the cases: round r times one step of each case, so machine noise hits all of them; a case whose steps are slow gets fewer rounds (steps column) within a time budget.',
  'Times are medians and p90 (nearest rank) in ms over the timed steps. "vs none" is the median over rounds of (this case / none) measured in the same round; a case compared with another (GreedyLore with PowerSGD rank 4) reports that ratio too. Bytes are `bytesPerStep(4)`: what one peer sends in one steady step with 4 peers (ring all-reduce 2(N-1)/N of its input, all-gather (N-1) times its blob), frame headers excluded; "ratio to fp32" is none\'s bytes / these bytes.',
].join('\n');

/** A model of about 1M parameters: MNIST MLP 784-1024-256-10 with biases, kernels [in, out]. */
export const MODEL_LAYERS: LayerShape[] = [
  { name: 'dense1/kernel', shape: [784, 1024] },
  { name: 'dense1/bias', shape: [1024] },
  { name: 'dense2/kernel', shape: [1024, 256] },
  { name: 'dense2/bias', shape: [256] },
  { name: 'dense3/kernel', shape: [256, 10] },
  { name: 'dense3/bias', shape: [10] },
];

export interface BenchCase {
  /** Stable key in the results file. */
  id: string;
  /** What the tables show. */
  label: string;
  config: AggregatorConfig;
  /** Another case whose steady step this one is compared with, round by round (a target of the docs). */
  compareWith?: string;
}

const BASE_CONFIG: AggregatorConfig = { compressor: 'none', rank: 4, ratio: 0.01, levels: 16, period: 100, ef: 'none', seed: 42 };

const benchCase = (id: string, label: string, config: Partial<AggregatorConfig>, compareWith?: string): BenchCase => ({
  id,
  label,
  config: { ...BASE_CONFIG, ...config },
  ...(compareWith === undefined ? {} : { compareWith }),
});

/** Steps between a case's periodic dense refreshes (GreedyLore's subspace), or null when it has none. */
export function refreshPeriod(kase: BenchCase): number | null {
  return kase.config.compressor === 'greedylore' ? kase.config.period : null;
}

/** Every compressor configuration the registry offers that the docs discuss; `none` first (the reference). */
export const CASES: BenchCase[] = [
  benchCase('none', 'none (fp32)', {}),
  benchCase('fp16', 'fp16', { compressor: 'fp16' }),
  benchCase('randomk', 'randomk 1%, scaled (ef none)', { compressor: 'randomk' }),
  benchCase('randomk-ef14', 'randomk 1%, unscaled + ef14', { compressor: 'randomk', ef: 'ef14' }),
  benchCase('topk-ef14', 'topk 1% + ef14', { compressor: 'topk', ef: 'ef14' }),
  benchCase('topk-ef21', 'topk 1% + ef21', { compressor: 'topk', ef: 'ef21' }),
  benchCase('randomk-diana', 'randomk 1%, scaled + diana', { compressor: 'randomk', ef: 'diana' }),
  benchCase('qsgd', 'qsgd 16 levels', { compressor: 'qsgd' }),
  benchCase('sketch-gaussian', 'sketch-gaussian rank 4', { compressor: 'sketch-gaussian' }),
  benchCase('sketch-haar', 'sketch-haar rank 4', { compressor: 'sketch-haar' }),
  benchCase('powersgd-2', 'powersgd rank 2', { compressor: 'powersgd', rank: 2 }),
  benchCase('powersgd-4', 'powersgd rank 4', { compressor: 'powersgd', rank: 4 }),
  benchCase('greedylore-4', 'greedylore rank 4, period 100', { compressor: 'greedylore', rank: 4, period: 100 }, 'powersgd-4'),
];

/** Peers of the simulated step. */
export const PEERS = 4;

/**
 * Gradients with a decaying spectrum: each matrix is 8 rank-1 terms whose energy halves from one
 * to the next, plus 10% isotropic noise, scaled to entries of about 1e-2. Low-rank codecs then
 * have structure to find, as they do on real gradients.
 */
export function makeGradients(layers: LayerShape[], seed: number, variant: number): Float32Array[] {
  return layers.map((layer, l) => {
    const rng = Rng.derive(seed, 'bench-gradient', variant, l);
    const size = layerSize(layer);
    const view = matrixView(layer);
    if (view === null) return rng.fillGaussian(new Float32Array(size), 1e-2) as Float32Array;
    const { m, n } = view;
    const out = rng.fillGaussian(new Float32Array(size), 1e-3) as Float32Array;
    const a = new Float32Array(m);
    const b = new Float32Array(n);
    for (let term = 0; term < 8; term++) {
      rng.fillGaussian(a, 1e-2 * 0.5 ** (term / 2));
      rng.fillGaussian(b, 1);
      for (let i = 0; i < m; i++) {
        const ai = a[i]!;
        const row = i * n;
        for (let j = 0; j < n; j++) out[row + j]! += ai * b[j]!;
      }
    }
    return out;
  });
}
