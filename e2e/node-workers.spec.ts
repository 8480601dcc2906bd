/**
 * Node workers and a tab in one room, over real WebRTC (node-datachannel in Node, Chromium's own
 * stack in the tab): they train together and hold identical weights.
 */
import { expect, test } from '@playwright/test';
import type { TabStatus } from '@tabswarm/shared/protocol';
import { BASE_URL, historyOf, openTabs, status, uniqueRoom } from './harness.ts';
import { launchNodeWorker, type WorkerHandle } from '@tabswarm/launch';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const NODE_WORKERS = 2;
const STEPS = 20;

test('two Node workers and a Chromium tab train MNIST together with identical replicas', async ({ browser }) => {
  const room = uniqueRoom('mixed');
  const params = { workers: String(NODE_WORKERS + 1), steps: String(STEPS), evalEvery: '10', model: 'mlp' };
  const logs = mkdtempSync(join(tmpdir(), 'node-workers-'));
  const started = Date.now();
  const workers: WorkerHandle[] = [];
  try {
    for (let i = 0; i < NODE_WORKERS; i++) {
      workers.push(launchNodeWorker({ index: i, signalUrl: BASE_URL, room, backend: 'cpu', params, logFile: join(logs, `worker-${i}.log`) }));
    }
    const [page] = await openTabs(browser, 1, `room=${room}&${new URLSearchParams(params).toString()}`);

    let tab: TabStatus | undefined;
    const deadline = Date.now() + 3 * 60_000;
    for (;;) {
      tab = await status(page!);
      const failed = [tab.state === 'error' ? `tab: ${tab.error}` : null, ...workers.map((w) => w.failure ?? (w.status?.state === 'error' ? w.status.error : null))].find(Boolean);
      if (failed) throw new Error(`a worker failed: ${failed} (logs in ${logs})`);
      if (tab.state === 'done' && workers.every((w) => w.status?.state === 'done')) break;
      if (Date.now() > deadline) {
        expect({ tab: [tab.state, tab.step], node: workers.map((w) => [w.status?.state, w.status?.step]) }).toBe('done within 3 minutes');
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const seconds = (Date.now() - started) / 1000;

    const statuses = [tab, ...workers.map((w) => w.status!)];
    for (const s of statuses) {
      expect(s.step).toBe(STEPS);
      expect(s.weightsHash).toBe(tab.weightsHash);
      expect(s.peers).toHaveLength(NODE_WORKERS);
      expect(s.connectedPeers).toHaveLength(NODE_WORKERS);
    }
    expect(tab.backend).toBe('webgl');
    for (const w of workers) {
      expect(w.status!.backend).toBe('cpu');
      expect(w.records.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    }
    expect(tab.testAccuracy).toBeGreaterThanOrEqual(0.7);

    // Everyone sent the same ring share every step: the tab and the Node workers did the same work.
    const tabHistory = await historyOf(page!);
    expect(tabHistory.map((r) => r.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    // Replicas agree at every step, not only at the end.
    for (const w of workers) expect(w.records.map((r) => r.weightsHash)).toEqual(tabHistory.map((r) => r.weightsHash));
    const modelBytes = 4 * (784 * 256 + 256 + 256 * 10 + 10);
    const theory = (2 * NODE_WORKERS / (NODE_WORKERS + 1)) * modelBytes;
    for (const r of [...tabHistory.slice(1), ...workers.flatMap((w) => w.records.slice(1))]) {
      expect(Math.abs(r.bytesSent - theory) / theory).toBeLessThan(0.05);
    }
    console.log(`mixed: ${NODE_WORKERS} Node workers + 1 tab, ${STEPS} steps in ${seconds.toFixed(1)} s wall (start-up included), accuracy ${tab.testAccuracy}, node steps/s ${workers.map((w) => w.status!.stepsPerSecond?.toFixed(2)).join(', ')}`);
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
});
