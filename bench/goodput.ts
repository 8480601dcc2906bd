/**
 * `npm run bench -- --only goodput`: the all-reduce's goodput (ring and two-shot) against one bare data channel, side by side
 * in one browser and one run. Builds bench/browser, opens goodput.html in N tabs of one headless
 * Chromium context (see the page for what each tab does) and writes results/goodput.{json,md}.
 *
 * Figures: bare MB/s = bytes moved / time from the first send to the receiver's answer. Bare ring
 * MB/s = bytes each tab sends / time until it has received as many (median over tabs, then rounds). Ring
 * goodput per tab and round = bytes that tab sent / time inside allReduceSum (the session's
 * "bytes sent per step / time in collectives"); the figure is the median over rounds of the
 * median over tabs. MB = 10^6 bytes.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { CHROMIUM_PATH, isGlNotice, launchChromium } from '@tabswarm/launch';
import { ALL_REDUCE_ALGORITHMS } from '@tabswarm/shared';
import type { GoodputResult } from './browser/goodput.ts';
import { hostEnvironment, loadAverage1m } from './machine.ts';
import { RESULTS_DIR } from './report.ts';
import { serve } from './webgl.ts';

const BROWSER_DIR = fileURLToPath(new URL('./browser/', import.meta.url));
const PAGE_TIMEOUT_MS = 5 * 60_000;

export interface GoodputOptions {
  tabs?: number;
  bareBytes?: number;
  /** Vector lengths (f32 values) the ring sums. */
  sizes?: number[];
  warmup?: number;
  rounds?: number;
  log?: (line: string) => void;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function runGoodputBench(options: GoodputOptions = {}): Promise<void> {
  const log = options.log ?? console.log;
  const tabs = options.tabs ?? 3;
  const sizes = options.sizes ?? [1_070_000, 203_530];
  const host = hostEnvironment();
  await build({ configFile: path.join(BROWSER_DIR, 'vite.config.ts'), logLevel: 'warn' });
  const { server, url } = await serve(path.join(BROWSER_DIR, 'dist'));
  const browser = await launchChromium();
  const started = new Date().toISOString();
  try {
    const context = await browser.newContext();
    const query = new URLSearchParams({
      tabs: String(tabs), run: String(Date.now()), sizes: sizes.join(','),
      bareBytes: String(options.bareBytes ?? 64 * 1024 * 1024), warmup: String(options.warmup ?? 2), rounds: String(options.rounds ?? 10),
      // What the ring's tab sends for the largest vector: 2 (N-1)/N of it, as f32.
      bareRingBytes: String(Math.round((2 * (tabs - 1) / tabs) * Math.max(...sizes) * 4)),
    });
    const pages = [];
    for (let role = 0; role < tabs; role++) {
      const page = await context.newPage();
      page.on('console', (msg) => {
        if ((msg.type() === 'error' || msg.type() === 'warning') && !isGlNotice(msg.text())) log(`tab ${role} ${msg.type()}: ${msg.text()}`);
      });
      // Loaded one after another: a tab listens on the BroadcastChannel before the next one speaks.
      await page.goto(`${url}goodput.html?role=${role}&${query.toString()}`, { waitUntil: 'load' });
      pages.push(page);
    }
    type W = { goodput?: GoodputResult; goodputError?: string };
    const results = await Promise.all(pages.map(async (page) => {
      await page.waitForFunction(() => (window as unknown as W).goodput !== undefined || (window as unknown as W).goodputError !== undefined, undefined, { timeout: PAGE_TIMEOUT_MS, polling: 500 });
      const out = await page.evaluate(() => ({ result: (window as unknown as W).goodput, error: (window as unknown as W).goodputError }));
      if (!out.result) throw new Error(`a goodput tab failed: ${out.error ?? 'no result'}`);
      return out.result;
    }));
    const bare = results[0]!.bare!;
    const bareMBps = bare.bytes / 1e6 / (bare.ms / 1000);
    const bareRingBytes = results[0]!.bareRing.bytes;
    const bareRingRounds = results[0]!.bareRing.ms.map((_, i) => median(results.map((r) => r.bareRing.ms[i]!)));
    const bareRing = { bytesPerTab: bareRingBytes, medianMs: median(bareRingRounds), MBps: median(bareRingRounds.map((ms) => bareRingBytes / 1e6 / (ms / 1000))) };
    const rings = ALL_REDUCE_ALGORITHMS.flatMap((algorithm) => sizes.map((size) => {
      const key = `${algorithm}:${size}`;
      const rounds = results[0]!.ring[key]!.map((_, i) => results.map((r) => r.ring[key]![i]!));
      const perRound = rounds.map((tabsOfRound) => median(tabsOfRound.map((t) => t.bytesSent / 1e6 / (t.ms / 1000))));
      const msPerRound = rounds.map((tabsOfRound) => median(tabsOfRound.map((t) => t.ms)));
      const bytesSent = median(rounds.flat().map((t) => t.bytesSent));
      const goodput = median(perRound);
      return { algorithm, values: size, bytesSentPerTab: bytesSent, medianMs: median(msPerRound), goodputMBps: goodput, ratio: goodput / bareMBps, ratioToBareRing: goodput / bareRing.MBps, perRoundMBps: perRound };
    }));
    const file = {
      started, tabs, chromium: `${CHROMIUM_PATH} ${browser.version()}`, host: { ...host, loadAverage1mAtEnd: loadAverage1m() },
      bare: { ...bare, MBps: bareMBps }, bareRing, rings, raw: results,
    };
    await writeFile(path.join(RESULTS_DIR, 'goodput.json'), JSON.stringify(file, null, 2) + '\n');
    await writeFile(path.join(RESULTS_DIR, 'goodput.md'), renderGoodput(file));
    log(renderGoodput(file));
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function renderGoodput(f: { started: string; tabs: number; chromium: string; host: ReturnType<typeof hostEnvironment> & { loadAverage1mAtEnd: number }; bare: { bytes: number; ms: number; MBps: number; messageBytes: number; highWaterBytes: number }; bareRing: { bytesPerTab: number; medianMs: number; MBps: number }; rings: Array<{ algorithm: string; values: number; bytesSentPerTab: number; medianMs: number; goodputMBps: number; ratio: number; ratioToBareRing: number }> }): string {
  const rows = f.rings.map((r) => `| ${r.algorithm} all-reduce, ${r.values.toLocaleString('en')} f32 values | ${r.bytesSentPerTab.toLocaleString('en')} sent per tab | ${r.medianMs.toFixed(1)} ms | ${r.goodputMBps.toFixed(1)} | ${r.ratio.toFixed(2)} | ${r.ratioToBareRing.toFixed(2)} |`);
  return [
    '# All-reduce goodput against a bare data channel',
    '',
    `${f.tabs} tabs of one headless Chromium context, one run (${f.started}); \`npm run bench -- --only goodput\`.`,
    `Host: ${f.host.cpuModel}, ${f.host.cores} cores; load average ${f.host.loadAverage1m.toFixed(2)} at the start, ${f.host.loadAverage1mAtEnd.toFixed(2)} at the end. ${f.chromium}.`,
    '',
    '| what | bytes | time | MB/s | / bare | / bare ring |',
    '|---|---|---|---|---|---|',
    `| bare RTCDataChannel, tab 0 to tab 1 (${f.bare.messageBytes / 1024} KiB messages, ${f.bare.highWaterBytes / 1048576} MiB high-water mark) | ${f.bare.bytes.toLocaleString('en')} | ${f.bare.ms.toFixed(0)} ms | ${f.bare.MBps.toFixed(1)} | 1 | |`,
    `| bare ring: every tab sends to the next over a bare channel while it receives from the previous | ${f.bareRing.bytesPerTab.toLocaleString('en')} sent per tab | ${f.bareRing.medianMs.toFixed(1)} ms | ${f.bareRing.MBps.toFixed(1)} | ${(f.bareRing.MBps / f.bare.MBps).toFixed(2)} | 1 |`,
    ...rows,
    '',
    'Bare ring: the ring\'s traffic for the largest vector without tabswarm, each tab timed from the common start until it has received',
    'everything; the median over tabs, then over rounds. It is what this browser and machine give when every tab sends and receives at once.',
    '',
    'Ring and two-shot (`collective=two-shot`): tabswarm\'s own path (WebRtcTransport over simple-peer, Messenger, RingCollective), fp32, every tab',
    'sending and receiving at once. Goodput = bytes a tab sent / time inside allReduceSum, median over tabs,',
    'then over the timed rounds (after warm-up rounds). MB = 10^6 bytes.',
    '',
  ].join('\n');
}
