/**
 * What a renderer costs before tabswarm trains, measured in the same run as the cases: an
 * about:blank page (the floor of this Chromium: its binary's pages count in every renderer's RSS)
 * and a tabswarm page waiting in a room of its own (backend started, labels loaded, no shard yet).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { launchChromium, openTab, startServer } from '@tabswarm/launch';
import { parseRunConfig } from '@tabswarm/shared/protocol';
import { chromiumMemory } from './processes.ts';

export interface Baseline {
  blankRendererRssMiB: number;
  blankRendererPssMiB: number;
  waitingRendererRssMiB: number;
  waitingRendererPssMiB: number;
}

const MiB = 1024 * 1024;
/** Long enough for the waiting page to start WebGL and load the labels. */
const SETTLE_MS = 15_000;

async function rendererOf(open: () => Promise<void>): Promise<{ rss: number; pss: number }> {
  const before = new Set(chromiumMemory().map((p) => p.pid));
  await open();
  await new Promise((r) => setTimeout(r, SETTLE_MS));
  const added = chromiumMemory().filter((p) => p.role === 'renderer' && !before.has(p.pid)).sort((a, b) => b.rss - a.rss);
  return { rss: (added[0]?.rss ?? 0) / MiB, pss: (added[0]?.pss ?? 0) / MiB };
}

export async function measureBaseline(): Promise<Baseline> {
  const server = await startServer({ host: '127.0.0.1', port: 0, logFile: join(tmpdir(), `tabswarm-scale-${process.pid}.log`), defaultConfig: parseRunConfig({}) });
  const browser = await launchChromium();
  try {
    const context = await browser.newContext();
    const blank = await rendererOf(async () => void (await context.newPage()).goto('about:blank'));
    const waiting = await rendererOf(async () => openTab(await context.newPage(), `${server.url}/?room=baseline-${Date.now().toString(36)}&workers=64&model=mlp`));
    return { blankRendererRssMiB: blank.rss, blankRendererPssMiB: blank.pss, waitingRendererRssMiB: waiting.rss, waitingRendererPssMiB: waiting.pss };
  } finally {
    await browser.close().catch(() => undefined);
    await server.close();
  }
}
