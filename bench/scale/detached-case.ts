/**
 * The memory of N training tabs as a user's browser holds them: no DevTools client attached.
 * Under Playwright's session a renderer holds 25-50 MiB more of its own, growing with what the page
 * fetched (most likely the Network domain's copies of response bodies), which the ordinary cases'
 * renderer figures include. Here Chromium is
 * started directly with the same flags, the tabs are opened over its HTTP endpoint (`/json/new`,
 * which attaches nothing), the memory is read from /proc, and the room's end from the signaling
 * server's log: nothing ever speaks to the tabs.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM_ARGS, CHROMIUM_PATH, startServer } from '@tabswarm/launch';
import { parseRunConfig } from '@tabswarm/shared/protocol';
import { freePort } from '@tabswarm/signaling-server/cluster-testing';
import { PeakMemory } from './processes.ts';
import { spread, type Spread } from './run-case.ts';

export interface DetachedResult {
  tabs: number;
  steps: number;
  /** The step and weights hash the room finished with, as most of its members reported them. */
  finished: { step: number; hash: string };
  rendererRssMiB: Spread;
  rendererPssMiB: Spread;
  rendererUssMiB: Spread;
}

const MiB = 1024 * 1024;
const CASE_TIMEOUT_MS = 15 * 60_000;
const POLL_MS = 1_000;

async function untilOk(url: string, init: RequestInit, deadlineAt: number): Promise<Response> {
  for (;;) {
    const answer = await fetch(url, init).catch(() => null);
    if (answer?.ok) return answer;
    if (Date.now() > deadlineAt) throw new Error(`${url}: no answer from Chromium's endpoint`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** fp32, `tabs` tabs, `steps` steps; the renderers' peak memory over the run. */
export async function runDetachedCase(tabs: number, steps: number): Promise<DetachedResult> {
  const logFile = join(tmpdir(), `tabswarm-scale-detached-${process.pid}.log`);
  const server = await startServer({ host: '127.0.0.1', port: 0, logFile, defaultConfig: parseRunConfig({}) });
  const profile = mkdtempSync(join(tmpdir(), 'tabswarm-detached-'));
  const port = await freePort();
  const browser = spawn(CHROMIUM_PATH, [...CHROMIUM_ARGS, '--headless', `--remote-debugging-port=${port}`, `--user-data-dir=${profile}`, 'about:blank'], { stdio: 'ignore' });
  try {
    const began = Date.now();
    const endpoint = `http://127.0.0.1:${port}`;
    await untilOk(`${endpoint}/json/version`, {}, began + 30_000);
    const room = `scale-detached-${tabs}-${Date.now().toString(36)}`;
    const page = `${server.url}/?room=${room}&workers=${tabs}&steps=${steps}&model=mlp&evalEvery=100000`;
    for (let i = 0; i < tabs; i++) await untilOk(`${endpoint}/json/new?${encodeURIComponent(page)}`, { method: 'PUT' }, began + 30_000);
    const memory = new PeakMemory();
    const finishedLine = new RegExp(`finished room=${room} step=(\\d+) hash=(\\w+)`);
    for (;;) {
      if (Date.now() - began > CASE_TIMEOUT_MS) throw new Error(`${tabs} detached tabs: not finished within ${CASE_TIMEOUT_MS / 60_000} min`);
      await new Promise((r) => setTimeout(r, POLL_MS));
      memory.sample(browser.pid);
      const done = finishedLine.exec(readFileSync(logFile, 'utf8'));
      if (done) {
        const renderers = memory.of('renderer').slice(0, tabs);
        return {
          tabs,
          steps,
          finished: { step: Number(done[1]), hash: done[2]! },
          rendererRssMiB: spread(renderers.map((p) => p.rss / MiB)),
          rendererPssMiB: spread(renderers.map((p) => p.pss / MiB)),
          rendererUssMiB: spread(renderers.map((p) => p.uss / MiB)),
        };
      }
    }
  } finally {
    if (browser.pid !== undefined && browser.exitCode === null && browser.signalCode === null) {
      const exited = new Promise((r) => browser.once('exit', r));
      browser.kill();
      await exited;
    }
    // Chromium's helpers may still write to the profile as they exit: retried, and never worth the result.
    try {
      rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    } catch {
      // a temporary directory left behind
    }
    await server.close();
  }
}
