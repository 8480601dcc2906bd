/**
 * The compression benchmark's core. It runs unchanged in Node (tfjs cpu backend) and in Chromium
 * (tfjs webgl backend): no DOM, no Node built-ins; the callers pass in what they know about the
 * machine.
 *
 * What one measurement is (see METHOD below, which the results file repeats):
 * - peer path: one peer's `aggregate` call for a 4-peer step, against an echo collective that hands
 *   back what a 4-peer collective would (the sum of 4 vectors, 4 blobs). Compression, the local
 *   tfjs products, decompression of what comes back and error-feedback bookkeeping are timed; the
 *   echo's own copying is timed apart and subtracted, because it stands in for the network.
 * - simulated: the same step for 4 peers at once through `simulatePeers` (one thread, peers
 *   interleaved), total wall time / 4. It includes the in-memory reduction, so it is a cross-check
 *   of the peer path, not the headline.
 * - cases are interleaved: each round times one step of every case, so a noisy stretch of the
 *   shared machine hits all of them; time ratios to `none` are medians of per-round ratios.
 */
import * as tf from '@tensorflow/tfjs';
import { type Collective, createAggregator, type AggregatorConfig, type CollectiveBytes, type GradientAggregator, type LayerShape, layerSize, matrixView, sentBytes, Rng, yieldToEventLoop } from '@tabswarm/shared';
// The browser-safe corner of the testing module (the rest registers node:test suites).
import { simulatePeers } from '@tabswarm/shared/testing/simulated-collective';

export const METHOD = [
  'Model: MLP 784-1024-256-10 with biases (1,068,810 parameters), gradients drawn once from the seeded Rng with a decaying spectrum (8 rank-1 terms, halving energy, plus 10% noise); 4 gradient sets rotate over steps and peers.',
  'Peer path (headline): one peer\'s `aggregate` for a 4-peer step against an echo collective (all-reduce returns 4x the input, all-gather returns 4 copies of the blob). This is compress + the tfjs products + decompress (all 4 blobs for all-gather codecs) + error-feedback bookkeeping; the echo\'s own copying is timed separately and subtracted. Chosen over simulatePeers total/4 because a real peer only pays for its own message and the interleaved peers of simulatePeers also pay for the in-memory reduction, which stands in for the network.',
  'Simulated (cross-check): all 4 peers through `simulatePeers` of @tabswarm/shared/testing, wall time / 4, starting from the peer path\'s shared state (exportSharedState/importSharedState), so GreedyLore does not refresh again and EF21 is past its dense first step. It includes the in-memory reduction (and, for fp16, its per-hop half rounding).',
  'Warm-up steps run first (JIT, shader compilation; GreedyLore\'s step 0 is its refresh, EF21\'s its dense initialisation, both reported as step 0). Timed rounds then interleave the cases: round r times one step of each case, so machine noise hits all of them; a case whose steps are slow gets fewer rounds (steps column) within a time budget.',
  'Times are medians and p90 (nearest rank) in ms over the timed steps. "vs none" is the median over rounds of (this case / none) measured in the same round. Bytes are `bytesPerStep(4)`: what one peer sends in one steady step with 4 peers (ring all-reduce 2(N-1)/N of its input, all-gather (N-1) times its blob), frame headers excluded; "ratio to fp32" is none\'s bytes / these bytes.',
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
}

const BASE_CONFIG: AggregatorConfig = { compressor: 'none', rank: 4, ratio: 0.01, levels: 16, period: 100, ef: 'none', seed: 42 };

const benchCase = (id: string, label: string, config: Partial<AggregatorConfig>): BenchCase => ({ id, label, config: { ...BASE_CONFIG, ...config } });

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
  benchCase('greedylore-4', 'greedylore rank 4, period 100', { compressor: 'greedylore', rank: 4, period: 100 }),
];

/** Peers of the simulated step. */
export const PEERS = 4;
/** Steps a run may take in all: GreedyLore refreshes again at step `period` (100), which must not be timed as a steady step. */
const MAX_STEP = 90;

export interface BenchOptions {
  /** tfjs backend to run on; the run fails if tfjs ends up on another one. */
  backend: 'cpu' | 'webgl';
  /** Timed peer-path steps per case (fewer for slow cases, see caseBudgetMs). @default 15 */
  steps?: number;
  /** Untimed steps per case before timing (the first is step 0). @default 3 */
  warmup?: number;
  /** Fewest timed peer-path steps a slow case gets. @default 3 */
  minSteps?: number;
  /** Time one case's timed peer-path steps may take, estimated from its last warm-up step. @default 20000 */
  caseBudgetMs?: number;
  /** Timed simulatePeers steps per case (0 skips the cross-check). @default 5 */
  simSteps?: number;
  /** Time one case's simulated steps may take (at least one is timed). @default 15000 */
  simBudgetMs?: number;
  /** Only these case ids (`none` is always added: ratios need it). @default all */
  cases?: string[];
  log?: (line: string) => void;
}

export interface Stats {
  /** Timed steps. */
  n: number;
  median: number;
  /** Nearest-rank 90th percentile. */
  p90: number;
  min: number;
  max: number;
  /** Every timed step, in order (ms). */
  samples: number[];
}

export interface CaseResult {
  id: string;
  label: string;
  /** The aggregator's own name (e.g. `randomk+ef14`). */
  aggregator: string;
  config: AggregatorConfig;
  /** What one peer hands to the collective in a steady step. */
  messageBytes: CollectiveBytes;
  /** bytesPerStep(4): bytes one peer sends in a steady step. */
  bytesPerStep: number;
  /** none's bytesPerStep / this one's. */
  ratioToFp32: number;
  /** Step 0, untimed as a steady step: GreedyLore's refresh, EF21's dense first step; includes first-call effects (JIT, shader compilation). */
  step0: { ms: number; bytesPerStep: number };
  /** Compress + decompress path of one peer (ms), echo collective subtracted. */
  peer: Stats;
  /** Fewer than the asked steps because the case is slow. */
  capped: boolean;
  /** Median ms the echo collective took inside the timed steps (subtracted from `peer`). */
  echoMedianMs: number;
  /** Median over rounds of this case's peer time / none's peer time in the same round. */
  vsNone: number;
  /** simulatePeers(4) wall time / 4 (ms), or null when skipped. */
  simulated: (Stats & { identicalUpdates: boolean }) | null;
  /** Largest growth of tf.memory().numTensors across one aggregate call (0 = no leak). */
  tensorGrowth: number;
}

export interface BackendResult {
  backend: string;
  date: string;
  tfjsVersion: string;
  environment: Record<string, string | number | boolean>;
  model: { layers: LayerShape[]; parameters: number };
  peers: number;
  options: Required<Omit<BenchOptions, 'log' | 'cases' | 'backend'>>;
  cases: CaseResult[];
  warnings: string[];
  durationMs: number;
}

export function summarize(samples: number[]): Stats {
  if (samples.length === 0) throw new RangeError('no samples to summarize');
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const p90 = sorted[Math.max(0, Math.ceil(0.9 * n) - 1)]!;
  return { n, median: round(median), p90: round(p90), min: round(sorted[0]!), max: round(sorted[n - 1]!), samples: samples.map(round) };
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

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

/**
 * What a 4-peer collective hands back, without the network: the sum of `size` copies of the input,
 * `size` copies of the blob. Times its own copying so that the caller can subtract it.
 */
class EchoCollective implements Collective {
  readonly rank = 0;
  elapsedMs = 0;

  constructor(
    readonly size: number,
    readonly step: number,
  ) {}

  async allReduceSum(values: Float32Array): Promise<Float32Array> {
    const start = performance.now();
    const out = new Float32Array(values.length);
    for (let j = 0; j < values.length; j++) out[j] = values[j]! * this.size;
    this.elapsedMs += performance.now() - start;
    return out;
  }

  async allGather(blob: Uint8Array): Promise<Uint8Array[]> {
    const start = performance.now();
    const out = Array.from({ length: this.size }, () => blob.slice());
    this.elapsedMs += performance.now() - start;
    return out;
  }
}

interface Running {
  kase: BenchCase;
  aggregator: GradientAggregator;
  /** Next collective step. */
  step: number;
  step0Ms: number;
  step0Bytes: number;
  lastWarmupMs: number;
  target: number;
  samples: number[];
  echo: number[];
  /** Per timed round: this case's ms, by round index. */
  byRound: Map<number, number>;
  tensorGrowth: number;
}

/** Runs every case on the backend named in `options`; fails if tfjs is not really on it. */
export async function runBench(options: BenchOptions, environment: Record<string, string | number | boolean> = {}): Promise<BackendResult> {
  const started = performance.now();
  const log = options.log ?? ((): void => {});
  const resolved = {
    steps: options.steps ?? 15,
    warmup: options.warmup ?? 3,
    minSteps: options.minSteps ?? 3,
    caseBudgetMs: options.caseBudgetMs ?? 20_000,
    simSteps: options.simSteps ?? 5,
    simBudgetMs: options.simBudgetMs ?? 15_000,
  };
  if (!Number.isInteger(resolved.steps) || resolved.steps < 1) throw new RangeError(`steps must be a positive integer, got ${resolved.steps}`);
  if (resolved.warmup < 1) throw new RangeError('warmup must be at least 1 (step 0 is never a steady step)');
  if (resolved.warmup + resolved.steps + resolved.simSteps + 2 > MAX_STEP) throw new RangeError(`warmup + steps + simSteps must stay below ${MAX_STEP - 2}`);

  const ok = await tf.setBackend(options.backend);
  await tf.ready();
  if (!ok || tf.getBackend() !== options.backend) throw new Error(`asked for the ${options.backend} backend, tfjs is on ${tf.getBackend()}`);
  const backend = tf.getBackend();
  log(`backend ${backend}, tfjs ${tf.version.tfjs}`);

  const warnings: string[] = [];
  const wanted = options.cases;
  const cases = wanted ? CASES.filter((c) => c.id === 'none' || wanted.includes(c.id)) : CASES;
  const gradients = Array.from({ length: PEERS }, (_, v) => makeGradients(MODEL_LAYERS, 7, v));
  const gradsFor = (step: number, peer: number): Float32Array[] => gradients[(step + peer) % PEERS]!;

  const peerStep = async (run: Running): Promise<{ ms: number; echoMs: number }> => {
    const collective = new EchoCollective(PEERS, run.step);
    const grads = gradsFor(run.step, 0);
    const tensorsBefore = tf.memory().numTensors;
    const start = performance.now();
    const update = await run.aggregator.aggregate(grads, collective);
    const total = performance.now() - start;
    run.tensorGrowth = Math.max(run.tensorGrowth, tf.memory().numTensors - tensorsBefore);
    if (update.length !== MODEL_LAYERS.length || !Number.isFinite(update[0]![0]!)) throw new Error(`${run.kase.id}: bad update at step ${run.step}`);
    run.step++;
    return { ms: total - collective.elapsedMs, echoMs: collective.elapsedMs };
  };

  // Warm-up, one case after the other; the last warm-up step sizes the case's timed rounds.
  const runs: Running[] = [];
  for (const kase of cases) {
    const aggregator = createAggregator(kase.config, MODEL_LAYERS);
    // Before the first call: EF21's dense first step shows only while it has not happened.
    const step0Bytes = sentBytes(aggregator.messageBytes(0), PEERS);
    const run: Running = { kase, aggregator, step: 0, step0Ms: 0, step0Bytes, lastWarmupMs: 0, target: 0, samples: [], echo: [], byRound: new Map(), tensorGrowth: 0 };
    for (let w = 0; w < resolved.warmup; w++) {
      const { ms } = await peerStep(run);
      if (w === 0) run.step0Ms = ms;
      run.lastWarmupMs = ms;
      await yieldToEventLoop();
    }
    run.target = Math.min(resolved.steps, Math.max(resolved.minSteps, Math.floor(resolved.caseBudgetMs / Math.max(run.lastWarmupMs, 1e-3))));
    log(`warm-up ${kase.id}: step 0 ${run.step0Ms.toFixed(1)} ms, last warm-up ${run.lastWarmupMs.toFixed(1)} ms -> ${run.target} timed steps`);
    runs.push(run);
  }

  // Timed rounds, interleaved.
  const rounds = Math.max(...runs.map((r) => r.target));
  for (let index = 0; index < rounds; index++) {
    for (const run of runs) {
      if (run.samples.length >= run.target) continue;
      const { ms, echoMs } = await peerStep(run);
      run.samples.push(ms);
      run.echo.push(echoMs);
      run.byRound.set(index, ms);
      await yieldToEventLoop();
    }
    log(`round ${index + 1}/${rounds} done`);
  }

  const none = runs.find((r) => r.kase.id === 'none');
  if (!none) throw new Error('the none case is missing');
  const noneBytes = none.aggregator.bytesPerStep(PEERS);

  const results: CaseResult[] = [];
  for (const run of runs) {
    const ratios: number[] = [];
    for (const [index, ms] of run.byRound) {
      const reference = none.byRound.get(index);
      if (reference !== undefined && reference > 0) ratios.push(ms / reference);
    }
    const simulated = resolved.simSteps > 0 ? await simulate(run, resolved, gradsFor, warnings, log) : null;
    const bytes = run.aggregator.bytesPerStep(PEERS);
    results.push({
      id: run.kase.id,
      label: run.kase.label,
      aggregator: run.aggregator.name,
      config: run.kase.config,
      messageBytes: run.aggregator.messageBytes(1),
      bytesPerStep: bytes,
      ratioToFp32: round(noneBytes / bytes),
      step0: { ms: round(run.step0Ms), bytesPerStep: run.step0Bytes },
      peer: summarize(run.samples),
      capped: run.samples.length < resolved.steps,
      echoMedianMs: summarize(run.echo).median,
      vsNone: round(summarize(ratios).median),
      simulated,
      tensorGrowth: run.tensorGrowth,
    });
    if (run.tensorGrowth > 0) warnings.push(`${run.kase.id}: tf.memory().numTensors grew by up to ${run.tensorGrowth} across one aggregate call (peer path)`);
    run.aggregator.dispose();
  }
  for (const w of warnings) log(`WARNING ${w}`);

  return {
    backend,
    date: new Date().toISOString(),
    tfjsVersion: tf.version.tfjs,
    environment,
    model: { layers: MODEL_LAYERS, parameters: MODEL_LAYERS.reduce((s, layer) => s + layerSize(layer), 0) },
    peers: PEERS,
    options: resolved,
    cases: results,
    warnings,
    durationMs: Math.round(performance.now() - started),
  };
}

/** The cross-check: 4 aggregators through simulatePeers, from the peer path's shared state. */
async function simulate(
  run: Running,
  resolved: { simSteps: number; simBudgetMs: number },
  gradsFor: (step: number, peer: number) => Float32Array[],
  warnings: string[],
  log: (line: string) => void,
): Promise<(Stats & { identicalUpdates: boolean }) | null> {
  const shared = run.aggregator.exportSharedState();
  const aggregators = Array.from({ length: PEERS }, () => {
    const a = createAggregator(run.kase.config, MODEL_LAYERS);
    a.importSharedState(shared);
    return a;
  });
  const estimate = PEERS * summarize(run.samples).median;
  const steps = Math.min(resolved.simSteps, Math.max(1, Math.floor(resolved.simBudgetMs / Math.max(estimate, 1e-3))));
  // One untimed step first (JIT of the in-memory reduction), unless the case is slow enough that
  // the peer path's warm-up already covers everything that matters.
  const warmup = estimate * (steps + 1) <= resolved.simBudgetMs ? 1 : 0;
  const samples: number[] = [];
  let identical = true;
  let growth = 0;
  try {
    for (let s = 0; s < warmup + steps; s++) {
      const step = run.step++;
      const tensorsBefore = tf.memory().numTensors;
      const start = performance.now();
      const updates = await simulatePeers(PEERS, (collective, rank) => aggregators[rank]!.aggregate(gradsFor(step, rank), collective), { step });
      const ms = (performance.now() - start) / PEERS;
      growth = Math.max(growth, tf.memory().numTensors - tensorsBefore);
      if (s >= warmup) samples.push(ms);
      identical &&= updates.every((u) => sameBits(u, updates[0]!));
      await yieldToEventLoop();
    }
  } finally {
    for (const a of aggregators) a.dispose();
  }
  if (growth > 0) warnings.push(`${run.kase.id}: tf.memory().numTensors grew by up to ${growth} across one simulated step`);
  if (!identical) warnings.push(`${run.kase.id}: the simulated peers' updates were not bit-identical`);
  const stats = summarize(samples);
  log(`simulated ${run.kase.id}: ${stats.median.toFixed(1)} ms per peer over ${stats.n} step(s)`);
  return { ...stats, identicalUpdates: identical };
}

function sameBits(a: Float32Array[], b: Float32Array[]): boolean {
  if (a.length !== b.length) return false;
  for (let l = 0; l < a.length; l++) {
    const x = a[l]!;
    const y = b[l]!;
    if (x.length !== y.length) return false;
    for (let j = 0; j < x.length; j++) if (!Object.is(x[j], y[j])) return false;
  }
  return true;
}
