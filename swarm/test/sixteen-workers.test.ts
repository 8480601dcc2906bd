/**
 * 16 Node workers in one room on this 2-core machine: they connect (120 WebRTC channels), train a
 * few steps together, and end with identical weights. ~50 s here (docs/SWARM.md), so it runs with
 * the unit tests; alone: `npm run test:sixteen -w swarm`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunMetrics, RunSummary } from '../src/metrics.ts';
import { runCli } from './run-cli.ts';
const WORKERS = 16;
const STEPS = 10;

test(`${WORKERS} Node workers train together with identical weights`, { timeout: 15 * 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarm-16-'));
  const started = Date.now();
  try {
    const { code } = await runCli(['--workers', String(WORKERS), '--steps', String(STEPS),
      '--evalEvery', '5', '--evalSize', '500', '--timeout', '14m', '--out', out], 15 * 60_000, { echo: true });
    const seconds = (Date.now() - started) / 1000;
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunSummary;
    assert.equal(code, 0, `${metrics.stopReason}: ${metrics.error}`);
    assert.equal(metrics.workers.length, WORKERS);
    for (const w of metrics.workers) {
      assert.equal(w.state, 'done');
      assert.equal(w.step, STEPS);
      assert.ok(w.records.length > 0);
    }
    assert.equal(summary.identicalWeights, true);
    assert.equal(new Set(metrics.workers.map((w) => w.weightsHash)).size, 1);
    console.log(`${WORKERS} Node workers: ${STEPS} steps, ${seconds.toFixed(0)} s wall in all (${summary.trainingSeconds.toFixed(1)} s training, ${summary.stepsPerSecond?.toFixed(2)} steps/s), accuracy ${summary.finalAccuracy}, weights ${metrics.workers[0]!.weightsHash}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
