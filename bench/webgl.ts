/**
 * The benchmark on tfjs's webgl backend in headless Chromium: builds bench/browser with Vite,
 * serves it from 127.0.0.1 on a free port, opens it in Debian's Chromium through Playwright and
 * collects `window.benchResults`. On machines without a GPU, WebGL is SwiftShader (software).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { BackendResult, BenchOptions } from './core.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, isGlNotice, launchChromium } from '@tabswarm/launch';
import { busyMachineWarning, CpuMeter, hostEnvironment, loadAverage1m } from './machine.ts';

const BROWSER_DIR = fileURLToPath(new URL('./browser/', import.meta.url));
const DIST_DIR = path.join(BROWSER_DIR, 'dist');

/** The whole page run; SwiftShader is slow and GreedyLore's refresh is a ~30 s f64 SVD. */
const PAGE_TIMEOUT_MS = 20 * 60_000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

/** A static file server for the built page on 127.0.0.1 and a free port. */
export async function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
      const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
      if (!file.startsWith(root + path.sep) || !(await stat(file).then((s) => s.isFile(), () => false))) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream' });
      createReadStream(file).pipe(res);
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

export async function runWebglBench(options: Omit<BenchOptions, 'backend'>): Promise<BackendResult> {
  const log = options.log ?? ((): void => {});
  const host = hostEnvironment();
  const buildStart = performance.now();
  await build({ configFile: path.join(BROWSER_DIR, 'vite.config.ts'), logLevel: 'warn' });
  log(`built the page in ${((performance.now() - buildStart) / 1000).toFixed(1)} s`);

  const { server, url } = await serve(DIST_DIR);
  const meter = CpuMeter.start();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.on('console', (msg) => {
      const text = msg.text();
      if (text.startsWith('[bench] ')) log(text.slice('[bench] '.length));
      else if ((msg.type() === 'error' || msg.type() === 'warning') && !isGlNotice(text)) log(`page ${msg.type()}: ${text}`);
    });
    page.on('pageerror', (err) => log(`page error: ${err.message}`));
    const query = new URLSearchParams();
    for (const key of ['steps', 'warmup', 'simSteps', 'caseBudgetMs', 'simBudgetMs'] as const) {
      const value = options[key];
      if (value !== undefined) query.set(key, String(value));
    }
    if (options.cases) query.set('cases', options.cases.join(','));
    // The benchmark keeps the page's main thread busy between short yields: do not wait for load.
    await page.goto(`${url}?${query.toString()}`, { waitUntil: 'commit' });
    type BenchWindow = { benchResults?: BackendResult; benchError?: string };
    await page.waitForFunction(
      () => (window as unknown as BenchWindow).benchResults !== undefined || (window as unknown as BenchWindow).benchError !== undefined,
      undefined,
      { timeout: PAGE_TIMEOUT_MS, polling: 1000 },
    );
    const outcome = await page.evaluate(() => {
      const w = window as unknown as BenchWindow;
      return { result: w.benchResults, error: w.benchError };
    });
    if (outcome.error !== undefined || outcome.result === undefined) throw new Error(`the benchmark page failed: ${outcome.error ?? 'no results'}`);
    const result = outcome.result;
    // Before closing the browser: its processes' ticks count as this benchmark's own only while they live.
    const others = meter.othersCores();
    if (result.backend !== 'webgl') throw new Error(`the page ran on ${result.backend}, not webgl`);
    result.environment = {
      ...result.environment,
      chromium: `${CHROMIUM_PATH} ${browser.version()}`,
      chromiumArgs: CHROMIUM_ARGS.join(' '),
      hostCpuModel: host.cpuModel,
      hostCores: host.cores,
      hostMemoryGiB: host.memoryGiB,
      hostPlatform: host.platform,
      loadAverage1m: host.loadAverage1m,
      loadAverage1mAtEnd: loadAverage1m(),
      ...(others === null ? {} : { otherProcessesCores: others }),
    };
    const busy = busyMachineWarning(others, host.cores);
    if (busy) result.warnings.push(busy);
    return result;
  } finally {
    await browser.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
