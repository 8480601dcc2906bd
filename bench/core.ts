/**
 * The compression benchmark's core. It runs unchanged in Node (tfjs cpu backend) and in Chromium
 * (tfjs webgl backend): no DOM, no Node built-ins; the callers pass in what they know about the
 * machine.
 *
 * What one measurement is (see METHOD in cases.ts, which the results file repeats):
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
import { createAggregator, layerSize, sentBytes, yieldToEventLoop, type AggregatorConfig, type CollectiveBytes, type GradientAggregator, type LayerShape } from '@tabswarm/shared';
import { CASES, makeGradients, MODEL_LAYERS, PEERS, refreshPeriod, type BenchCase } from './cases.ts';
import { EchoCollective } from './echo-collective.ts';
import { round, summarize, type Stats } from './stats.ts';
// The browser-safe corner of the testing module (the rest registers node:test suites).
import { simulatePeers } from '@tabswarm/shared/testing/simulated-collective';

/** Steps a run may take in all: GreedyLore refreshes again at step `period` (100), which must not be timed as a steady step. */
const MAX_STEP = 90;
/** Warm refreshes timed per case that has them, at steps period, 2 period, ... after everything else. */
const REFRESH_SAMPLES = 3;

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
  /** Median over rounds of this case's peer time / the `compareWith` case's, when the case names one present in the run. */
  vsCase: { id: string; ratio: number } | null;
  /** Warm refresh steps (GreedyLore's subspace after the first), timed apart; null for cases without. Absent in older results. */
  refresh?: Stats | null;
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

  const roundRatio = (run: Running, reference: Running): number => {
    const ratios: number[] = [];
    for (const [index, ms] of run.byRound) {
      const other = reference.byRound.get(index);
      if (other !== undefined && other > 0) ratios.push(ms / other);
    }
    return round(summarize(ratios).median);
  };

  const results: CaseResult[] = [];
  for (const run of runs) {
    const compared = runs.find((r) => r.kase.id === run.kase.compareWith);
    const simulated = resolved.simSteps > 0 ? await simulate(run, resolved, gradsFor, warnings, log) : null;
    const period = refreshPeriod(run.kase);
    let refresh: Stats | null = null;
    if (period !== null) {
      const samples: number[] = [];
      for (let j = 1; j <= REFRESH_SAMPLES; j++) {
        run.step = j * period;
        samples.push((await peerStep(run)).ms);
        await yieldToEventLoop();
      }
      refresh = summarize(samples);
      log(`refresh ${run.kase.id}: ${refresh.median.toFixed(1)} ms (median of ${refresh.n} warm refreshes)`);
    }
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
      vsNone: roundRatio(run, none),
      vsCase: compared ? { id: compared.kase.id, ratio: roundRatio(run, compared) } : null,
      refresh,
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
