/** bench/results/scale.json (every figure) and scale.md (the tables the docs quote). */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DetachedResult } from './detached-case.ts';
import type { ScaleResult, Spread } from './run-case.ts';

export interface ScaleFile {
  benchmark: 'scale';
  command: string;
  method: string[];
  updated: string;
  host: Record<string, unknown>;
  results: ScaleResult[];
  /** The same rooms' renderers with no DevTools client attached (fp32); absent in older files. */
  detached?: DetachedResult[];
  /** Cases that did not finish, with the reason. */
  failures: Array<{ tabs: number; compressor: string; steps: number; error: string }>;
}

export const SCALE_METHOD = [
  'N tabs of one headless Chromium (Debian\'s, WebGL on SwiftShader, no GPU) in one room, MNIST MLP (203,530 parameters), batch 64, each case in a fresh browser with a fresh signaling server.',
  'Steps/s: 1000 / the median time between consecutive steps of tab 0, the first 5 steps (shader warm-up) left out. Start-up: from opening the first tab to the first completed step.',
  'Renderer RSS and PSS: the peak over the run of each tab\'s renderer process (/proc/PID/status VmRSS, /proc/PID/smaps_rollup Pss), sampled every second; the N largest renderers of the browser are the tabs\'. PSS splits shared pages (libraries, fonts) among the processes that map them, RSS counts them in each. USS (smaps_rollup Private_Clean + Private_Dirty): the pages only that renderer maps, what closing the tab gives back. RSS minus USS is shared: mostly the Chromium binary\'s code, of which a renderer running WebGL and WebRTC touches ~130 MiB (a blank page ~55 MiB).',
  'JS heap: the peak of CDP Runtime.getHeapUsage usedSize + backingStorageSize (V8\'s heap and the ArrayBuffers it holds) per tab. Retained: the same and the renderer RSS after the run, once HeapProfiler.collectGarbage has run in every tab. GPU process: every tab\'s WebGL textures and SwiftShader live there, shared by all tabs.',
  'No DevTools client attached: under Playwright\'s session each renderer holds memory of its own that grows with what the page fetched (most likely the Network domain\'s copies of response bodies), so the figures above count memory a user\'s tab does not hold. The last table runs each tab count again (fp32) in a Chromium started directly with the same flags, tabs opened over its /json/new endpoint, nothing attached: peak RSS, PSS and USS from /proc, the end read from the signaling server\'s log (the step and weights hash most of the room reported).',
  'Downloaded: status().data.bytesDownloaded of each tab (MNIST labels, headers, its shard and the 1,000-example evaluation subset, fetched by HTTP range requests).',
  'The machine has 2 cores shared with other work: compare the rows of one run, and look at the load average of each case.',
];

const fmt = (x: number, digits = 0): string => x.toFixed(digits);
const range = (s: Spread, digits = 0): string => (s.min === s.max ? fmt(s.median, digits) : `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})`);

export function renderScale(file: ScaleFile): string {
  const speed = [...new Set(file.results.map((r) => r.tabs))].map((tabs) => {
    const fp32 = file.results.find((r) => r.tabs === tabs && r.compressor === 'none');
    const psgd = file.results.find((r) => r.tabs === tabs && r.compressor === 'powersgd');
    const cell = (r: ScaleResult | undefined): string => (r ? `${fmt(r.stepsPerSecond, 2)} (${fmt(r.medianStepMs)} ms)` : '-');
    const ratio = fp32 && psgd ? fmt(psgd.stepsPerSecond / fp32.stepsPerSecond, 2) : '-';
    const ok = [fp32, psgd].every((r) => !r || r.identical) ? 'yes' : 'NO';
    return `| ${tabs} | ${cell(fp32)} | ${cell(psgd)} | ${ratio} | ${[fp32, psgd].map((r) => (r ? fmt(r.startupS, 1) : '-')).join(' / ')} | ${ok} | ${[fp32, psgd].map((r) => (r ? fmt(r.loadAverage1m, 1) : '-')).join(' / ')} |`;
  });
  const memory = file.results.map((r) =>
    `| ${r.tabs} | ${r.compressor === 'none' ? 'fp32' : 'PowerSGD r4'} | ${range(r.rendererRssMiB)} | ${range(r.rendererPssMiB)} | ${r.rendererUssMiB ? range(r.rendererUssMiB) : '-'} | ${range(r.jsHeapMiB)} | ${range(r.retained.rendererRssMiB)} | ${range(r.retained.jsHeapMiB)} | ${fmt(r.gpuRssMiB)} | ${fmt(r.browserRssMiB)} | ${fmt(r.downloadedBytes.median / 1e6, 2)} |`);
  return [
    '# Scale in one browser',
    '',
    `Written by \`${file.command}\` on ${file.updated} (${String(file.host.cores)} cores, ${String(file.host.cpuModel)}).`,
    '',
    ...file.method.map((m) => `- ${m}`),
    '',
    '## Steps per second',
    '',
    '| tabs | fp32 steps/s (median step) | PowerSGD rank 4 steps/s (median step) | PowerSGD / fp32 | start-up s (fp32 / PowerSGD) | replicas identical | load avg (fp32 / PowerSGD) |',
    '|---|---|---|---|---|---|---|',
    ...speed,
    '',
    '## Memory and download per tab',
    '',
    'Median (min-max) over the tabs of the case, MiB unless said.',

    '',
    '| tabs | compressor | renderer RSS (peak) | renderer PSS (peak) | renderer USS (peak) | JS heap (peak) | renderer RSS retained | JS heap retained | GPU process RSS (all tabs) | browser process RSS | MNIST downloaded per tab, MB |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...memory,
    '',
    ...(file.detached?.length ? [
      '## Memory per tab with no DevTools client attached (fp32)',
      '',
      '| tabs | renderer RSS (peak) | renderer PSS (peak) | renderer USS (peak) | finished at step (weights hash) |',
      '|---|---|---|---|---|',
      ...file.detached.map((d) => `| ${d.tabs} | ${range(d.rendererRssMiB)} | ${range(d.rendererPssMiB)} | ${range(d.rendererUssMiB)} | ${d.finished.step} (${d.finished.hash}) |`),
      '',
    ] : []),
    ...(file.failures.length ? ['## Cases that did not finish', '', ...file.failures.map((f) => `- ${f.tabs} tabs, ${f.compressor}: ${f.error}`), ''] : []),
  ].join('\n');
}

export async function writeScale(dir: string, file: ScaleFile): Promise<void> {
  await writeFile(path.join(dir, 'scale.json'), `${JSON.stringify(file, null, 2)}\n`);
  await writeFile(path.join(dir, 'scale.md'), renderScale(file));
}
