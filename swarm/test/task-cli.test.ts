/**
 * The CLI runs a task module: 2 Node workers train the spirals example (examples/) over real
 * WebRTC, to identical weights and a falling loss; a module that exports no task is refused in one
 * line before any worker starts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RunMetrics } from '../src/metrics.ts';
import { runCli } from './run-cli.ts';

const STEPS = 40;

test('--task FILE: Node workers train the example task', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarm-task-'));
  try {
    const args = ['--task', 'examples/src/spirals-task.ts', '--workers', '2', '--steps', String(STEPS), '--batchSize', '32', '--lr', '0.01', '--evalEvery', '20', '--evalSize', '600', '--timeout', '100s', '--out', out];
    const { code, output } = await runCli(args, 110_000);
    assert.equal(code, 0, output);
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunMetrics;
    assert.equal(metrics.stopReason, 'steps');
    for (const w of metrics.workers) {
      assert.equal(w.task, 'spirals');
      assert.equal(w.state, 'done');
      assert.equal(w.records.length, STEPS);
      assert.equal(w.weightsHash, metrics.workers[0]!.weightsHash);
    }
    const losses = metrics.workers[0]!.records.map((r) => r.loss);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    assert.ok(mean(losses.slice(-5)) < 0.8 * mean(losses.slice(0, 5)), `loss ${losses.slice(0, 5)} -> ${losses.slice(-5)}`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('--task FILE that exports no task: exit 2 and the reason, before any worker starts', { timeout: 60_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'swarm-task-'));
  try {
    const { code, output } = await runCli(['--task', 'client/src/node/fixtures/not-a-task.ts', '--out', out], 50_000);
    assert.equal(code, 2, output);
    assert.match(output, /swarm: .*not-a-task\.ts does not export a task/);
    const tabs = await runCli(['--task', 'examples/src/spirals-task.ts', '--runtime', 'chromium', '--out', out], 50_000);
    assert.equal(tabs.code, 2, tabs.output);
    assert.match(tabs.output, /--task runs in Node workers only/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
