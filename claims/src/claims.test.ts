/**
 * The five experiments of docs/CLAIMS.md, shortened (same code, fewer steps, seeds and cells):
 * each asserts the direction its claim predicts, on numbers computed now.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { bestAtMax, runGreedyLore } from './greedylore-experiment.ts';
import { loadSmallMnist } from './mnist-small.ts';
import { runOf, runSaddle } from './saddle.ts';
import { finalOf, runShifted } from './shifted.ts';
import { runSketches, type SketchCell, type SpectrumName } from './sketches.ts';
import { runStaleness } from './staleness.ts';

await tf.setBackend('cpu');

test('1. sketches pay little on low-rank curvature (also on a non-convex problem), Random-K pays d/k on axis-aligned curvature, as L_C/L predicts', async () => {
  const r = await runSketches('quick', ['flat', 'low-rank', 'low-rank, axis-aligned']);
  const at = (s: SpectrumName, c: SketchCell['compressor']): SketchCell => r.cells.find((x) => x.spectrum === s && x.compressor === c)!;
  for (const c of ['sketch-gaussian', 'sketch-haar'] as const) {
    assert.ok(at('low-rank', c).measured < 0.5 * at('flat', c).measured, `${c}: ${at('low-rank', c).measured} vs flat ${at('flat', c).measured}`);
    assert.ok(at('low-rank, axis-aligned', c).measured < 0.4 * r.worstCase, `${c} axis-aligned ${at('low-rank, axis-aligned', c).measured}`);
    assert.ok(at('low-rank', c).nonConvex! < 0.5 * at('flat', c).nonConvex!, `${c} non-convex: ${at('low-rank', c).nonConvex} vs flat ${at('flat', c).nonConvex}`);
  }
  assert.ok(at('low-rank, axis-aligned', 'randomk').measured > 0.8 * r.worstCase, `randomk axis-aligned ${at('low-rank, axis-aligned', 'randomk').measured}`);
  for (const x of r.cells) assert.ok(x.measured / x.predicted < 2 && x.predicted / x.measured < 2, `${x.spectrum} ${x.compressor}: ${x.measured} vs ${x.predicted}`);
});

test('2. GreedyLore contracts MNIST gradients more than a random projection, trains better at equal rank, and speeds up with workers', async () => {
  const tensors = tf.memory().numTensors;
  const r = await runGreedyLore('quick', await loadSmallMnist(5000, 500));
  assert.equal(tf.memory().numTensors, tensors, 'every tensor disposed');
  assert.ok(r.contraction.GreedyLore < r.randomBound - 0.2, `greedy ${r.contraction.GreedyLore} vs bound ${r.randomBound}`);
  assert.ok(r.contraction['random projection'] > r.randomBound - 0.1, `random ${r.contraction['random projection']}`);
  const final = (c: string): number => r.curves.find((x) => x.compressor === c)!.curve.at(-1)![1];
  assert.ok(final('GreedyLore') < final('random projection') - 0.1, `loss ${final('GreedyLore')} vs ${final('random projection')}`);
  for (const best of bestAtMax(r)) assert.ok(best.speedup >= 2, `${best.optimizer}: ${best.speedup}x with ${best.workers} workers`);
});

test('3. on heterogeneous least squares DIANA and EF21 reach the optimum where plain QSGD and Top-K stall', async () => {
  const r = await runShifted('quick');
  assert.ok(finalOf(r, 'QSGD s=2, plain') > 100 * finalOf(r, 'QSGD s=2 + DIANA'), `QSGD ${finalOf(r, 'QSGD s=2, plain')} vs DIANA ${finalOf(r, 'QSGD s=2 + DIANA')}`);
  assert.ok(finalOf(r, 'QSGD s=2, plain') > 1e-3, 'plain QSGD stalls visibly');
  assert.ok(finalOf(r, 'Top-K 10%, plain') > 100 * finalOf(r, 'Top-K 10% + EF21'), `Top-K ${finalOf(r, 'Top-K 10%, plain')} vs EF21 ${finalOf(r, 'Top-K 10% + EF21')}`);
});

test('4. stale compressed gradients converge with iterations growing as (1 + omega)(1 + tau)', async () => {
  const r = await runStaleness('quick');
  for (const c of r.cells) {
    assert.ok(Number.isFinite(c.iterations), `ratio ${c.ratio} tau ${c.tau} converged`);
    assert.ok(c.iterations / c.predicted < 1.5 && c.predicted / c.iterations < 1.5, `ratio ${c.ratio} tau ${c.tau}: ${c.iterations} vs ${c.predicted}`);
  }
});

test('5. from a strict saddle only the perturbed methods escape; Random-K + EF matches perturbed GD at the same step with fewer values', async () => {
  const r = await runSaddle('quick');
  assert.equal(runOf(r, 'GD').iterations, null);
  assert.equal(runOf(r, 'RK 10% + EF').iterations, null);
  const gd = runOf(r, 'GD + perturb');
  const rk = runOf(r, 'RK 10% + EF + perturb');
  const same = gd.tried.find((g) => g.iterations !== null && rk.tried.some((x) => x.lr === g.lr && x.iterations !== null))!;
  const sameRk = rk.tried.find((x) => x.lr === same.lr)!;
  assert.ok(sameRk.iterations! < 1.5 * same.iterations!, `at step ${same.lr}: ${sameRk.iterations} vs ${same.iterations}`);
  assert.ok(same.values > 5 * sameRk.values, `values ${same.values} vs ${sameRk.values}`);
});
