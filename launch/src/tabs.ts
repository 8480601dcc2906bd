/**
 * Tabs in headless Chromium (Debian's, driven by playwright-core): one page per worker, the pages
 * spread over one or more browser processes. Tabs are polled through `window.tabswarm`.
 */
import { appendFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import type { StepRecord, TabStatus } from '@tabswarm/shared/protocol';
import { isGlNotice, launchChromium } from './chromium.ts';
import { browserProcesses, cpuCap, cpuSecondsOf, parentOf, processTree, type CpuCap } from './cpu-quota.ts';
import type { WorkerHandle } from './worker-handle.ts';

/**
 * Writes what a tab says (console and uncaught errors) to `write`, without the expected GL
 * notices; `errorsOnly` keeps errors and warnings only.
 */
export function watchTab(page: Page, write: (line: string) => void, options: { errorsOnly?: boolean } = {}): void {
  page.on('pageerror', (err) => write(`page error: ${err.message}`));
  page.on('console', (msg) => {
    const type = msg.type();
    if (isGlNotice(msg.text()) || (options.errorsOnly && type !== 'error' && type !== 'warning')) return;
    write(`${type}: ${msg.text()}`);
  });
}

/** Loads tabswarm in `page` without waiting for 'load': a tab training on the cpu backend blocks its main thread, and with it 'load'. */
export async function openTab(page: Page, url: string): Promise<void> {
  await page.goto(url, { waitUntil: 'commit' });
}

/** A tab whose main thread is busy answers later; the run loop does not wait longer than this for it. */
const POLL_TIMEOUT_MS = 10_000;

/** `promise`, or null after `ms` (the late answer is dropped; the next poll asks again). */
function withinMs<T>(ms: number, promise: Promise<T>): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

interface Poll {
  status: TabStatus;
  records: StepRecord[];
  /** Time of the history's first record: a tab that rejoins the room starts a new history. */
  first: number | null;
}

class TabHandle implements WorkerHandle {
  readonly runtime = 'chromium' as const;
  status: TabStatus | null = null;
  readonly records: StepRecord[] = [];
  failure: string | null = null;
  private stopped = false;
  /** Records of the tab's current history already copied, and that history's first record time. */
  private copied = 0;
  private first: number | null = null;

  constructor(readonly index: number, private readonly page: Page, logFile: string) {
    watchTab(page, (line) => appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`));
    page.on('crash', () => {
      this.failure = `tab ${index} crashed`;
    });
  }

  async refresh(): Promise<void> {
    if (this.stopped || this.failure) return;
    try {
      const poll: Poll | null = await withinMs(POLL_TIMEOUT_MS, this.page.evaluate(([from, first]) => {
        if (!window.tabswarm) return null;
        const history = window.tabswarm.history();
        const head = history[0]?.time ?? null;
        return { status: window.tabswarm.status(), records: history.slice(head === first ? from : 0), first: head };
      }, [this.copied, this.first] as const));
      if (!poll) return;
      if (poll.first !== this.first) this.copied = 0;
      this.first = poll.first;
      this.copied += poll.records.length;
      this.status = poll.status;
      this.records.push(...poll.records);
    } catch (err) {
      if (!this.stopped) this.failure = `tab ${this.index}: ${(err as Error).message.split('\n')[0]}`;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.refresh();
    this.stopped = true;
    await this.page.close().catch(() => undefined);
  }
}

export interface Tabs {
  handles: WorkerHandle[];
  close(): Promise<void>;
}

export type SlowBy = 'throttle' | 'quota';

/** A Chromium of its own, and the pid of its browser process (to cap or account its process tree). */
async function launchOwnChromium(): Promise<{ browser: Browser; pid: number }> {
  const before = new Set(browserProcesses());
  const browser = await launchChromium();
  // Ours: a child of this process (Debian's launcher script execs the binary in place).
  const started = browserProcesses().filter((pid) => !before.has(pid) && parentOf(pid) === process.pid);
  if (started.length !== 1) {
    await browser.close().catch(() => undefined);
    throw new Error(`cannot tell which Chromium process is the one just started: ${started.length} started`);
  }
  return { browser, pid: started[0]! };
}

/** A tab in a browser of its own whose processes are capped at 1/`rate` of one core (cpu-quota.ts). */
async function openCappedTab(index: number, rate: number, init: { url: (index: number) => string; logFile: (index: number) => string }, browsers: Browser[], caps: CpuCap[]): Promise<WorkerHandle> {
  const { browser, pid } = await launchOwnChromium();
  browsers.push(browser);
  const cap = cpuCap(rate);
  caps.push(cap);
  const page = await (await browser.newContext()).newPage();
  const handle = new TabHandle(index, page, init.logFile(index));
  await openTab(page, init.url(index));
  // The renderer exists once the page has committed; the browser's other processes since launch.
  cap.add(processTree(pid));
  return handle;
}

/**
 * A page under Chromium's CPU throttling that never joins a room: what the emulation costs the
 * machine by itself. Its throttling spins the renderer's main thread while the page waits
 * (cpu-quota.ts), so an idle page throttled 16x keeps a core busy.
 */
export interface ThrottledBystander {
  /** CPU seconds its browser's processes have used since it opened. */
  cpuSeconds(): number;
  close(): Promise<void>;
}

export async function openThrottledBystander(rate: number): Promise<ThrottledBystander> {
  const { browser, pid } = await launchOwnChromium();
  try {
    const page = await (await browser.newContext()).newPage();
    await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate });
    await page.setContent('<p>a throttled page that never joins</p>');
  } catch (err) {
    await browser.close().catch(() => undefined);
    throw err;
  }
  const tree = processTree(pid);
  const opened = cpuSecondsOf(tree);
  return {
    cpuSeconds: () => cpuSecondsOf(tree) - opened,
    close: () => browser.close().catch(() => undefined),
  };
}

/** Opens `count` tabs at `url(i)` (worker indices `firstIndex`..), over `browsers` Chromium processes. */
export async function launchTabs(init: {
  count: number;
  firstIndex: number;
  browsers: number;
  url: (index: number) => string;
  logFile: (index: number) => string;
  /**
   * CPU throttling rate of a tab (CDP `Emulation.setCPUThrottlingRate`: 4 = four times slower),
   * to emulate a slow device; undefined or 1 runs it at full speed. It slows the tab's own
   * thread (wasm and cpu backends), not WebGL, which runs in the GPU process.
   */
  cpuThrottle?: (index: number) => number | undefined;
  /**
   * How a throttled tab is slowed: Chromium's throttling (default), or `quota`, a browser of its
   * own capped at 1/RATE of one core (cpu-quota.ts: Chromium's throttling spins a core meanwhile).
   */
  slowBy?: SlowBy;
}): Promise<Tabs> {
  const browsers: Browser[] = [];
  const handles: WorkerHandle[] = [];
  const caps: CpuCap[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(browsers.map((b) => b.close().catch(() => undefined)));
    await Promise.all(caps.map((c) => c.remove()));
  };
  try {
    for (let b = 0; b < Math.min(init.browsers, init.count); b++) {
      browsers.push(await launchChromium());
    }
    const contexts = await Promise.all(browsers.map((b) => b.newContext()));
    for (let i = 0; i < init.count; i++) {
      const index = init.firstIndex + i;
      const rate = init.cpuThrottle?.(index);
      const slow = rate !== undefined && rate > 1;
      if (slow && init.slowBy === 'quota') {
        handles.push(await openCappedTab(index, rate, init, browsers, caps));
        continue;
      }
      const page = await contexts[i % contexts.length]!.newPage();
      const handle = new TabHandle(index, page, init.logFile(index));
      if (slow) await (await page.context().newCDPSession(page)).send('Emulation.setCPUThrottlingRate', { rate });
      await openTab(page, init.url(index));
      handles.push(handle);
    }
  } catch (err) {
    await close();
    throw err;
  }
  return { handles, close };
}
