/**
 * One case of the scale benchmark: N tabs of one headless Chromium in one room, trained to the
 * end, with their speed, memory and downloads measured. A fresh browser per case, so no case
 * inherits another's memory.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CDPSession, Page } from 'playwright-core';
import { launchChromium, openTab, startServer, watchTab } from '@tabswarm/launch';
import { parseRunConfig, type StepRecord, type TabStatus } from '@tabswarm/shared/protocol';
import { chromiumMemory, PeakMemory, type ProcessMemory } from './processes.ts';

export interface ScaleCase {
  tabs: number;
  compressor: 'none' | 'powersgd';
  steps: number;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface ScaleResult extends ScaleCase {
  /** 1000 / the median time between consecutive steps of tab 0, warm-up steps left out. */
  stepsPerSecond: number;
  medianStepMs: number;
  /** From opening the first tab to the first completed step (shader warm-up, connections). */
  startupS: number;
  wallS: number;
  /** Every tab at the last step with the same weights hash. */
  identical: boolean;
  testAccuracy: number | null;
  bytesSentPerStep: number;
  /** Per tab: MNIST downloaded (status().data). */
  downloadedBytes: Spread;
  /** Peak resident set of each tab's renderer over the run, MiB. */
  rendererRssMiB: Spread;
  /** Peak proportional set (shared pages split) of each renderer, MiB. */
  rendererPssMiB: Spread;
  /** Peak unique set (pages no other process maps) of each renderer, MiB; absent in files written before it was measured. */
  rendererUssMiB?: Spread;
  /** Peak JS heap in use per tab (CDP Runtime.getHeapUsage: V8's heap plus ArrayBuffer backing stores), MiB. */
  jsHeapMiB: Spread;
  /** After the run, once every tab's garbage is collected: what the tab retains. */
  retained: { rendererRssMiB: Spread; jsHeapMiB: Spread };
  /** Peak RSS of the GPU process (all tabs' WebGL on SwiftShader) and of the browser process, MiB. */
  gpuRssMiB: number;
  browserRssMiB: number;
  /** The 1-minute load average when the case started: the machine is shared. */
  loadAverage1m: number;
}

const MiB = 1024 * 1024;
/** Long enough for 16 tabs on 2 cores (about 3 s a step, a minute of warm-up). */
const CASE_TIMEOUT_MS = 15 * 60_000;
const POLL_MS = 1_000;
/** Steps left out of the speed: shader compilation and the first exchanges. */
const WARMUP_STEPS = 5;

/** V8's heap in use plus the ArrayBuffers it holds (where a tab's data lives), bytes. */
function heapBytes(usage: { usedSize: number; backingStorageSize?: number } | null): number {
  return usage ? usage.usedSize + (usage.backingStorageSize ?? 0) : 0;
}

export function spread(xs: number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s.length ? s[Math.floor((s.length - 1) / 2)]! : 0, min: s[0] ?? 0, max: s.at(-1) ?? 0 };
}

/** `promise`, or null after `ms`: a tab whose main thread is busy answers at the next poll. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runCase(c: ScaleCase, log: (line: string) => void, loadAverage1m: number): Promise<ScaleResult> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logFile: join(tmpdir(), `tabswarm-scale-${process.pid}.log`), defaultConfig: parseRunConfig({}) });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const room = `scale-${c.tabs}-${c.compressor}-${Date.now().toString(36)}`;
    const codec = c.compressor === 'powersgd' ? '&compressor=powersgd&rank=4&ef=ef14' : '';
    const query = `room=${room}&workers=${c.tabs}&steps=${c.steps}&model=mlp&evalEvery=100000${codec}`;
    const began = Date.now();
    const pages: Page[] = [];
    const cdp: CDPSession[] = [];
    for (let i = 0; i < c.tabs; i++) {
      const page = await context.newPage();
      watchTab(page, (line) => log(`tab ${i}: ${line}`), { errorsOnly: true });
      await openTab(page, `${server.url}/?${query}`);
      pages.push(page);
      cdp.push(await context.newCDPSession(page));
    }
    const memory = new PeakMemory();
    const heaps = new Array<number>(c.tabs).fill(0);
    let statuses: TabStatus[] = [];
    let firstStepAt: number | null = null;
    for (;;) {
      if (Date.now() - began > CASE_TIMEOUT_MS) throw new Error(`${c.tabs} tabs, ${c.compressor}: not done within ${CASE_TIMEOUT_MS / 60_000} min (steps ${statuses.map((s) => s.step).join(',')})`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      memory.sample();
      const polled = await Promise.all(pages.map((p) => within(10_000, p.evaluate(() => window.tabswarm?.status() ?? null))));
      const usage = await Promise.all(cdp.map((s) => within(10_000, s.send('Runtime.getHeapUsage'))));
      usage.forEach((u, i) => (heaps[i] = Math.max(heaps[i]!, heapBytes(u))));
      if (polled.some((s) => s === null)) continue;
      statuses = polled as TabStatus[];
      const failed = statuses.find((s) => s.state === 'error');
      if (failed) throw new Error(`a tab failed: ${failed.error}`);
      if (firstStepAt === null && statuses.some((s) => s.step > 0)) firstStepAt = Date.now();
      if (statuses.every((s) => s.state === 'done')) break;
    }
    const wallS = (Date.now() - began) / 1000;
    for (const session of cdp) await within(10_000, session.send('HeapProfiler.collectGarbage'));
    const retainedHeaps = await Promise.all(cdp.map(async (session) => heapBytes(await within(10_000, session.send('Runtime.getHeapUsage')))));
    const retainedRenderers = chromiumMemory().filter((p) => p.role === 'renderer').sort((a, b) => b.rss - a.rss).slice(0, c.tabs);
    const history: StepRecord[] = await pages[0]!.evaluate(() => [...window.tabswarm.history()]);
    const steady = history.filter((r) => r.step > WARMUP_STEPS);
    const gaps = steady.slice(1).map((r, i) => r.time - steady[i]!.time);
    const medianStepMs = spread(gaps).median;
    const renderers: ProcessMemory[] = memory.of('renderer').slice(0, c.tabs);
    return {
      ...c,
      stepsPerSecond: medianStepMs > 0 ? 1000 / medianStepMs : 0,
      medianStepMs,
      startupS: ((firstStepAt ?? began) - began) / 1000,
      wallS,
      identical: statuses.every((s) => s.step === c.steps && s.weightsHash === statuses[0]!.weightsHash),
      testAccuracy: statuses[0]!.testAccuracy,
      bytesSentPerStep: spread(history.map((r) => r.bytesSent)).median,
      downloadedBytes: spread(statuses.map((s) => s.data?.bytesDownloaded ?? 0)),
      rendererRssMiB: spread(renderers.map((p) => p.rss / MiB)),
      rendererPssMiB: spread(renderers.map((p) => p.pss / MiB)),
      rendererUssMiB: spread(renderers.map((p) => p.uss / MiB)),
      jsHeapMiB: spread(heaps.map((h) => h / MiB)),
      retained: { rendererRssMiB: spread(retainedRenderers.map((p) => p.rss / MiB)), jsHeapMiB: spread(retainedHeaps.map((h) => h / MiB)) },
      gpuRssMiB: (memory.of('gpu')[0]?.rss ?? 0) / MiB,
      browserRssMiB: (memory.of('browser')[0]?.rss ?? 0) / MiB,
      loadAverage1m,
    };
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
  }
}
