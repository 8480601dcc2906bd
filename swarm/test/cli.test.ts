/**
 * The CLI end to end, with real Node workers over real WebRTC: 2 workers, a few steps, then the
 * report folder must hold every worker's per-step numbers, and the page must embed them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunMetrics, RunSummary } from '../src/metrics.ts';
import { runCli } from './run-cli.ts';
const STEPS = 10;

function embedded(html: string, id: string): unknown {
  const match = new RegExp(`<script type="application/json" id="${id}">(.*?)</script>`, 's').exec(html);
  assert.ok(match, `report.html embeds #${id}`);
  return JSON.parse(match[1]!);
}

test('the CLI runs 2 Node workers and writes metrics.json, summary.json and a self-contained report.html', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarm-cli-'));
  try {
    const started = Date.now();
    const { code, output } = await runCli(['--workers', '2', '--steps', String(STEPS), '--evalEvery', '5', '--evalSize', '200', '--timeout', '100s', '--out', out], 110_000);
    assert.equal(code, 0, output);
    assert.match(output, /step 10\/10/);

    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    assert.equal(metrics.stopReason, 'steps');
    assert.equal(metrics.config?.steps, STEPS);
    assert.equal(metrics.workers.length, 2);
    for (const w of metrics.workers) {
      assert.equal(w.runtime, 'node');
      assert.equal(w.backend, 'cpu');
      assert.equal(w.state, 'done');
      assert.deepEqual(w.records.map((r) => r.step), Array.from({ length: STEPS }, (_, i) => i + 1));
      for (const r of w.records) {
        for (const value of [r.loss, r.bytesSent, r.bytesReceived, r.ms.compute, r.ms.communicate, r.ms.apply, r.ms.total, r.time]) {
          assert.ok(Number.isFinite(value), `step ${r.step} of worker ${w.index} has finite numbers`);
        }
        assert.ok(r.bytesSent > 0);
      }
      assert.deepEqual(w.records.filter((r) => r.testAccuracy !== undefined).map((r) => r.step), [5, 10]);
    }
    assert.equal(metrics.workers[0]!.weightsHash, metrics.workers[1]!.weightsHash);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as RunSummary;
    assert.equal(summary.steps, STEPS);
    assert.equal(summary.identicalWeights, true);
    assert.ok(summary.stepsPerSecond! > 0);
    assert.ok(summary.finalAccuracy! > 0.3, `accuracy ${summary.finalAccuracy} after ${STEPS} steps`);

    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.deepEqual(embedded(html, 'tabswarm-metrics'), metrics, 'the page embeds every record of every worker');
    const plots = embedded(html, 'tabswarm-plots') as { workers: Array<{ loss: Array<[number, number]> }> };
    assert.equal(plots.workers.length, 2);
    assert.deepEqual(plots.workers[1]!.loss, metrics.workers[1]!.records.map((r) => [r.step, r.loss]));
    // Self-contained: nothing is loaded from anywhere else.
    assert.doesNotMatch(html, /<script[^>]+src=|<link[^>]+href=|@import|url\(/);
    console.log(`CLI smoke: ${STEPS} steps with 2 Node workers in ${((Date.now() - started) / 1000).toFixed(1)} s wall, ${summary.stepsPerSecond!.toFixed(2)} steps/s`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('the CLI refuses a bad option with its name and the usage, and starts nothing', async () => {
  // A deadline against a hang, not a speed target: beside another test file on 2 busy cores,
  // loading the CLI's modules alone has taken most of 30 s.
  const { code, output } = await runCli(['--compressor', 'zip'], 90_000);
  assert.equal(code, 2);
  assert.match(output, /compressor must be one of/);
  assert.match(output, /usage: npm run swarm/);
});
