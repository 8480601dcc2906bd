/** What every end-to-end test shares: the browser, the server address, and waiting on tabs. */
import { expect, type Browser, type Page } from '@playwright/test';
import type { TabStatus, StepRecord } from '@tabswarm/shared/protocol';
import { openTab, watchTab } from '@tabswarm/launch';

export const E2E_PORT = Number(process.env.E2E_PORT ?? 8187);
export const BASE_URL = `http://127.0.0.1:${E2E_PORT}`;

/**
 * Opens `count` tabs of one browser context at `?query` (or a query per tab), served by `base`.
 * `prepare` runs on each tab before it loads, e.g. to emulate its network (./network.ts).
 */
export async function openTabs(browser: Browser, count: number, query: string | ((index: number) => string), prepare?: (page: Page, index: number) => Promise<void>, base = BASE_URL): Promise<Page[]> {
  const context = await browser.newContext();
  const pages: Page[] = [];
  for (let i = 0; i < count; i++) {
    const page = await context.newPage();
    watchTab(page, (line) => console.log(`[tab ${i}] ${line}`), { errorsOnly: true });
    await prepare?.(page, i);
    await openTab(page, `${base}/?${typeof query === 'string' ? query : query(i)}`);
    pages.push(page);
  }
  return pages;
}

export async function status(page: Page): Promise<TabStatus> {
  await page.waitForFunction(() => window.tabswarm !== undefined, undefined, { timeout: 30_000 });
  return page.evaluate(() => window.tabswarm.status());
}

export function historyOf(page: Page): Promise<StepRecord[]> {
  return page.evaluate(() => [...window.tabswarm.history()]);
}

/** Polls every tab until `done(statuses)` holds; fails with the last statuses after `timeoutMs`. */
export async function waitForTabs(pages: Page[], done: (s: TabStatus[]) => boolean, timeoutMs: number): Promise<TabStatus[]> {
  const start = Date.now();
  let last: TabStatus[] = [];
  while (Date.now() - start < timeoutMs) {
    last = await Promise.all(pages.map(status));
    const failed = last.find((s) => s.state === 'error');
    if (failed) throw new Error(`a tab failed: ${failed.error}`);
    if (done(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  expect(last.map((s) => ({ state: s.state, step: s.step, epoch: s.epoch, peers: s.peers.length, error: s.error }))).toBe('done within the deadline');
  return last;
}

export function uniqueRoom(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}
